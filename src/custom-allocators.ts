/**
 * Allocators given on the command line as NAME=PATH (`--allocators hakmem,mysec=/opt/libx.so`):
 * any shared library that exports malloc and free, run by LD_PRELOAD like a built-in peer.
 * Each is checked once, when it is registered, and known by its name for the rest of the command.
 *
 *   registerCustomAllocator('mysec=/opt/libx.so');   // 'mysec'; a UsageError if it cannot serve malloc
 */
import {createHash} from 'node:crypto';
import {readFileSync, statSync} from 'node:fs';
import {resolve} from 'node:path';

import {exportedFunctions} from './elf-symbols.js';
import {UsageError} from './errors.js';

export interface CustomAllocator {
  name: string;
  /** Absolute path of the library. */
  path: string;
  sha256: string;
}

const registered = new Map<string, CustomAllocator>();

/** The allocator registered under this name, if any. */
export function customAllocator(name: string): CustomAllocator | undefined {
  return registered.get(name);
}

/** The registered allocator whose library is this file, if any. */
export function customAllocatorOfPath(path: string): CustomAllocator | undefined {
  const wanted = resolve(path);
  return [...registered.values()].find((allocator) => allocator.path === wanted);
}

/** Checks NAME=PATH (the file exists, is a shared library, exports malloc and free) and registers it; returns NAME. */
export function registerCustomAllocator(spec: string, reserved: readonly string[]): string {
  const match = /^([a-z][\w.-]*)=(.+)$/i.exec(spec);
  if (!match) throw new UsageError(`--allocators ${spec}: expected NAME=PATH (a name, then the path of a malloc library).`);
  const [, name, given] = match as unknown as [string, string, string];
  if (reserved.includes(name)) throw new UsageError(`--allocators ${spec}: ${name} is a built-in allocator; give the library another name.`);
  const path = resolve(given);
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
  } catch {
    throw new UsageError(`--allocators ${spec}: ${path} does not exist or is not a file.`, {hint: 'Give the path of a shared library (.so) that exports malloc and free.'});
  }

  let functions: Set<string>;
  try {
    functions = exportedFunctions(path);
  } catch (error) {
    throw new UsageError(`--allocators ${spec}: ${path} is not a shared library hak can preload (${(error as Error).message}).`);
  }

  const missing = ['malloc', 'free'].filter((symbol) => !functions.has(symbol));
  if (missing.length > 0) {
    throw new UsageError(`--allocators ${spec}: ${path} does not export ${missing.join(' or ')}, so it cannot replace malloc by LD_PRELOAD.`);
  }

  const previous = registered.get(name);
  if (previous && previous.path !== path) throw new UsageError(`--allocators: ${name} is given twice, for ${previous.path} and ${path}.`);
  registered.set(name, {name, path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex')});
  return name;
}
