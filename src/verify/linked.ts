/**
 * The two ways a program's allocator is not the one its target is named after:
 *
 * - **Linked**: a program that links an allocator library itself (libjemalloc, libtcmalloc,
 *   libmimalloc among its NEEDED entries, as Debian's redis-server links libjemalloc.so.2) is
 *   served by that library when nothing is preloaded: the "glibc" target measures it.
 * - **Mixed**: a process whose malloc goes to one allocator while it also binds another
 *   allocator's own API (mallctl, nallocx, sdallocx, mi_*, tc_*, MallocExtension) asks the
 *   other allocator about memory it never allocated: its own memory reports (redis's INFO
 *   memory) describe the wrong heap, without a word. The loader's binding log names them.
 */
import {execFileSync} from 'node:child_process';
import {basename} from 'node:path';

import type {AllocatorName} from '../allocators.js';
import {findOnPath} from '../exec.js';
import {allocatorOfLibrary} from './binding.js';

export interface LinkedAllocator {
  allocator: Exclude<AllocatorName, 'hakmem' | 'glibc'>;
  /** The NEEDED entry: libjemalloc.so.2. */
  library: string;
  /** The program that links it: redis-server. */
  program: string;
}

export interface ForeignBinding {
  symbol: string;
  /** The library the loader bound it to. */
  library: string;
}

export interface MixedAllocators {
  /** The other allocator's library, and its symbols the process binds. */
  library: string;
  allocator: AllocatorName | 'other';
  symbols: string[];
}

/** Another allocator's own API: what a program asks its allocator about beside malloc and free. */
export const ALLOCATOR_API = /^(mallctl\w*|nallocx|sdallocx|xallocx|rallocx|mallocx|dallocx|sallocx|malloc_stats_print|je_\w+|mi_\w+|tc_\w+|\w*MallocExtension\w*)$/;

/** The NEEDED entries of an ELF file (readelf -d); empty when it cannot be read. */
export function neededLibraries(file: string): string[] {
  const readelf = findOnPath('readelf');
  if (!readelf) return [];
  try {
    const text = execFileSync(readelf, ['-d', '-W', file], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']});
    return [...text.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((match) => match[1]!);
  } catch {
    return [];
  }
}

/** The allocator a program links itself, or null when its malloc is the C library's. */
export function linkedAllocator(program: string, needed: readonly string[] = neededLibraries(program)): LinkedAllocator | null {
  for (const library of needed) {
    const allocator = allocatorOfLibrary(library);
    if (allocator === 'jemalloc' || allocator === 'tcmalloc' || allocator === 'mimalloc') return {allocator, library, program: basename(program)};
  }

  return null;
}

/** "system (jemalloc, linked by redis-server)": what serves a program run with nothing preloaded. */
export function systemLabel(linked: LinkedAllocator): string {
  return `system (${linked.allocator}, linked by ${linked.program})`;
}

/** The allocator-API symbols bound to a library other than the one serving malloc, grouped by that library; null when none. */
export function mixedAllocators(foreign: readonly ForeignBinding[], mallocLibrary: string | null): MixedAllocators | null {
  const served = mallocLibrary === null ? null : allocatorOfLibrary(mallocLibrary);
  const other = foreign.filter((binding) => allocatorOfLibrary(binding.library) !== served && allocatorOfLibrary(binding.library) !== 'glibc');
  if (other.length === 0) return null;
  const library = other[0]!.library;
  // The public API first (mallctl, nallocx), the library's internal names (je_*) after.
  const symbols = [...new Set(other.filter((binding) => binding.library === library).map((binding) => binding.symbol))].sort((a, b) => Number(a.startsWith('je_')) - Number(b.startsWith('je_')) || a.localeCompare(b));
  return {library, allocator: allocatorOfLibrary(library), symbols};
}

/** The warning a mixed process earns, in one sentence. */
export function mixedWarning(label: string, program: string, mixed: MixedAllocators): string {
  const name = basename(mixed.library);
  const shown = mixed.symbols.slice(0, 6).join(', ') + (mixed.symbols.length > 6 ? `, +${mixed.symbols.length - 6} more` : '');
  return `MIXED ALLOCATORS: ${label}: ${basename(program)}'s malloc is served by ${label}, but it also binds ${name}'s own API (${shown}): the program's own memory reports (redis's INFO memory, allocator stats) describe ${mixed.allocator === 'other' ? name : mixed.allocator}'s heap, not the allocator measured.`;
}

/**
 * The cause of a process served by the allocator its program links itself, nothing preloaded:
 * "redis-server links libjemalloc.so.2 itself: ... jemalloc served it"; null when that is not what happened.
 */
export function linkedCause(linked: LinkedAllocator | null, bound: {allocator: AllocatorName | 'other' | null; mallocLibrary: string | null} | null): string | null {
  if (!linked || bound?.allocator !== linked.allocator) return null;
  const library = basename(bound.mallocLibrary ?? linked.library);
  return `${linked.allocator} served it: ${linked.program} links ${linked.library} itself and nothing was preloaded, so its malloc is bound to ${library} (${systemLabel(linked)})`;
}
