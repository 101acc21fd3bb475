#!/usr/bin/env node
const dist = new URL('../dist/', import.meta.url);
const argv = process.argv.slice(2);

// A help page this build has rendered before is written without loading oclif (src/help-pages.ts).
let help;
try {
  help = await import(new URL('help-pages.js', dist).href);
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  process.stderr.write('Error: hak is not built yet.\n  Run: npm ci (or npm run build)\n');
  process.exit(2);
}
const topic = help.helpTopic(argv);
const surface = topic === undefined ? undefined : help.currentSurface();
const pagesFile = new URL('help-pages.json', dist).pathname;
const page = surface && help.storedPage(pagesFile, topic, surface);
if (page !== undefined) {
  process.stdout.write(page);
} else {
  const cli = await import(new URL('cli.js', dist).href);
  // Always the bundle, even with NODE_ENV=development or test: bin/dev.js runs the sources.
  cli.settings.enableAutoTranspile = false;
  // hak has no user-installed plugins: skipping their lookup saves start-up time.
  const root = new URL('..', import.meta.url).pathname;
  const run = () => cli.execute({args: argv, loadOptions: {root, userPlugins: false, devPlugins: false}});
  await (surface ? help.renderAndKeep(pagesFile, topic, surface, run) : run());
}
