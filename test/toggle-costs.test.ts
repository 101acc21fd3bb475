/**
 * The toggles' "off" paths are the seeds' baselines: each must cost more instructions per
 * operation than the default build, on the tiny fast path and on the random mix, exactly as
 * hak perf --instructions counts them (callgrind counts do not depend on machine noise).
 */
import {assert, describe, expect, it} from 'vitest';

import {readBaseline} from '../src/check/baseline.js';
import {DEFAULT_BASELINE_FILE} from '../src/check/index.js';
import type {PerfResult} from '../src/perf/index.js';
import {runHak, tempDir} from './helpers.js';

const OFF_FLAGS = ['--no-direct-cache', '--no-dual-lists', '--no-superslab', '--no-wrap-tiny'];
const TEST_TIMEOUT_MS = 240_000;

describe('instructions per operation of each toggle turned off', () => {
  const env = {HAK_HOME: tempDir('hak-home-'), HAK_CSRC: undefined};

  const instructionsPerOp = async (profile: string, flags: string[]): Promise<number> => {
    const run = await runHak(['perf', profile, '--instructions', '--json', ...flags], {env});
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as PerfResult;
    assert(result.mode === 'instructions');
    expect(result.instructionsPerOp).toBeGreaterThan(0);
    return result.instructionsPerOp;
  };

  it.each(['tiny-hot', 'random-mixed'])(
    '%s: every toggle off costs more than the default build',
    async (profile) => {
      const all = await instructionsPerOp(profile, []);
      for (const flag of OFF_FLAGS) {
        const off = await instructionsPerOp(profile, [flag]);
        expect(off, `${profile} ${flag}: ${off} against ${all} instructions per operation`).toBeGreaterThan(all);
      }
    },
    TEST_TIMEOUT_MS,
  );

  // The harden toggle works the other way round: on, it adds checks to both fast paths (4
  // instructions in malloc and 9 in free, on the pages' lists: 6.5 more per operation, README
  // "Heap misuse: the harden toggle"). Its price is held by hak check, whose baseline
  // (check/baseline.json, checked by npm test) has the hardened build of both profiles: hakmem's
  // own instructions per operation may not grow beyond the tolerance. Here, that the baseline
  // holds them and that harden costs more there than the default build.
  it.each(['random-mixed', 'tiny-hot'])('%s: harden on costs more than the default build, and hak check holds its price', (profile) => {
    const baseline = readBaseline(DEFAULT_BASELINE_FILE);
    const plain = baseline.entries[profile];
    const hardened = baseline.entries[`${profile}:harden`];
    expect(plain?.features.harden).toBe(false);
    expect(hardened?.features.harden).toBe(true);
    const message = `${profile}: ${hardened?.allocator.instructions} against ${plain?.allocator.instructions} instructions per operation`;
    expect(hardened!.allocator.instructions, message).toBeGreaterThan(plain!.allocator.instructions);
  });
});
