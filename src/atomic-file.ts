/**
 * Files that appear whole or not at all: the content goes to a temporary file beside the final
 * one and is renamed (or hard-linked, when an existing file must not be replaced) into place.
 * A failure or Ctrl-C removes the temporary file.
 */
import {linkSync, mkdirSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import {basename, dirname, join} from 'node:path';

import {onInterrupt} from './interrupt.js';

/**
 * Writes `content` to `path`. With `exclusive`, an existing file is left alone and false is
 * returned; otherwise an existing file is replaced. True when the file was written.
 */
export function writeFileAtomic(path: string, content: string, options: {exclusive?: boolean} = {}): boolean {
  const dir = dirname(path);
  mkdirSync(dir, {recursive: true});
  const temporary = join(dir, `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const remove = (): void => rmSync(temporary, {force: true});
  const settle = onInterrupt('clean', remove);
  try {
    writeFileSync(temporary, content);
    if (!options.exclusive) {
      renameSync(temporary, path);
      return true;
    }

    try {
      linkSync(temporary, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  } finally {
    remove();
    settle();
  }
}
