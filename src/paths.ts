/**
 * Where hak finds its inputs and keeps its outputs.
 *
 * - the project root: the directory holding package.json, csrc/ and profiles/;
 * - `HAK_CSRC`: another hakmem source tree to build (a copy under test, a patched tree);
 * - `HAK_HOME`: where builds and results go, `<root>/.hak` by default.
 */
import {readFileSync} from 'node:fs';
import {dirname, isAbsolute, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

/**
 * The directory of hak's package.json, found upwards from this module: the sources (src/), the
 * bundle (dist/) and its chunks (dist/chunks/) sit at different depths below it.
 */
function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {name?: string}).name === 'hak') return dir;
    } catch {
      // no package.json here: keep going up
    }

    if (dirname(dir) === dir) throw new Error(`hak's package.json was not found above ${start}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

function fromEnv(name: string): string | undefined {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') return undefined;
  return isAbsolute(value) ? value : resolve(process.cwd(), value);
}

export function csrcDir(): string {
  return fromEnv('HAK_CSRC') ?? join(PROJECT_ROOT, 'csrc');
}

export function hakHome(): string {
  return fromEnv('HAK_HOME') ?? join(PROJECT_ROOT, '.hak');
}

/** `<HAK_HOME>/builds/<variant-id>/`: one directory per built variant. */
export function buildsDir(): string {
  return join(hakHome(), 'builds');
}

/** `<HAK_HOME>/results/`: benchmark and profile results. */
export function resultsDir(): string {
  return join(hakHome(), 'results');
}

export function profilesDir(): string {
  return fromEnv('HAK_PROFILES') ?? join(PROJECT_ROOT, 'profiles');
}
