import {describe, expect, it} from 'vitest';

import {interleavedSchedule} from '../src/bench/schedule.js';

describe('interleavedSchedule', () => {
  it('runs every target once per round in a fixed order, warm-up rounds first', () => {
    const order = interleavedSchedule(3, 1, 2).map((slot) => `${'ABC'[slot.target]}${slot.warmup ? 'w' : ''}${slot.ordinal}`);
    expect(order).toEqual(['Aw1', 'Bw1', 'Cw1', 'A1', 'B1', 'C1', 'A2', 'B2', 'C2']);
  });

  it('counts each target\'s runs, warm-ups included, and numbers rounds', () => {
    const schedule = interleavedSchedule(2, 2, 3);
    expect(schedule).toHaveLength(10);
    expect(schedule.filter((slot) => slot.target === 1).map((slot) => [slot.round, slot.runIndex, slot.warmup, slot.ordinal])).toEqual([
      [0, 0, true, 1],
      [1, 1, true, 2],
      [2, 2, false, 1],
      [3, 3, false, 2],
      [4, 4, false, 3],
    ]);
  });

  it('has no warm-up rounds when warmup is 0', () => {
    expect(interleavedSchedule(2, 0, 1).map((slot) => [slot.target, slot.warmup])).toEqual([
      [0, false],
      [1, false],
    ]);
  });
});
