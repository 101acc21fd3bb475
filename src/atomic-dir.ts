/**
 * Directories that appear whole or not at all.
 *
 * Work is written into a staging directory `<parent>/.staging-<pid>-<random>` and renamed into
 * place when complete; rename(2) within one file system is atomic, so a reader never sees half
 * a build or half a result. A failure, Ctrl-C or SIGTERM removes the staging directory; one left
 * by a killed process (its pid no longer alive) is removed by the next run that stages in the
 * same parent. Staging names start with a dot and are never valid variant or result names.
 */
import {mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync} from 'node:fs';
import {join} from 'node:path';

const STAGING_PREFIX = '.staging-';
const TRASH_PREFIX = '.trash-';

const activeStaging = new Set<string>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNAL_EXIT: Record<string, number> = {SIGINT: 130, SIGTERM: 143, SIGHUP: 129};

function onSignal(signal: NodeJS.Signals): void {
  discardAllStaging();
  process.exit(SIGNAL_EXIT[signal] ?? 1);
}

function discardAllStaging(): void {
  for (const dir of activeStaging) rmSync(dir, {recursive: true, force: true});
  activeStaging.clear();
}

function track(dir: string): void {
  if (activeStaging.size === 0) {
    for (const signal of SIGNALS) process.on(signal, onSignal);
    process.on('exit', discardAllStaging);
  }

  activeStaging.add(dir);
}

function untrack(dir: string): void {
  activeStaging.delete(dir);
  if (activeStaging.size === 0) {
    for (const signal of SIGNALS) process.off(signal, onSignal);
    process.off('exit', discardAllStaging);
  }
}

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
  /** Removes the staging directory; safe to call more than once. */
  discard(): void;
}

export function stageDir(final: string, parent: string): StagingDir {
  mkdirSync(parent, {recursive: true});
  removeAbandonedStaging(parent);
  const path = mkdtempSync(join(parent, `${STAGING_PREFIX}${process.pid}-`));
  track(path);

  const discard = (): void => {
    rmSync(path, {recursive: true, force: true});
    untrack(path);
  };

  const publish = (options: {replace?: boolean} = {}): boolean => {
    if (options.replace) moveAside(final, parent);
    try {
      renameSync(path, final);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        discard();
        return false;
      }

      discard();
      throw error;
    }

    untrack(path);
    return true;
  };

  return {path, final, publish, discard};
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
