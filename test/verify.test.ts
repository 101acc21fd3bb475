/** hak verify against the real allocator: it must catch the quick-wins trap and every way the preload can miss. */
import {beforeAll, describe, expect, it} from 'vitest';

import {buildVariant} from '../src/build/index.js';
import type {VerifyReport} from '../src/verify/index.js';
import {pathWithout, runHak, tempDir, withEnv} from './helpers.js';

describe('hak verify', () => {
  const home = tempDir('hak-home-');
  const env = {HAK_HOME: home, HAK_CSRC: undefined};

  beforeAll(async () => {
    // The variants the cases below verify, and the stats-1 twins verify counts with.
    await withEnv(env, async () => {
      await Promise.all([buildVariant(), buildVariant({features: {stats: 1}})]);
      await Promise.all([buildVariant({features: {wrapTiny: false}}), buildVariant({features: {wrapTiny: false, stats: 1}})]);
    });
  });

  const verify = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const run = await runHak(['verify', ...args, '--json'], {env: {...env, ...extraEnv}});
    return {exitCode: run.exitCode, report: JSON.parse(run.stdout) as VerifyReport, stderr: run.stderr};
  };

  it('passes the default build of tiny-hot, every witness saying hakmem', async () => {
    const {exitCode, report} = await verify([]);
    expect(exitCode).toBe(0);
    expect(report).toMatchObject({profile: 'tiny-hot', allocator: 'hakmem', verdict: 'pass', servedBy: 'hakmem', cause: null, sizes: {min: 64, max: 64}, tiers: ['tiny']});
    const {counters, variantCounters, binding, samples} = report.witnesses;
    expect(counters).toMatchObject({build: 'twin', exact: true, statsLevel: 1, wrapTiny: true});
    expect(counters.variant).toMatch(/^dc1-dl1-ss1-wt1-s1-gcc-/);
    // tiny_hot 64 100 1500 makes 150,000 mallocs of 64 bytes, all served by the tiny pool
    expect(counters.tiers.find((tier) => tier.tier === 'tiny')).toMatchObject({handedToLibc: 0, share: 1});
    expect(counters.tiers.find((tier) => tier.tier === 'tiny')!.served).toBeGreaterThanOrEqual(150_000);
    expect(variantCounters).toMatchObject({build: 'tested', exact: false, loaded: true, statsLevel: 0});
    expect(binding.allocator).toBe('hakmem');
    expect(binding.mallocLibrary).toMatch(/libhakmem\.so$/);
    expect(samples.status).toBe('sampled');
    if (samples.status === 'sampled') {
      expect(samples.samples).toBeGreaterThan(100);
      expect(samples.glibcMallocShare).toBeLessThan(0.05);
      expect(samples.hakmemShare).toBeGreaterThan(0.5);
    }
  });

  it('fails a --no-wrap-tiny build, naming wrap-tiny and glibc\'s share of the samples', async () => {
    const {exitCode, report} = await verify(['--no-wrap-tiny']);
    expect(exitCode).toBe(1);
    expect(report.verdict).toBe('fail');
    expect(report.servedBy).toBe('glibc');
    expect(report.cause).toMatch(/^wrap-tiny is off: 100% of 64 B requests went to glibc \(glibc's malloc internals \d+% of cpu-clock samples: (_int_free|_int_malloc|malloc|cfree) \d+%/);
    expect(report.witnesses.counters.tiers.find((tier) => tier.tier === 'tiny')).toMatchObject({served: 0, share: 0});
    expect(report.witnesses.counters.wrapTiny).toBe(false);
    // The loader still bound malloc to hakmem: only the counters and the samples see the trap.
    expect(report.witnesses.binding.allocator).toBe('hakmem');
    const {samples} = report.witnesses;
    expect(samples.status === 'sampled' && samples.glibcMallocShare).toBeGreaterThan(0.3);
  });

  it('says the same in words and a table, and with the slow-path counters alone', async () => {
    const text = await runHak(['verify', '--no-wrap-tiny'], {env});
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toMatch(/^hak verify tiny-hot: FAIL: wrap-tiny is off: 100% of 64 B requests went to glibc/);
    expect(text.stdout).toMatch(/hakmem counters\s+glibc\s+exact per-tier counts of the stats-1 twin dc1-dl1-ss1-wt0-s1-gcc-/);
    expect(text.stdout).toMatch(/loader binding\s+hakmem\s+the program's malloc -> libhakmem\.so/);
    expect(text.stdout).toMatch(/perf samples\s+glibc\s+\d[\d,]* cpu-clock samples/);
    expect(text.stderr).toBe('');

    const {exitCode, report} = await verify(['--no-wrap-tiny', '--no-stats-twin']);
    expect(exitCode).toBe(1);
    expect(report.witnesses.variantCounters).toBeNull();
    expect(report.witnesses.counters).toMatchObject({build: 'tested', exact: false, statsLevel: 0});
    expect(report.cause).toMatch(/^wrap-tiny is off: 100% of 64 B requests went to glibc/);
  });

  it('passes the same build with HAKMEM_WRAP_TINY=1 set at run time', async () => {
    const {exitCode, report} = await verify(['--no-wrap-tiny', '--env', 'HAKMEM_WRAP_TINY=1']);
    expect(exitCode).toBe(0);
    expect(report.verdict).toBe('pass');
    expect(report.features.wrapTiny).toBe(false);
    expect(report.env).toEqual({HAKMEM_WRAP_TINY: '1'});
    expect(report.witnesses.counters).toMatchObject({wrapTiny: true, wrapTinyCompiled: false});
  });

  it('fails a run without the preload: libhakmem.so was not loaded', async () => {
    const {exitCode, report} = await verify(['--allocator', 'glibc']);
    expect(exitCode).toBe(1);
    expect(report.servedBy).toBe('glibc');
    expect(report.cause).toBe('libhakmem.so was not loaded (static binary, setuid, or LD_PRELOAD dropped): no hakmem counters were written and malloc is bound to libc.so.6');
    expect(report.witnesses.counters.loaded).toBe(false);
    expect(report.witnesses.binding.allocator).toBe('glibc');
  });

  it('fails with mimalloc preloaded instead, naming it', async () => {
    const {exitCode, report} = await verify(['--allocator', 'mimalloc']);
    expect(exitCode).toBe(1);
    expect(report.servedBy).toBe('mimalloc');
    expect(report.cause).toBe('another allocator (libmimalloc.so.2) is preloaded: the program\'s malloc is bound to it');
    const {samples} = report.witnesses;
    expect(samples.status === 'sampled' && samples.categories.mimalloc).toBeGreaterThan(0.3);
  });

  it('skips the sample witness where perf is not installed, and says so', async () => {
    const {exitCode, report} = await verify([], {PATH: pathWithout(['perf'])});
    expect(exitCode).toBe(0);
    expect(report.witnesses.samples).toEqual({status: 'skipped', reason: expect.stringMatching(/^perf is not installed \(.*apt-get install -y linux-perf\)$/)});
  });

  it('refuses --env for what hak sets itself', async () => {
    const run = await runHak(['verify', '--env', 'LD_PRELOAD=/x.so'], {env});
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe('Error: --env LD_PRELOAD is set by hak itself.\n  Choose the allocator with --allocator.\n');
  });
});
