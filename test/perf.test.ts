/** hak perf on real runs: samples, exact instruction counts, simulated cache misses, flame graphs, the glibc warning and the bad cases. */
import {chmodSync, existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {assert, beforeAll, describe, expect, it} from 'vitest';

import {buildVariant} from '../src/build/index.js';
import type {CachePerOp} from '../src/perf/cache.js';
import type {PerfResult, PerfRun} from '../src/perf/index.js';
import {pathWithout, ROOT, runHak, tempDir, withEnv} from './helpers.js';

describe('hak perf', () => {
  const home = tempDir('hak-home-');
  const env = {HAK_HOME: home, HAK_CSRC: undefined};
  const perfResults = join(home, 'results', 'perf');
  const resultDirs = (): string[] => (existsSync(perfResults) ? readdirSync(perfResults) : []);

  beforeAll(async () => {
    await withEnv(env, async () => {
      await Promise.all([buildVariant(), buildVariant({features: {wrapTiny: false}})]);
    });
  });

  const perf = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const run = await runHak(['perf', ...args, '--json'], {env: {...env, ...extraEnv}});
    return {...run, result: JSON.parse(run.stdout) as PerfResult};
  };

  /** A --cache run's simulated figures (the test fails on a run of another mode). */
  const cacheOf = (run: PerfRun): CachePerOp => {
    assert(run.mode === 'cache');
    return run.cachePerOp;
  };

  it('samples tiny-hot: hotspots by owner, categories, a flame graph, and everything saved', async () => {
    const svgFile = join(tempDir('hak-svg-'), 'tiny-hot.svg');
    const {exitCode, result} = await perf(['tiny-hot', '--top', '5', '--flamegraph', svgFile]);
    expect(exitCode).toBe(0);
    expect(result).toMatchObject({profile: 'tiny-hot', label: 'hakmem', allocator: 'hakmem', mode: 'samples', ops: 60_000_000, warnings: []});
    assert(result.mode === 'samples');
    // cycles where hardware counters exist, cpu-clock (said in the header) where they do not
    if (result.hardware === null) {
      expect(result.event).toBe('cpu-clock');
      expect(result.eventDescription).toBe('cpu-clock (software; hardware counters are not supported here)');
      expect(result.hardwareNote).toContain('hak perf tiny-hot --instructions');
    } else {
      expect(result.event).toBe('cycles');
      expect(result.hardware.instructionsPerOp).toBeGreaterThan(0);
    }

    expect(result.samples).toBeGreaterThan(100);
    expect(result.hotspots).toHaveLength(5);
    expect(result.hotspots[0]).toEqual({symbol: expect.any(String), library: expect.any(String), category: expect.any(String), share: expect.any(Number), weight: expect.any(Number)});
    expect(result.hotspots.some((hotspot) => hotspot.symbol === 'malloc' && hotspot.library === 'libhakmem.so' && hotspot.category === 'hakmem tiny')).toBe(true);
    expect(result.categories['hakmem tiny']).toBeGreaterThan(0.5);
    expect(result.categories['glibc malloc'] ?? 0).toBeLessThan(0.05);

    expect(result.resultDir.startsWith(perfResults)).toBe(true);
    expect(result.resultDir).toMatch(/\/\d{8}T\d{6}Z-tiny-hot-dc1-dl1-ss1-wt1-s0-gcc-[0-9a-f]+$/);
    expect(readdirSync(result.resultDir).sort()).toEqual(['flamegraph.svg', 'perf-report.txt', 'perf.data', 'result.json', 'stacks.folded']);
    expect(JSON.parse(readFileSync(join(result.resultDir, 'result.json'), 'utf8'))).toEqual(result);
    expect(readFileSync(join(result.resultDir, 'perf-report.txt'), 'utf8')).toMatch(/^# Overhead\t *Samples\tShared Object/m);

    const svg = readFileSync(svgFile, 'utf8');
    expect(svg).toBe(readFileSync(join(result.resultDir, 'flamegraph.svg'), 'utf8'));
    expect(svg).toMatch(/^<\?xml[^>]*>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toMatch(/<title>malloc in libhakmem\.so: \d+ samples?, [\d.]+% \(hakmem tiny\)<\/title><rect [^>]*width="[\d.]+"/);
    expect(svg).toMatch(/<title>bench_loop_tiny_hot in tiny_hot: \d+ samples/);
    expect(resultDirs().filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('counts instructions per operation exactly with callgrind, split by owner', async () => {
    const {exitCode, result} = await perf(['tiny-hot', '--instructions']);
    expect(exitCode).toBe(0);
    expect(result).toMatchObject({mode: 'instructions', event: 'instructions', ops: 300_000});
    assert(result.mode === 'instructions');
    // no fields of the other modes
    for (const field of ['samples', 'frequency', 'cachePerOp', 'hardware', 'flamegraph']) expect(result).not.toHaveProperty(field);
    expect(result.command).toMatch(/valgrind --tool=callgrind '--toggle-collect=bench_loop\*'/);
    expect(result.instructionsPerOp).toBeGreaterThan(20);
    expect(result.instructionsPerOp).toBeLessThan(80);
    const perOp = Object.values(result.categoryInstructionsPerOp ?? {}).reduce((sum, value) => sum + (value ?? 0), 0);
    expect(perOp).toBeCloseTo(result.instructionsPerOp, 6);
    expect(result.hotspots.find((hotspot) => hotspot.symbol === 'free' && hotspot.library === 'libhakmem.so')?.instructionsPerOp).toBeGreaterThan(1);
    expect(readdirSync(result.resultDir)).toContain('callgrind.out');
    // the same count on every run
    const again = await perf(['tiny-hot', '--instructions']);
    assert(again.result.mode === 'instructions');
    expect(again.result.instructions).toBe(result.instructions);
  });

  it('simulates caches and branches per operation, split by owner, and compares with a peer', async () => {
    const {exitCode, result} = await perf(['random-mixed', '--cache', '--diff', 'tcmalloc', '--top', '5']);
    expect(exitCode).toBe(0);
    // the fixed geometry, whatever this machine's caches are
    const fixed = 'D1 32 KiB 8-way, LL 8 MiB 16-way, I1 32 KiB 8-way, 64 B lines';
    expect(result).toMatchObject({mode: 'cache', ops: 300_000, cacheGeometry: {source: 'fixed', description: fixed}});
    assert(result.mode === 'cache');
    for (const field of ['samples', 'frequency', 'categoryInstructionsPerOp', 'flamegraph']) expect(result).not.toHaveProperty(field);
    expect(result.command).toMatch(/valgrind --tool=callgrind '--toggle-collect=bench_loop\*' --cache-sim=yes --branch-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64 /);
    expect(result.eventDescription).toBe(`simulated by valgrind's cache and branch simulator (fixed geometry: ${fixed}) in bench_loop*, the measured region`);
    const total = result.cachePerOp;
    expect(total.instructions).toBeCloseTo(result.instructionsPerOp, 9);
    // every operation touches a block of a working set larger than L1: misses there must be
    expect(total.d1Misses).toBeGreaterThan(0.1);
    expect(total.d1ReadMisses).toBeLessThanOrEqual(total.d1Misses);
    expect(total.branchMispredicts).toBeGreaterThan(0);
    const categories = Object.values(result.categoryCachePerOp);
    expect(categories.reduce((sum, figures) => sum + figures.d1Misses, 0)).toBeCloseTo(total.d1Misses, 9);
    expect(result.hotspots).toHaveLength(5);
    expect(result.hotspots.find((hotspot) => hotspot.symbol === 'malloc' && hotspot.library === 'libhakmem.so')?.category).toBe('hakmem pages');
    expect(result.hardware === null ? result.hardwareNote : 'counted').toBeTruthy();
    expect(readdirSync(result.resultDir)).toContain('callgrind-cache.out');
    const peer = result.diff!.against;
    expect(peer).toMatchObject({label: 'tcmalloc', mode: 'cache'});
    assert(peer.mode === 'cache');
    expect(peer.categoryCachePerOp.tcmalloc?.instructions).toBeGreaterThan(0);
    // the simulator is deterministic: a second run gives the same counts
    const again = await perf(['random-mixed', '--cache']);
    expect(cacheOf(again.result)).toEqual(total);

    const text = await runHak(['perf', 'random-mixed', '--cache', '--top', '3'], {env});
    expect(text.stdout).toMatch(/^ {2}simulated simulated by valgrind's cache and branch simulator \(fixed geometry: D1 32 KiB 8-way, .*: simulated figures, not hardware counts$/m);
    expect(text.stdout).toMatch(/^ {2}per op {4}\d+\.\d instructions, \d\.\d{3} D1 misses \(\d\.\d{3} reads\), \d\.\d{3} LL misses, \d\.\d{3} branch mispredicts \(300,000 ops\)$/m);
    expect(text.stdout).toMatch(/^total\s+\d+\.\d\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+100\.0%$/m);

    // --host-caches leaves the geometry to valgrind, which copies this machine's, and says so
    const host = await perf(['random-mixed', '--cache', '--host-caches']);
    expect(host.exitCode).toBe(0);
    assert(host.result.mode === 'cache');
    expect(host.result.cacheGeometry).toMatchObject({source: 'host', levels: expect.arrayContaining([expect.objectContaining({name: 'LL'})])});
    expect(host.result.command).not.toMatch(/--D1=/);
    expect(host.result.eventDescription).toMatch(/^simulated by valgrind's cache and branch simulator \(this machine's caches: D1 \d+ KiB /);
    expect(host.result.cachePerOp.instructions).toBe(total.instructions);
  });

  it('puts perf stat\'s hardware misses beside the simulated ones where the machine counts them', async () => {
    // perf as it behaves on a machine with hardware counters: it counts, and writes the recorded counts
    const fake = tempDir('hak-fake-perf-');
    const counts = join(ROOT, 'test', 'fixtures', 'perf', 'stat-hardware.txt');
    writeFileSync(
      join(fake, 'perf'),
      `#!/bin/sh\n[ "$1" = stat ] || exit 1\nshift\nout=\nwhile [ "$1" != -- ]; do\n  case "$1" in -o) out=$2; shift;; -e) event=$2; shift;; esac\n  shift\ndone\nshift\n` +
        `if [ -z "$out" ]; then echo "1000,,$event:u,1000,100.00,," >&2; else cp ${counts} "$out"; fi\nexec "$@"\n`,
    );
    chmodSync(join(fake, 'perf'), 0o755);
    const {exitCode, result} = await perf(['tiny-hot', '--cache'], {PATH: `${fake}:${process.env.PATH}`});
    expect(exitCode).toBe(0);
    assert(result.mode === 'cache');
    expect(result.hardwareNote).toBeNull();
    expect(result.hardware?.l1MissesPerOp).toBeCloseTo(422_255_997 / 300_000, 6);
    expect(result.hardware?.branchMissesPerOp).toBeCloseTo(112_978_728 / 300_000, 6);
    expect(readdirSync(result.resultDir).sort()).toEqual(['callgrind-cache.out', 'perf-stat.txt', 'result.json']);
    const text = await runHak(['perf', 'tiny-hot', '--cache'], {env: {...env, PATH: `${fake}:${process.env.PATH}`}});
    expect(text.stdout).toMatch(/^ {2}hardware {2}perf stat, whole process: 1407\.520 L1-dcache load misses, 376\.596 branch misses per op$/m);
  });

  it('runs each step of the phases sweep under the simulator, each against the one before', async () => {
    const {exitCode, result} = await perf(['phases', '--cache', '--steps', '--top', '3']);
    expect(exitCode).toBe(0);
    expect(result.steps?.map((step) => step.name)).toEqual(['baseline', 'direct-cache', 'dual-lists', 'superslab']);
    expect(result.steps?.[1]?.expected).toBe('+15-20% (roadmap phase 1)');
    const runs = result.steps!.map((step) => step.run);
    expect(runs.map((run) => run.label)).toEqual(['hakmem:baseline', 'hakmem:direct-cache', 'hakmem:dual-lists', 'hakmem:superslab']);
    expect(cacheOf(result)).toEqual(cacheOf(runs[0]!));
    for (const run of runs) expect(run).toMatchObject({mode: 'cache', cachePerOp: {d1Misses: expect.any(Number)}});
    // every step of the roadmap saves instructions: the baseline runs the most, the full build the fewest
    expect(cacheOf(runs[0]!).instructions).toBeGreaterThan(cacheOf(runs[3]!).instructions);
    expect(new Set(runs.map((run) => run.resultDir)).size).toBe(4);

    const text = await runHak(['perf', 'phases', '--cache', '--steps'], {env});
    expect(text.stdout).toMatch(/^hak perf phases: 4 steps\n/);
    expect(text.stdout).toMatch(/^direct-cache\s+\d+\.\d\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+[+-]\d\.\d{3}\s+-\d+\.\d\s+\+15-20% \(roadmap phase 1\)$/m);
    const plain = await runHak(['perf', 'phases', '--steps'], {env});
    expect(plain.exitCode).toBe(2);
    expect(plain.stderr).toMatch(/^Error: --steps compares exact figures: add --cache or --instructions\.\n/);
    const single = await runHak(['perf', 'tiny-hot', '--cache', '--steps'], {env});
    expect(single.exitCode).toBe(2);
    expect(single.stderr).toMatch(/^Error: --steps: profile tiny-hot names one hakmem variant; a sweep profile \(phases\) names several\.\n/);
  });

  it('refuses --cache with --instructions, and says how to install valgrind when it is missing', async () => {
    const run = await runHak(['perf', 'tiny-hot', '--cache', '--instructions'], {env});
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--instructions=true cannot also be provided when using --cache|--cache=true cannot also be provided when using --instructions/);
    const noValgrind = await perf(['tiny-hot', '--cache'], {PATH: pathWithout(['valgrind'])});
    expect(noValgrind.exitCode).toBe(3);
    expect(noValgrind.result).toMatchObject({error: {code: 'missing-tool', details: {tool: 'valgrind'}}});
  });

  it('warns that glibc did the work of a --no-wrap-tiny run, and compares it side by side', async () => {
    const {exitCode, result, stderr} = await perf(['tiny-hot', '--instructions', '--no-wrap-tiny', '--diff', 'mimalloc']);
    expect(exitCode).toBe(0);
    expect(stderr).toBe('');
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/^glibc's allocator did the work: its malloc internals took \d+\.\d% of instructions \(_int_free \d+%.*\) in a hakmem run\. Is wrap-tiny off\? It is: this build has wrap-tiny off/);
    assert(result.mode === 'instructions');
    expect(result.instructionsPerOp).toBeGreaterThan(100);
    expect(result.diff?.against).toMatchObject({label: 'mimalloc', allocator: 'mimalloc', warnings: []});
    const against = result.diff!.against;
    assert(against.mode === 'instructions');
    expect(against.instructionsPerOp).toBeLessThan(result.instructionsPerOp / 2);
    expect(result.diff?.categories.find((row) => row.category === 'glibc malloc')?.b).toBe(0);
    expect(result.diff?.categories.find((row) => row.category === 'mimalloc')?.a).toBe(0);

    const text = await runHak(['perf', 'tiny-hot', '--instructions', '--no-wrap-tiny', '--diff', 'mimalloc', '--top', '3'], {env});
    expect(text.stdout).toMatch(/^hak perf tiny-hot: hakmem against mimalloc\n/);
    expect(text.stdout).toMatch(/^glibc malloc\s+\d+\.\d\s+\d+\.\d%\s+0\.0\s+0\.0%$/m);
    expect(text.stderr).toMatch(/^Warning \(hakmem\): glibc's allocator did the work/);
  });

  it('explains how to install perf or valgrind when they are missing, before building anything', async () => {
    const noPerf = await runHak(['perf', 'tiny-hot'], {env: {...env, PATH: pathWithout(['perf'])}});
    expect(noPerf.exitCode).toBe(3);
    expect(noPerf.stderr).toMatch(/^Error: perf is not installed.*\n {2}Install it: .*apt-get install -y linux-perf\n$/);
    const noValgrind = await perf(['tiny-hot', '--instructions'], {PATH: pathWithout(['valgrind'])});
    expect(noValgrind.exitCode).toBe(3);
    expect(noValgrind.result).toMatchObject({error: {code: 'missing-tool', details: {tool: 'valgrind', fix: expect.stringContaining('apt-get install -y valgrind')}}});
  });

  it('names perf_event_paranoid when perf may not sample, and keeps nothing', async () => {
    const fake = tempDir('hak-fake-perf-');
    writeFileSync(
      join(fake, 'perf'),
      '#!/bin/sh\n[ "$1" = stat ] && exit 0\nprintf "Error:\\nAccess to performance monitoring and observability operations is limited.\\nperf_event_paranoid setting is 4:\\n" >&2\nexit 255\n',
    );
    chmodSync(join(fake, 'perf'), 0o755);
    const before = resultDirs();
    const run = await runHak(['perf', 'tiny-hot'], {env: {...env, PATH: `${fake}:${process.env.PATH}`}});
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toMatch(/^Error: perf is not permitted to sample here: kernel\.perf_event_paranoid is -?\d+\.\n {2}Allow it: sudo sysctl kernel\.perf_event_paranoid=1 \(or -1 to sample the kernel too\), or run as root\.\n$/);
    expect(resultDirs()).toEqual(before);
  });

  it('says so when a run is too short to be sampled', async () => {
    const dir = tempDir('hak-profiles-');
    writeFileSync(
      join(dir, 'blink.yaml'),
      'name: blink\ndescription: one cycle, sampled once a second\nbenchmark:\n  program: tiny_hot\n  args: [64, 1, 1]\nperf:\n  frequency: 1\n',
    );
    const before = resultDirs();
    const run = await runHak(['perf', join(dir, 'blink.yaml')], {env});
    expect(run.exitCode).toBe(5);
    expect(run.stderr).toMatch(/^Error: perf recorded no samples of cpu-clock in tiny_hot \([\d.]+ s measured\)\.\n {2}The run is too short for the sampling rate: raise perf\.frequency or lengthen perf\.args in the profile\.\n$/);
    expect(resultDirs()).toEqual(before);
  });

  it('samples a run too short for its rate faster, so the count follows its length and not the machine\'s speed', async () => {
    const dir = tempDir('hak-profiles-');
    // 10 Hz gives fewer than 200 samples to any run shorter than 20 s: it is always recorded again.
    writeFileSync(join(dir, 'slow-rate.yaml'), 'name: slow-rate\ndescription: sampled ten times a second\nbenchmark:\n  program: tiny_hot\n  args: [64, 100, 300000]\nperf:\n  frequency: 10\n  callGraph: none\n');
    const {exitCode, result} = await perf([join(dir, 'slow-rate.yaml')]);
    expect(exitCode).toBe(0);
    assert(result.mode === 'samples');
    expect(result.frequency).toBeGreaterThan(10);
    expect(result.frequency).toBeLessThanOrEqual(20_000);
    expect(result.samples).toBeGreaterThan(20);
  });

  it('rejects a --diff it cannot read', async () => {
    const run = await runHak(['perf', 'tiny-hot', '--diff', 'hakmem:warp-tiny'], {env});
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/^Error: --diff hakmem:warp-tiny: "warp-tiny" is neither a toggle nor a variant of tiny-hot\./);
  });
});
