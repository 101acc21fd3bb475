/** The two witnesses of who served a run: hakmem's counters and the loader's bindings. */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import {resolveAllocator} from '../src/allocators.js';
import {type BuiltVariant, buildVariant} from '../src/build/index.js';
import {parsePerfReport} from '../src/perf/report.js';
import type {HakmemStats} from '../src/run/stats.js';
import {allocatorOfLibrary, parseBindings, traceMallocBinding} from '../src/verify/binding.js';
import {counterWitness, requestSizes, tiersForSizes} from '../src/verify/counters.js';
import type {VerifyReport} from '../src/verify/index.js';
import {judgeServed} from '../src/verify/judge.js';
import {witnessRows} from '../src/verify/render.js';
import {samplesWitness} from '../src/verify/samples.js';
import {ROOT, tempDir, withEnv} from './helpers.js';

function stats(over: {always?: Record<string, number>; tiers?: HakmemStats['tiers']; level?: number; wrapTiny?: boolean; segmapCompact?: boolean}): HakmemStats {
  return {
    format: 1,
    pid: 1,
    config: {directCache: true, dualLists: true, superslab: true, wrapTiny: over.wrapTiny ?? true, wrapTinyCompiled: true, stats: over.level ?? 0, tinyMax: 1024, midMax: 65536, segmapCompact: over.segmapCompact},
    always: over.always ?? {},
    tiers: over.tiers ?? null,
    classes: null,
  };
}

describe('counter witness', () => {
  it('says "not loaded" when there is no stats file', () => {
    const w = counterWitness(null);
    expect(w.loaded).toBe(false);
    expect(w.tiers).toEqual([]);
  });

  it('carries the compact segment map when hakmem reports it, and null from a hakmem that does not', () => {
    expect(counterWitness(stats({segmapCompact: true})).segmapCompact).toBe(true);
    expect(counterWitness(stats({segmapCompact: false})).segmapCompact).toBe(false);
    expect(counterWitness(stats({})).segmapCompact).toBeNull();
  });

  it('says in the counters\' figures when the segment map is the compact one, and only then', () => {
    const figures = (segmapCompact: boolean) => {
      const counters = {...counterWitness(stats({segmapCompact})), build: 'tested' as const, source: 'stats file', variant: 'default'};
      const report = {tiers: ['tiny'], witnesses: {counters, variantCounters: null, binding: {mallocLibrary: '/x/libhakmem.so', freeLibrary: '/x/libhakmem.so', allocator: 'hakmem', noDynamicLoader: false, command: 'x'}, samples: {status: 'skipped', reason: 'not asked'}}} as unknown as VerifyReport;
      return witnessRows(report)[0]![2]!;
    };
    expect(figures(true)).toContain('segment map: compact (the process started under an address-space limit below 4 GiB');
    expect(figures(false)).not.toContain('segment map');
  });

  it('uses exact tier counts when the build keeps them', () => {
    const w = counterWitness(stats({level: 1, tiers: {tiny: {allocs: 990, frees: 990, bytes: 1}, mid: {allocs: 0, frees: 0, bytes: 0}, large: {allocs: 3, frees: 3, bytes: 1}}, always: {libcMallocTiny: 10, tinyBlocksSupplied: 5000}}));
    expect(w.exact).toBe(true);
    const tiny = w.tiers.find((t) => t.tier === 'tiny');
    expect(tiny).toEqual({tier: 'tiny', served: 990, handedToLibc: 10, share: 0.99});
    expect(w.tiers.find((t) => t.tier === 'mid')?.share).toBeNull();
  });

  it('falls back to slow-path counters at stats level 0', () => {
    const w = counterWitness(stats({always: {libcMallocTiny: 100000, libcMallocTinyBytes: 5e7, tinyBlocksSupplied: 0, libcFree: 100000}, wrapTiny: false}));
    expect(w.exact).toBe(false);
    expect(w.wrapTiny).toBe(false);
    expect(w.tiers.find((t) => t.tier === 'tiny')).toEqual({tier: 'tiny', served: 0, handedToLibc: 100000, share: 0});
    expect(w.libcTinyBytes).toBe(5e7);
    expect(w.libcFrees).toBe(100000);
  });

  it('maps request sizes to tiers', () => {
    expect(tiersForSizes(16, 1039)).toEqual(['tiny', 'mid']);
    expect(tiersForSizes(64, 64)).toEqual(['tiny']);
    expect(tiersForSizes(2048, 32768)).toEqual(['mid']);
    expect(tiersForSizes(8192, 100000)).toEqual(['mid', 'large']);
    expect(requestSizes('tiny_hot', {size: 64, batch: 100})).toEqual({min: 64, max: 64});
    expect(requestSizes('random_mixed', {min: 16, max: 1039})).toEqual({min: 16, max: 1039});
    expect(requestSizes('quick_wins', {pattern: 'all'})).toEqual({min: 16, max: 16});
    expect(requestSizes('other', {})).toBeNull();
  });
});

describe('binding witness', () => {
  const log = [
    '     4242:\tbinding file /usr/lib/x86_64-linux-gnu/libc.so.6 [0] to /lib64/ld-linux-x86-64.so.2 [0]: normal symbol `_dl_find_object\' [GLIBC_PRIVATE]',
    '     4242:\tbinding file /opt/b/tiny_hot [0] to /opt/v/libhakmem.so [0]: normal symbol `free\' [GLIBC_2.2.5]',
    '     4242:\tbinding file /usr/lib/x86_64-linux-gnu/libc.so.6 [0] to /opt/v/libhakmem.so [0]: normal symbol `malloc\' [GLIBC_2.2.5]',
    '     4242:\tbinding file /opt/b/tiny_hot [0] to /opt/v/libhakmem.so [0]: normal symbol `malloc\' [GLIBC_2.2.5]',
  ].join('\n');

  it('finds the library the program\'s own malloc went to', () => {
    expect(parseBindings(log, '/opt/b/tiny_hot')).toEqual({mallocLibrary: '/opt/v/libhakmem.so', freeLibrary: '/opt/v/libhakmem.so', allocator: 'hakmem', noDynamicLoader: false, allocatorApi: []});
    expect(parseBindings(log, '/opt/b/other').allocator).toBeNull();
    expect(parseBindings('', '/opt/b/tiny_hot').noDynamicLoader).toBe(true);
  });

  it('names allocators by library', () => {
    expect(allocatorOfLibrary('/usr/lib/x86_64-linux-gnu/libc.so.6')).toBe('glibc');
    expect(allocatorOfLibrary('/usr/lib/x86_64-linux-gnu/libmimalloc.so.2')).toBe('mimalloc');
    expect(allocatorOfLibrary('/usr/lib/x86_64-linux-gnu/libjemalloc.so.2')).toBe('jemalloc');
    expect(allocatorOfLibrary('/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4')).toBe('tcmalloc');
    expect(allocatorOfLibrary('/usr/lib/libfoo.so')).toBe('other');
  });

  describe('on a real run', () => {
    let built: BuiltVariant;
    beforeAll(async () => {
      await withEnv({HAK_HOME: tempDir('hak-home-'), HAK_CSRC: undefined}, async () => {
        built = await buildVariant();
      });
    }, 120_000);

    const trace = (allocator: ReturnType<typeof resolveAllocator>) =>
      traceMallocBinding({program: built.benchmarks.tiny_hot!, args: ['64', '100', '100'], allocator, timeoutSeconds: 30});

    it('sees hakmem, glibc and mimalloc where each was put', async () => {
      expect((await trace(resolveAllocator('hakmem', {hakmemLibrary: built.library}))).allocator).toBe('hakmem');
      expect((await trace(resolveAllocator('glibc'))).allocator).toBe('glibc');
      expect((await trace(resolveAllocator('mimalloc'))).allocator).toBe('mimalloc');
    });
  });
});

describe('the verdict', () => {
  const tinyLoaded = (share: number, wrapTiny = true) => ({
    loaded: true, exact: true, statsLevel: 1, wrapTiny, wrapTinyCompiled: wrapTiny, segmapCompact: null,
    tiers: [{tier: 'tiny' as const, served: Math.round(share * 1000), handedToLibc: 1000 - Math.round(share * 1000), share}],
    libcTinyBytes: 0, libcFrees: 0,
  });
  const bound = (library: string) => ({mallocLibrary: library, freeLibrary: library, allocator: allocatorOfLibrary(library), noDynamicLoader: false});

  it('passes when every witness says hakmem', async () => {
    const {judgeServed} = await import('../src/verify/judge.js');
    const v = judgeServed({counters: tinyLoaded(1), binding: bound('/x/libhakmem.so'), samples: null, tiers: ['tiny'], sizes: {min: 64, max: 64}});
    expect(v).toEqual({verdict: 'pass', servedBy: 'hakmem', cause: null});
  });

  it('names the wrap-tiny trap, another allocator, and a library that was not loaded', async () => {
    const {judgeServed} = await import('../src/verify/judge.js');
    const samples = {event: 'cpu-clock', samples: 100, glibcMallocShare: 0.48, hakmemShare: 0.1, glibcSymbols: ['_int_malloc 26%', '_int_free 22%']};
    const trap = judgeServed({counters: tinyLoaded(0, false), binding: bound('/x/libhakmem.so'), samples, tiers: ['tiny'], sizes: {min: 16, max: 1039}});
    expect(trap.verdict).toBe('fail');
    expect(trap.cause).toBe("wrap-tiny is off: 100% of 16-1039 B requests went to glibc (glibc's malloc internals 48% of cpu-clock samples: _int_malloc 26%, _int_free 22%)");
    const other = judgeServed({counters: counterWitness(null), binding: bound('/usr/lib/libmimalloc.so.2'), samples: null, tiers: ['tiny'], sizes: null});
    expect(other.servedBy).toBe('mimalloc');
    expect(other.cause).toContain('another allocator (libmimalloc.so.2) is preloaded');
    const none = judgeServed({counters: counterWitness(null), binding: bound('/usr/lib/libc.so.6'), samples: null, tiers: ['tiny'], sizes: null});
    expect(none.cause).toContain('libhakmem.so was not loaded');
    expect(none.servedBy).toBe('glibc');
  });

  it('fails a run whose samples show glibc doing the work even if the counters look right', async () => {
    const {judgeServed} = await import('../src/verify/judge.js');
    const samples = {event: 'cpu-clock', samples: 1000, glibcMallocShare: 0.3, hakmemShare: 0.01, glibcSymbols: ['_int_free 20%']};
    expect(judgeServed({counters: tinyLoaded(1), binding: null, samples, tiers: ['tiny'], sizes: null}).verdict).toBe('fail');
  });
});

describe('sample witness', () => {
  const report = (name: string) => parsePerfReport(readFileSync(join(ROOT, 'test', 'fixtures', 'perf', name), 'utf8'));

  it('finds glibc\'s malloc internals in the trap run\'s samples', () => {
    const witness = samplesWitness(report('report-trap.txt'));
    expect(witness.event).toBe('cpu-clock');
    expect(witness.samples).toBe(596);
    expect(witness.glibcMallocShare).toBeCloseTo(0.1913 + 0.1443 + 0.1527 + 0.1326, 6);
    expect(witness.hakmemShare).toBeCloseTo(0.0067 + 0.0872 + 0.0537 + 0.0319 + 0.0671 + 0.0453, 6);
    expect(witness.glibcSymbols).toEqual(['_int_free 19%', 'cfree 15%', '_int_malloc 14%', 'malloc 13%']);
    const counters = {loaded: true, exact: true, statsLevel: 1, wrapTiny: true, wrapTinyCompiled: true, segmapCompact: null, tiers: [], libcTinyBytes: 0, libcFrees: 0};
    expect(judgeServed({counters, binding: null, samples: witness, tiers: ['tiny'], sizes: null}).cause).toBe(
      "glibc's malloc internals took 62% of cpu-clock samples (_int_free 19%, cfree 15%, _int_malloc 14%) although hakmem's counters show it serving",
    );
  });

  it('does not judge by a handful of samples: a short process\'s one sample in glibc\'s malloc is no fallback', () => {
    const counters = {loaded: true, exact: true, statsLevel: 1, wrapTiny: true, wrapTinyCompiled: true, segmapCompact: null, tiers: [], libcTinyBytes: 0, libcFrees: 0};
    const few = {event: 'cpu-clock', samples: 9, glibcMallocShare: 1 / 9, hakmemShare: 0, glibcSymbols: ['_int_malloc 11%']};
    expect(judgeServed({counters, binding: null, samples: few, tiers: ['tiny'], sizes: null})).toMatchObject({verdict: 'pass', cause: null});
    const many = {...few, samples: 900, glibcMallocShare: 100 / 900};
    expect(judgeServed({counters, binding: null, samples: many, tiers: ['tiny'], sizes: null}).verdict).toBe('fail');
  });

  it('sees no glibc in hakmem\'s or mimalloc\'s samples', () => {
    expect(samplesWitness(report('report-hakmem.txt'))).toMatchObject({glibcMallocShare: 0, glibcSymbols: []});
    expect(samplesWitness(report('report-hakmem.txt')).hakmemShare).toBeGreaterThan(0.7);
    expect(samplesWitness(report('report-mimalloc-limit.txt'))).toMatchObject({glibcMallocShare: 0, hakmemShare: 0});
  });
});
