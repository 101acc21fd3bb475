/**
 * The fingerprint of a hakmem source tree: every file under csrc/ except what a build writes.
 * Editing any source, header, Makefile or benchmark program changes it, and so the variant id.
 */
import {createHash} from 'node:crypto';
import {readdirSync, readFileSync} from 'node:fs';
import {join, relative} from 'node:path';

/** Directories at the top of csrc/ that hold build outputs, never sources. */
const OUTPUT_DIRS = new Set(['build']);
/** File names that only a build or a profiler writes. */
const OUTPUT_FILE = /\.(o|d|a|so|gcda|gcno|tmp)$|^perf\.data|^callgrind\.out\.|^vgcore\./;

export interface SourceFingerprint {
  /** sha256 over the sorted (path, content hash) pairs. */
  hash: string;
  files: number;
}

export function listSourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string, depth: number): void => {
    for (const entry of readdirSync(dir, {withFileTypes: true})) {
      if (entry.isDirectory()) {
        if (depth === 0 && OUTPUT_DIRS.has(entry.name)) continue;
        walk(join(dir, entry.name), depth + 1);
      } else if (entry.isFile() && !OUTPUT_FILE.test(entry.name)) {
        files.push(relative(root, join(dir, entry.name)));
      }
    }
  };

  walk(root, 0);
  return files.sort();
}

export function fingerprintSources(root: string): SourceFingerprint {
  const files = listSourceFiles(root);
  const hash = createHash('sha256');
  for (const file of files) {
    const content = createHash('sha256').update(readFileSync(join(root, file))).digest('hex');
    hash.update(`${file}\0${content}\n`);
  }

  return {hash: hash.digest('hex'), files: files.length};
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
