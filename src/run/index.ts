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
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, join} from 'node:path';

import type {AllocatorSetup} from '../allocators.js';
import {type HakError, RunError, type RunErrorFacts, UsageError} from '../errors.js';
import {type ExecResult, execProgram, tailLines} from '../exec.js';
import {gnuTimeArgs, processTree, readGnuTime, requireGnuTime, requirePrlimit, sampleTree, summarizeTimeline, type TreeMemory, type TreeSampler, type TreeUsage} from './monitor.js';
import {type BenchmarkResult, commandResult, type FigureSpec, parseBenchmarkOutput} from './output.js';
import {type HakmemStats, parseHakmemStats} from './stats.js';

export type {ObservedProcess, RssPoint, TreeMemory, TreeUsage} from './monitor.js';
export {type BenchmarkResult, commandFigure, type FigureSpec, parseBenchmarkOutput} from './output.js';

export type {ClassCounters, HakmemStats, TierCounters} from './stats.js';
export {parseHakmemStats} from './stats.js';
export {commandFields, resolveTarget, resolveTargets, type RunTarget, type SingleRunOptions, type SingleTarget, type SingleTargetOptions, type TargetOptions} from './targets.js';

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
  /** Any program rather than a benchmark program: how to read its figure (absent: a benchmark's JSON line). */
  command?: CommandOutput;
  /** Where the program runs; hak's working directory when left out. */
  cwd?: string;
  /** A file fed to the program's standard input; none when left out. */
  stdinFile?: string;
  /**
   * A program that runs until it is stopped (a server): after this many seconds every process
   * of its tree but the measuring tool gets SIGTERM, and an end by that SIGTERM is a normal end.
   */
  stopAfterSeconds?: number;
  /** RLIMIT_AS the program starts under, in KiB (`prlimit --as` just before it, as `ulimit -v`). */
  addressSpaceKib?: number;
}

export interface CommandOutput {
  /** null: the figure is the run's wall time in seconds, lower is better. */
  figure: FigureSpec | null;
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
  /**
   * With stats requested, one per process that loaded hakmem, by pid (HAKMEM_STATS with %p);
   * `stats` is the started process's own, or the only one.
   */
  processStats: Map<number, HakmemStats>;
  /** The pid of the program started (GNU time's child); null when it is not known. */
  pid: number | null;
  /** The pid of GNU time, which started the program: not part of the workload. */
  toolPid: number | null;
  /** The process tree's resident memory over time, and the processes seen. */
  memory: TreeMemory;
  /** CPU seconds and page faults of the tree; null for a run under a launcher (perf, valgrind). */
  usage: TreeUsage | null;
  stdout: string;
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
 * The environment a benchmark runs in: ours without LD_PRELOAD and HAKMEM_STATS (hak's own),
 * plus the profile's variables, plus the allocator's preload. HAKMEM_* variables set in the
 * user's shell pass through: every command reports them (shellHakmemVariables), so they never
 * change what is measured unseen.
 */
export function benchmarkEnvironment(request: Pick<RunRequest, 'allocator' | 'env'>, statsFile?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'LD_PRELOAD' || key === 'HAKMEM_STATS') continue;
    env[key] = value;
  }

  Object.assign(env, request.env);
  if (request.allocator.preload) env.LD_PRELOAD = request.allocator.preload;
  if (statsFile) env.HAKMEM_STATS = statsFile;
  return env;
}

/** HAKMEM_* variables of the user's shell that reach the runs (HAKMEM_STATS is hak's own). */
export function shellHakmemVariables(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env)
      .filter(([key, value]) => key.startsWith('HAKMEM_') && key !== 'HAKMEM_STATS' && value !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)),
  ) as Record<string, string>;
}

/** "from your shell: HAKMEM_WRAP_TINY=1", or null when the shell sets none. */
export function shellVariablesNote(variables: Record<string, string>): string | null {
  const list = Object.entries(variables).map(([key, value]) => `${key}=${value}`);
  return list.length > 0 ? `from your shell: ${list.join(' ')}` : null;
}

export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** `prlimit --as=BYTES --`, which sets the limits and then runs the program in its place. */
function limitWords(request: Pick<RunRequest, 'addressSpaceKib'>): string[] {
  return request.addressSpaceKib === undefined ? [] : ['prlimit', `--as=${request.addressSpaceKib * 1024}`, '--'];
}

export function commandLine(request: Pick<RunRequest, 'program' | 'args' | 'allocator' | 'env' | 'launcher' | 'addressSpaceKib'>): string {
  const assignments = Object.entries(request.env ?? {}).map(([key, value]) => `${key}=${shellQuote(value)}`);
  const preload = request.allocator.preload ? [`LD_PRELOAD=${shellQuote(request.allocator.preload)}`] : [];
  const program = [...limitWords(request), shellQuote(request.program), ...request.args.map(shellQuote)];
  const {launcher} = request;
  if (!launcher) return [...assignments, ...preload, ...program].join(' ');
  const tool = launcher.argv.map(shellQuote);
  if (launcher.preload === 'tool') return [...assignments, ...preload, ...tool, ...program].join(' ');
  return [...assignments, ...tool, ...(preload.length > 0 ? ['env', ...preload] : []), ...program].join(' ');
}

/**
 * The program, arguments and environment that run the request, with its launcher if any.
 * Without one, GNU time starts the program (`timeReport` names its report file) and counts the
 * CPU time and faults of the whole tree.
 */
function invocation(request: RunRequest, statsFile: string | undefined, timeReport: string | undefined): {file: string; args: string[]; env: NodeJS.ProcessEnv} {
  const env = benchmarkEnvironment(request, statsFile);
  const {launcher} = request;
  const limited = limitWords(request);
  if (limited.length > 0) limited[0] = requirePrlimit();
  const program = [...limited, request.program, ...request.args];
  if (!launcher) {
    if (timeReport) return {file: requireGnuTime(), args: [...gnuTimeArgs(timeReport), ...program], env};
    const [file, ...args] = program as [string, ...string[]];
    return {file, args, env};
  }

  const [tool, ...toolArgs] = launcher.argv as [string, ...string[]];
  if (launcher.preload === 'tool' && limited.length > 0) {
    // valgrind runs the program on its own core, which cannot start under a small limit
    throw new UsageError(`${tool} cannot run a program under the profile's address-space limit (limits.addressSpaceKib: ${request.addressSpaceKib})`, {
      hint: 'measure this profile with hak bench, or hak perf without --instructions and --cache',
    });
  }
  if (launcher.preload === 'tool' || !env.LD_PRELOAD) return {file: tool, args: [...toolArgs, ...program], env};
  const preload = env.LD_PRELOAD;
  delete env.LD_PRELOAD;
  return {file: tool, args: [...toolArgs, 'env', `LD_PRELOAD=${preload}`, ...program], env};
}

export async function runBenchmark(request: RunRequest): Promise<RunRecord> {
  const workDir = mkdtempSync(join(tmpdir(), 'hak-run-'));
  const statsDir = request.collectStats ? join(workDir, 'stats') : undefined;
  const statsFile = statsDir ? join(statsDir, 'stats-%p.json') : undefined;
  const timeReport = request.launcher ? undefined : join(workDir, 'usage.txt');
  try {
    if (statsDir) mkdirSync(statsDir);
    const {file, args, env} = invocation(request, statsFile, timeReport);
    let sampler: TreeSampler | undefined;
    let toolPid: number | undefined;
    let stopTimer: NodeJS.Timeout | undefined;
    let stopped = false;
    const outcome = await execProgram(file, args, {
      env,
      cwd: request.cwd ?? request.launcher?.cwd,
      timeoutMs: Math.round(request.timeoutSeconds * 1000),
      inputFile: request.stdinFile,
      processGroup: true,
      onSpawn: (pid) => {
        if (pid === undefined) return;
        toolPid = timeReport ? pid : undefined;
        sampler = sampleTree(pid, {skip: (candidate) => candidate === toolPid, ...(timeReport ? {toolExe: realpathSync(file)} : {})});
        if (request.stopAfterSeconds !== undefined) {
          stopTimer = setTimeout(() => {
            stopped = true;
            // the root is the program itself unless GNU time or a tool started it (prlimit execs it)
            terminateTree(pid, !timeReport && !request.launcher);
          }, request.stopAfterSeconds * 1000);
        }
      },
    });
    clearTimeout(stopTimer);
    const memory = sampler?.stop(outcome.durationMs) ?? summarizeTimeline([]);
    const report = timeReport ? readGnuTime(timeReport) : {usage: null, signal: undefined};
    // GNU time exits with 128 + the signal that ended the program: report the signal itself.
    if (report.signal && outcome.exitCode !== undefined && outcome.exitCode >= 128) {
      outcome.signal = report.signal;
      outcome.exitCode = undefined;
    }

    // Stopped by hak as asked: its end by that SIGTERM (or a clean exit on it) is the normal end.
    if (stopped && !outcome.timedOut && (outcome.signal === 'SIGTERM' || outcome.exitCode === 128 + 15)) {
      outcome.signal = undefined;
      outcome.exitCode = 0;
    }

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
        request.command
          ? 'Raise the timeout (--timeout, or the profile\'s timeout). A program that runs until it is stopped (a server): hak verify --duration SECONDS -- CMD stops it with SIGTERM after that long.'
          : 'Raise the profile\'s timeout or lower its arguments.',
      );
    }

    if (outcome.signal) {
      throw new RunError(`${where} crashed: killed by ${outcome.signal}.`, {...facts, failure: 'signal', signal: outcome.signal}, reproduce);
    }

    // GNU time could not start the program: it says so and exits with 127 (not found) or 126.
    const cannotRun = timeReport && (outcome.exitCode === 127 || outcome.exitCode === 126) ? /time: cannot run (.+)$/m.exec(outcome.stderr) : null;
    if (cannotRun) throw new RunError(`${where} could not start: ${cannotRun[1]}`, {...facts, failure: 'spawn'});

    if (outcome.exitCode !== 0) {
      const meaning = request.command ? undefined : BENCHMARK_EXIT_CODES[outcome.exitCode ?? -1];
      throw new RunError(
        `${where} exited with ${outcome.exitCode}${meaning ? ` (${meaning})` : ''}.`,
        {...facts, failure: 'exit', exitCode: outcome.exitCode},
        reproduce,
      );
    }

    const wallSeconds = outcome.durationMs / 1000;
    const result = request.command ? commandResult(request.program, request.command.figure, outcome.stdout, wallSeconds, memory, report.usage) : parseBenchmarkOutput(outcome.stdout);
    if (typeof result === 'string') {
      throw new RunError(`${where} printed no result: ${result}.`, {...facts, failure: 'no-result', exitCode: 0}, reproduce);
    }

    const processStats = statsDir ? readStatsDir(statsDir, toolPid) : new Map<number, HakmemStats>();
    const pid = memory.processes[0]?.pid ?? null;
    return {
      allocator: request.allocator.name,
      runIndex: request.runIndex,
      command: commandLine(request),
      result,
      wallSeconds,
      stats: statsDir ? mainStats(processStats, pid) : null,
      processStats,
      pid,
      toolPid: toolPid ?? null,
      memory,
      usage: report.usage,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
    };
  } finally {
    rmSync(workDir, {recursive: true, force: true});
  }
}

/** SIGTERM to every process of the tree, leaving out its root when that is a tool (GNU time, perf) that must outlive the program. */
function terminateTree(root: number, rootIsProgram: boolean): void {
  for (const pid of processTree(root)) {
    if (pid === root && !rootIsProgram) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

/** Every stats file of the run by pid, leaving out the measuring tool's. */
export function readStatsDir(dir: string, skip: number | undefined): Map<number, HakmemStats> {
  const stats = new Map<number, HakmemStats>();
  for (const file of readdirSync(dir)) {
    const match = /^stats-(\d+)\.json$/.exec(file);
    if (!match || Number(match[1]) === skip) continue;
    const parsed = readStats(join(dir, file));
    if (parsed) stats.set(Number(match[1]), parsed);
  }

  return stats;
}

/** The started program's counters: its own pid's, else the only ones written, else the busiest process's. */
export function mainStats(processStats: Map<number, HakmemStats>, pid: number | null): HakmemStats | null {
  if (pid !== null && processStats.has(pid)) return processStats.get(pid)!;
  const all = [...processStats.values()];
  if (all.length <= 1) return all[0] ?? null;
  const requests = (stats: HakmemStats): number => Object.values(stats.always).reduce((sum, value) => sum + (typeof value === 'number' ? value : 0), 0);
  return all.reduce((best, stats) => (requests(stats) > requests(best) ? stats : best));
}

function readStats(file: string): HakmemStats | null {
  try {
    return parseHakmemStats(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}
