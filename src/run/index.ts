/**
 * Running one benchmark program once under one allocator.
 *
 *   const setup = resolveAllocator('mimalloc');                  // or 'hakmem' with a library
 *   const run = await runBenchmark({program, args, allocator: setup, timeoutSeconds: 60, runIndex: 0});
 *   run.result.opsPerSec
 *
 * The program's last stdout line is one JSON object (bench, params, ops, seconds, opsPerSec,
 * peakRssKb, checksum). A signal, a non-zero exit, a timeout or a missing result line raises a
 * RunError (exit 5) carrying the allocator, the run index, the signal or exit code and the end
 * of stderr.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, join} from 'node:path';

import type {AllocatorSetup} from '../allocators.js';
import {type HakError, RunError, type RunErrorFacts} from '../errors.js';
import {type ExecResult, execProgram, tailLines} from '../exec.js';
import {type HakmemStats, parseHakmemStats} from './stats.js';

export type {ClassCounters, HakmemStats, TierCounters} from './stats.js';
export {parseHakmemStats} from './stats.js';
export {resolveTarget, resolveTargets, type RunTarget, type SingleRunOptions, type SingleTarget, type SingleTargetOptions, type TargetOptions} from './targets.js';

/**
 * The JSON object a benchmark program prints as its last line (csrc/bench/README.md, "Output").
 * Fields a program adds of its own (fragment_stress's rssOverLive, quick_wins' patterns) are
 * kept in `extra`.
 */
export interface BenchmarkResult {
  bench: string;
  /** Every argument's effective value, defaults filled in. */
  params: Record<string, unknown>;
  ops: number;
  seconds: number;
  opsPerSec: number;
  peakRssKb: number;
  /** Hex string: the same inputs give the same checksum under every allocator. */
  checksum: string;
  /** Blocks verified whole before being freed; null from a program that does not say. */
  verifiedBlocks: number | null;
  /** The LD_PRELOAD the program saw: what was asked to serve it, not proof of what did. */
  allocatorHint: string | null;
  extra: Record<string, unknown>;
}

const RESULT_FIELDS = new Set(['bench', 'params', 'ops', 'seconds', 'opsPerSec', 'peakRssKb', 'checksum', 'verifiedBlocks', 'allocatorHint']);

export interface RunRequest {
  /** Absolute path of the benchmark program. */
  program: string;
  args: readonly string[];
  allocator: AllocatorSetup;
  /** Extra environment (a profile's env); LD_PRELOAD and HAKMEM_STATS are hak's. */
  env?: Record<string, string>;
  timeoutSeconds: number;
  /** Which run this is (warm-up runs included), for error messages and records. */
  runIndex: number;
  /** Ask hakmem to write its stats at exit and return them (null when none were written). */
  collectStats?: boolean;
  /** A tool that runs the benchmark (perf record, valgrind); absent: the program runs alone. */
  launcher?: Launcher;
}

/**
 * A program that starts the benchmark and waits for it, passing its exit status through:
 * `perf record ... --` or `valgrind ...`. The benchmark's own output and exit code are judged
 * as without it.
 */
export interface Launcher {
  /** The tool and its arguments, placed before the benchmark's command line. */
  argv: string[];
  /**
   * How the allocator's preload reaches the benchmark and not the tool: 'child' puts
   * `env LD_PRELOAD=...` between the tool and the program (perf, which would otherwise load the
   * allocator itself); 'tool' sets it in the tool's environment (valgrind, which does not follow
   * `env` without --trace-children and applies LD_PRELOAD to the program it runs).
   */
  preload: 'child' | 'tool';
  /** Turns the tool's own failures (not permitted, unknown event) into an error; undefined if none. */
  failure?: (outcome: ExecResult) => HakError | undefined;
  /** Where the tool runs, so that the files it writes can be named relative to it. */
  cwd?: string;
}

export interface RunRecord {
  allocator: string;
  runIndex: number;
  /** The command line that reproduces the run, with its LD_PRELOAD. */
  command: string;
  result: BenchmarkResult;
  wallSeconds: number;
  /** hakmem's stats when requested; null when requested but the library wrote none. */
  stats: HakmemStats | null;
  stderr: string;
}

/** Meanings of the benchmark programs' own exit codes. */
export const BENCHMARK_EXIT_CODES: Readonly<Record<number, string>> = {
  2: 'bad argument',
  3: 'memory corruption detected',
  4: 'allocation failure',
};

const STDERR_TAIL_LINES = 12;

/**
 * The environment a benchmark runs in: ours without any LD_PRELOAD or HAKMEM_* variable a shell
 * may have left set (they would silently change what is measured), plus the profile's
 * variables, plus the allocator's preload.
 */
export function benchmarkEnvironment(request: Pick<RunRequest, 'allocator' | 'env'>, statsFile?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'LD_PRELOAD' || key.startsWith('HAKMEM_')) continue;
    env[key] = value;
  }

  Object.assign(env, request.env);
  if (request.allocator.preload) env.LD_PRELOAD = request.allocator.preload;
  if (statsFile) env.HAKMEM_STATS = statsFile;
  return env;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

export function commandLine(request: Pick<RunRequest, 'program' | 'args' | 'allocator' | 'env' | 'launcher'>): string {
  const assignments = Object.entries(request.env ?? {}).map(([key, value]) => `${key}=${shellQuote(value)}`);
  const preload = request.allocator.preload ? [`LD_PRELOAD=${shellQuote(request.allocator.preload)}`] : [];
  const program = [shellQuote(request.program), ...request.args.map(shellQuote)];
  const {launcher} = request;
  if (!launcher) return [...assignments, ...preload, ...program].join(' ');
  const tool = launcher.argv.map(shellQuote);
  if (launcher.preload === 'tool') return [...assignments, ...preload, ...tool, ...program].join(' ');
  return [...assignments, ...tool, ...(preload.length > 0 ? ['env', ...preload] : []), ...program].join(' ');
}

/** The program, arguments and environment that run the request, with its launcher if any. */
function invocation(request: RunRequest, statsFile: string | undefined): {file: string; args: string[]; env: NodeJS.ProcessEnv} {
  const env = benchmarkEnvironment(request, statsFile);
  const {launcher} = request;
  if (!launcher) return {file: request.program, args: [...request.args], env};
  const [tool, ...toolArgs] = launcher.argv as [string, ...string[]];
  if (launcher.preload === 'tool' || !env.LD_PRELOAD) return {file: tool, args: [...toolArgs, request.program, ...request.args], env};
  const preload = env.LD_PRELOAD;
  delete env.LD_PRELOAD;
  return {file: tool, args: [...toolArgs, 'env', `LD_PRELOAD=${preload}`, request.program, ...request.args], env};
}

/** Parses the last non-empty stdout line; a string saying what is wrong when it is not a result. */
export function parseBenchmarkOutput(stdout: string): BenchmarkResult | string {
  const line = stdout
    .split('\n')
    .map((text) => text.trim())
    .findLast((text) => text !== '');
  if (!line) return 'it printed nothing on stdout';
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return `its last line is not JSON: ${line.slice(0, 200)}`;
  }

  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `its last line is not a JSON object: ${line.slice(0, 200)}`;
  const record = value as Record<string, unknown>;
  const numbers = ['ops', 'seconds', 'opsPerSec', 'peakRssKb'] as const;
  for (const key of numbers) {
    if (typeof record[key] !== 'number' || !Number.isFinite(record[key])) return `its result has no numeric "${key}"`;
  }

  if (typeof record.bench !== 'string') return 'its result has no "bench" name';
  if (typeof record.checksum !== 'string') return 'its result has no "checksum" string';
  const params = typeof record.params === 'object' && record.params !== null ? (record.params as Record<string, unknown>) : {};
  return {
    bench: record.bench,
    params,
    ops: record.ops as number,
    seconds: record.seconds as number,
    opsPerSec: record.opsPerSec as number,
    peakRssKb: record.peakRssKb as number,
    checksum: record.checksum,
    verifiedBlocks: typeof record.verifiedBlocks === 'number' ? record.verifiedBlocks : null,
    allocatorHint: typeof record.allocatorHint === 'string' ? record.allocatorHint : null,
    extra: Object.fromEntries(Object.entries(record).filter(([key]) => !RESULT_FIELDS.has(key))),
  };
}

export async function runBenchmark(request: RunRequest): Promise<RunRecord> {
  const statsDir = request.collectStats ? mkdtempSync(join(tmpdir(), 'hak-stats-')) : undefined;
  const statsFile = statsDir ? join(statsDir, 'stats.json') : undefined;
  try {
    const {file, args, env} = invocation(request, statsFile);
    const outcome = await execProgram(file, args, {env, cwd: request.launcher?.cwd, timeoutMs: Math.round(request.timeoutSeconds * 1000)});
    const toolFailure = request.launcher?.failure?.(outcome);
    if (toolFailure) throw toolFailure;
    const name = basename(request.program);
    const facts: Omit<RunErrorFacts, 'failure'> = {
      program: name,
      allocator: request.allocator.name,
      runIndex: request.runIndex,
      stderrTail: tailLines(outcome.stderr, STDERR_TAIL_LINES),
    };
    const where = `${name} under ${request.allocator.name} (run ${request.runIndex})`;
    const reproduce = `Reproduce it: ${commandLine(request)}`;

    if (outcome.spawnFailed) {
      throw new RunError(`${where} could not start: ${outcome.stderr.trim()}`, {...facts, failure: 'spawn'});
    }

    if (outcome.timedOut) {
      throw new RunError(
        `${where} did not finish within ${request.timeoutSeconds} s and was killed.`,
        {...facts, failure: 'timeout', timeoutSeconds: request.timeoutSeconds},
        'Raise the profile\'s timeout or lower its arguments.',
      );
    }

    if (outcome.signal) {
      throw new RunError(`${where} crashed: killed by ${outcome.signal}.`, {...facts, failure: 'signal', signal: outcome.signal}, reproduce);
    }

    if (outcome.exitCode !== 0) {
      const meaning = BENCHMARK_EXIT_CODES[outcome.exitCode ?? -1];
      throw new RunError(
        `${where} exited with ${outcome.exitCode}${meaning ? ` (${meaning})` : ''}.`,
        {...facts, failure: 'exit', exitCode: outcome.exitCode},
        reproduce,
      );
    }

    const result = parseBenchmarkOutput(outcome.stdout);
    if (typeof result === 'string') {
      throw new RunError(`${where} printed no result: ${result}.`, {...facts, failure: 'no-result', exitCode: 0}, reproduce);
    }

    return {
      allocator: request.allocator.name,
      runIndex: request.runIndex,
      command: commandLine(request),
      result,
      wallSeconds: outcome.durationMs / 1000,
      stats: statsFile ? readStats(statsFile) : null,
      stderr: outcome.stderr,
    };
  } finally {
    if (statsDir) rmSync(statsDir, {recursive: true, force: true});
  }
}

function readStats(file: string): HakmemStats | null {
  try {
    return parseHakmemStats(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}
