/**
 * What a loaded profile is: the typed Profile that validate.ts builds from a file. The file
 * format itself (fields, ranges, defaults, meanings) is format.ts's one schema; this module has
 * no dependency on it, so that the commands can name these types without loading the schema.
 */
import type {AllocatorName} from '../allocators.js';
import type {Features} from '../features.js';
import type {ServerSetting} from './server-schema.js';

/** Finds the line of a value in the source document; undefined when unknown. */
export type LineOf = (path: readonly (string | number)[]) => number | undefined;

export const CALL_GRAPH_MODES = ['none', 'fp', 'dwarf'] as const;
export type CallGraphMode = (typeof CALL_GRAPH_MODES)[number];

export interface ProfileVariant {
  /** "default" for a profile that names a single set of toggles. */
  name: string;
  /** The toggles the profile sets; the rest take their defaults (or the command-line flags). */
  features: Partial<Features>;
  /** What the design notes expected of this step of a sweep ("+15-20%"), shown beside the measured gain. */
  expected: string | null;
}

export interface ThreadSetting {
  /** Threads the benchmark runs with unless --threads says otherwise. */
  count: number;
  /** Whether --threads may change the count. */
  overridable: boolean;
  /** Index of the positional argument that carries the thread count, or null. */
  arg: number | null;
}

export interface PerfSetting {
  /**
   * perf event to sample; `auto` (the default) samples cycles where the machine has hardware
   * counters and the software event cpu-clock where it does not.
   */
  event: string;
  /** Samples per second. */
  frequency: number;
  callGraph: CallGraphMode;
  /** Arguments for the recorded run; the benchmark's own when left out. */
  args: string[];
}

/** How to read a command's figure: the first group of the regex's last match on its stdout. */
export interface FigureSetting {
  regex: string;
  unit: string;
  better: 'lower' | 'higher';
}

/** What a profile of kind `command` runs: any program, not one of csrc/bench. */
export interface CommandSetting {
  /** The command line; argv[0] is looked up on PATH unless it has a slash. */
  argv: string[];
  /** Absolute path of a file fed to standard input; null: none. */
  stdin: string | null;
  /** Absolute working directory; null: hak's own. */
  cwd: string | null;
  /** null: the figure is wall time in seconds, lower is better. */
  figure: FigureSetting | null;
  /** Whether every allocator's stdout must equal the first's (default true). */
  checkOutput: boolean;
}

export const PROFILE_KINDS = ['benchmark', 'command', 'server'] as const;
export type ProfileKind = (typeof PROFILE_KINDS)[number];

/** What every profile has, whichever its kind. */
interface ProfileBase {
  name: string;
  description: string;
  /** The file it was loaded from. */
  file: string;
  /** The program and its arguments: a program of csrc/bench, or a command's argv[0] and the rest. */
  benchmark: {program: string; args: string[]};
  threads: ThreadSetting;
  env: Record<string, string>;
  variants: ProfileVariant[];
  allocators: AllocatorName[];
  runs: number;
  warmup: number;
  timeoutSeconds: number;
  /** RLIMIT_AS every run starts under, in KiB (profile `limits.addressSpaceKib`); null: none. */
  addressSpaceKib: number | null;
  /** Short arguments for instruction counting under callgrind. */
  callgrind: {args: string[]};
  perf: PerfSetting;
}

/** A program of csrc/bench, run with the profile's arguments. */
export interface BenchmarkProfile extends ProfileBase {
  kind: 'benchmark';
}

/** Any command line (`command`), measured and compared like a benchmark. */
export interface CommandProfile extends ProfileBase {
  kind: 'command';
  command: CommandSetting;
}

/** A server started under each allocator and loaded by clients outside it (server-schema.ts). */
export interface ServerProfile extends ProfileBase {
  kind: 'server';
  server: ServerSetting;
}

/** `kind` decides which: only a command profile has `command`, only a server profile `server`. */
export type Profile = BenchmarkProfile | CommandProfile | ServerProfile;

/** Runs and warm-up runs of a profile, or of a command line, that does not say. */
export const DEFAULT_RUNS = 5;
export const DEFAULT_WARMUP = 1;

/** A command's threads: whatever it starts itself; hak has no argument to change. */
export function commandThreads(): ThreadSetting {
  return {count: 1, overridable: false, arg: null};
}

/** How perf samples a profile, or a command line, that does not say. */
export function defaultPerf(args: string[]): PerfSetting {
  return {event: 'auto', frequency: 999, callGraph: 'dwarf', args};
}
