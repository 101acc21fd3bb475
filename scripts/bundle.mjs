// Bundles src/hak.ts and its dependencies into dist/hak.js (plus lazily loaded chunks for
// execa, ora, yaml and cli-table3). Type checking is `npm run typecheck`'s job.
import {build} from 'esbuild';
import {rmSync} from 'node:fs';

rmSync(new URL('../dist', import.meta.url), {recursive: true, force: true});
await build({
  entryPoints: {hak: 'src/hak.ts'},
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  // oclif looks for these only to run TypeScript sources in development.
  external: ['typescript', 'ts-node', 'tsx'],
  // Bundled CommonJS modules call require(); give them one.
  banner: {js: "import {createRequire as __hakCreateRequire} from 'node:module'; const require = __hakCreateRequire(import.meta.url);"},
  minify: true,
  logLevel: 'warning',
});
