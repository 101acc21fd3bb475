/**
 * The toggles' "off" paths are the seeds' baselines: each must cost more instructions per
 * operation than the default build, on the tiny fast path and on the random mix, exactly as
 * hak perf --instructions counts them (callgrind counts do not depend on machine noise).
 */
import {describe, expect, it} from 'vitest';

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
    expect(result.instructionsPerOp).toBeGreaterThan(0);
    return result.instructionsPerOp!;
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

  // The harden toggle works the other way round: on, it adds checks to both fast paths. Its
  // price is their fixed cost, whatever the benchmark's own work around them: 4 instructions
  // in malloc and 9 in free, on the pages' lists, which cost what the default's tiny lists
  // cost: 6.5 more per operation, 6.6 counted on tiny-hot (README "Heap misuse: the harden
  // toggle"). One more instruction in either path adds 0.5 and fails.
  const HARDEN_PRICE = 6.8;
  it.each(['random-mixed', 'tiny-hot'])('%s: harden on costs more than the default build, within its bound', async (profile) => {
    const plain = await instructionsPerOp(profile, []);
    const hardened = await instructionsPerOp(profile, ['--harden']);
    const message = `${profile}: ${hardened} against ${plain} instructions per operation`;
    expect(hardened, message).toBeGreaterThan(plain);
    expect(hardened - plain, message).toBeLessThanOrEqual(HARDEN_PRICE);
  }, TEST_TIMEOUT_MS);
});
