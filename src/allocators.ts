/**
 * The allocators a benchmark can run under, and how each is put in place.
 *
 * - hakmem: LD_PRELOAD of the libhakmem.so of a built variant (see build/);
 * - glibc: no preload at all, the system malloc;
 * - mimalloc, jemalloc, tcmalloc: LD_PRELOAD of the library from their Debian package.
 */
import {accessSync, constants} from 'node:fs';
import {isAbsolute, join, resolve} from 'node:path';

import {MissingLibraryError, UsageError} from './errors.js';
import {aptInstallCommand} from './system.js';

export const ALLOCATOR_NAMES = ['hakmem', 'glibc', 'mimalloc', 'jemalloc', 'tcmalloc'] as const;
export type AllocatorName = (typeof ALLOCATOR_NAMES)[number];

export type PeerAllocatorName = Exclude<AllocatorName, 'hakmem' | 'glibc'>;

export interface PeerAllocator {
  name: PeerAllocatorName;
  /** File name in the system library directory. */
  library: string;
  debianPackage: string;
}

export const PEER_ALLOCATORS: Readonly<Record<PeerAllocatorName, PeerAllocator>> = {
  mimalloc: {name: 'mimalloc', library: 'libmimalloc.so.2', debianPackage: 'libmimalloc2.0'},
  jemalloc: {name: 'jemalloc', library: 'libjemalloc.so.2', debianPackage: 'libjemalloc2'},
  tcmalloc: {name: 'tcmalloc', library: 'libtcmalloc_minimal.so.4', debianPackage: 'libtcmalloc-minimal4'},
};

/** Where Debian installs shared libraries on x86-64; `HAK_SYSTEM_LIBDIR` points elsewhere. */
export function systemLibraryDir(): string {
  const override = process.env.HAK_SYSTEM_LIBDIR;
  if (override && override.trim() !== '') return isAbsolute(override) ? override : resolve(override);
  return '/usr/lib/x86_64-linux-gnu';
}

export function isAllocatorName(name: string): name is AllocatorName {
  return (ALLOCATOR_NAMES as readonly string[]).includes(name);
}

export function parseAllocatorName(name: string): AllocatorName {
  if (!isAllocatorName(name)) {
    throw new UsageError(`unknown allocator "${name}": expected one of ${ALLOCATOR_NAMES.join(', ')}.`);
  }
  return name;
}

export function peerLibraryPath(name: PeerAllocatorName): string {
  return join(systemLibraryDir(), PEER_ALLOCATORS[name].library);
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
      const peer = PEER_ALLOCATORS[name];
      const path = peerLibraryPath(name);
      if (!isPeerInstalled(name)) {
        throw new MissingLibraryError(name, path, peer.debianPackage, aptInstallCommand([peer.debianPackage]));
      }

      return {name, preload: path};
    }
  }
}
