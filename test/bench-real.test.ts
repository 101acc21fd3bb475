/** hak bench on the real allocator in csrc/: short runs of tiny_hot under hakmem and glibc. */
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import {analyzeRecord} from '../src/bench/analysis.js';
import {runBench} from '../src/bench/runner.js';
import type {BenchJson} from '../src/commands/bench.js';
import {loadProfile} from '../src/profiles/index.js';
import {runHak, tempDir, withEnv} from './helpers.js';

function shortTinyHot(): string {
  const file = join(tempDir('hak-profiles-'), 'tiny-short.yaml');
  writeFileSync(
    file,
    'name: tiny-short\ndescription: tiny_hot, briefly\nbenchmark:\n  program: tiny_hot\n  args: [64, 100, 20000]\nallocators: [hakmem, glibc]\nruns: 3\nwarmup: 1\ntimeout: 30\ncallgrind:\n  args: [64, 100, 100]\n',
  );
  return file;
}

describe('hak bench on the real allocator', () => {
  let home: string;
  beforeAll(() => {
    home = tempDir('hak-home-');
  });

  it('measures hakmem and glibc, hakmem proven to serve by the loader and its counters', async () => {
    await withEnv({HAK_CSRC: undefined, HAK_HOME: home}, async () => {
      const record = await runBench(await loadProfile(shortTinyHot()));
      expect(record.complete).toBe(true);
      expect(record.compiler).toMatch(/^gcc /);
      const [hakmem, glibc] = record.targets;
      expect(hakmem!.binding?.allocator).toBe('hakmem');
      expect(glibc!.binding?.allocator).toBe('glibc');
      expect(hakmem!.variant).toMatchObject({name: 'default', features: {wrapTiny: true, stats: 0}});
      expect(hakmem!.runs.every((run) => run.served?.verdict === 'pass' && run.counters?.loaded)).toBe(true);
      expect(glibc!.runs.every((run) => run.served === null)).toBe(true);
      // the same work under both allocators
      expect(new Set([...hakmem!.runs, ...glibc!.runs].map((run) => run.checksum)).size).toBe(1);
      expect(hakmem!.runs[0]!.ops).toBe(2 * 100 * 20_000);

      const analysis = analyzeRecord(record);
      expect(analysis.baseline).toBe('glibc');
      expect(analysis.results.map((result) => [result.label, result.status, result.verified, result.servedBy])).toEqual([
        ['hakmem', 'ok', true, 'hakmem'],
        ['glibc', 'ok', null, 'glibc'],
      ]);
      const ratio = analysis.results[0]!.vsBaseline!;
      expect(ratio.low).toBeLessThanOrEqual(ratio.ratio);
      expect(ratio.high).toBeGreaterThanOrEqual(ratio.ratio);
      // a small program's own peak RSS, not the footprint of the node process that started it
      expect(analysis.results[1]!.peakRssKb).toBeLessThan(6 * 1024);
    });
  });

  it('marks hakmem INVALID when wrap-tiny is off and glibc serves the tiny requests', async () => {
    await withEnv({HAK_CSRC: undefined, HAK_HOME: home}, async () => {
      const record = await runBench(await loadProfile(shortTinyHot()), {overrides: {features: {wrapTiny: false}}, runs: 2, warmup: 0});
      const hakmem = analyzeRecord(record).results[0]!;
      expect(hakmem).toMatchObject({status: 'invalid', verified: false, servedBy: 'glibc', vsBaseline: null});
      expect(hakmem.cause).toBe('in every run, wrap-tiny is off: 100% of 64 B requests went to glibc');
    });
  });

  it('runs the shipped tiny-hot profile from the command line', async () => {
    const result = await runHak(['bench', 'tiny-hot', '--allocators', 'hakmem,glibc', '--runs', '2', '--warmup', '0', '--json', '--no-save'], {
      env: {HAK_CSRC: undefined, HAK_HOME: home},
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as BenchJson;
    expect(json.benchmark).toEqual({program: 'tiny_hot', args: ['64', '100', '300000'], threads: 1, runs: 2, warmup: 0});
    expect(json.results.map((entry) => [entry.allocator, entry.verified, entry.runs.length])).toEqual([
      ['hakmem', true, 2],
      ['glibc', null, 2],
    ]);
    expect(json.results[0]!.median).toBeGreaterThan(0);
  });
});
