// Bundles the CLI into dist/: dist/cli.js, oclif's entry point, which bin/run.js loads first;
// dist/hak.js, the command table and hooks (src/hak.ts) with their dependencies, loaded only to
// run a command; and lazily loaded chunks (execa, ora, yaml, cli-table3, the profile schema).
// Then writes oclif.manifest.json, every command's flags, args and texts, so that help and
// command lookup need no command code. Type checking is `npm run typecheck`'s job.
import {build} from 'esbuild';
import {spawnSync} from 'node:child_process';
import {renameSync, rmSync, writeFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifestFile = `${root}oclif.manifest.json`;
rmSync(new URL('../dist', import.meta.url), {recursive: true, force: true});
rmSync(manifestFile, {force: true});
await build({
  entryPoints: {cli: 'src/cli.ts', hak: 'src/hak.ts', 'help-pages': 'src/help-pages.ts'},
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

// The manifest, from the commands just built: oclif reads them all once, here, instead of at every start.
const {Config, settings} = await import(new URL('../dist/hak.js', import.meta.url).href);
settings.enableAutoTranspile = false;
const config = await Config.load({root, userPlugins: false, devPlugins: false});
const {manifest} = config.plugins.get(config.pjson.name);
writeFileSync(`${manifestFile}.tmp`, `${JSON.stringify(manifest)}\n`);
renameSync(`${manifestFile}.tmp`, manifestFile);

// The help pages a pipe or a file gets (80 columns, no colour), rendered once by oclif through
// bin/run.js, which keeps each in dist/help-pages.json (src/help-pages.ts). NO_COLOR, because a
// CI runner's environment (CI=true) makes oclif's colour library colour even a pipe.
const {FORCE_COLOR, OCLIF_COLUMNS, ...inherited} = process.env;
const plainEnv = {...inherited, NO_COLOR: '1'};
for (const topic of ['', ...Object.keys(manifest.commands)]) {
  const result = spawnSync(process.execPath, [`${root}bin/run.js`, ...(topic ? [topic] : []), '--help'], {env: plainEnv, stdio: ['ignore', 'pipe', 'inherit']});
  if (result.status !== 0) throw new Error(`hak ${topic} --help exited with ${result.status}`);
}
