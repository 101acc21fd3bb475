/** Reading perf's and callgrind's output, owner categories, event choice and flame graphs, from recorded fixtures. */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {UsageError} from '../src/errors.js';
import {callgrindSymbols, parseCallgrind} from '../src/perf/callgrind.js';
import {compareCategories, parseDiffTarget} from '../src/perf/diff.js';
import {buildFlameTree, foldedStacks, parsePerfScript, renderFlameGraph} from '../src/perf/flamegraph.js';
import {attribute, type AttributionContext, categorize, glibcWarning, isGlibcMallocSymbol} from '../src/perf/owners.js';
import {parsePerfReport, reportSymbols} from '../src/perf/report.js';
import {hardwareFigures, hasHardwareCounts, parsePerfStat} from '../src/perf/stat.js';
import {chooseEvent, perfFailure} from '../src/perf/tools.js';
import {loadProfile} from '../src/profiles/index.js';
import type {HakmemStats} from '../src/run/stats.js';
import {ROOT} from './helpers.js';

const fixture = (name: string): string => readFileSync(join(ROOT, 'test', 'fixtures', 'perf', name), 'utf8');
const tinyHot: AttributionContext = {program: 'tiny_hot', tiers: ['tiny']};
const weighted = (name: string) => reportSymbols(parsePerfReport(fixture(name)));

describe('perf report parsing', () => {
  it('reads the tab-separated flat report hak asks for', () => {
    const report = parsePerfReport(fixture('report-trap.txt'));
    expect(report).toMatchObject({event: 'cpu-clock', events: ['cpu-clock'], samples: 596, samplesExact: true, lostSamples: 0});
    expect(report.rows).toHaveLength(13);
    expect(report.rows).toContainEqual({share: 0.1913, samples: 114, library: 'libc.so.6', symbol: '_int_free', kernel: false});
    expect(report.rows).toContainEqual({share: 0.0017, samples: 1, library: '[kernel.kallsyms]', symbol: '__mmap_region', kernel: true});
    expect(report.rows.reduce((sum, row) => sum + row.samples, 0)).toBe(596);
  });

  it('reads the space-aligned layout cut by --percent-limit, with symbols containing spaces', () => {
    const report = parsePerfReport(fixture('report-mimalloc-limit.txt'));
    expect(report.rows.map((row) => [row.symbol, row.library])).toEqual([
      ['operator delete[]', 'libmimalloc.so.2.0'],
      ['mi_malloc', 'libmimalloc.so.2.0'],
      ['bench_loop_tiny_hot', 'tiny_hot'],
      ['free@plt', 'tiny_hot'],
    ]);
    // Without a Samples column the count is estimated from the share of the header's total.
    expect(report.rows[0]).toMatchObject({share: 0.4262, samples: Math.round(0.4262 * report.samples)});
    expect(report.rows.reduce((sum, row) => sum + row.share, 0)).toBeLessThan(1);
  });

  it('takes Self as the share when the report has a Children column', () => {
    const report = parsePerfReport(fixture('report-mimalloc-children.txt'));
    const main = report.rows.find((row) => row.symbol === 'main');
    expect(main).toMatchObject({children: 0.9959, share: 0, library: 'tiny_hot'});
    expect(report.rows.find((row) => row.symbol === 'mi_malloc')).toMatchObject({children: 0.3689, share: 0.3689});
  });

  it('skips call-graph lines', () => {
    const report = parsePerfReport(fixture('report-glibc-callgraph.txt'));
    expect(report.samples).toBe(46);
    expect(report.rows.map((row) => [row.share, row.symbol])).toEqual([[0.5652, 'bench_loop_random_mixed'], [0.1957, '_int_free'], [0.1087, '_int_malloc'], [0.087, 'malloc']]);
  });

  it('reads abbreviated totals and several event sections', () => {
    const text = [
      "# Samples: 3K of event 'cycles:u'",
      '# Overhead\tSamples\tShared Object\tSymbol',
      ' 60.00%\t1800\tlibc.so.6\t[.] _int_free',
      ' 40.00%\t1201\ttiny_hot\t[.] bench_loop_tiny_hot',
      "# Samples: 12  of event 'page-faults'",
      '# Overhead\tSamples\tShared Object\tSymbol',
      ' 100.00%\t12\tld-linux-x86-64.so.2\t[.] _dl_relocate_object',
    ].join('\n');
    const report = parsePerfReport(text);
    expect(report.events).toEqual(['cycles:u', 'page-faults']);
    expect(report.rows).toHaveLength(2);
    expect(report.samples).toBe(3001);
    expect(report.samplesExact).toBe(true);
    expect(parsePerfReport('# To display the perf.data header info\n#\n').rows).toEqual([]);
  });
});

describe('owner categories', () => {
  it('names glibc\'s malloc internals, and only in libc', () => {
    for (const symbol of ['_int_malloc', '_int_free', 'malloc', 'cfree@GLIBC_2.2.5', 'tcache_get', 'unlink_chunk.isra.0', 'malloc_consolidate', '__libc_calloc', 'sysmalloc']) {
      expect(isGlibcMallocSymbol(symbol, '/usr/lib/x86_64-linux-gnu/libc.so.6')).toBe(true);
    }

    expect(isGlibcMallocSymbol('__vfprintf_internal', 'libc.so.6')).toBe(false);
    expect(isGlibcMallocSymbol('malloc', 'libhakmem.so')).toBe(false);
    expect(isGlibcMallocSymbol('__libc_free', 'libmimalloc.so.2.0')).toBe(false);
  });

  it('splits hakmem by source file and the profile\'s tiers', () => {
    const files = new Map([
      ['page_refill', 'hak_page.c'], ['_hak_large_malloc', 'hak_large.c'], ['_hak_heap_for_thread', 'hak_heap.c'],
      ['list_trim', 'hak_tinycache.c'], ['stack_trim', 'hak_midcache.c'],
    ]);
    const item = (symbol: string) => ({symbol, library: '/b/libhakmem.so'});
    const on = (tiers: AttributionContext['tiers']): AttributionContext => ({program: 'random_mixed', tiers, hakmemFiles: files});
    expect(categorize(item('page_refill'), on(['tiny']))).toBe('hakmem tiny');
    expect(categorize(item('page_refill'), on(['mid']))).toBe('hakmem mid');
    expect(categorize(item('page_refill'), on(['tiny', 'mid']))).toBe('hakmem pages');
    expect(categorize(item('malloc'), on(['tiny', 'mid']))).toBe('hakmem pages');
    expect(categorize(item('malloc'), on(['large']))).toBe('hakmem large');
    expect(categorize(item('_hak_large_malloc'), on(['tiny']))).toBe('hakmem large');
    expect(categorize(item('list_trim'), on(['tiny', 'mid']))).toBe('hakmem tiny');
    expect(categorize(item('stack_trim'), on(['tiny', 'mid']))).toBe('hakmem mid');
    expect(categorize(item('_hak_heap_for_thread'), on(['tiny']))).toBe('hakmem other');
    expect(categorize(item('tiny_declined'), on(['tiny']))).toBe('hakmem other');
    expect(categorize(item('__libc_free@plt'), on(['tiny']))).toBe('hakmem other');
    // callgrind gives the file itself
    expect(categorize({symbol: 'free', library: '/b/libhakmem.so', file: '/src/csrc/src/hak_fastpath.h'}, on(['mid']))).toBe('hakmem mid');
  });

  it('names the benchmark, the kernel, peers and the rest', () => {
    expect(categorize({symbol: 'bench_loop_tiny_hot', library: '/b/bench/tiny_hot'}, tinyHot)).toBe('benchmark');
    expect(categorize({symbol: '__schedule', library: '[kernel.kallsyms]'}, tinyHot)).toBe('kernel');
    expect(categorize({symbol: 'x', library: 'libc.so.6', kernel: true}, tinyHot)).toBe('kernel');
    expect(categorize({symbol: 'mi_malloc', library: 'libmimalloc.so.2.0'}, tinyHot)).toBe('mimalloc');
    expect(categorize({symbol: 'je_malloc', library: 'libjemalloc.so.2'}, tinyHot)).toBe('jemalloc');
    expect(categorize({symbol: '_dl_relocate_object', library: 'ld-linux-x86-64.so.2'}, tinyHot)).toBe('other');
  });

  it('sums the trap run into categories: glibc did most of the work', () => {
    const attribution = attribute(weighted('report-trap.txt'), tinyHot);
    expect(attribution.total).toBe(596);
    expect(attribution.categories['glibc malloc']).toBeCloseTo((114 + 86 + 91 + 79) / 596, 6);
    expect(attribution.categories['hakmem other']).toBeCloseTo((4 + 27) / 596, 6);
    expect(Object.values(attribution.categories).reduce((sum, share) => sum + (share ?? 0), 0)).toBeCloseTo(1, 9);
    expect(attribution.hotspots[0]).toMatchObject({symbol: '_int_free', library: 'libc.so.6', category: 'glibc malloc', weight: 114});
    expect(Object.keys(attribution.categories)[0]).toBe('glibc malloc');
  });

  it('sees hakmem\'s own code in the default run', () => {
    const attribution = attribute(weighted('report-hakmem.txt'), tinyHot);
    expect(attribution.categories['glibc malloc']).toBeUndefined();
    expect(attribution.categories['hakmem tiny']).toBeGreaterThan(0.7);
  });
});

describe('the glibc warning', () => {
  it('says glibc did the work of the trap run, and that wrap-tiny is off', () => {
    const warning = glibcWarning(attribute(weighted('report-trap.txt'), tinyHot), 'cpu-clock samples', {config: {wrapTiny: false}} as HakmemStats);
    expect(warning).toBe(
      "glibc's allocator did the work: its malloc internals took 62.1% of cpu-clock samples (_int_free 19%, cfree@GLIBC_2.2.5 15%, _int_malloc 14%) in a hakmem run. Is wrap-tiny off? It is: this build has wrap-tiny off, so glibc serves every request <= 1 KiB; build without --no-wrap-tiny or run with HAKMEM_WRAP_TINY=1.",
    );
    expect(glibcWarning(attribute(weighted('report-trap.txt'), tinyHot), 'samples', null)).toMatch(/Is wrap-tiny off\? libhakmem\.so wrote no counters/);
  });

  it('stays quiet for hakmem\'s own run', () => {
    expect(glibcWarning(attribute(weighted('report-hakmem.txt'), tinyHot), 'samples', null)).toBeNull();
  });
});

describe('callgrind', () => {
  it('reads self costs that add up to the total', () => {
    const profile = parseCallgrind(fixture('callgrind-hakmem.out'));
    expect(profile.instructions).toBe(10_769_182);
    expect(profile.functions.reduce((sum, fn) => sum + fn.self, 0)).toBe(profile.instructions);
    expect(profile.functions[0]).toMatchObject({name: 'bench_loop_tiny_hot', self: 4_195_544});
    expect(profile.functions.find((fn) => fn.name === '_hak_malloc_class')).toMatchObject({file: expect.stringMatching(/hak_page\.c$/), object: expect.stringMatching(/libhakmem\.so$/)});
  });

  it('gives the trap\'s instructions per operation, glibc\'s share and hakmem\'s by tier', () => {
    const profile = parseCallgrind(fixture('callgrind-trap.out'));
    const attribution = attribute(callgrindSymbols(profile), tinyHot);
    // tiny_hot 64 100 1500: 2 x 100 x 1500 operations
    expect(profile.instructions / 300_000).toBeCloseTo(153.2, 1);
    expect(attribution.categories['glibc malloc']).toBeGreaterThan(0.5);
    const hakmem = attribute(callgrindSymbols(parseCallgrind(fixture('callgrind-hakmem.out'))), tinyHot);
    expect((hakmem.categories['hakmem tiny'] ?? 0) * 10_769_182 / 300_000).toBeCloseTo(21.1, 1);
  });

  it('resolves compressed names and ignores call costs', () => {
    const text = [
      'events: Ir', 'ob=(1) /lib/libc.so.6', 'fl=(1) malloc.c', 'fn=(1) _int_malloc', '10 100',
      'ob=(2) /b/tiny_hot', 'fl=(2) tiny_hot.c', 'fn=(2) bench_loop_tiny_hot', '5 7', 'cob=(1)', 'cfi=(1)', 'cfn=(1)', 'calls=1 10', '+1 100', '+1 3',
      'fn=(1)', '+2 1',
    ].join('\n');
    const profile = parseCallgrind(text);
    expect(profile.functions).toEqual([
      {name: '_int_malloc', object: '/lib/libc.so.6', file: 'malloc.c', self: 100, costs: [100]},
      {name: 'bench_loop_tiny_hot', object: '/b/tiny_hot', file: 'tiny_hot.c', self: 10, costs: [10]},
      {name: '_int_malloc', object: '/b/tiny_hot', file: 'tiny_hot.c', self: 1, costs: [1]},
    ]);
    expect(profile.instructions).toBe(111);
  });
});

describe('events and hardware counters', () => {
  it('falls back to cpu-clock without hardware counters, and says so', () => {
    expect(chooseEvent('auto', {hardware: false, software: true})).toEqual({
      event: 'cpu-clock',
      software: true,
      description: 'cpu-clock (software; hardware counters are not supported here)',
    });
    expect(chooseEvent('cycles', {hardware: false, software: true}).description).toBe(
      "cpu-clock (software; hardware counters are not supported here, instead of the profile's cycles)",
    );
    expect(chooseEvent('task-clock', {hardware: false, software: true}).event).toBe('task-clock');
  });

  it('samples cycles where the machine has hardware counters', () => {
    expect(chooseEvent('auto', {hardware: true, software: true})).toEqual({event: 'cycles', software: false, description: 'cycles (hardware)'});
    expect(chooseEvent('instructions', {hardware: true, software: true}).event).toBe('instructions');
  });

  it('reads perf stat without hardware counters as no figures', () => {
    const counts = parsePerfStat(fixture('stat-software.txt'));
    expect(counts.instructions).toBeNull();
    expect(Object.keys(counts)).toHaveLength(6);
    expect(hasHardwareCounts(counts)).toBe(false);
  });

  it('computes seed 3\'s figures per operation from hardware counts', () => {
    const counts = parsePerfStat(fixture('stat-hardware.txt'));
    expect(hasHardwareCounts(counts)).toBe(true);
    const figures = hardwareFigures(counts, 1e9);
    expect(Math.round(figures.instructionsPerOp!)).toBe(1404);
    expect(figures.ipc).toBeCloseTo(4.73, 2);
    expect(figures.l1MissRate! * 100).toBeCloseTo(0.08, 2);
    expect(figures.branchMissRate! * 100).toBeCloseTo(0.03, 2);
  });

  it('turns perf\'s refusals into errors that say what to do', () => {
    const refused = perfFailure({exitCode: 255, stderr: 'Error:\nAccess to performance monitoring and observability operations is limited.\nperf_event_paranoid setting is 3:\n'});
    expect(refused?.exitCode).toBe(3);
    expect(refused?.hint).toContain('sysctl kernel.perf_event_paranoid=1');
    expect(perfFailure({exitCode: 129, stderr: "event syntax error: 'bogus'\n"})).toBeInstanceOf(UsageError);
    expect(perfFailure({exitCode: 2, stderr: 'tiny_hot: bad argument'})).toBeUndefined();
    expect(perfFailure({exitCode: 0, stderr: 'perf_event_paranoid'})).toBeUndefined();
  });
});

describe('flame graphs', () => {
  const stacks = parsePerfScript(fixture('script-trap.txt'));
  const tree = buildFlameTree(stacks);

  it('reads perf script call chains root first', () => {
    expect(stacks).toHaveLength(150);
    const full = stacks.find((stack) => stack.frames.length > 3 && stack.frames.at(-1)?.name === '_hak_free_slow');
    expect(full?.frames.map((frame) => frame.name)).toEqual(['__libc_start_call_main', 'main', 'bench_loop_tiny_hot', '_hak_free_slow']);
    expect(full?.frames.at(-1)).toMatchObject({library: 'libhakmem.so', kernel: false, inlined: false});
    // glibc's frames often end the unwinding: such a sample is its leaf alone
    expect(stacks.find((stack) => stack.frames[0]?.name === '_int_malloc')?.frames).toEqual([{name: '_int_malloc', library: 'libc.so.6', inlined: false, kernel: false}]);
    expect(tree.samples).toBe(150);
  });

  it('reads samples without call chains and inlined frames', () => {
    const flat = parsePerfScript('        tiny_hot  5623 bench_loop_tiny_hot (/b/tiny_hot)\n             env  ffffffff8160 handle_mm_fault ([kernel.kallsyms])\n');
    expect(flat.map((stack) => [stack.comm, stack.frames[0]?.name, stack.frames[0]?.kernel])).toEqual([
      ['tiny_hot', 'bench_loop_tiny_hot', false],
      ['env', 'handle_mm_fault', true],
    ]);
    const inlined = parsePerfScript('tiny_hot \n\t53c5 _hak_free_inline (inlined)\n\t53c5 free (/b/libhakmem.so)\n\t178c bench_loop_tiny_hot (/b/tiny_hot)\n');
    expect(inlined[0]?.frames.at(-1)).toMatchObject({name: '_hak_free_inline', library: 'libhakmem.so', inlined: true});
  });

  it('folds the stacks so their counts add up to the samples', () => {
    const lines = foldedStacks(tree).trim().split('\n');
    expect(lines.reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0)).toBe(150);
    expect(lines.some((line) => line.startsWith('tiny_hot;__libc_start_call_main;main;bench_loop_tiny_hot;_hak_free_slow '))).toBe(true);
    expect(lines.some((line) => line.startsWith('tiny_hot;_int_malloc '))).toBe(true);
  });

  it('draws an SVG with a frame per symbol, widths by samples and colours by owner', () => {
    const svg = renderFlameGraph(tree, {title: 'hak perf tiny-hot', subtitle: 'trap <no-wrap-tiny>', context: tinyHot});
    expect(svg.startsWith('<?xml version="1.0" standalone="no"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('trap &lt;no-wrap-tiny&gt;');
    const all = /<title>all: 150 samples, 100\.00%<\/title><rect x="10\.00" y="\d+" width="([\d.]+)"/.exec(svg);
    expect(Number(all?.[1])).toBe(1180);
    const intFree = stacks.filter((stack) => stack.frames.length === 1 && stack.frames[0]?.name === '_int_free').length;
    const title = new RegExp(`<title>_int_free in libc\\.so\\.6: ${intFree} samples, [\\d.]+% \\(glibc malloc\\)</title><rect [^>]*width="([\\d.]+)"[^>]*fill="#e0504a"`);
    expect(Number(title.exec(svg)?.[1])).toBeCloseTo((1180 * intFree) / 150, 1);
    expect(svg).toContain('>glibc malloc</text>');
    expect((svg.match(/<g>/g) ?? []).length).toBe((svg.match(/<\/g>/g) ?? []).length);
  });
});

describe('--diff', () => {
  it('names an allocator, a variant of the profile or toggles', async () => {
    const phases = await loadProfile('phases');
    expect(parseDiffTarget('mimalloc', phases)).toEqual({kind: 'allocator', allocator: 'mimalloc'});
    expect(parseDiffTarget('hakmem:baseline', phases)).toEqual({kind: 'variant', variant: 'baseline'});
    expect(parseDiffTarget('hakmem:no-wrap-tiny,stats=1', phases)).toEqual({kind: 'toggles', toggles: {wrapTiny: false, stats: 1}, text: 'no-wrap-tiny,stats=1'});
    expect(() => parseDiffTarget('hakmem:warp-tiny', phases)).toThrow(/"warp-tiny" is neither a toggle nor a variant of phases/);
    expect(() => parseDiffTarget('tcmallox', phases)).toThrow(UsageError);
  });

  it('lines up the categories of both runs', () => {
    expect(compareCategories({'hakmem tiny': 0.8, benchmark: 0.2}, {mimalloc: 0.6, benchmark: 0.4})).toEqual([
      {category: 'hakmem tiny', a: 0.8, b: 0},
      {category: 'mimalloc', a: 0, b: 0.6},
      {category: 'benchmark', a: 0.2, b: 0.4},
    ]);
  });
});
