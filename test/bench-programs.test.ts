/**
 * The benchmark programs of csrc/bench as instruments: each runs briefly under glibc, under
 * the default hakmem build and (when installed) under mimalloc; its result line must follow
 * the output contract, and its checksum must not depend on the allocator. A deliberately
 * broken allocator must make every program fail with exit code 3.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {existsSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {BenchmarkResult} from '../src/run/index.js';

const CSRC = fileURLToPath(new URL('../csrc', import.meta.url));
const MIMALLOC = '/usr/lib/x86_64-linux-gnu/libmimalloc.so.2';
const RUN_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;

/** The raw last line of a program: the contract's fields, with a program's own ones beside them. */
type BenchResult = Omit<BenchmarkResult, 'extra' | 'verifiedBlocks'> & {
  verifiedBlocks: number;
  [extra: string]: unknown;
};

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Short argument sets: each runs well under a second under glibc. */
const CASES: ReadonlyArray<{program: string; args: string[]; ops: number}> = [
  {program: 'random_mixed', args: ['200000'], ops: 200_000},
  {program: 'tiny_hot', args: ['64', '100', '2000'], ops: 2 * 100 * 2000},
  {program: 'quick_wins', args: ['sequential_lifo', '2000'], ops: 2 * 100 * 2000},
  {program: 'mid_large_mt', args: ['2', '20000'], ops: 2 * 20_000},
  {program: 'larson', args: ['0', '8', '128', '500', '20', '1234567', '2', '3'], ops: 2 * 500 * 20 * 2 * 3},
  {program: 'larson', args: ['0', '2048', '32768', '200', '10', '1234567', '2', '2'], ops: 2 * 200 * 10 * 2 * 2},
  {program: 'fragment_stress', args: ['4', '5000'], ops: -1}, // frees depend on the random share
  {program: 'producer_consumer', args: ['3', '50000'], ops: 2 * 50_000},
  {program: 'thread_churn', args: ['chain', '2', '8', '5000', '1024'], ops: 2 * 8 * 5000},
  {program: 'thread_churn', args: ['rounds', '3', '4', '5000', '1024'], ops: 3 * 4 * 5000},
  {program: 'cross_thread', args: ['3', '30000'], ops: 2 * 3 * 30_000},
  // threads, items, seed, min, max, depth, batch: batches handed over whole
  {program: 'cross_thread', args: ['2', '20000', '1234567', '8', '16384', '256', '100'], ops: 2 * 2 * 20_000},
  {program: 'large_churn', args: ['2', '300', '4', '1234567', '8', '60000'], ops: -1}, // the first fill of a slot has no free
  {program: 'large_churn', args: ['1', '40', '2', '1234567', '1048576', '2097152'], ops: -1},
  // threads, rounds, iters, slots per thread, keep, local %, seed, medium %, large %, max, touch
  {program: 'stress_exchange', args: ['4', '3', '3000', '100', '8', '20', '1234567', '10', '1', '1048576'], ops: 2 * (8 + 3000) * 4 * 3},
  {program: 'stress_exchange', args: ['3', '2', '2000', '50', '4', '30', '1234567', '20', '2', '2097152', 'pages'], ops: 2 * (4 + 2000) * 3 * 2},
  // threads, cycles, slots, seed, pick, sizes, min, max, mode, touch
  {program: 'working_set', args: ['1', '200000', '4096', '1234567', 'pareto', 'geometric', '5', '1024', 'toggle', 'all'], ops: 200_000},
  {program: 'working_set', args: ['2', '50000', '256', '1234567', 'uniform', 'inverse-square', '4', '32768', 'replace', 'head'], ops: 2 * 2 * 50_000 - 2 * 256},
  {program: 'larson_cxx', args: ['0', '8', '1000', '300', '10', '1234567', '2', '2'], ops: 2 * 300 * 10 * 2 * 2},
  // threads, rounds, load, transfers: thread t allocates 150 x load x (t % 8 + 1) blocks a round
  {program: 'stress_rounds', args: ['3', '4', '2', '100'], ops: 2 * 150 * 2 * (1 + 2 + 3) * 4},
  // threads, loops, slots, ops, cross, seed, min, max, rounds: the loops' sizes are drawn at random
  {program: 'slot_churn', args: ['3', '300', '200', '50', '2', '1234567', '8', '16000', '2'], ops: -1},
  // threads, iterations, size, writes: one thread first, so that a broken allocator's alias is the worker's own live block
  {program: 'cache_scratch', args: ['1', '20000', '16', '3'], ops: 2 * 20_000},
  {program: 'cache_scratch', args: ['2', '20000', '8', '10'], ops: 2 * 2 * 20_000},
];

const PROGRAMS = [...new Set(CASES.map((c) => c.program))];

let build = '';
let hakmem = '';
let broken = '';

function run(program: string, args: readonly string[], preload?: string, extraEnv: Record<string, string> = {}): Run {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key !== 'LD_PRELOAD' && !key.startsWith('HAKMEM_') && key !== 'BROKEN_ALLOC') env[key] = value;
  }
  if (preload !== undefined) env.LD_PRELOAD = preload;
  Object.assign(env, extraEnv);
  const child = spawnSync(join(build, 'bench', program), args, {env, encoding: 'utf8', timeout: RUN_TIMEOUT_MS});
  if (child.error) throw child.error;
  return {status: child.status, signal: child.signal, stdout: child.stdout, stderr: child.stderr};
}

function jsonLines(stdout: string): BenchResult[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as BenchResult);
}

/** Runs a program that must succeed and returns its last stdout line, parsed. */
function result(program: string, args: readonly string[], preload?: string): BenchResult {
  const r = run(program, args, preload);
  expect(r.signal, `${program} ${args.join(' ')} was killed; stderr: ${r.stderr}`).toBeNull();
  expect(r.status, `${program} ${args.join(' ')} failed; stderr: ${r.stderr}`).toBe(0);
  const last = r.stdout.trimEnd().split('\n').pop() ?? '';
  return JSON.parse(last) as BenchResult;
}

function checkContract(res: BenchResult, program: string, preload: string | undefined): void {
  expect(res.bench).toBe(program);
  expect(typeof res.params).toBe('object');
  expect(Number.isInteger(res.ops) && res.ops > 0).toBe(true);
  expect(res.seconds).toBeGreaterThan(0);
  expect(res.opsPerSec).toBeGreaterThan(0);
  // seconds is printed to the nanosecond, so ops / seconds matches to a few parts per million
  expect(Math.abs(res.opsPerSec - res.ops / res.seconds) / res.opsPerSec).toBeLessThan(1e-4);
  expect(Number.isInteger(res.peakRssKb) && res.peakRssKb > 0).toBe(true);
  expect(res.checksum).toMatch(/^[0-9a-f]{16}$/);
  expect(res.verifiedBlocks).toBeGreaterThan(0);
  expect(res.allocatorHint).toBe(preload ?? null);
}

beforeAll(() => {
  build = mkdtempSync(join(tmpdir(), 'hak-bench-'));
  execFileSync('make', ['-C', CSRC, '-j2', 'all', `BUILD=${build}`], {stdio: 'pipe'});
  hakmem = join(build, 'libhakmem.so');
  broken = join(build, 'broken_alloc.so');
  execFileSync(process.env.CC ?? 'gcc', ['-shared', '-fPIC', '-O2', '-o', broken, join(CSRC, 'bench', 'testing', 'broken_alloc.c')]);
}, 300_000);

afterAll(() => {
  if (build !== '') rmSync(build, {recursive: true, force: true});
});

describe('benchmark programs', {timeout: TEST_TIMEOUT_MS}, () => {
  it('are all built, and only they', () => {
    expect(PROGRAMS).toHaveLength(16);
    for (const program of PROGRAMS) expect(existsSync(join(build, 'bench', program))).toBe(true);
    expect(existsSync(join(build, 'bench', 'broken_alloc'))).toBe(false);
  });

  describe.each(CASES)('$program $args', ({program, args, ops}) => {
    it('prints the result contract and the same checksum under every allocator', () => {
      const allocators: Array<string | undefined> = [undefined, hakmem];
      if (existsSync(MIMALLOC)) allocators.push(MIMALLOC);
      const results = allocators.map((preload) => {
        const res = result(program, args, preload);
        checkContract(res, program, preload);
        return res;
      });
      const [glibc, ...others] = results;
      if (ops >= 0) expect(glibc?.ops).toBe(ops);
      for (const other of others) {
        expect(other.checksum).toBe(glibc?.checksum);
        expect(other.ops).toBe(glibc?.ops);
        expect(other.params).toEqual(glibc?.params);
      }
    });
  });

  it('fill unspecified arguments with their defaults in params', () => {
    const res = result('random_mixed', ['100000']);
    expect(res.params).toEqual({cycles: 100000, ws: 8192, seed: 1234567, min: 16, max: 1039});
  });

  it('repeat a run exactly, and a different seed does different work', () => {
    const a = result('random_mixed', ['100000', '4096', '7']);
    const b = result('random_mixed', ['100000', '4096', '7']);
    const c = result('random_mixed', ['100000', '4096', '8']);
    expect(b.checksum).toBe(a.checksum);
    expect(c.checksum).not.toBe(a.checksum);
    expect(result('larson', ['0', '8', '128', '300', '5', '7', '2', '2']).checksum).not.toBe(
      result('larson', ['0', '8', '128', '300', '5', '8', '2', '2']).checksum,
    );
  });

  it('quick_wins all: a line per pattern, then a combined line listing them', () => {
    const r = run('quick_wins', ['all', '1000'], hakmem);
    expect(r.status).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines).toHaveLength(6);
    const patterns = ['sequential_lifo', 'sequential_fifo', 'random_free', 'interleaved', 'long_lived'];
    expect(lines.slice(0, 5).map((l) => l.params.pattern)).toEqual(patterns);
    const combined = lines[5] as BenchResult;
    expect(combined.params.pattern).toBe('all');
    checkContract(combined, 'quick_wins', hakmem);
    const listed = combined.patterns as Array<{pattern: string; ops: number; checksum: string}>;
    expect(listed.map((p) => p.pattern)).toEqual(patterns);
    expect(combined.ops).toBe(listed.reduce((sum, p) => sum + p.ops, 0));
    for (const [i, p] of listed.entries()) expect(p.checksum).toBe(lines[i]?.checksum);
    // A pattern run alone does the same work as within all.
    expect(result('quick_wins', ['random_free', '1000']).checksum).toBe(listed[2]?.checksum);
  });

  it('larson with seconds > 0 reports the generations it ran', () => {
    const res = result('larson', ['1', '8', '128', '200', '5'], hakmem);
    const generations = res.params.generations as number;
    expect(generations).toBeGreaterThan(0);
    expect(res.ops).toBe(2 * 200 * 5 * 2 * generations);
    expect(res.seconds).toBeGreaterThanOrEqual(1);
  });

  it('fragment_stress reports peak RSS over peak live bytes', () => {
    const res = result('fragment_stress', ['4', '5000'], hakmem);
    const peakLive = res.peakLiveBytes as number;
    expect(peakLive).toBeGreaterThan(5000 * 16);
    expect(res.rssOverLive).toBeCloseTo((res.peakRssKb * 1024) / peakLive, 2);
    expect(res.baselineRssKb as number).toBeGreaterThan(0);
  });

  it('thread_churn reports the RSS after each quarter of the rounds', () => {
    const res = result('thread_churn', ['chain', '2', '8', '2000', '512'], hakmem);
    const quarters = res.rssKbQuarters as number[];
    expect(quarters).toHaveLength(4);
    for (const kb of quarters) {
      expect(kb).toBeGreaterThan(0);
      expect(kb).toBeLessThanOrEqual(res.peakRssKb);
    }
    expect(res.rssGrowth).toBeCloseTo((quarters[3] as number) / (quarters[0] as number), 3);
  });

  it('large_churn counts one malloc per cycle and one free per cycle that found a block', () => {
    // one slot: every cycle after the first frees the block the cycle before allocated
    expect(result('large_churn', ['1', '5', '1', '7', '8', '4096']).ops).toBe(2 * 5 - 1);
  });

  it('larson_cxx does the work of larson through operator new and sized delete', () => {
    const args = ['0', '8', '1000', '300', '5', '7', '2', '2'];
    const c = result('larson', args, hakmem);
    const cxx = result('larson_cxx', args, hakmem);
    expect(cxx.checksum).toBe(c.checksum);
    expect(cxx.ops).toBe(c.ops);
    expect(run('larson_cxx', ['--help']).stdout).toMatch(/operator new and sized operator delete/);
  });

  it('working_set verifies every block whole with touch=all, one in 64 slots with touch=head', () => {
    // one slot in toggle mode: every second cycle frees the block the cycle before allocated
    const one = result('working_set', ['1', '1001', '1', '7', 'uniform', 'geometric', '1', '64', 'toggle', 'all'], hakmem);
    expect(one.ops).toBe(1001);
    expect(one.verifiedBlocks).toBe(501); // 500 in the loop, the last at teardown
    const all = result('working_set', ['1', '20000', '640', '7', 'uniform', 'geometric', '9', '1024', 'replace', 'all']);
    const head = result('working_set', ['1', '20000', '640', '7', 'uniform', 'geometric', '9', '1024', 'replace', 'head']);
    expect(head.checksum).toBe(all.checksum);
    expect(all.verifiedBlocks).toBe(20_000); // every block allocated is freed, in the loop or at teardown
    expect(head.verifiedBlocks).toBeGreaterThan(0);
    expect(head.verifiedBlocks).toBeLessThan(all.verifiedBlocks / 4);
    // the pareto pick crowds its picks on a few slots: fewer distinct blocks live at the end
    expect(result('working_set', ['1', '20000', '4096', '7', 'pareto']).checksum).not.toBe(
      result('working_set', ['1', '20000', '4096', '7', 'uniform']).checksum,
    );
  });

  it('working_set rejects unknown distributions and sizes out of order', () => {
    expect(run('working_set', ['1', '100', '64', '1', 'zipf']).stderr).toMatch(
      /bad argument 'pick': unknown value 'zipf'; expected one of uniform pareto/,
    );
    expect(run('working_set', ['1', '100', '64', '1', 'uniform', 'normal']).stderr).toMatch(/bad argument 'sizes'/);
    const reversed = run('working_set', ['1', '100', '64', '1', 'uniform', 'geometric', '100', '50']);
    expect(reversed.status).toBe(2);
    expect(reversed.stderr).toMatch(/bad argument 'max': must be >= min/);
    expect(run('working_set', ['0']).stderr).toMatch(/bad argument 'threads'/);
    expect(run('working_set', ['1', '100', '0']).stderr).toMatch(/bad argument 'slots'/);
  });

  it('stress_exchange does the same work whatever it writes in a block, and verifies all of it with touch=all', () => {
    const args = ['3', '2', '1000', '40', '4', '20', '99', '10', '2', '1048576'];
    const start = result('stress_exchange', [...args, 'start'], hakmem);
    const all = result('stress_exchange', [...args, 'all'], hakmem);
    expect(all.checksum).toBe(start.checksum);
    expect(all.ops).toBe(start.ops);
    // every block: the 3 x 40 that fill the slots, then (keep + iters) per thread and round
    expect(all.verifiedBlocks).toBe(3 * 40 + 3 * 2 * (4 + 1000));
    expect(start.verifiedBlocks).toBeLessThan(all.verifiedBlocks / 8);
    expect(result('stress_exchange', ['3', '2', '1000', '40', '4', '20', '100']).checksum).not.toBe(start.checksum);
  });

  it('stress_exchange finds a block overlapped by another through the check bits its slot keeps', () => {
    // one thread, no blocks kept: under alias, the slots filled in turn hold pairs of blocks
    // at one address, the second one's tag in both
    const r = run('stress_exchange', ['1', '1', '1000', '100', '1', '0', '1', '10', '1', '1048576'], broken, {BROKEN_ALLOC: 'alias'});
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      /^stress_exchange: memory corruption detected: slot (\d+), block at 0x[0-9a-f]+: start tag reads 0x[0-9a-f]{16}, which is not the tag of slot \1 stored with the block's address/,
    );
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(jsonLines(r.stdout)).toHaveLength(0);
  });

  it('stress_exchange rejects size shares that add up to more than 100 percent', () => {
    const r = run('stress_exchange', ['2', '1', '10', '10', '1', '0', '1', '60', '41']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(
      "stress_exchange: bad argument 'large': medium + large must be at most 100 (percent), got 60 + 41 (see stress_exchange --help)",
    );
    expect(run('stress_exchange', ['2', '1', '10', '10', '1', '0', '1', '10', '1', '65536']).stderr).toMatch(
      /bad argument 'max': expected an integer in \[65537, 1073741824\], got '65536'/,
    );
    expect(run('stress_exchange', ['2', '1', '10', '10', '1', '0', '1', '10', '1', '1048576', 'every']).stderr).toMatch(
      /bad argument 'touch': unknown value 'every'; expected one of start pages all/,
    );
  });

  describe.each(PROGRAMS)('%s arguments', (program) => {
    it('--help prints the usage and exits 0', () => {
      const r = run(program, ['--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: ${program} `));
    });

    it('a bad argument exits 2 with one line naming it', () => {
      const r = run(program, ['x']);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^${program}: bad argument '\\w+'`));
    });
  });

  it('rejects out-of-range and contradictory arguments', () => {
    expect(run('random_mixed', ['0']).stderr).toMatch(/bad argument 'cycles'/);
    const reversed = run('random_mixed', ['1000', '64', '1', '100', '50']);
    expect(reversed.status).toBe(2);
    expect(reversed.stderr).toMatch(/bad argument 'max': must be >= min/);
    expect(run('producer_consumer', ['2', '1000', '1', '16', '64', '100']).status).toBe(2);
    const batch = run('cross_thread', ['2', '1000', '1', '8', '64', '64', '65']);
    expect(batch.status).toBe(2);
    expect(batch.stderr).toMatch(/bad argument 'batch': must be at most depth \(64\), got 65/);
    expect(run('stress_rounds', ['2', '1', '0']).stderr).toMatch(/bad argument 'load'/);
    expect(run('cache_scratch', ['2', '100', '4']).stderr).toMatch(/bad argument 'size'/);
    expect(run('tiny_hot', ['64', '100', '10', '1']).stderr).toMatch(/too many arguments/);
    expect(run('quick_wins', []).stderr).toMatch(/missing argument 'pattern'/);
  });

  describe.each(CASES.filter((c, i) => CASES.findIndex((d) => d.program === c.program) === i))(
    '$program under a broken allocator',
    ({program, args}) => {
      it.each(['alias', 'stomp'])('%s: detects the corruption and exits 3', (mode) => {
        const r = run(program, args, broken, {BROKEN_ALLOC: mode});
        expect(r.signal).toBeNull();
        expect(r.status, r.stderr).toBe(3);
        // stress_exchange may find an overlapped block by its slot's check bits before knowing its size
        expect(r.stderr).toMatch(new RegExp(`^${program}: memory corruption detected: slot \\d+, block (of \\d+ bytes|at 0x)`));
        expect(jsonLines(r.stdout)).toHaveLength(0);
      });

      it('none: the same library without a fault passes', () => {
        const r = run(program, args, broken, {BROKEN_ALLOC: 'none'});
        expect(r.status, r.stderr).toBe(0);
      });
    },
  );
});
