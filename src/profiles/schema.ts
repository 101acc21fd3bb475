/**
 * What a profile file says, and the rules that turn a parsed YAML/JSON document into a typed
 * Profile or a list of issues naming the field, the line and what was expected (field-reader.ts
 * reads the fields and words the issues). profiles/README.md documents the same fields for
 * people writing profiles.
 */
import {type AllocatorName, ALLOCATOR_NAMES, isAllocatorName} from '../allocators.js';
import type {ProfileIssue} from '../errors.js';
import {type Features, STATS_LEVELS, type StatsLevel, TOGGLES} from '../features.js';
import {FieldReader, isRecord, type LineOf, type Path} from './field-reader.js';
import {profilePath, type ServerSetting, validateServerProfile} from './server-schema.js';

export type {LineOf} from './field-reader.js';

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

const TOP_LEVEL_FIELDS = [
  'name',
  'kind',
  'description',
  'benchmark',
  'threads',
  'env',
  'hakmem',
  'allocators',
  'runs',
  'warmup',
  'timeout',
  'callgrind',
  'perf',
] as const;

/** Fields a profile of kind command may have. */
const COMMAND_FIELDS = ['name', 'kind', 'description', 'command', 'env', 'hakmem', 'allocators', 'runs', 'warmup', 'timeout', 'perf'] as const;
const COMMAND_KEYS = ['argv', 'stdin', 'cwd', 'figure', 'checkOutput'] as const;

const NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
const NAME_TEXT = 'a name of lower-case letters, digits and dashes';
const TOGGLE_KEYS = TOGGLES.map((toggle) => toggle.key);

function readFeatures(reader: FieldReader, value: Record<string, unknown>, path: Path, skip: string[] = []): Partial<Features> {
  const features: Partial<Features> = {};
  for (const [key, raw] of Object.entries(value)) {
    if (skip.includes(key)) continue;
    if (key === 'stats') {
      if (STATS_LEVELS.includes(raw as StatsLevel)) features.stats = raw as StatsLevel;
      else reader.fail([...path, key], 'a stats level 0, 1 or 2', raw);
    } else if ((TOGGLE_KEYS as string[]).includes(key)) {
      const flag = reader.boolean(raw, [...path, key]);
      if (flag !== undefined) features[key as Exclude<keyof Features, 'stats'>] = flag;
    } else {
      reader.fail([...path, key], `a toggle: ${[...skip, ...TOGGLE_KEYS].join(', ')}`);
    }
  }

  return features;
}

function readVariants(reader: FieldReader, value: unknown): ProfileVariant[] {
  if (value === undefined) return [{name: 'default', features: {}, expected: null}];
  if (isRecord(value)) return [{name: 'default', features: readFeatures(reader, value, ['hakmem']), expected: null}];
  if (!Array.isArray(value) || value.length === 0) {
    reader.fail(['hakmem'], 'a mapping of toggles, or a non-empty list of named variants', value);
    return [];
  }

  const variants: ProfileVariant[] = [];
  for (const [index, item] of value.entries()) {
    const path: Path = ['hakmem', index];
    if (!isRecord(item)) {
      reader.fail(path, 'a variant: a mapping with a name and toggles', item);
      continue;
    }

    const name = reader.string(item.name, [...path, 'name'], {pattern: NAME_PATTERN, patternText: NAME_TEXT});
    if (name && variants.some((variant) => variant.name === name)) reader.fail([...path, 'name'], 'a name not used by another variant', name);
    const expected = item.expected === undefined ? null : (reader.string(item.expected, [...path, 'expected']) ?? null);
    const features = readFeatures(reader, item, path, ['name', 'expected']);
    if (name) variants.push({name, features, expected});
  }

  return variants;
}

function readThreads(reader: FieldReader, value: unknown, argLists: {path: Path; args: string[]}[]): ThreadSetting {
  const threads: ThreadSetting = {count: 1, overridable: false, arg: null};
  if (value === undefined) return threads;
  const map = reader.mapping(value, ['threads'], ['count', 'overridable', 'arg']);
  if (!map) return threads;
  threads.count = reader.integer(map.count, ['threads', 'count'], 1, 1024) ?? 1;
  if (map.overridable !== undefined) threads.overridable = reader.boolean(map.overridable, ['threads', 'overridable']) ?? false;
  if (map.arg !== undefined && map.arg !== null) {
    const [benchmarkArgs] = argLists;
    const arg = reader.integer(map.arg, ['threads', 'arg'], 0, Math.max(0, (benchmarkArgs?.args.length ?? 1) - 1));
    if (arg !== undefined) {
      threads.arg = arg;
      // Each argument list that reaches that position must say the same count, so the file reads true.
      for (const list of argLists) {
        if (list.args.length > arg && list.args[arg] !== String(threads.count)) {
          reader.fail([...list.path, arg], `the thread count ${threads.count} (threads.arg points here)`, list.args[arg]);
        }
      }
    }
  }

  return threads;
}

function readEnv(reader: FieldReader, value: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  if (value === undefined) return env;
  if (!isRecord(value)) {
    reader.fail(['env'], 'a mapping of environment variables', value);
    return env;
  }

  for (const [key, raw] of Object.entries(value)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) reader.fail(['env', key], 'an environment variable name');
    else if (key === 'LD_PRELOAD') reader.fail(['env', key], 'no LD_PRELOAD: hak sets it for each allocator');
    else if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') env[key] = String(raw);
    else reader.fail(['env', key], 'a string or a number', raw);
  }

  return env;
}

function readAllocators(reader: FieldReader, value: unknown): AllocatorName[] {
  if (value === undefined) return [...ALLOCATOR_NAMES];
  if (!Array.isArray(value) || value.length === 0) {
    reader.fail(['allocators'], `a non-empty list of ${ALLOCATOR_NAMES.join(', ')}`, value);
    return [];
  }

  const allocators: AllocatorName[] = [];
  for (const [index, item] of value.entries()) {
    if (typeof item !== 'string' || !isAllocatorName(item)) reader.fail(['allocators', index], `one of ${ALLOCATOR_NAMES.join(', ')}`, item);
    else if (allocators.includes(item)) reader.fail(['allocators', index], 'each allocator once', item);
    else allocators.push(item);
  }

  return allocators;
}

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

function readPerf(reader: FieldReader, value: unknown, benchmarkArgs: string[]): PerfSetting {
  const perf = defaultPerf(benchmarkArgs);
  if (value === undefined) return perf;
  const map = reader.mapping(value, ['perf'], ['event', 'frequency', 'callGraph', 'args']);
  if (!map) return perf;
  if (map.event !== undefined) perf.event = reader.string(map.event, ['perf', 'event']) ?? perf.event;
  if (map.frequency !== undefined) perf.frequency = reader.integer(map.frequency, ['perf', 'frequency'], 1, 100_000) ?? perf.frequency;
  if (map.callGraph !== undefined) perf.callGraph = reader.oneOf(map.callGraph, ['perf', 'callGraph'], CALL_GRAPH_MODES) ?? perf.callGraph;
  if (map.args !== undefined) perf.args = reader.argumentList(map.args, ['perf', 'args']) ?? perf.args;
  return perf;
}

type CommonFields = Pick<Profile, 'name' | 'description' | 'file' | 'env' | 'variants' | 'allocators' | 'runs' | 'warmup' | 'timeoutSeconds'>;

/** The fields both kinds of profile have: its name and what it says, and how it runs; undefined when one is invalid. */
export function readCommonFields(reader: FieldReader, top: Record<string, unknown>, context: {file: string; expectedName: string}): CommonFields | undefined {
  const name = reader.string(top.name, ['name'], {pattern: NAME_PATTERN, patternText: NAME_TEXT});
  if (name && name !== context.expectedName) reader.fail(['name'], `"${context.expectedName}", the file's name`, name);
  const description = reader.string(top.description, ['description']);
  const env = readEnv(reader, top.env);
  const variants = readVariants(reader, top.hakmem);
  const allocators = readAllocators(reader, top.allocators);
  const runs = top.runs === undefined ? DEFAULT_RUNS : reader.integer(top.runs, ['runs'], 1, 1000);
  const warmup = top.warmup === undefined ? DEFAULT_WARMUP : reader.integer(top.warmup, ['warmup'], 0, 100);
  const timeoutSeconds = top.timeout === undefined ? 120 : reader.positiveNumber(top.timeout, ['timeout'], 86_400);
  if (!name || !description || runs === undefined || warmup === undefined || timeoutSeconds === undefined) return undefined;
  return {name, description: description.trim(), file: context.file, env, variants, allocators, runs, warmup, timeoutSeconds};
}

/**
 * Checks a parsed document and builds the Profile; `expectedName` is the file's base name,
 * which the profile's name must match so `hak bench NAME` finds what it says.
 */
export function validateProfile(
  data: unknown,
  context: {file: string; expectedName: string; lineOf: LineOf; directory?: string},
): {profile?: Profile; issues: ProfileIssue[]} {
  const reader = new FieldReader(context.lineOf);
  const kind = isRecord(data) && data.kind !== undefined ? reader.oneOf(data.kind, ['kind'], PROFILE_KINDS) : 'benchmark';
  if (kind === 'command') return validateCommandProfile(reader, data as Record<string, unknown>, context);
  if (kind === 'server') return validateServerProfile(reader, data as Record<string, unknown>, context);
  const top = reader.mapping(data, [], TOP_LEVEL_FIELDS);
  if (!top) return {issues: reader.issues};

  let program: string | undefined;
  let args: string[] = [];
  const benchmark = reader.mapping(top.benchmark, ['benchmark'], ['program', 'args']);
  if (benchmark) {
    program = reader.string(benchmark.program, ['benchmark', 'program'], {
      pattern: /^[a-z0-9_]+$/,
      patternText: 'a benchmark program name from csrc/bench (letters, digits, underscores)',
    });
    if (benchmark.args !== undefined) args = reader.argumentList(benchmark.args, ['benchmark', 'args']) ?? [];
  }

  let callgrindArgs = args;
  if (top.callgrind !== undefined) {
    const callgrind = reader.mapping(top.callgrind, ['callgrind'], ['args']);
    if (callgrind?.args !== undefined) callgrindArgs = reader.argumentList(callgrind.args, ['callgrind', 'args']) ?? args;
  }

  const perf = readPerf(reader, top.perf, args);
  const threads = readThreads(reader, top.threads, [
    {path: ['benchmark', 'args'], args},
    ...(top.callgrind === undefined ? [] : [{path: ['callgrind', 'args'], args: callgrindArgs}]),
    ...(isRecord(top.perf) && top.perf.args !== undefined ? [{path: ['perf', 'args'], args: perf.args}] : []),
  ]);
  const common = readCommonFields(reader, top, context);
  if (reader.issues.length > 0 || !program || !common) return {issues: reader.issues};

  return {
    issues: [],
    profile: {
      ...common,
      kind: 'benchmark',
      benchmark: {program, args},
      threads,
      callgrind: {args: callgrindArgs},
      perf,
    },
  };
}

function readFigure(reader: FieldReader, value: unknown): FigureSetting | null {
  const path: Path = ['command', 'figure'];
  const map = reader.mapping(value, path, ['regex', 'unit', 'better']);
  if (!map) return null;
  const regex = reader.string(map.regex, [...path, 'regex']);
  if (regex !== undefined) {
    try {
      new RegExp(regex); // eslint-disable-line no-new
    } catch (error) {
      reader.fail([...path, 'regex'], `a regular expression (${(error as Error).message})`, regex);
    }
  }

  const unit = reader.string(map.unit, [...path, 'unit']);
  const better = reader.oneOf(map.better, [...path, 'better'], ['lower', 'higher'] as const);
  return regex && unit && better ? {regex, unit, better} : null;
}

/** A profile of kind command: any command line, measured and compared like a benchmark. */
function validateCommandProfile(
  reader: FieldReader,
  top: Record<string, unknown>,
  context: {file: string; expectedName: string; lineOf: LineOf; directory?: string},
): {profile?: Profile; issues: ProfileIssue[]} {
  reader.mapping(top, [], COMMAND_FIELDS);
  const base = context.directory ?? '.';
  let command: CommandSetting | undefined;
  const map = reader.mapping(top.command, ['command'], COMMAND_KEYS);
  if (map) {
    const argv = reader.argumentList(map.argv, ['command', 'argv']);
    if (argv && Array.isArray(map.argv) && map.argv.length === 0) reader.fail(['command', 'argv'], 'a command line: the program, then its arguments', map.argv);
    command = {
      argv: argv ?? [],
      stdin: map.stdin === undefined ? null : profilePath(reader, map.stdin, ['command', 'stdin'], base),
      cwd: map.cwd === undefined ? null : profilePath(reader, map.cwd, ['command', 'cwd'], base),
      figure: map.figure === undefined ? null : readFigure(reader, map.figure),
      checkOutput: map.checkOutput === undefined ? true : (reader.boolean(map.checkOutput, ['command', 'checkOutput']) ?? true),
    };
  }

  const [program = '', ...args] = command?.argv ?? [];
  const perf = readPerf(reader, top.perf, args);
  const common = readCommonFields(reader, top, context);
  if (reader.issues.length > 0 || !command || !common) return {issues: reader.issues};

  return {
    issues: [],
    profile: {
      ...common,
      kind: 'command',
      benchmark: {program, args},
      command,
      threads: commandThreads(),
      callgrind: {args},
      perf,
    },
  };
}
