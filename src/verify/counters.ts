/**
 * The first witness of who served a run's allocations: hakmem's own counters, read from the
 * stats file the library writes at exit (csrc/README.md, "Stats JSON").
 *
 * - No stats file: libhakmem.so never ran in the process.
 * - Stats level >= 1: exact allocations per tier (`tiers`).
 * - Stats level 0: the always-on slow-path counters. Requests handed to glibc are exact
 *   (`libcMallocTiny`, `libcMallocOther`); what a tier served is bounded by the blocks its
 *   refills supplied (`tinyBlocksSupplied`, `midBlocksSupplied`), which is an upper bound,
 *   so the share is then an estimate (`exact: false`).
 */
import type {HakmemStats} from '../run/stats.js';

export type Tier = 'tiny' | 'mid' | 'large';
export const TIERS: readonly Tier[] = ['tiny', 'mid', 'large'];

/** The largest request of each tier (csrc/src/hak_config.h). */
export const TINY_MAX = 1024;
export const MID_MAX = 65_536;

/** The share of a tier's requests hakmem must serve for a run to count as hakmem's. */
export const SERVED_THRESHOLD = 0.99;

export interface TierWitness {
  tier: Tier;
  /** Requests of this tier's sizes that hakmem served (exact, or an upper bound at stats 0). */
  served: number;
  /** Requests of this tier's sizes handed to glibc's allocator. */
  handedToLibc: number;
  /** served / (served + handedToLibc); null when the run made no such requests. */
  share: number | null;
}

export interface CounterWitness {
  /** A stats file was written: libhakmem.so was loaded and ran to the end of the process. */
  loaded: boolean;
  /** Exact tier counts (a stats >= 1 build) rather than slow-path bounds. */
  exact: boolean;
  statsLevel: number | null;
  /** Effective wrap-tiny (HAKMEM_WRAP_TINY overrides the compiled default). */
  wrapTiny: boolean | null;
  wrapTinyCompiled: boolean | null;
  /** The compact segment map, under which every free looks its page up out of line (null: not reported). */
  segmapCompact: boolean | null;
  tiers: TierWitness[];
  /** Bytes of <= 1 KiB requests handed to glibc. */
  libcTinyBytes: number;
  /** Frees of pointers hakmem did not allocate, passed to glibc. */
  libcFrees: number;
}

function counter(stats: HakmemStats, name: string): number {
  const value = stats.always[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function share(served: number, handed: number): number | null {
  return served + handed === 0 ? null : served / (served + handed);
}

export function counterWitness(stats: HakmemStats | null): CounterWitness {
  if (stats === null) {
    return {loaded: false, exact: false, statsLevel: null, wrapTiny: null, wrapTinyCompiled: null, segmapCompact: null, tiers: [], libcTinyBytes: 0, libcFrees: 0};
  }

  const exact = stats.tiers !== null;
  const served = (tier: Tier): number => {
    if (stats.tiers) return stats.tiers[tier].allocs;
    if (tier === 'tiny') return counter(stats, 'tinyBlocksSupplied');
    if (tier === 'mid') return counter(stats, 'midBlocksSupplied');
    return counter(stats, 'largeAllocs');
  };

  const handed: Record<Tier, number> = {
    tiny: counter(stats, 'libcMallocTiny'),
    // mid and large never decline; what reaches glibc there is start-up or a huge alignment
    mid: counter(stats, 'libcMallocOther'),
    large: 0,
  };
  return {
    loaded: true,
    exact,
    statsLevel: stats.config.stats,
    wrapTiny: stats.config.wrapTiny,
    wrapTinyCompiled: stats.config.wrapTinyCompiled,
    segmapCompact: stats.config.segmapCompact ?? null,
    tiers: TIERS.map((tier) => ({tier, served: served(tier), handedToLibc: handed[tier], share: share(served(tier), handed[tier])})),
    libcTinyBytes: counter(stats, 'libcMallocTinyBytes'),
    libcFrees: counter(stats, 'libcFree'),
  };
}

/** The tiers requests in [min, max] bytes fall into. */
export function tiersForSizes(min: number, max: number): Tier[] {
  return TIERS.filter((tier) => {
    const [low, high] = tier === 'tiny' ? [0, TINY_MAX] : tier === 'mid' ? [TINY_MAX + 1, MID_MAX] : [MID_MAX + 1, Number.POSITIVE_INFINITY];
    return max >= low && min <= high;
  });
}

/**
 * The request sizes a benchmark result says it used: `size` (tiny_hot), `min`/`max` (the
 * others), or 16 bytes for quick_wins' patterns. Null when the result does not say.
 */
export function requestSizes(bench: string, params: Record<string, unknown>): {min: number; max: number} | null {
  const number = (key: string): number | undefined => (typeof params[key] === 'number' ? (params[key] as number) : undefined);
  const size = number('size');
  if (size !== undefined) return {min: size, max: size};
  const min = number('min');
  const max = number('max');
  if (min !== undefined && max !== undefined) return {min, max};
  if (bench === 'quick_wins') return {min: 16, max: 16};
  return null;
}
