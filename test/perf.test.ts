/** hak perf on real runs: samples, exact instruction counts, flame graphs, the glibc warning and the bad cases. */
import {chmodSync, existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import {buildVariant} from '../src/build/index.js';
import type {PerfResult} from '../src/perf/index.js';
import {pathWithout, runHak, tempDir, withEnv} from './helpers.js';

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

  it('samples tiny-hot: hotspots by owner, categories, a flame graph, and everything saved', async () => {
    const svgFile = join(tempDir('hak-svg-'), 'tiny-hot.svg');
    const {exitCode, result} = await perf(['tiny-hot', '--top', '5', '--flamegraph', svgFile]);
    expect(exitCode).toBe(0);
    expect(result).toMatchObject({profile: 'tiny-hot', label: 'hakmem', allocator: 'hakmem', mode: 'samples', ops: 60_000_000, warnings: []});
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
    expect(result).toMatchObject({mode: 'instructions', event: 'instructions', ops: 300_000, samples: null});
    expect(result.command).toMatch(/valgrind --tool=callgrind '--toggle-collect=bench_loop\*'/);
    expect(result.instructionsPerOp).toBeGreaterThan(20);
    expect(result.instructionsPerOp).toBeLessThan(80);
    const perOp = Object.values(result.categoryInstructionsPerOp ?? {}).reduce((sum, value) => sum + (value ?? 0), 0);
    expect(perOp).toBeCloseTo(result.instructionsPerOp!, 6);
    expect(result.hotspots.find((hotspot) => hotspot.symbol === 'free' && hotspot.library === 'libhakmem.so')?.instructionsPerOp).toBeGreaterThan(1);
    expect(readdirSync(result.resultDir)).toContain('callgrind.out');
    // the same count on every run
    const again = await perf(['tiny-hot', '--instructions']);
    expect(again.result.instructions).toBe(result.instructions);
  });

  it('warns that glibc did the work of a --no-wrap-tiny run, and compares it side by side', async () => {
    const {exitCode, result, stderr} = await perf(['tiny-hot', '--instructions', '--no-wrap-tiny', '--diff', 'mimalloc']);
    expect(exitCode).toBe(0);
    expect(stderr).toBe('');
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/^glibc's allocator did the work: its malloc internals took \d+\.\d% of instructions \(_int_free \d+%.*\) in a hakmem run\. Is wrap-tiny off\? It is: this build has wrap-tiny off/);
    expect(result.instructionsPerOp).toBeGreaterThan(100);
    expect(result.diff?.against).toMatchObject({label: 'mimalloc', allocator: 'mimalloc', warnings: []});
    expect(result.diff?.against.instructionsPerOp).toBeLessThan(result.instructionsPerOp! / 2);
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
