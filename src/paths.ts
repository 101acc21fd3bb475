/**
 * Where hak finds its inputs and keeps its outputs.
 *
 * - the project root: the directory holding package.json, csrc/ and profiles/;
 * - `HAK_CSRC`: another hakmem source tree to build (a copy under test, a patched tree);
 * - `HAK_HOME`: where builds and results go, `<root>/.hak` by default.
 */
import {isAbsolute, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

/** This file sits directly in src/ (or dist/ once compiled), one level below the root. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

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
