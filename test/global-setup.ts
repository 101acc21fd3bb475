import {execFileSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';

/** Bundles the CLI once before the tests, so spawned `bin/run.js` runs the current sources. */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, ['scripts/bundle.mjs'], {cwd: root, stdio: 'inherit'});
}
