/**
 * Who owns a hotspot: hakmem (by tier), glibc's allocator, a peer allocator, the benchmark, the
 * kernel, or something else. perf samples and callgrind costs are both attributed here, so the
 * two reports and hak verify's sample witness agree on what "glibc did the work" means.
 *
 * hakmem's tiers cannot be told apart by symbol: tiny and mid requests share the page code and
 * the malloc/free fast paths. The source file decides what it can (hak_large.c is the large
 * tier; heap, option, OS and stats code is "hakmem other"); page code and entry points count
 * for the tier the profile's request sizes fall into, or "hakmem pages" when they span tiny
 * and mid.
 */
import {basename} from 'node:path';

import {execProgram} from '../exec.js';
import type {HakmemStats} from '../run/stats.js';
import {allocatorOfLibrary} from '../verify/binding.js';
import type {Tier} from '../verify/counters.js';
import {GLIBC_SAMPLE_LIMIT} from '../verify/judge.js';

export const CATEGORIES = [
  'hakmem tiny',
  'hakmem mid',
  'hakmem large',
  'hakmem pages',
  'hakmem other',
  'glibc malloc',
  'mimalloc',
  'jemalloc',
  'tcmalloc',
  'benchmark',
  'kernel',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** One symbol's weight: samples from perf, or instructions from callgrind. */
export interface WeightedSymbol {
  symbol: string;
  /** The shared object or program, as perf or callgrind names it (a path or a base name). */
  library: string;
  /** Source file of the function, where known (callgrind's fl=, or nm -l). */
  file?: string;
  weight: number;
  /** perf marked it a kernel symbol ([k]). */
  kernel?: boolean;
}

export interface Hotspot {
  symbol: string;
  /** Base name of the library. */
  library: string;
  category: Category;
  /** Fraction of all samples (or instructions), 0..1. */
  share: number;
  weight: number;
}

export interface AttributionContext {
  /** Base name of the benchmark program. */
  program: string;
  /** The tiers the profile's request sizes fall into; empty when unknown. */
  tiers: Tier[];
  /** hakmem's symbols to their source file's base name (nm -l); perf does not give files. */
  hakmemFiles?: ReadonlyMap<string, string>;
  /** The peer allocator the run preloaded, which owns malloc and free when valgrind cannot name their object. */
  peer?: 'mimalloc' | 'jemalloc' | 'tcmalloc';
}

/** glibc's malloc implementation: entry points and internals (malloc/malloc.c, arena.c). */
const GLIBC_MALLOC_NAMES = new Set([
  'malloc', 'free', 'cfree', 'calloc', 'realloc', 'reallocarray', 'memalign', 'posix_memalign', 'aligned_alloc',
  'valloc', 'pvalloc', 'malloc_usable_size', 'sysmalloc', 'systrim', 'unlink_chunk', 'munmap_chunk', 'mremap_chunk',
  'heap_trim', 'new_heap', 'shrink_heap', 'alloc_new_heap', 'mtrim', 'int_mallinfo', '_mid_memalign', 'checked_request2size',
]);
const GLIBC_MALLOC_PATTERN = /^(_int_\w+|__libc_(malloc|free|calloc|realloc|memalign|valloc|pvalloc)\w*|tcache_\w+|arena_\w+|ptmalloc_\w+|malloc_\w+|__malloc_\w+)$/;

/** A symbol without its version (`cfree@GLIBC_2.2.5`) and compiler clone suffixes (`.isra.0`). */
export function baseSymbol(symbol: string): string {
  return symbol.replace(/@.*$/, '').replace(/(\.(isra|part|constprop|cold|lto_priv)(\.\d+)?)+$/, '');
}

export function isGlibcLibrary(library: string): boolean {
  return allocatorOfLibrary(library) === 'glibc';
}

export function isGlibcMallocSymbol(symbol: string, library: string): boolean {
  if (!isGlibcLibrary(library)) return false;
  const name = baseSymbol(symbol);
  return GLIBC_MALLOC_NAMES.has(name) || GLIBC_MALLOC_PATTERN.test(name);
}

const KERNEL_LIBRARIES = new Set(['[kernel.kallsyms]', '[kernel.vmlinux]', '[guest.kernel.kallsyms]']);
/** What valgrind calls an object it cannot name (tcmalloc's malloc and free, for one). */
const UNKNOWN_OBJECT = '???';
const ENTRY_POINTS = /^(malloc|free|cfree|calloc|realloc|reallocarray|memalign|posix_memalign|aligned_alloc|valloc|pvalloc|malloc_usable_size)$/;

/** hakmem source files that hold the page machinery shared by the tiny and mid tiers. */
const PAGE_FILES = new Set(['hak_page.c', 'hak_segment.c', 'hak_registry.c', 'hak_classes.c']);
/** hakmem source files that serve one tier only: the per-thread caches of freed blocks. */
const TIER_CACHE_FILES = new Map<string, Category>([['hak_tinycache.c', 'hakmem tiny'], ['hak_midcache.c', 'hakmem mid']]);
/** The malloc/free entry points and the inline fast paths they are built from. */
const ENTRY_FILES = new Set(['hak_override.c', 'hak_alloc.c', 'hak_fastpath.h', 'hak_internal.h', 'hak_alloc.h']);
const ENTRY_NAMES = /^(malloc|free|calloc|realloc|reallocarray|memalign|posix_memalign|aligned_alloc|valloc|pvalloc|hak_\w+|_hak_\w+_impl|_hak_malloc_\w+|_hak_free_\w+)$/;
/** hakmem code that runs only when it hands a request to glibc: not any tier's work. */
const HAND_OFF_NAMES = new Set(['tiny_declined', 'libc_fallback']);

function pageTierCategory(tiers: readonly Tier[]): Category {
  const page = tiers.filter((tier) => tier !== 'large');
  if (page.length === 1) return page[0] === 'tiny' ? 'hakmem tiny' : 'hakmem mid';
  return 'hakmem pages';
}

function hakmemCategory(symbol: string, context: AttributionContext, file: string | undefined): Category {
  const name = baseSymbol(symbol);
  if (symbol.endsWith('@plt') || HAND_OFF_NAMES.has(name)) return 'hakmem other';
  const source = file ? basename(file) : context.hakmemFiles?.get(name);
  if (source === 'hak_large.c' || (!source && name.startsWith('_hak_large'))) return 'hakmem large';
  const tierCache = source ? TIER_CACHE_FILES.get(source) : undefined;
  if (tierCache) return tierCache;
  if (source ? PAGE_FILES.has(source) : /page|segment|segmap|class/.test(name)) return pageTierCategory(context.tiers);
  if (source ? ENTRY_FILES.has(source) : ENTRY_NAMES.test(name)) {
    // The entry points dispatch every tier; a profile of large blocks only spends them there.
    return context.tiers.length === 1 && context.tiers[0] === 'large' ? 'hakmem large' : pageTierCategory(context.tiers);
  }

  return 'hakmem other';
}

export function categorize(item: Pick<WeightedSymbol, 'symbol' | 'library' | 'file' | 'kernel'>, context: AttributionContext): Category {
  if (item.kernel || KERNEL_LIBRARIES.has(item.library)) return 'kernel';
  const library = basename(item.library);
  if (library === context.program) return 'benchmark';
  if (library === UNKNOWN_OBJECT && context.peer && ENTRY_POINTS.test(baseSymbol(item.symbol))) return context.peer;
  const allocator = allocatorOfLibrary(library);
  if (allocator === 'hakmem') return hakmemCategory(item.symbol, context, item.file);
  if (allocator === 'glibc') return isGlibcMallocSymbol(item.symbol, library) ? 'glibc malloc' : 'other';
  if (allocator === 'mimalloc' || allocator === 'jemalloc' || allocator === 'tcmalloc') return allocator as 'mimalloc' | 'jemalloc' | 'tcmalloc';
  return 'other';
}

export interface Attribution {
  hotspots: Hotspot[];
  /** Category to share, largest first, only categories that were seen. */
  categories: Partial<Record<Category, number>>;
  total: number;
}

/** Shares per symbol (merged by symbol and library) and per category, largest first. */
export function attribute(items: readonly WeightedSymbol[], context: AttributionContext): Attribution {
  const total = items.reduce((sum, item) => sum + item.weight, 0);
  const bySymbol = new Map<string, Hotspot>();
  const byCategory = new Map<Category, number>();
  for (const item of items) {
    const library = basename(item.library);
    const category = categorize(item, context);
    const key = `${item.symbol}\u0000${library}`;
    const hotspot = bySymbol.get(key) ?? {symbol: item.symbol, library, category, share: 0, weight: 0};
    hotspot.weight += item.weight;
    bySymbol.set(key, hotspot);
    byCategory.set(category, (byCategory.get(category) ?? 0) + item.weight);
  }

  const share = (weight: number): number => (total > 0 ? weight / total : 0);
  const hotspots = [...bySymbol.values()].map((hotspot) => ({...hotspot, share: share(hotspot.weight)}));
  hotspots.sort((a, b) => b.weight - a.weight || a.symbol.localeCompare(b.symbol));
  const categories = Object.fromEntries(
    [...byCategory.entries()].sort((a, b) => b[1] - a[1]).map(([category, weight]) => [category, share(weight)]),
  ) as Partial<Record<Category, number>>;
  return {hotspots, categories, total};
}

/** How hakmem's code was split by tier for this profile, in one sentence. */
export function attributionNote(context: AttributionContext, sizes: {min: number; max: number} | null): string {
  const range = sizes ? (sizes.min === sizes.max ? `${sizes.min} B` : `${sizes.min}-${sizes.max} B`) : 'of unknown sizes';
  const pages = pageTierCategory(context.tiers);
  const tiers = context.tiers.length > 0 ? context.tiers.join(' and ') : 'unknown tiers';
  return (
    `hakmem's page code (hak_page.c, hak_segment.c, hak_registry.c, hak_classes.c) and its malloc/free fast paths serve tiny and mid ` +
    `requests alike; this profile's requests (${range}: ${tiers}) make them ${pages}. hak_tinycache.c counts as hakmem tiny, hak_midcache.c as hakmem mid, ` +
    'hak_large.c as hakmem large; ' +
    'heap, option, OS and stats code and the hand-off to glibc (tiny_declined, libc_fallback) as hakmem other.'
  );
}

function countersWarning(stats: HakmemStats | null): string {
  if (stats === null) return ' libhakmem.so wrote no counters: it may not have been loaded at all.';
  if (stats.config.wrapTiny === false) {
    return ' It is: this build has wrap-tiny off, so glibc serves every request <= 1 KiB; build without --no-wrap-tiny or run with HAKMEM_WRAP_TINY=1.';
  }

  return '';
}

/**
 * The warning seed 3 needed: glibc's allocator did the work of a run meant to measure hakmem.
 * The share limit is hak verify's (GLIBC_SAMPLE_LIMIT); a profile's samples are many, so its
 * minimum count (GLIBC_SAMPLE_MIN) does not come into play here.
 */
export function glibcWarning(attribution: Attribution, unit: string, stats: HakmemStats | null): string | null {
  const share = attribution.categories['glibc malloc'] ?? 0;
  if (share <= GLIBC_SAMPLE_LIMIT) return null;
  const symbols = attribution.hotspots
    .filter((hotspot) => hotspot.category === 'glibc malloc')
    .slice(0, 3)
    .map((hotspot) => `${hotspot.symbol} ${(hotspot.share * 100).toFixed(0)}%`)
    .join(', ');
  return `glibc's allocator did the work: its malloc internals took ${(share * 100).toFixed(1)}% of ${unit} (${symbols}) in a hakmem run. Is wrap-tiny off?${countersWarning(stats)}`;
}

/**
 * hakmem's function names and the hakmem source file each is defined in, from the library's
 * debug information (`nm -l`); empty when nm is missing or the library has no line information.
 */
export async function hakmemSymbolFiles(library: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  // Without nm (binutils) or debug information the map stays empty and names decide.
  const result = await execProgram('nm', ['-l', '--defined-only', library], {timeoutMs: 30_000});
  if (result.exitCode !== 0) return files;
  for (const line of result.stdout.split('\n')) {
    const match = /^[0-9a-f]+ [tTwW] (\S+)\t(.+):\d+$/.exec(line);
    // malloc and free are placed at their declaration in <stdlib.h>: only hakmem's own files tell.
    if (match && basename(match[2]!).startsWith('hak_')) files.set(baseSymbol(match[1]!), basename(match[2]!));
  }

  return files;
}
