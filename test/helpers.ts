import {spawn} from 'node:child_process';
import {cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll} from 'vitest';

export const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
export const FIXTURE_CSRC = join(ROOT, 'test', 'fixtures', 'csrc');

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, {recursive: true, force: true});
});

/** A temporary directory removed after the test file. */
export function tempDir(prefix = 'hak-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** A private copy of the miniature csrc tree, to build or to break. */
export function copyFixtureCsrc(): string {
  const dir = join(tempDir('hak-csrc-'), 'csrc');
  cpSync(FIXTURE_CSRC, dir, {recursive: true});
  return dir;
}

/** A private csrc copy and HAK_HOME, made once for the tests of the enclosing describe block. */
export function useFixtureTree(): {readonly csrc: string; readonly home: string; env(): Record<string, string>} {
  const tree = {csrc: '', home: ''};
  beforeAll(() => {
    tree.csrc = copyFixtureCsrc();
    tree.home = tempDir('hak-home-');
  });
  return {
    get csrc() {
      return tree.csrc;
    },
    get home() {
      return tree.home;
    },
    env: () => ({HAK_CSRC: tree.csrc, HAK_HOME: tree.home}),
  };
}

/** Sets environment variables for the duration of `fn`, then restores them. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  for (const [key, value] of Object.entries(vars)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }

  try {
    return await fn();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

export interface HakProcess {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin/run.js` as a user would, in a separate process. */
export function runHak(
  args: string[],
  options: {env?: Record<string, string | undefined>; cwd?: string; onSpawn?: (pid: number) => void} = {},
): Promise<HakProcess> {
  const env: NodeJS.ProcessEnv = {...process.env, CI: 'true'};
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }

  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {cwd: options.cwd ?? ROOT, env});
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('spawn', () => options.onSpawn?.(child.pid!));
    child.on('close', (exitCode, signal) => resolve({exitCode, signal, stdout, stderr}));
  });
}

/**
 * A PATH with every program of the current PATH except `missing` (as symbolic links in a temporary
 * directory): a machine where those tools are not installed.
 */
export function pathWithout(missing: string[]): string {
  const dir = tempDir('hak-path-');
  const linked = new Set<string>();
  for (const source of (process.env.PATH ?? '').split(':')) {
    let names: string[];
    try {
      names = readdirSync(source);
    } catch {
      continue;
    }

    for (const name of names) {
      if (missing.includes(name) || linked.has(name)) continue;
      linked.add(name);
      symlinkSync(join(source, name), join(dir, name));
    }
  }

  return dir;
}
