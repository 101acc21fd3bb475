/** hak check: the comparison with a baseline on fixture data, the baseline file's checks, and one real run against a baseline it wrote. */
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {
  type Baseline,
  BASELINE_FORMAT,
  type BaselineEntry,
  compareEntry,
  findings,
  type FunctionFigures,
  formatBaseline,
  grownFunctions,
  readBaseline,
  roundFigure,
} from '../src/check/baseline.js';
import type {CheckReport} from '../src/check/index.js';
import {splitEntry} from '../src/check/index.js';
import {UsageError} from '../src/errors.js';
import {describeCacheLevels, FIXED_CACHE_GEOMETRY} from '../src/perf/cache.js';
import {runHak, tempDir} from './helpers.js';

const fn = (symbol: string, instructions: number, d1Misses = 0): FunctionFigures => ({symbol, library: 'libhakmem.so', category: 'hakmem pages', instructions, d1Misses});

/** random-mixed's default build, as measured (rounded): malloc and free carry most of hakmem's share. */
function entry(functions: FunctionFigures[], overrides: Partial<BaselineEntry> = {}): BaselineEntry {
  const sum = (key: 'instructions' | 'd1Misses'): number => roundFigure(functions.reduce((total, f) => total + f[key], 0));
  return {
    profile: 'random-mixed',
    toggles: null,
    variant: 'dc1-dl1-ss1-wt1-s0-gcc-15048645e297',
    features: {directCache: true, dualLists: true, superslab: true, wrapTiny: true, stats: 0, harden: false},
    toolchain: {cc: 'gcc', sanitize: null, debug: false, compilerVersion: 'gcc (Debian 12.2.0-14+deb12u1) 12.2.0'},
    ops: 300_000,
    allocator: {instructions: sum('instructions'), d1Misses: sum('d1Misses')},
    // the benchmark's own work and libc's string functions on top: shown, never gated
    total: {instructions: roundFigure(sum('instructions') + 43), d1Misses: roundFigure(sum('d1Misses') + 1.46)},
    categories: {},
    functions,
    ...overrides,
  };
}

const BEFORE = entry([fn('malloc', 7.1, 0.093), fn('free', 9.3, 0.05), fn('list_trim', 0.4, 0.017), fn('page_extend', 0.1, 0.017)]);

describe('comparing with the baseline', () => {
  it('finds a regression beyond the tolerance and names the functions that grew', () => {
    const after = entry([fn('malloc', 7.1, 0.093), fn('free', 10.8, 0.05), fn('list_trim', 0.7, 0.017), fn('page_extend', 0.1, 0.017), fn('page_scan', 0.2)]);
    const comparison = compareEntry('random-mixed', BEFORE, after, 0.02);
    const instructions = comparison.metrics.find((metric) => metric.metric === 'instructions')!;
    expect(instructions).toMatchObject({change: 'regression', before: 16.9, after: 18.9, totalBefore: 59.9, totalAfter: 61.9});
    expect(instructions.ratio).toBeCloseTo(18.9 / 16.9, 9);
    // most growth first; a function the baseline lacks grew from nothing; malloc did not grow
    expect(instructions.functions.map((f) => [f.symbol, f.before, f.after])).toEqual([
      ['free', 9.3, 10.8],
      ['list_trim', 0.4, 0.7],
      ['page_scan', 0, 0.2],
    ]);
    expect(comparison.metrics.find((metric) => metric.metric === 'd1Misses')).toMatchObject({change: 'same', functions: []});
    expect(findings([comparison], 'regression')).toEqual([
      {profile: 'random-mixed', metric: 'instructions', before: 16.9, after: 18.9, ratio: instructions.ratio, functions: instructions.functions},
    ]);
    expect(findings([comparison], 'improvement')).toEqual([]);
    expect(comparison.notes).toEqual([]);
  });

  it('passes a change within the tolerance, and one below the floor whatever its ratio', () => {
    // +1.8% of instructions
    const within = compareEntry('random-mixed', BEFORE, entry([fn('malloc', 7.4, 0.093), fn('free', 9.3, 0.05), fn('list_trim', 0.4, 0.017), fn('page_extend', 0.1, 0.017)]), 0.02);
    expect(within.metrics.map((metric) => metric.change)).toEqual(['same', 'same']);
    expect(findings([within], 'regression')).toEqual([]);
    // tiny-hot misses D1 a handful of times in 300,000 operations: one more is no regression of 30%
    const few = compareEntry('tiny-hot', entry([fn('free', 11.5, 0.000_003)]), entry([fn('free', 11.5, 0.000_006)]), 0.02);
    expect(few.metrics.find((metric) => metric.metric === 'd1Misses')).toMatchObject({change: 'same', ratio: 2});
  });

  it('reports an improvement beyond the tolerance, which is no failure', () => {
    const after = entry([fn('malloc', 6.1, 0.06), fn('free', 9.3, 0.05), fn('list_trim', 0.4, 0.017), fn('page_extend', 0.1, 0.017)]);
    const comparison = compareEntry('random-mixed', BEFORE, after, 0.02);
    expect(comparison.metrics.map((metric) => metric.change)).toEqual(['improvement', 'improvement']);
    expect(findings([comparison], 'regression')).toEqual([]);
    expect(findings([comparison], 'improvement').map((finding) => [finding.metric, finding.before, finding.after])).toEqual([
      ['instructions', 16.9, 15.9],
      ['d1Misses', 0.177, 0.144],
    ]);
  });

  it('says when the baseline was measured with another compiler or other toggles', () => {
    const after = entry(BEFORE.functions, {
      toolchain: {...BEFORE.toolchain, compilerVersion: 'gcc (Ubuntu 13.2.0-23ubuntu4) 13.2.0'},
      features: {...BEFORE.features, superslab: false},
      variant: 'dc1-dl1-ss0-wt1-s0-gcc-0123456789ab',
    });
    expect(compareEntry('random-mixed', BEFORE, after, 0.02).notes).toEqual([
      'random-mixed: the baseline was measured with gcc (Debian 12.2.0-14+deb12u1) 12.2.0, this run with gcc (Ubuntu 13.2.0-23ubuntu4) 13.2.0; a different compiler alone changes the figures.',
      'random-mixed: the baseline\'s build had other toggles (variant dc1-dl1-ss1-wt1-s0-gcc-15048645e297, now dc1-dl1-ss0-wt1-s0-gcc-0123456789ab).',
    ]);
  });

  it('lists at most five grown functions, D1 misses by their own figure', () => {
    const many = Array.from({length: 8}, (_, index) => fn(`f${index}`, 1, 0.01 * (index + 1)));
    expect(grownFunctions([], many, 'd1Misses').map((f) => f.symbol)).toEqual(['f7', 'f6', 'f5', 'f4', 'f3']);
    expect(grownFunctions(many, many, 'instructions')).toEqual([]);
  });

  it('reads an entry as PROFILE or PROFILE:TOGGLES', () => {
    expect(splitEntry('tiny-hot')).toEqual({profile: 'tiny-hot', rest: null});
    expect(splitEntry('tiny-hot:harden')).toEqual({profile: 'tiny-hot', rest: 'harden'});
    expect(splitEntry('random-mixed:no-superslab,stats=1')).toEqual({profile: 'random-mixed', rest: 'no-superslab,stats=1'});
    expect(() => splitEntry('tiny-hot:')).toThrow(UsageError);
  });
});

describe('the baseline file', () => {
  const dir = tempDir('hak-check-');
  const baseline: Baseline = {
    format: BASELINE_FORMAT,
    about: 'test',
    cacheGeometry: describeCacheLevels(FIXED_CACHE_GEOMETRY),
    valgrind: 'valgrind-3.19.0',
    entries: {'random-mixed': BEFORE},
  };
  const write = (name: string, content: string): string => {
    const file = join(dir, name);
    writeFileSync(file, content);
    return file;
  };

  it('reads back what it wrote', () => {
    expect(readBaseline(write('good.json', formatBaseline(baseline)))).toEqual(baseline);
  });

  it.each([
    ['not JSON', '{"format": 1,', /is not a hak check baseline: not valid JSON/],
    ['another format', JSON.stringify({...baseline, format: 2}), /is not a hak check baseline: format 2, expected 1\./],
    ['no entries', JSON.stringify({...baseline, entries: {}}), /is not a hak check baseline: it has no entries\./],
    ['an entry without figures', JSON.stringify({...baseline, entries: {'tiny-hot': {profile: 'tiny-hot', allocator: {instructions: 1}}}}), /entry tiny-hot lacks its figures/],
    ['other caches', JSON.stringify({...baseline, cacheGeometry: 'D1 48 KiB 12-way'}), /was measured with other caches \(D1 48 KiB 12-way\)/],
  ])('refuses a file with %s, saying to run hak check --update', (name, content, message) => {
    const file = write(`${name.replaceAll(' ', '-')}.json`, content);
    const error = (() => {
      try {
        readBaseline(file);
      } catch (caught) {
        return caught as UsageError;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect(error?.exitCode).toBe(2);
    expect(error?.message).toMatch(message);
    expect(error?.hint).toMatch(/hak check --update/);
  });

  it('refuses a missing file', () => {
    expect(() => readBaseline(join(dir, 'absent.json'))).toThrow(/^there is no baseline at .*absent\.json\.$/);
  });
});

describe('hak check on real runs', () => {
  const env = {HAK_HOME: tempDir('hak-home-'), HAK_CSRC: undefined};
  const file = join(tempDir('hak-check-'), 'baseline.json');

  it('writes a baseline, passes against it, and fails naming what grew when its figures are 10% lower', async () => {
    const update = await runHak(['check', '--update', '--file', file], {env});
    expect(update.exitCode, update.stderr).toBe(0);
    expect(update.stdout).toMatch(/^hak check: 2 entries measured into .*baseline\.json \(tolerance 2\.0%\)$/m);
    const written = readBaseline(file);
    expect(Object.keys(written.entries)).toEqual(['tiny-hot', 'random-mixed']);
    expect(written.entries['tiny-hot']).toMatchObject({profile: 'tiny-hot', toggles: null, ops: 300_000, toolchain: {cc: 'gcc', compilerVersion: expect.stringMatching(/gcc/)}});
    expect(written.entries['tiny-hot']!.allocator.instructions).toBeGreaterThan(5);
    expect(written.entries['tiny-hot']!.functions.map((f) => f.symbol)).toContain('malloc');

    const pass = await runHak(['check', '--file', file, '--json'], {env});
    expect(pass.exitCode, pass.stderr).toBe(0);
    const passed = JSON.parse(pass.stdout) as CheckReport;
    expect(passed).toMatchObject({regressions: [], improvements: [], updated: false, tolerance: 0.02});
    // the simulator is exact: the same figures again
    expect(passed.entries.map((e) => e.measured.allocator)).toEqual([written.entries['tiny-hot']!.allocator, written.entries['random-mixed']!.allocator]);
    expect(passed.entries.flatMap((e) => e.metrics.map((metric) => metric.change))).toEqual(['same', 'same', 'same', 'same']);

    const lowered = JSON.parse(readFileSync(file, 'utf8')) as Baseline;
    for (const figures of Object.values(lowered.entries)) {
      figures.allocator.instructions *= 0.9;
      figures.allocator.d1Misses *= 0.9;
      for (const f of figures.functions) f.instructions *= 0.9;
    }

    writeFileSync(file, formatBaseline(lowered));
    const fail = await runHak(['check', '--file', file, '--json'], {env});
    expect(fail.exitCode).toBe(1);
    const failed = JSON.parse(fail.stdout) as CheckReport;
    const regression = failed.regressions.find((r) => r.profile === 'tiny-hot' && r.metric === 'instructions');
    expect(regression?.ratio).toBeCloseTo(1 / 0.9, 4);
    expect(regression?.functions.map((f) => f.symbol)).toContain('free');
    expect(failed.regressions.map((r) => `${r.profile} ${r.metric}`)).toEqual(expect.arrayContaining(['tiny-hot instructions', 'random-mixed instructions']));

    const text = await runHak(['check', '--file', file], {env});
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toMatch(/^REGRESSION tiny-hot: hakmem instructions\/op \d+\.\d -> \d+\.\d \(\+11\.1%\); grew: free \(libhakmem\.so\)/m);
    expect(text.stderr).toMatch(/^Error: \d figures grew beyond the tolerance of 2\.0%: tiny-hot instructions \+11\.1%, random-mixed instructions \+11\.1%/m);
  }, 300_000);

  it('says to run hak check --update when there is no baseline, before building anything', async () => {
    const run = await runHak(['check', '--file', join(tempDir('hak-check-'), 'none.json')], {env});
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/^Error: there is no baseline at .*none\.json\.\n {2}Measure one: hak check --update/);
    const entry = await runHak(['check', 'tiny-hot:hardened', '--update', '--file', join(tempDir('hak-check-'), 'new.json')], {env});
    expect(entry.exitCode).toBe(2);
    expect(entry.stderr).toMatch(/^Error: tiny-hot:hardened: "hardened" is neither a toggle nor a variant of tiny-hot\./);
  });
});
