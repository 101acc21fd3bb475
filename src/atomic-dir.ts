/**
 * Directories that appear whole or not at all.
 *
 * Work is written into a staging directory `<parent>/.staging-<pid>-<random>` and renamed into
 * place when complete; rename(2) within one file system is atomic, so a reader never sees half
 * a build or half a result. A failure, Ctrl-C or SIGTERM removes the staging directory, after
 * stopping the programs writing into it (interrupt.ts); one left by a killed process (its pid
 * no longer alive) is removed by the next run that stages in the same parent. Staging names
 * start with a dot and are never valid variant or result names.
 */
import {existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync} from 'node:fs';
import {join} from 'node:path';

import {onInterrupt} from './interrupt.js';

const STAGING_PREFIX = '.staging-';
const TRASH_PREFIX = '.trash-';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes staging and trash directories left in `parent` by processes that no longer run. */
export function removeAbandonedStaging(parent: string): void {
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }

  for (const name of entries) {
    const prefix = [STAGING_PREFIX, TRASH_PREFIX].find((candidate) => name.startsWith(candidate));
    if (!prefix) continue;
    const pid = Number.parseInt(name.slice(prefix.length), 10);
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) {
      rmSync(join(parent, name), {recursive: true, force: true});
    }
  }
}

export interface StagingDir {
  /** Write here; it becomes `final` on publish. */
  readonly path: string;
  readonly final: string;
  /**
   * Renames the staging directory to `final`. Returns false, and discards the staging directory,
   * when `final` already exists and `replace` is not set (another process published first).
   */
  publish(options?: {replace?: boolean}): boolean;
  /**
   * Renames the staging directory to `final` or, where that name is taken (another run got there
   * first), to the first free `final-2`, `final-3`, ...; returns the name it took. `prepare` runs
   * before each try with that name, for contents that record where they are.
   */
  publishFree(prepare?: (name: string) => void): string;
  /** Removes the staging directory; safe to call more than once. */
  discard(): void;
}

export function stageDir(final: string, parent: string): StagingDir {
  mkdirSync(parent, {recursive: true});
  removeAbandonedStaging(parent);
  let path: string | undefined;
  const settle = onInterrupt('clean', () => {
    if (path) rmSync(path, {recursive: true, force: true});
  });
  try {
    path = mkdtempSync(join(parent, `${STAGING_PREFIX}${process.pid}-`));
  } catch (error) {
    settle();
    throw error;
  }

  const staged = path;
  const discard = (): void => {
    rmSync(staged, {recursive: true, force: true});
    settle();
  };

  const publish = (options: {replace?: boolean} = {}): boolean => {
    if (options.replace) moveAside(final, parent);
    try {
      renameSync(staged, final);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        discard();
        return false;
      }

      discard();
      throw error;
    }

    settle();
    return true;
  };

  const publishFree = (prepare?: (name: string) => void): string => {
    try {
      for (let attempt = 1; ; attempt++) {
        const name = attempt === 1 ? final : `${final}-${attempt}`;
        if (existsSync(name)) continue;
        prepare?.(name);
        try {
          renameSync(staged, name);
          settle();
          return name;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        }
      }
    } catch (error) {
      discard();
      throw error;
    }
  };

  return {path: staged, final, publish, publishFree, discard};
}

/** Moves an existing directory out of the way (atomically) and deletes it. */
function moveAside(dir: string, parent: string): void {
  const trash = join(parent, `${TRASH_PREFIX}${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    renameSync(dir, trash);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }

  rmSync(trash, {recursive: true, force: true});
}

/** Removes a published directory atomically (rename aside, then delete). */
export function removeDir(dir: string, parent: string): void {
  moveAside(dir, parent);
}
