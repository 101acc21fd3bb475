/**
 * The order in which a benchmark's runs happen. Every round runs each target once, always in
 * the same order (A B C, A B C, ...), warm-up rounds first: a machine that drifts (thermal state,
 * a neighbour's load, page cache) then drifts under every allocator alike, instead of all of one
 * allocator's runs landing in a quiet minute and another's in a busy one.
 */

export interface ScheduledRun {
  /** 0-based round; warm-up rounds come first. */
  round: number;
  /** Index of the target in the list given. */
  target: number;
  warmup: boolean;
  /** The target's own run count so far, warm-ups included: 0, 1, 2, ... */
  runIndex: number;
  /** 1-based number among the target's measured runs (or among its warm-ups, for a warm-up). */
  ordinal: number;
}

export function interleavedSchedule(targets: number, warmup: number, runs: number): ScheduledRun[] {
  const schedule: ScheduledRun[] = [];
  for (let round = 0; round < warmup + runs; round++) {
    const isWarmup = round < warmup;
    for (let target = 0; target < targets; target++) {
      schedule.push({round, target, warmup: isWarmup, runIndex: round, ordinal: isWarmup ? round + 1 : round - warmup + 1});
    }
  }

  return schedule;
}
