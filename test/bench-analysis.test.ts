/** Analysis and rendering of a bench record built by hand, so every figure is known. */
import {describe, expect, it} from 'vitest';

import {analyzeRecord} from '../src/bench/analysis.js';
import {renderChart} from '../src/bench/chart.js';
import {compareRecords} from '../src/bench/compare.js';
import type {BenchRecord, RunSample, TargetRecord} from '../src/bench/record.js';
import {bencherMetrics} from '../src/bench/export.js';
import {benchTable, memoryTable, resultNotes, sweepTable, verdictWord} from '../src/bench/render.js';
import {DEFAULT_FEATURES, DEFAULT_TOOLCHAIN} from '../src/features.js';

const PASS = {verdict: 'pass' as const, servedBy: 'hakmem' as const, cause: null};

function samples(rates: number[], extra: Record<string, unknown> = {}, hakmem = false): RunSample[] {
  return rates.map((opsPerSec, index) => ({
    round: index + 1,
    runIndex: index + 1,
    opsPerSec,
    ops: 1000,
    seconds: 1000 / opsPerSec,
    peakRssKb: 4096 + index,
    userSeconds: 0.25,
    systemSeconds: 0.05,
    minorFaults: 1000 + index,
    rssTimeline: [[0, 1000], [10, 4096 + index], [20 + index, 2000]],
    meanRssKb: 3000,
    checksum: '00000000000000aa',
    params: {min: 16, max: 1039},
    wallSeconds: 0.5,
    extra,
    served: hakmem ? PASS : null,
    counters: null,
  }));
}

function target(label: string, rates: number[], expected: string | null = null, extra: Record<string, unknown> = {}): TargetRecord {
  const hakmem = label.startsWith('hakmem');
  return {
    label,
    allocator: hakmem ? 'hakmem' : (label as TargetRecord['allocator']),
    preload: null,
    library: null,
    variant: hakmem
      ? {name: label.split(':')[1] ?? 'default', id: `id-${label}`, features: DEFAULT_FEATURES, toolchain: DEFAULT_TOOLCHAIN, compilerVersion: 'gcc 12', library: '/x/libhakmem.so', sourcesHash: null, git: null, expected}
      : null,
    command: `bench ${label}`,
    binding: {mallocLibrary: hakmem ? '/x/libhakmem.so' : `/lib/lib${label}.so`, freeLibrary: null, allocator: hakmem ? 'hakmem' : (label as TargetRecord['allocator']), noDynamicLoader: false},
    warmups: [],
    runs: samples(rates, extra, hakmem),
    failure: null,
  };
}

function record(targets: TargetRecord[], baseline = 'mimalloc'): BenchRecord {
  return {
    format: 1,
    kind: 'bench',
    id: '20250101T000000Z-test',
    createdAt: '2025-01-01T00:00:00.000Z',
    complete: true,
    wallSeconds: 1,
    profile: {name: 'test', file: 'test.yaml', description: 'd', program: 'random_mixed', args: ['1000'], threads: 1, env: {}, runs: 3, warmup: 1, timeoutSeconds: 10},
    settings: {baseline, noise: 0.02},
    machine: {hostname: 'h', cpu: 'CPU', cores: 2, memoryBytes: 2 ** 34, kernel: 'Linux 6.1', kernelVersion: '#1', os: null, glibc: '2.36', node: 'v20'},
    compiler: 'gcc 12',
    source: {commit: 'abc', dirty: false},
    targets,
    warnings: [],
  };
}

// Constant samples: every ratio and interval is exact.
const sweep = record([
  target('hakmem:baseline', [100, 100, 100]),
  target('hakmem:direct-cache', [150, 150, 150], '+15-20% (roadmap phase 1)'),
  target('hakmem:dual-lists', [150, 150, 150], '+10-15% (roadmap phase 2)'),
  target('mimalloc', [200, 200, 200]),
]);

describe('a sweep', () => {
  const analysis = analyzeRecord(sweep);

  it('gives each step its gain over the previous one and over the first, and the gap to mimalloc it closed', () => {
    expect(analysis.steps.map((step) => [step.variant, step.step?.ratio ?? null, step.step?.verdict ?? null, step.cumulative?.ratio ?? null, step.gapClosed])).toEqual([
      ['baseline', null, null, null, null],
      ['direct-cache', 1.5, 'faster', 1.5, 0.5],
      ['dual-lists', 1, 'within noise', 1.5, 0.5],
    ]);
    expect(analysis.steps[1]).toMatchObject({expected: '+15-20% (roadmap phase 1)', step: {low: 1.5, high: 1.5}});
    expect(analysis.results.map((result) => result.vsBaseline?.ratio ?? null)).toEqual([0.5, 0.75, 0.75, null]);
  });

  it('prints the steps with their intervals and the expected figures', async () => {
    const table = await sweepTable(analysis.steps);
    expect(table.split('\n')[0]).toMatch(/^step\s+median ops\/s\s+step gain, 95% CI\s+cumulative, 95% CI\s+mimalloc gap closed\s+expected step gain$/);
    expect(table).toMatch(/^direct-cache\s+150\.0\s+\+50\.0% faster\s+\+50\.0% faster\s+50\.0%\s+\+15-20% \(roadmap phase 1\)$/m);
    expect(table).toMatch(/^\s+\[\+50\.0%, \+50\.0%\]\s+\[\+50\.0%, \+50\.0%\]$/m);
    expect(table).toMatch(/^dual-lists\s+150\.0\s+0\.0% within noise\s+\+50\.0% faster/m);
  });

  it('charts one bar per target with a whisker, the baseline in red', () => {
    const svg = renderChart(sweep, analysis);
    expect(svg.match(/<rect x="180" [^>]*fill="#4e79a7"/g)).toHaveLength(3);
    expect(svg.match(/<rect x="180" [^>]*fill="#e15759"/g)).toHaveLength(1);
    expect(svg).toContain('150.0 · ×0.750, slower');
    expect(svg).toContain('CPU, 2 cores, 16 GiB, Linux 6.1 · 2025-01-01 00:00 UTC');
  });
});

describe('invalid and failed targets', () => {
  const invalid = target('hakmem', [300, 300, 300]);
  invalid.runs[1]!.served = {verdict: 'fail', servedBy: 'glibc', cause: 'wrap-tiny is off: 100% of 16-1039 B requests went to glibc'};
  const crashed = target('jemalloc', [90]);
  crashed.failure = {message: 'random_mixed under jemalloc (run 2) crashed: killed by SIGSEGV.', failure: 'signal', signal: 'SIGSEGV', runIndex: 2, round: 2, warmup: false, stderrTail: 'boom', command: 'LD_PRELOAD=j random_mixed 1000'};
  const mixed = record([invalid, target('glibc', [100, 101, 99], null, {rssOverLive: 1.25}), target('mimalloc', [200, 200, 200]), crashed]);
  const analysis = analyzeRecord(mixed);

  it('never shows an invalid or failed result as a number, nor compares it', async () => {
    expect(analysis.results.map((result) => [result.label, result.status, result.vsBaseline === null])).toEqual([
      ['hakmem', 'invalid', true],
      ['glibc', 'ok', false],
      ['mimalloc', 'ok', true],
      ['jemalloc', 'failed', true],
    ]);
    expect(analysis.results[0]).toMatchObject({verified: false, median: 300, cause: 'in 1 of 3 runs, wrap-tiny is off: 100% of 16-1039 B requests went to glibc'});
    expect(analysis.results[3]!.cause).toBe('run 2 of 3: crashed: killed by SIGSEGV.');
    const table = await benchTable(analysis);
    expect(table).toMatch(/^hakmem\s+INVALID\s+—$/m);
    expect(table).toMatch(/^jemalloc\s+FAILED\s+—$/m);
    expect(table).not.toContain('300');
    const svg = renderChart(mixed, analysis);
    expect(svg).toContain('INVALID: in 1 of 3 runs, wrap-tiny is off');
    expect(svg).toContain('FAILED: run 2 of 3: crashed: killed by SIGSEGV.');
    expect(svg).not.toContain('300.0');
  });

  it('notes the cause, the stderr, the command and the footprint', () => {
    const notes = resultNotes(mixed, analysis);
    expect(notes).toContain('hakmem: INVALID: in 1 of 3 runs, wrap-tiny is off: 100% of 16-1039 B requests went to glibc. Its figures are kept in --json and the saved result, never compared.');
    expect(notes).toContain('jemalloc: FAILED in run 2 of 3: crashed: killed by SIGSEGV.');
    expect(notes).toContain('    | boom');
    expect(notes).toContain('    reproduce: LD_PRELOAD=j random_mixed 1000');
    // only glibc's runs report rssOverLive here
    expect(notes).toContain('peak RSS / peak live bytes (median; 1.00 would be a perfect fit): glibc 1.25');
  });

  it('compares saved records target by target, invalid ones not at all', () => {
    const later = record([target('hakmem', [330, 330, 330]), target('glibc', [100, 101, 99]), target('mimalloc', [100, 100, 100])]);
    later.source = {commit: 'def', dirty: true};
    const comparison = compareRecords(mixed, later);
    expect(comparison.targets.map((row) => [row.label, row.status, row.change?.verdict ?? null])).toEqual([
      ['hakmem', 'invalid', null],
      ['glibc', 'ok', 'within noise'],
      ['mimalloc', 'ok', 'slower'],
    ]);
    expect(comparison.onlyInA).toEqual(['jemalloc']);
    expect(comparison.differences).toEqual(['commit: abc -> def (modified)']);
  });
});

/** Runs with given peak RSS (kB) and figures, for the memory verdicts. */
function withPeaks(label: string, figures: number[], peaks: number[], checksum = '00000000000000aa'): TargetRecord {
  const base = target(label, figures);
  return {...base, runs: base.runs.map((run, index) => ({...run, peakRssKb: peaks[index]!, checksum}))};
}

describe('memory treated like speed', () => {
  const memory = record([withPeaks('hakmem', [100, 100, 100], [2000, 2000, 2000]), withPeaks('glibc', [100, 100, 100], [1010, 1000, 990]), withPeaks('mimalloc', [100, 100, 100], [1000, 1000, 1000])]);
  const analysis = analyzeRecord(memory);

  it('gives each target its peak RSS ratio to the baseline with an interval and a verdict', () => {
    const [hakmem, glibc, mimalloc] = analysis.results;
    expect(hakmem!.rssVsBaseline).toEqual({ratio: 2, low: 2, high: 2, verdict: 'higher'});
    expect(glibc!.rssVsBaseline?.verdict).toBe('within noise');
    expect(mimalloc!.rssVsBaseline).toBeNull();
  });

  it('keeps the median run\'s RSS timeline, the mean RSS, minor faults and CPU seconds', () => {
    const [hakmem] = analysis.results;
    expect(hakmem).toMatchObject({meanRssKb: 3000, minorFaults: 1001, userSeconds: 0.25, systemSeconds: 0.05});
    expect(hakmem!.rssTimeline).toEqual([[0, 1000], [10, 4097], [21, 2000]]);
  });

  it('prints the memory table with the verdicts, faults and CPU', async () => {
    const lines = (await memoryTable(analysis)).split('\n');
    expect(lines[0]).toMatch(/^target\s+peak RSS\s+mean RSS\s+peak vs mimalloc\s+95% CI\s+memory\s+minor faults\s+CPU user \+ sys s$/);
    expect(lines[2]).toMatch(/^hakmem\s+2\.0 MiB\s+2\.9 MiB\s+×2\.000\s+2\.000–2\.000\s+higher\s+1,001\s+0\.25 \+ 0\.05$/);
    expect(lines[4]).toMatch(/^mimalloc\s+1000 KiB\s+2\.9 MiB\s+baseline/);
  });

  it('draws RSS over time per target beside the bars, with each peak\'s verdict', () => {
    const svg = renderChart(memory, analysis);
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg).toContain('Resident memory over time (median run, whole process tree)');
    expect(svg).toContain('hakmem: peak 2.0 MiB, mean 2.9 MiB ×2.000 higher');
    expect(svg).toContain('mimalloc: peak 1000 KiB, mean 2.9 MiB baseline');
  });

  it('exports Bencher Metric Format: throughput and peak RSS in bytes per profile and target', () => {
    const metrics = bencherMetrics(memory, analysis);
    expect(Object.keys(metrics)).toEqual(['test/hakmem', 'test/glibc', 'test/mimalloc']);
    expect(metrics['test/hakmem']).toEqual({
      throughput: {value: 100, lower_value: 100, upper_value: 100},
      'peak-rss': {value: 2000 * 1024, lower_value: 2000 * 1024, upper_value: 2000 * 1024},
    });
  });
});

describe('a command', () => {
  const command = (targets: TargetRecord[], checkOutput = true): BenchRecord => {
    const base = record(targets);
    return {...base, profile: {...base.profile, kind: 'command', unit: 's', better: 'lower', checkOutput}};
  };

  it('reads a lower figure as better: the ratio is how many times faster', () => {
    const analysis = analyzeRecord(command([target('hakmem', [1, 1, 1]), target('mimalloc', [2, 2, 2])]));
    expect(analysis.results[0]).toMatchObject({unit: 's', better: 'lower', outputsMatch: true, status: 'ok'});
    expect(analysis.results[0]!.vsBaseline).toEqual({ratio: 2, low: 2, high: 2, verdict: 'faster'});
  });

  it('marks a target whose stdout differs from the first target\'s INVALID, unless output is not checked', () => {
    const targets = [withPeaks('hakmem', [1, 1, 1], [1, 1, 1], 'aaaa'), withPeaks('mimalloc', [1, 1, 1], [1, 1, 1], 'bbbb')];
    const checked = analyzeRecord(command(targets));
    expect(checked.results.map((result) => [result.status, result.outputsMatch])).toEqual([['ok', true], ['invalid', false]]);
    expect(checked.results[1]!.cause).toBe("its stdout differs from hakmem's (use --no-check-output where output legitimately varies)");
    expect(checked.warnings.some((warning) => warning.startsWith('OUTPUT MISMATCH: mimalloc'))).toBe(true);
    const unchecked = analyzeRecord(command(targets, false));
    expect(unchecked.results.map((result) => [result.status, result.outputsMatch])).toEqual([['ok', null], ['ok', null]]);
  });

  it('words a figure\'s verdict by what it measures: time, memory or anything else', async () => {
    const memory = (targets: TargetRecord[]): BenchRecord => ({...command(targets), profile: {...command(targets).profile, unit: 'KiB', better: 'lower'}});
    const table = await benchTable(analyzeRecord(memory([target('mimalloc', [2000, 2000, 2000]), target('hakmem', [1000, 1000, 1000]), target('glibc', [4000, 4000, 4000])])));
    expect(table).toContain('less memory');
    expect(table).toContain('more memory');
    expect(table).not.toMatch(/faster|slower/);
    expect(verdictWord('faster', {unit: 's', better: 'lower'})).toBe('faster');
    expect(verdictWord('slower', {unit: 'items/s', better: 'higher'})).toBe('slower');
    expect(verdictWord('faster', {unit: 'MiB', better: 'higher'})).toBe('more memory');
    expect(verdictWord('faster', {unit: 'blocks', better: 'higher'})).toBe('better');
    expect(verdictWord('slower', {unit: 'blocks', better: 'higher'})).toBe('worse');
    expect(verdictWord('within noise', {unit: 'KiB', better: 'lower'})).toBe('within noise');
  });

  it('exports a wall time as latency in nanoseconds', () => {
    const data = command([target('hakmem', [0.5, 0.5, 0.5]), target('mimalloc', [1, 1, 1])]);
    expect(bencherMetrics(data, analyzeRecord(data))['test/hakmem']?.latency).toEqual({value: 5e8, lower_value: 5e8, upper_value: 5e8});
  });
});
