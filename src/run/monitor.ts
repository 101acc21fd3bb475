/**
 * What a run costs beside its figure: the resident memory of its whole process tree over time,
 * and the CPU time and page faults of every process in it.
 *
 * - Memory: the tree under the started process (threads' children included, through
 *   /proc/<pid>/task/<tid>/children) is walked every RSS_INTERVAL_MS and the resident sizes of
 *   its processes summed, so a shell that starts the program, or make and its compilers, count
 *   as one workload. The walk also names every process it saw.
 * - CPU and faults: GNU time (`/usr/bin/time`, Debian package `time`) starts the program and
 *   reports, after waiting for it, the user and system seconds and the minor faults of the
 *   program and every descendant it waited for: exact, where sampling /proc would miss the last
 *   instants and every short-lived child.
 */
import {readdirSync, readFileSync, readlinkSync, rmSync} from 'node:fs';
import {constants} from 'node:os';

import {MissingToolError} from '../errors.js';
import {findOnPath} from '../exec.js';

/** Sampling period of the RSS timeline: at most 20 ms between samples, with room for timer slack. */
export const RSS_INTERVAL_MS = 10;

/** [milliseconds since start, kilobytes resident in the whole tree]. */
export type RssPoint = [number, number];

export interface ObservedProcess {
  pid: number;
  /** The process's name (comm) when last seen: the program after any exec. */
  program: string;
  /** Its executable's path when last seen; null when it could not be read. */
  exe: string | null;
}

export interface TreeMemory {
  rssTimeline: RssPoint[];
  /** The largest and the mean of the sampled tree totals; 0 when nothing was sampled. */
  peakRssKb: number;
  meanRssKb: number;
  processes: ObservedProcess[];
}

const PAGE_KB = 4;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The pids of the tree rooted at `root` (root first), from the children lists of every thread. */
export function processTree(root: number): number[] {
  const seen: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.includes(pid)) continue;
    seen.push(pid);
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }

    for (const tid of tasks) {
      const children = readText(`/proc/${pid}/task/${tid}/children`);
      if (children) queue.push(...children.trim().split(/\s+/).filter((word) => word !== '').map(Number));
    }
  }

  return seen;
}

/** Resident kilobytes of one process (statm's second field), or null when it is gone. */
export function residentKb(pid: number): number | null {
  const statm = readText(`/proc/${pid}/statm`);
  if (statm === null) return null;
  const pages = Number(statm.split(' ')[1]);
  return Number.isFinite(pages) ? pages * PAGE_KB : null;
}

export interface TreeSampler {
  /** Stops sampling and returns what was seen; `finalMs` adds the exit as the timeline's last point. */
  stop(finalMs: number): TreeMemory;
}

/**
 * Samples the tree under `root` from now until stop(). `skip` names processes that belong to
 * the measuring tools (GNU time itself), left out of both the sums and the process list;
 * `toolExe` is the tool's executable, so that its child is named only once it is the program.
 */
export function sampleTree(root: number, options: {skip?: (pid: number) => boolean; toolExe?: string} = {}): TreeSampler {
  const started = performance.now();
  const timeline: RssPoint[] = [];
  const processes = new Map<number, ObservedProcess>();
  const exeOf = (pid: number): string | null => {
    try {
      return readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return null; // gone, or not ours to read
    }
  };

  const sampleNames = (pid: number): void => {
    // The name and the executable are read apart: an exec between the two would pair the
    // tool's name with the program's file. Read the executable on both sides of the name.
    const before = exeOf(pid);
    const comm = readText(`/proc/${pid}/comm`)?.trim();
    if (!comm) return;
    const known = processes.get(pid);
    if (known?.program === comm && known.exe === before) return;
    const exe = exeOf(pid);
    if (exe !== before) return; // it exec'd meanwhile: named at the next sample
    // Forked by the tool but not yet the program: its name is not known yet.
    if (exe !== null && exe === options.toolExe) return;
    processes.set(pid, {pid, program: comm, exe});
  };

  const sample = (): void => {
    let total = 0;
    let alive = false;
    for (const pid of processTree(root)) {
      if (options.skip?.(pid)) continue;
      const kb = residentKb(pid);
      if (kb === null) continue;
      alive = true;
      total += kb;
      sampleNames(pid);
    }

    if (alive) timeline.push([Math.round(performance.now() - started), total]);
  };

  sample();
  const timer = setInterval(sample, RSS_INTERVAL_MS);
  return {
    stop(finalMs: number): TreeMemory {
      clearInterval(timer);
      sample();
      // The exit itself: the tree's memory is all given back then, so the last point is the
      // last resident total seen, at the moment the run ended.
      const last = timeline.at(-1);
      if (last && finalMs > last[0]) timeline.push([Math.round(finalMs), last[1]]);
      return summarizeTimeline(timeline, [...processes.values()]);
    },
  };
}

export function summarizeTimeline(timeline: RssPoint[], processes: ObservedProcess[] = []): TreeMemory {
  const values = timeline.map(([, kb]) => kb);
  const peakRssKb = values.length > 0 ? Math.max(...values) : 0;
  // Time-weighted: samples are not quite evenly spaced on a loaded machine.
  let area = 0;
  for (let index = 1; index < timeline.length; index++) area += timeline[index - 1]![1] * (timeline[index]![0] - timeline[index - 1]![0]);
  const span = timeline.length > 1 ? timeline.at(-1)![0] - timeline[0]![0] : 0;
  const meanRssKb = span > 0 ? area / span : (values[0] ?? 0);
  return {rssTimeline: timeline, peakRssKb, meanRssKb: Math.round(meanRssKb), processes};
}

/** CPU time and faults of a run's whole tree, from GNU time. */
export interface TreeUsage {
  userSeconds: number;
  systemSeconds: number;
  minorFaults: number;
  majorFaults: number;
  /** The largest resident size any one process of the tree reached. */
  maxProcessRssKb: number;
}

/** GNU time's format: a marker, then user and system seconds, minor and major faults, max RSS. */
const TIME_FORMAT = 'hak-usage %U %S %R %F %M';

export function requireGnuTime(): string {
  const tool = findOnPath('time', '/usr/bin:/bin') ?? findOnPath('time');
  if (!tool) throw new MissingToolError('time', 'sudo apt-get install time', 'GNU time: it measures the CPU time and page faults of each run');
  return tool;
}

/** util-linux's prlimit, which starts a program under resource limits (a profile's `limits`). */
export function requirePrlimit(): string {
  const tool = findOnPath('prlimit', '/usr/bin:/bin') ?? findOnPath('prlimit');
  if (!tool) throw new MissingToolError('prlimit', 'sudo apt-get install util-linux', 'prlimit: it starts each run under the profile\'s limits');
  return tool;
}

/** The arguments that put GNU time in front of a command, writing its report to `file`. */
export function gnuTimeArgs(file: string): string[] {
  return ['-f', TIME_FORMAT, '-o', file, '--'];
}

export interface GnuTimeReport {
  usage: TreeUsage | null;
  /** The signal that ended the program (GNU time itself exits with 128 + its number). */
  signal: string | undefined;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name]));

/** Reads and removes GNU time's report. */
export function readGnuTime(file: string): GnuTimeReport {
  const text = readText(file) ?? '';
  rmSync(file, {force: true});
  const signal = /Command terminated by signal (\d+)/.exec(text);
  const line = /^hak-usage (\S+) (\S+) (\d+) (\d+) (\d+)$/m.exec(text);
  const usage = line
    ? {userSeconds: Number(line[1]), systemSeconds: Number(line[2]), minorFaults: Number(line[3]), majorFaults: Number(line[4]), maxProcessRssKb: Number(line[5])}
    : null;
  return {usage, signal: signal ? (SIGNAL_NAMES.get(Number(signal[1])) ?? `signal ${signal[1]}`) : undefined};
}
