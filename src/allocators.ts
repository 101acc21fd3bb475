/**
 * The allocators a benchmark can run under, and how each is put in place.
 *
 * - hakmem: LD_PRELOAD of the libhakmem.so of a built variant (see build/);
 * - glibc: no preload at all, the system malloc;
 * - mimalloc, jemalloc, tcmalloc, scudo: LD_PRELOAD of the library from their Debian package;
 * - any other malloc library, given as NAME=PATH (custom-allocators.ts): LD_PRELOAD of that file.
 */
import {accessSync, constants, readdirSync} from 'node:fs';
import {isAbsolute, join, resolve} from 'node:path';

import {customAllocator, registerCustomAllocator} from './custom-allocators.js';
import {MissingLibraryError, UsageError} from './errors.js';
import {aptInstallCommand} from './system.js';

/** The allocators a profile may name (and compares when it names none). */
export const ALLOCATOR_NAMES = ['hakmem', 'glibc', 'mimalloc', 'jemalloc', 'tcmalloc'] as const;
/** Peers hak knows by name that run only when the command line names them (--allocators, --allocator). */
export const EXTRA_PEER_NAMES = ['scudo'] as const;
export type BuiltinAllocatorName = (typeof ALLOCATOR_NAMES)[number] | (typeof EXTRA_PEER_NAMES)[number];
/** A built-in allocator, or the name a NAME=PATH allocator was given. */
export type AllocatorName = BuiltinAllocatorName | (string & {readonly customAllocator?: never});

export type PeerAllocatorName = Exclude<AllocatorName, 'hakmem' | 'glibc'>;

export interface PeerAllocator {
  name: PeerAllocatorName;
  /** File name in the system library directory, or an absolute path whose `*` matches a version directory. */
  library: string;
  /** null for a NAME=PATH allocator. */
  debianPackage: string | null;
  /** false: hak doctor warns, not fails, when it is missing (a peer only some comparisons use). */
  required?: boolean;
}

export const PEER_ALLOCATORS: Readonly<Record<Exclude<BuiltinAllocatorName, 'hakmem' | 'glibc'>, PeerAllocator>> = {
  mimalloc: {name: 'mimalloc', library: 'libmimalloc.so.2', debianPackage: 'libmimalloc2.0'},
  jemalloc: {name: 'jemalloc', library: 'libjemalloc.so.2', debianPackage: 'libjemalloc2'},
  tcmalloc: {name: 'tcmalloc', library: 'libtcmalloc_minimal.so.4', debianPackage: 'libtcmalloc-minimal4'},
  // LLVM's standalone scudo, the hardened allocator of Android
  scudo: {name: 'scudo', library: '/usr/lib/llvm-14/lib/clang/14*/lib/linux/libclang_rt.scudo_standalone-x86_64.so', debianPackage: 'libclang-rt-14-dev', required: false},
};

/** A peer: built-in, or given as NAME=PATH. */
export function peerAllocator(name: PeerAllocatorName): PeerAllocator {
  const builtin = (PEER_ALLOCATORS as Record<string, PeerAllocator>)[name];
  if (builtin) return builtin;
  const custom = customAllocator(name);
  if (!custom) throw new UsageError(`unknown allocator "${name}": expected one of ${ALLOCATOR_NAMES.join(', ')}, scudo, or NAME=PATH.`);
  return {name, library: custom.path, debianPackage: null};
}

/** The first match of an absolute path with one `*` in a directory name (the version of LLVM's runtime). */
function expandVersionDir(pattern: string): string {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern;
  const dirStart = pattern.lastIndexOf('/', star);
  const dirEnd = pattern.indexOf('/', star);
  const parent = pattern.slice(0, dirStart);
  const prefix = pattern.slice(dirStart + 1, star);
  const suffix = pattern.slice(star + 1, dirEnd);
  let entries: string[] = [];
  try {
    entries = readdirSync(parent).filter((entry) => entry.startsWith(prefix) && entry.endsWith(suffix)).sort();
  } catch {
    // no such directory: the literal pattern, reported as missing
  }

  return entries.length > 0 ? join(parent, entries.at(-1)!, pattern.slice(dirEnd + 1)) : pattern;
}

/** Where Debian installs shared libraries on x86-64; `HAK_SYSTEM_LIBDIR` points elsewhere. */
export function systemLibraryDir(): string {
  const override = process.env.HAK_SYSTEM_LIBDIR;
  if (override && override.trim() !== '') return isAbsolute(override) ? override : resolve(override);
  return '/usr/lib/x86_64-linux-gnu';
}

/** An allocator a profile may name. */
export function isAllocatorName(name: string): name is (typeof ALLOCATOR_NAMES)[number] {
  return (ALLOCATOR_NAMES as readonly string[]).includes(name);
}

/** Every name the command line accepts besides NAME=PATH. */
export const COMMAND_LINE_ALLOCATORS: readonly string[] = [...ALLOCATOR_NAMES, ...EXTRA_PEER_NAMES];

/**
 * An allocator named on the command line: a built-in one, or NAME=PATH for any malloc library,
 * checked and registered here (custom-allocators.ts).
 */
export function parseAllocatorName(spec: string): AllocatorName {
  if (spec.includes('=')) return registerCustomAllocator(spec, COMMAND_LINE_ALLOCATORS);
  if (!COMMAND_LINE_ALLOCATORS.includes(spec) && !customAllocator(spec)) {
    throw new UsageError(`unknown allocator "${spec}": expected one of ${COMMAND_LINE_ALLOCATORS.join(', ')}, or NAME=PATH for any malloc library.`);
  }
  return spec;
}

export function peerLibraryPath(name: PeerAllocatorName): string {
  const {library} = peerAllocator(name);
  return isAbsolute(library) ? expandVersionDir(library) : join(systemLibraryDir(), library);
}

/** Whether a peer allocator's library is installed, without throwing. */
export function isPeerInstalled(name: PeerAllocatorName): boolean {
  try {
    accessSync(peerLibraryPath(name), constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** How to run a program under one allocator: the library to preload, or none for glibc. */
export interface AllocatorSetup {
  name: AllocatorName;
  /** Absolute path for LD_PRELOAD; null runs the program with the system malloc. */
  preload: string | null;
}

/**
 * Resolves an allocator to what the runner needs. hakmem needs the library of a built variant
 * (from buildVariant); a peer whose package is missing raises MissingLibraryError (exit 3).
 */
export function resolveAllocator(name: AllocatorName, options: {hakmemLibrary?: string} = {}): AllocatorSetup {
  switch (name) {
    case 'glibc': {
      return {name, preload: null};
    }

    case 'hakmem': {
      if (!options.hakmemLibrary) {
        throw new UsageError('hakmem needs a built libhakmem.so: build the variant first (buildVariant).');
      }

      return {name, preload: options.hakmemLibrary};
    }

    default: {
      const peer = peerAllocator(name);
      const path = peerLibraryPath(name);
      if (!isPeerInstalled(name)) {
        if (peer.debianPackage === null) throw new UsageError(`${name}=${path}: the file is gone.`);
        throw new MissingLibraryError(name, path, peer.debianPackage, aptInstallCommand([peer.debianPackage]));
      }

      return {name, preload: path};
    }
  }
}
