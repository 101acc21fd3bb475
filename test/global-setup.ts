import {execFileSync} from 'node:child_process';
import {createRequire} from 'node:module';

/** Compiles src/ to dist/ once before the tests, so spawned `bin/run.js` runs the current code. */
export default function setup(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], {stdio: 'inherit'});
}
