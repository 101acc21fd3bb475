/**
 * hakmem's stats JSON (csrc/README.md, "Stats JSON"): written at exit to the file HAKMEM_STATS
 * names. Its presence proves libhakmem.so was loaded; `always.libcMallocTiny` says whether tiny
 * requests reached glibc instead of the tiny pool.
 */

export interface TierCounters {
  allocs: number;
  frees: number;
  bytes: number;
}

export interface ClassCounters {
  tier: string;
  size: number;
  allocs: number;
  frees: number;
}

export interface HakmemStats {
  format: number;
  pid: number;
  config: {
    directCache: boolean;
    dualLists: boolean;
    superslab: boolean;
    wrapTiny: boolean;
    wrapTinyCompiled: boolean;
    stats: number;
    tinyMax: number;
    midMax: number;
    /** Superslab's segment map is the compact one (the process started under an address-space limit below 4 GiB, and every free looks its page up out of line). Absent before hakmem reported it. */
    segmapCompact?: boolean;
  };
  /** Slow-path counters, kept at every stats level. */
  always: Record<string, number>;
  /** Exact per-tier counts (stats >= 1), else null. */
  tiers: {tiny: TierCounters; mid: TierCounters; large: TierCounters} | null;
  /** Per size class (stats 2), else null. */
  classes: ClassCounters[] | null;
}

/** Parses a stats file's text; null when it is not a stats object hak understands. */
export function parseHakmemStats(text: string): HakmemStats | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }

  if (typeof value !== 'object' || value === null) return null;
  const stats = value as Partial<HakmemStats>;
  if (typeof stats.format !== 'number' || typeof stats.config !== 'object' || typeof stats.always !== 'object') return null;
  return stats as HakmemStats;
}
