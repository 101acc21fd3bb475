/**
 * The figures a change is judged by, from data: the per-function differences of two perf runs
 * (--base) and the one-line-per-profile summary of a multi-profile bench with its geometric mean.
 */
import {describe, expect, it} from 'vitest';

import type {BenchAnalysis, TargetResult} from '../src/bench/analysis.js';
import {summarizeSuite} from '../src/bench/summary.js';
import {compareFunctions} from '../src/perf/diff.js';
import type {PerfHotspot} from '../src/perf/index.js';
import type {ComparisonVerdict} from '../src/statistics/ratio.js';

const hotspot = (symbol: string, instructionsPerOp: number, library = 'libhakmem.so'): PerfHotspot => ({
  symbol,
  library,
  category: 'hakmem tiny',
  share: 0,
  weight: 0,
  instructionsPerOp,
});
const byInstructions = {name: 'instructions' as const, of: (entry: PerfHotspot) => entry.instructionsPerOp ?? 0};

describe('per-function differences of two runs', () => {
  it('matches functions by symbol and library, largest change first, and leaves out the unchanged', () => {
    const work = [hotspot('free', 39), hotspot('malloc', 31), hotspot('bench_loop', 11.3, 'tiny_hot'), hotspot('_hak_new', 2)];
    const base = [hotspot('free', 11.5), hotspot('malloc', 7), hotspot('bench_loop', 11.3, 'tiny_hot'), hotspot('_hak_gone', 1.5)];
    const rows = compareFunctions(work, base, byInstructions);
    expect(rows.map((row) => [row.symbol, row.b, row.a, row.change])).toEqual([
      ['free', 11.5, 39, 27.5],
      ['malloc', 7, 31, 24],
      ['_hak_new', 0, 2, 2],
      ['_hak_gone', 1.5, 0, -1.5],
    ]);
    expect(rows.every((row) => row.figure === 'instructions')).toBe(true);
  });

  it('ignores changes below what the table prints, and gives nothing for sampled runs', () => {
    expect(compareFunctions([hotspot('free', 11.52)], [hotspot('free', 11.5)], byInstructions)).toEqual([]);
    expect(compareFunctions([hotspot('free', 39)], [hotspot('free', 11.5)], null)).toEqual([]);
  });
});

const verdict = (ratio: number, name: ComparisonVerdict['verdict']): ComparisonVerdict => ({ratio, low: ratio * 0.9, high: ratio * 1.1, verdict: name});

function result(label: string, vsBaseline: ComparisonVerdict | null, extra: Partial<TargetResult> = {}): TargetResult {
  return {
    label,
    allocator: label.startsWith('hakmem') ? 'hakmem' : (label as TargetResult['allocator']),
    revision: null,
    status: 'ok',
    vsBaseline,
    rssVsBaseline: vsBaseline ? {ratio: 1.21, low: 1.2, high: 1.22, verdict: 'higher'} : null,
    ...extra,
  } as TargetResult;
}

const analysis = (baseline: string, results: TargetResult[]): BenchAnalysis => ({baseline, noise: 0.02, results, steps: [], warnings: []});

describe('the summary of several profiles', () => {
  it('judges the work tree against the base on each profile, with the geometric mean of the ratios', () => {
    const workTree = {ref: 'work tree', commit: 'c', subject: null, dirty: true, csrcTree: null};
    const base = {ref: 'main', commit: 'b', subject: 's', dirty: false, csrcTree: 't'};
    const suite = summarizeSuite([
      {profile: 'tiny-hot', analysis: analysis('hakmem@b', [result('hakmem@b', null, {revision: base}), result('hakmem', verdict(0.5, 'slower'), {revision: workTree})])},
      {profile: 'random-mixed', analysis: analysis('hakmem@b', [result('hakmem@b', null, {revision: base}), result('hakmem', verdict(2, 'faster'), {revision: workTree})])},
      {profile: 'larson-mid', analysis: analysis('hakmem@b', [result('hakmem@b', null, {revision: base}), result('hakmem', null, {revision: workTree, status: 'invalid'})])},
    ]);
    expect(suite.profiles.map((row) => [row.profile, row.label, row.baseline, row.status, row.vsBaseline?.verdict ?? null])).toEqual([
      ['tiny-hot', 'hakmem', 'hakmem@b', 'ok', 'slower'],
      ['random-mixed', 'hakmem', 'hakmem@b', 'ok', 'faster'],
      ['larson-mid', 'hakmem', 'hakmem@b', 'invalid', null],
    ]);
    expect(suite.geomean?.ratio).toBeCloseTo(1, 10);
    expect(suite.geomean?.peakRssRatio).toBeCloseTo(1.21, 10);
    expect(suite.geomean?.profiles).toBe(2);
    expect(suite.verdicts).toEqual({faster: 1, slower: 1, withinNoise: 0, notCompared: 1});
  });

  it('without revisions judges hakmem against the profile\'s baseline peer', () => {
    const suite = summarizeSuite([{profile: 'tiny-hot', analysis: analysis('mimalloc', [result('hakmem', verdict(1.1, 'faster')), result('mimalloc', null)])}]);
    expect(suite.profiles[0]).toMatchObject({label: 'hakmem', baseline: 'mimalloc'});
    expect(suite.geomean?.ratio).toBeCloseTo(1.1, 10);
  });

  it('has no geometric mean when no profile could be compared', () => {
    const suite = summarizeSuite([{profile: 'tiny-hot', analysis: analysis('hakmem', [result('hakmem', null)])}]);
    expect(suite.profiles[0]!.status).toBe('missing');
    expect(suite.geomean).toBeNull();
  });
});
