/** hak bench, verify and perf of any command line, and the real-program profiles of kind command. */
import {execFileSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {assert, beforeAll, describe, expect, it} from 'vitest';

import type {BenchJson} from '../src/commands/bench.js';
import {buildVariant} from '../src/build/index.js';
import type {PerfResult} from '../src/perf/index.js';
import type {VerifyReport} from '../src/verify/index.js';
import {runHak, tempDir, withEnv} from './helpers.js';

/** Builds and drops a dict, a list and a string; prints what it built, the same under every allocator. */
const SCRIPT = 'd = {i: str(i) * 8 for i in range(150000)}; l = [v.upper() for v in d.values()]; s = "-".join(l); print(len(d), len(l), len(s))';

describe('commands', () => {
  const home = tempDir('hak-home-');
  const env = {HAK_HOME: home, HAK_CSRC: undefined};

  beforeAll(async () => {
    await withEnv(env, async () => {
      await Promise.all([buildVariant(), buildVariant({features: {wrapTiny: false}})]);
    });
  });

  const hak = async (args: string[], extraEnv: Record<string, string> = {}) => runHak([...args], {env: {...env, ...extraEnv}});
  const bench = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const run = await hak(['bench', '--no-save', '--json', ...args], extraEnv);
    return {...run, json: JSON.parse(run.stdout) as BenchJson};
  };

  const verify = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const run = await hak(['verify', '--json', ...args], extraEnv);
    return {...run, report: JSON.parse(run.stdout) as VerifyReport};
  };

  it('benches python3 under three allocators: verified, outputs matching, RSS over time for each', async () => {
    const dir = tempDir('hak-bmf-');
    const file = join(dir, 'bmf.json');
    const {exitCode, json} = await bench(['--runs', '3', '--allocators', 'hakmem,glibc,mimalloc', '--export', `bmf=${file}`, '--', 'python3', '-c', SCRIPT]);
    expect(exitCode).toBe(0);
    expect(json).toMatchObject({profile: 'command', kind: 'command', unit: 's', better: 'lower', complete: true, export: file});
    expect(json.results.map((result) => result.label)).toEqual(['hakmem', 'glibc', 'mimalloc']);
    for (const result of json.results) {
      expect(result).toMatchObject({status: 'ok', outputsMatch: true, unit: 's', better: 'lower'});
      expect(result.rssTimeline.length).toBeGreaterThanOrEqual(5);
      expect(result.peakRssKb).toBeGreaterThan(10 * 1024);
      expect(result.meanRssKb).toBeLessThanOrEqual(result.peakRssKb!);
      expect(result.minorFaults).toBeGreaterThan(1000);
      expect(result).toMatchObject({userSeconds: expect.any(Number), systemSeconds: expect.any(Number)});
      expect(result.runs).toHaveLength(3);
    }

    expect(json.results[0]!.verified).toBe(true);
    expect(json.results[0]!.rssVsBaseline?.verdict).toMatch(/^(lower|higher|within noise)$/);
    expect(json.results[2]!.rssVsBaseline).toBeNull();

    const bmf = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, {value: number; lower_value: number; upper_value: number}>>;
    expect(Object.keys(bmf)).toEqual(['command/hakmem', 'command/glibc', 'command/mimalloc']);
    for (const measures of Object.values(bmf)) {
      expect(Object.keys(measures)).toEqual(['latency', 'peak-rss']);
      expect(measures.latency!.lower_value).toBeLessThanOrEqual(measures.latency!.value);
      expect(measures.latency!.upper_value).toBeGreaterThanOrEqual(measures.latency!.value);
      expect(measures['peak-rss']!.value).toBeGreaterThan(10 * 1024 * 1024);
    }
  });

  it('reads a figure from stdout, and calls a stdout that differs by allocator a mismatch unless told it may', async () => {
    const figure = await bench(['--runs', '1', '--warmup', '0', '--allocators', 'glibc,mimalloc', '--figure', 'items: (\\d+)', '--unit', 'items', '--better', 'higher', '--', 'sh', '-c', 'echo "items: 42"']);
    expect(figure.exitCode).toBe(0);
    expect(figure.json).toMatchObject({unit: 'items', better: 'higher'});
    expect(figure.json.results.map((result) => result.median)).toEqual([42, 42]);

    const differs = ['--runs', '1', '--warmup', '0', '--allocators', 'glibc,mimalloc', '--', 'sh', '-c', 'echo "preloaded: $LD_PRELOAD"'];
    const checked = await bench(differs);
    expect(checked.exitCode).toBe(1);
    expect(checked.json.results.map((result) => [result.status, result.outputsMatch])).toEqual([['ok', true], ['invalid', false]]);
    expect(checked.json.results[1]!.cause).toBe("its stdout differs from glibc's (use --no-check-output where output legitimately varies)");
    const unchecked = await bench(['--no-check-output', ...differs]);
    expect(unchecked.exitCode).toBe(0);
    expect(unchecked.json.results.map((result) => result.outputsMatch)).toEqual([null, null]);
  });

  it('rejects a command that cannot run, or a profile and a command both, in one line each', async () => {
    const missing = await hak(['bench', '--no-save', '--', 'no-such-program-here']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toBe('Error: no-such-program-here: command not found on PATH.\n  Install it, or give the path of the program to measure.\n');
    const both = await hak(['bench', 'tiny-hot', '--', 'true']);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toContain('Error: give a profile (tiny-hot) or a command after --, not both.');
    const empty = await hak(['verify', '--']);
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain('Error: no command after --.');
    const crash = await bench(['--runs', '1', '--warmup', '0', '--allocators', 'glibc', '--', 'sh', '-c', 'kill -SEGV $$']);
    expect(crash.exitCode).toBe(5);
    expect(crash.json.results[0]!.cause).toContain('crashed: killed by SIGSEGV');
  });

  it('verifies every process of a shell\'s tree, naming python3\'s own allocator and the share that reached hakmem', async () => {
    const {exitCode, report} = await verify(['--', 'sh', '-c', `python3 -c '${SCRIPT}'`]);
    expect(exitCode).toBe(0);
    expect(report).toMatchObject({kind: 'command', verdict: 'pass', servedBy: 'hakmem', cause: null});
    expect(report.processes.length).toBeGreaterThanOrEqual(2);
    expect(report.processes.every((process) => process.verdict === 'pass')).toBe(true);
    const python = report.processes.find((process) => process.program.startsWith('python3'));
    expect(python?.counters.loaded).toBe(true);
    expect(python?.binding?.allocator).toBe('hakmem');
    expect(python?.note).toMatch(/^python3[.\d]* serves most requests with its own small-object allocator \(pymalloc\): about [\d.]+% reached hakmem \([\d,]+ of [\d,]+ blocks counted with PYTHONMALLOC=malloc\)$/);
  });

  it('fails a statically linked program, saying so', async () => {
    const dir = tempDir('hak-static-');
    writeFileSync(join(dir, 'hello.c'), '#include <stdio.h>\n#include <stdlib.h>\nint main(void) { char *p = malloc(64); puts(p ? "hello" : "no"); free(p); return 0; }\n');
    execFileSync('gcc', ['-static', '-O1', '-o', join(dir, 'hello'), join(dir, 'hello.c')]);
    const {exitCode, report} = await verify(['--no-samples', '--', join(dir, 'hello')]);
    expect(exitCode).toBe(1);
    expect(report.verdict).toBe('fail');
    // The pid is named when the process was seen running (a fast machine may finish it first).
    expect(report.cause).toMatch(/^hello( \(pid \d+\))?: it is statically linked: it has no dynamic loader, so malloc cannot be interposed by LD_PRELOAD$/);
  });

  it('passes HAKMEM_* from the shell through and says where they came from', async () => {
    const {exitCode, report} = await verify(['--no-wrap-tiny', '--no-samples', '--no-stats-twin'], {HAKMEM_WRAP_TINY: '1'});
    expect(exitCode).toBe(0);
    expect(report).toMatchObject({verdict: 'pass', shellEnv: {HAKMEM_WRAP_TINY: '1'}});
    expect(report.features.wrapTiny).toBe(false);
    const text = await hak(['verify', '--no-wrap-tiny', '--no-samples', '--no-stats-twin'], {HAKMEM_WRAP_TINY: '1'});
    expect(text.stdout).toContain('  env        from your shell: HAKMEM_WRAP_TINY=1 (passed through to the runs)');
  });

  it('profiles a command: hotspots by owner', async () => {
    const run = await hak(['perf', '--json', '--top', '5', '--', 'python3', '-c', SCRIPT]);
    expect(run.exitCode).toBe(0);
    const result = JSON.parse(run.stdout) as PerfResult;
    expect(result).toMatchObject({profile: 'command', label: 'hakmem', mode: 'samples'});
    expect(result.hotspots.length).toBeGreaterThan(0);
    expect(Object.values(result.categories).reduce((sum, share) => sum + (share ?? 0), 0)).toBeCloseTo(1, 3);
  });

  it('simulates a command\'s caches over its whole run, and compares it with a peer', async () => {
    const script = 'my %h; $h{$_} = $_ x 3 for 1..3000; print scalar(keys %h), "\\n"';
    const run = await hak(['perf', '--json', '--cache', '--diff', 'glibc', '--', 'perl', '-e', script]);
    expect(run.exitCode).toBe(0);
    const result = JSON.parse(run.stdout) as PerfResult;
    expect(result).toMatchObject({profile: 'command', mode: 'cache', ops: 0});
    expect(result.eventDescription).toContain('whole started process');
    for (const side of [result, result.diff!.against]) {
      assert(side.mode === 'cache');
      const figures = side.cachePerOp;
      // counts of a whole perl run: millions of instructions, some misses of each kind
      expect(figures.instructions).toBeGreaterThan(1e6);
      expect(figures.d1Misses).toBeGreaterThan(0);
      expect(figures.d1ReadMisses).toBeLessThanOrEqual(figures.d1Misses);
      expect(figures.branchMispredicts).toBeGreaterThan(0);
    }

    expect(result.diff!.against.allocator).toBe('glibc');
    expect(Object.keys(result.categories).some((category) => category.startsWith('hakmem'))).toBe(true);
  });

  it.each(['gcc-compile', 'python-containers', 'perl-words'])('runs the real-program profile %s: every allocator\'s output the same, hakmem verified', async (name) => {
    const {exitCode, json} = await bench([name, '--runs', '1', '--warmup', '0', '--allocators', 'hakmem,glibc,mimalloc']);
    expect(exitCode).toBe(0);
    expect(json.results.map((result) => [result.label, result.status, result.outputsMatch])).toEqual([
      ['hakmem', 'ok', true],
      ['glibc', 'ok', true],
      ['mimalloc', 'ok', true],
    ]);
    expect(json.results[0]!.verified).toBe(true);
  });
});
