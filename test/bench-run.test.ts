/** runBench and its analysis on the fixture's fake benchmark, whose speed and faults each test sets. */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {analyzeRecord} from '../src/bench/analysis.js';
import {chooseBaseline, runBench} from '../src/bench/runner.js';
import {MissingLibraryError, UsageError} from '../src/errors.js';
import {loadProfile} from '../src/profiles/index.js';
import {fakeProfile, RATES} from './bench-fixtures.js';
import {tempDir, useFixtureTree, withEnv} from './helpers.js';

describe('runBench on the fixture', () => {
  const fixture = useFixtureTree();
  const bench = async (env: Record<string, string>, options: Parameters<typeof fakeProfile>[1] = {}) =>
    withEnv(fixture.env(), async () => runBench(await loadProfile(fakeProfile(env, options))));

  it('interleaves the runs round by round after tracing each target once', async () => {
    const log = join(tempDir(), 'order.log');
    const record = await bench({...RATES, FAKE_LOG: log});
    const order = readFileSync(log, 'utf8').trim().split('\n');
    const round = ['HAKMEM', 'GLIBC', 'MIMALLOC'];
    // the binding traces, the warm-up round, three measured rounds
    expect(order).toEqual([...round, ...round, ...round, ...round, ...round]);
    expect(record.complete).toBe(true);
    for (const target of record.targets) {
      expect(target.warmups.map((run) => run.round)).toEqual([0]);
      expect(target.runs.map((run) => run.round)).toEqual([1, 2, 3]);
      expect(target.runs.map((run) => run.runIndex)).toEqual([1, 2, 3]);
    }
  });

  it('compares with the baseline and refuses a hakmem that did not serve malloc', async () => {
    const record = await bench(RATES);
    expect(record.settings).toEqual({baseline: 'mimalloc', noise: 0.02});
    expect(record.profile).toMatchObject({program: 'fake_bench', args: ['1000'], runs: 3, warmup: 1});
    const analysis = analyzeRecord(record);
    const [hakmem, glibc, mimalloc] = analysis.results;
    expect(glibc).toMatchObject({label: 'glibc', status: 'ok', verified: null, servedBy: 'glibc', peakRssKb: 2048});
    expect(glibc!.median).toBeGreaterThan(0.97e6);
    expect(glibc!.median).toBeLessThan(1.03e6);
    expect(glibc!.vsBaseline).toMatchObject({verdict: 'slower'});
    expect(glibc!.vsBaseline!.ratio).toBeCloseTo(0.5, 1);
    expect(mimalloc).toMatchObject({status: 'ok', vsBaseline: null, verified: null});
    // the fixture's libhakmem.so does not define malloc: the loader binds it to glibc
    expect(hakmem).toMatchObject({label: 'hakmem', status: 'invalid', verified: false, servedBy: 'glibc', vsBaseline: null});
    expect(hakmem!.cause).toMatch(/^in every run, the program's malloc is bound to libc\.so\.6, not libhakmem\.so/);
    expect(hakmem!.runs).toHaveLength(3);
    expect(record.targets[0]!.runs[0]!.served).toMatchObject({verdict: 'fail'});
  });

  it('reports a crash with its run, signal and stderr, and keeps the other results', async () => {
    const record = await bench({...RATES, FAKE_FAULT_MIMALLOC: 'segv'});
    expect(record.complete).toBe(false);
    const mimalloc = record.targets.find((target) => target.label === 'mimalloc')!;
    expect(mimalloc.failure).toMatchObject({failure: 'signal', signal: 'SIGSEGV', runIndex: 0, round: 0, warmup: true});
    expect(mimalloc.failure!.stderrTail).toContain('fake_bench: crashing on purpose');
    expect(mimalloc.failure!.command).toMatch(/LD_PRELOAD=\S*libmimalloc\.so\.2 .*fake_bench 1000$/);
    expect(mimalloc.runs).toEqual([]);
    const analysis = analyzeRecord(record);
    expect(analysis.results.find((result) => result.label === 'mimalloc')).toMatchObject({status: 'failed', median: null});
    expect(analysis.results.find((result) => result.label === 'glibc')).toMatchObject({status: 'ok', runs: expect.any(Array), vsBaseline: null});
    expect(analysis.results.find((result) => result.label === 'glibc')!.runs).toHaveLength(3);
    expect(analysis.warnings).toContain('the baseline mimalloc is FAILED: no ratios can be given.');
  });

  it('reports a run that exits non-zero with its code', async () => {
    const record = await bench({...RATES, FAKE_FAULT_GLIBC: 'exit'});
    const glibc = record.targets.find((target) => target.label === 'glibc')!;
    expect(glibc.failure).toMatchObject({failure: 'exit', exitCode: 4});
    expect(glibc.failure!.message).toContain('exited with 4 (allocation failure)');
    expect(analyzeRecord(record).results.find((result) => result.label === 'glibc')!.cause).toBe('warm-up run 1 of 1: exited with 4 (allocation failure).');
  });

  it('kills a run that passes the timeout and goes on with the others', async () => {
    const started = Date.now();
    const record = await bench({...RATES, FAKE_FAULT_GLIBC: 'hang'}, {timeout: 0.5});
    expect(Date.now() - started).toBeLessThan(20_000);
    const glibc = record.targets.find((target) => target.label === 'glibc')!;
    expect(glibc.failure).toMatchObject({failure: 'timeout', timeoutSeconds: 0.5, runIndex: 0});
    expect(record.targets.find((target) => target.label === 'mimalloc')!.runs).toHaveLength(3);
  });

  it('marks a target that did different work as invalid, loudly', async () => {
    const analysis = analyzeRecord(await bench({...RATES, FAKE_FAULT_GLIBC: 'checksum'}));
    const glibc = analysis.results.find((result) => result.label === 'glibc')!;
    expect(glibc).toMatchObject({status: 'invalid', vsBaseline: null});
    expect(glibc.cause).toBe('it did different work from the others: checksum 0x0bad, the others 0x2a');
    expect(analysis.warnings.some((warning) => warning.startsWith('CHECKSUM MISMATCH: glibc'))).toBe(true);
  });

  it('names the package of a missing peer, or skips it when allowed', async () => {
    const libs = tempDir('hak-libs-');
    await withEnv({...fixture.env(), HAK_SYSTEM_LIBDIR: libs}, async () => {
      const profile = await loadProfile(fakeProfile(RATES, {allocators: 'glibc, mimalloc'}));
      const error = await runBench(profile).catch((error_: unknown) => error_);
      expect(error).toBeInstanceOf(MissingLibraryError);
      expect((error as MissingLibraryError).debianPackage).toBe('libmimalloc2.0');
      const record = await runBench(profile, {allowMissing: true});
      expect(record.targets.map((target) => target.label)).toEqual(['glibc']);
      expect(record.settings.baseline).toBe('glibc');
      expect(record.warnings[0]).toBe(`mimalloc skipped: ${libs}/libmimalloc.so.2 is missing (Debian package libmimalloc2.0).`);
    });
  });
});

describe('chooseBaseline', () => {
  it('takes a label or an allocator with one target, else mimalloc, else glibc', () => {
    const warnings: string[] = [];
    expect(chooseBaseline(['hakmem', 'glibc', 'mimalloc'], undefined, warnings)).toBe('mimalloc');
    expect(chooseBaseline(['hakmem:a', 'hakmem:b', 'glibc'], 'hakmem:a', warnings)).toBe('hakmem:a');
    expect(chooseBaseline(['hakmem', 'glibc'], 'hakmem', warnings)).toBe('hakmem');
    expect(warnings).toEqual([]);
    expect(chooseBaseline(['hakmem', 'glibc'], undefined, warnings)).toBe('glibc');
    expect(warnings).toEqual(['mimalloc is not among the targets: ratios are to glibc.']);
    expect(() => chooseBaseline(['hakmem:a', 'hakmem:b'], 'hakmem', [])).toThrow(UsageError);
    expect(() => chooseBaseline(['glibc'], 'tcmalloc', [])).toThrow(/--baseline tcmalloc: it is not among the targets/);
  });
});
