#!/usr/bin/env node
let cli;
try {
  cli = await import('../dist/cli.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/cli.js')) throw error;
  process.stderr.write('Error: hak is not built yet.\n  Run: npm ci (or npm run build)\n');
  process.exit(2);
}

// Always the bundle, even with NODE_ENV=development or test: bin/dev.js runs the sources.
cli.settings.enableAutoTranspile = false;
// hak has no user-installed plugins: skipping their lookup saves start-up time.
const root = new URL('..', import.meta.url).pathname;
await cli.execute({loadOptions: {root, userPlugins: false, devPlugins: false}});
