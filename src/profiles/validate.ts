/**
 * A parsed YAML/JSON document checked against the profile format (format.ts) and turned into a
 * typed Profile, or into every issue found at once, each naming the field's path, its line (or
 * its closest parent's) and what was expected. The rules that span fields are here too.
 */
import {resolve as resolvePath} from 'node:path';
import type {z} from 'zod';

import type {AllocatorName} from '../allocators.js';
import type {ProfileIssue} from '../errors.js';
import type {Features} from '../features.js';
import {type BenchmarkProfileFile, type CommandProfileFile, kindFormat, PROFILE_FORMATS, type ServerProfileFile} from './format.js';
import {commandThreads, DEFAULT_RUNS, DEFAULT_WARMUP, defaultPerf, type LineOf, type Profile, type ProfileVariant} from './schema.js';
import type {ServerSetting} from './server-schema.js';

type Path = (string | number)[];
type Issue = z.core.$ZodIssue;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

function pathText(path: Path): string {
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : index === 0 ? part : `.${part}`)).join('');
}

/** Marks an issue that is about a field's presence or name, not its value. */
const NOTHING_SHOWN = Symbol('nothing shown');

/** Collects issues, each with the line of its field or of the closest parent that has one. */
class Issues {
  readonly list: ProfileIssue[] = [];

  constructor(private readonly lineOf: LineOf) {}

  add(path: Path, expected: string, got: unknown = NOTHING_SHOWN): void {
    let line: number | undefined;
    for (let length = path.length; length >= 0 && line === undefined; length--) line = this.lineOf(path.slice(0, length));
    const suffix = got === NOTHING_SHOWN ? '' : `, got ${describe(got)}`;
    this.list.push({field: pathText(path), expected: `expected ${expected}${suffix}`, ...(line === undefined ? {} : {line})});
  }

  /** zod's issues in hak's words: a union is reported by the branch that fits the value's type. */
  fromSchema(issues: readonly Issue[], prefix: Path = []): void {
    for (const issue of issues) {
      const path = [...prefix, ...(issue.path as Path)];
      const input = (issue as {input?: unknown}).input;
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) this.add([...path, key], issue.message);
      } else if (issue.code === 'invalid_union') {
        const fitting = issue.errors.find((branch) => !branch.some((inner) => inner.path.length === 0 && (inner.code === 'invalid_type' || inner.code === 'invalid_value')));
        if (fitting) this.fromSchema(fitting, path);
        else this.add(path, issue.message, input);
      } else if (issue.code === 'invalid_key') {
        this.add([...path, String(input)], issue.issues[0]?.message ?? issue.message);
      } else if (issue.code === 'invalid_element') {
        this.fromSchema(issue.issues, [...path, String(issue.key)]);
      } else {
        this.add(path, issue.message, input);
      }
    }
  }
}

/** Unknown fields first, as a reader meets a mapping's keys before their values. */
function unknownFieldsFirst(issues: ProfileIssue[]): ProfileIssue[] {
  const unknown = (issue: ProfileIssue) => issue.expected.startsWith('expected no such field');
  return [...issues.filter(unknown), ...issues.filter((issue) => !unknown(issue))];
}

interface Context {
  file: string;
  expectedName: string;
  lineOf: LineOf;
  directory?: string;
}

/**
 * Checks a parsed document and builds the Profile; `expectedName` is the file's base name,
 * which the profile's name must match so `hak bench NAME` finds what it says.
 */
export function validateProfile(data: unknown, context: Context): {profile?: Profile; issues: ProfileIssue[]} {
  const issues = new Issues(context.lineOf);
  let kind: keyof typeof PROFILE_FORMATS = 'benchmark';
  if (isRecord(data) && data.kind !== undefined) {
    const parsed = kindFormat.safeParse(data.kind, {reportInput: true});
    if (!parsed.success) {
      issues.fromSchema(parsed.error.issues, ['kind']);
      return {issues: issues.list};
    }

    kind = parsed.data;
  }

  const parsed = PROFILE_FORMATS[kind].safeParse(data, {reportInput: true});
  if (!parsed.success) issues.fromSchema(parsed.error.issues);
  checkAcrossFields(issues, data, context);
  if (!parsed.success || issues.list.length > 0) return {issues: unknownFieldsFirst(issues.list)};
  const base = context.directory ?? '.';
  if (kind === 'command') return {issues: [], profile: commandProfile(parsed.data as CommandProfileFile, context, base)};
  if (kind === 'server') return {issues: [], profile: serverProfile(parsed.data as ServerProfileFile, context, base)};
  return {issues: [], profile: benchmarkProfile(parsed.data as BenchmarkProfileFile, context)};
}

const words = (args: readonly (string | number)[] | undefined): string[] => (args ?? []).map(String);

/** The rules a schema of one field cannot say; each looks only at values of the right type. */
function checkAcrossFields(issues: Issues, data: unknown, context: Context): void {
  if (!isRecord(data)) return;
  if (typeof data.name === 'string' && /^[a-z0-9][a-z0-9-]*$/.test(data.name) && data.name !== context.expectedName) {
    issues.add(['name'], `"${context.expectedName}", the file's name`, data.name);
  }

  if (Array.isArray(data.hakmem)) {
    const seen = new Set<unknown>();
    for (const [index, item] of data.hakmem.entries()) {
      if (!isRecord(item) || typeof item.name !== 'string') continue;
      if (seen.has(item.name)) issues.add(['hakmem', index, 'name'], 'a name not used by another variant', item.name);
      seen.add(item.name);
    }
  }

  if (Array.isArray(data.allocators)) {
    for (const [index, item] of data.allocators.entries()) {
      if (data.allocators.indexOf(item) < index) issues.add(['allocators', index], 'each allocator once', item);
    }
  }

  if (isRecord(data.env) && data.env.LD_PRELOAD !== undefined) issues.add(['env', 'LD_PRELOAD'], 'no LD_PRELOAD: hak sets it for each allocator');
  checkThreadArgument(issues, data);
  const ready = isRecord(data.server) && isRecord(data.server.ready) ? data.server.ready : undefined;
  if (ready?.port !== undefined && ready.command !== undefined) issues.add(['server', 'ready', 'command'], 'either port: true or a command, not both');
  if (ready?.port === false && ready.command === undefined) issues.add(['server', 'ready', 'port'], 'true (the port accepts), or a command instead', false);
}

/** threads.arg must point into the arguments, and every argument list reaching it must say the count. */
function checkThreadArgument(issues: Issues, data: Record<string, unknown>): void {
  const threads = isRecord(data.threads) ? data.threads : undefined;
  if (typeof threads?.arg !== 'number' || typeof threads.count !== 'number') return;
  const list = (value: unknown): unknown[] | undefined => (isRecord(value) && Array.isArray(value.args) ? value.args : undefined);
  const benchmarkArgs = list(data.benchmark) ?? [];
  const max = Math.max(0, benchmarkArgs.length - 1);
  if (threads.arg > max) {
    issues.add(['threads', 'arg'], `an integer from 0 to ${max}`, threads.arg);
    return;
  }

  for (const [field, args] of [['benchmark', benchmarkArgs], ['callgrind', list(data.callgrind)], ['perf', list(data.perf)]] as const) {
    if (args && args.length > threads.arg && String(args[threads.arg]) !== String(threads.count)) {
      issues.add([field, 'args', threads.arg], `the thread count ${threads.count} (threads.arg points here)`, String(args[threads.arg]));
    }
  }
}

type Toggles = Partial<Record<keyof Features, boolean | number>>;

function features(toggles: Toggles): Partial<Features> {
  return Object.fromEntries(Object.entries(toggles).filter(([key, value]) => key !== 'name' && key !== 'expected' && value !== undefined)) as Partial<Features>;
}

function variants(hakmem: BenchmarkProfileFile['hakmem']): ProfileVariant[] {
  if (hakmem === undefined) return [{name: 'default', features: {}, expected: null}];
  if (!Array.isArray(hakmem)) return [{name: 'default', features: features(hakmem as Toggles), expected: null}];
  return hakmem.map((item) => ({name: item.name, features: features(item as Toggles), expected: item.expected ?? null}));
}

type CommonFile = Pick<BenchmarkProfileFile, 'name' | 'description' | 'env' | 'hakmem' | 'allocators' | 'runs' | 'warmup' | 'timeout' | 'limits'>;

function commonFields(file: CommonFile, context: Context) {
  return {
    name: file.name,
    description: file.description.trim(),
    file: context.file,
    env: Object.fromEntries(Object.entries(file.env ?? {}).map(([key, value]) => [key, String(value)])),
    variants: variants(file.hakmem),
    allocators: [...(file.allocators ?? ['hakmem', 'glibc', 'mimalloc', 'jemalloc', 'tcmalloc'])] as AllocatorName[],
    runs: file.runs ?? DEFAULT_RUNS,
    warmup: file.warmup ?? DEFAULT_WARMUP,
    timeoutSeconds: file.timeout ?? 120,
    addressSpaceKib: file.limits?.addressSpaceKib ?? null,
  };
}

function perfSetting(perf: {event?: string; frequency?: number; callGraph?: 'none' | 'fp' | 'dwarf'; args?: (string | number)[]} | undefined, args: string[]) {
  const defaults = defaultPerf(args);
  return {event: perf?.event ?? defaults.event, frequency: perf?.frequency ?? defaults.frequency, callGraph: perf?.callGraph ?? defaults.callGraph, args: perf?.args ? words(perf.args) : args};
}

function benchmarkProfile(file: BenchmarkProfileFile, context: Context): Profile {
  const args = words(file.benchmark.args);
  return {
    ...commonFields(file, context),
    kind: 'benchmark',
    benchmark: {program: file.benchmark.program, args},
    threads: {count: file.threads?.count ?? 1, overridable: file.threads?.overridable ?? false, arg: file.threads?.arg ?? null},
    callgrind: {args: file.callgrind?.args ? words(file.callgrind.args) : args},
    perf: perfSetting(file.perf, args),
  };
}

function commandProfile(file: CommandProfileFile, context: Context, base: string): Profile {
  const argv = words(file.command.argv);
  const [program = '', ...args] = argv;
  return {
    ...commonFields(file, context),
    kind: 'command',
    benchmark: {program, args},
    command: {
      argv,
      stdin: file.command.stdin === undefined ? null : resolvePath(base, file.command.stdin),
      cwd: file.command.cwd === undefined ? null : resolvePath(base, file.command.cwd),
      figure: file.command.figure ?? null,
      checkOutput: file.command.checkOutput ?? true,
    },
    threads: commandThreads(),
    callgrind: {args},
    perf: perfSetting(file.perf, args),
  };
}

function serverProfile(file: ServerProfileFile, context: Context, base: string): Profile {
  const {server: setting} = file;
  const server: ServerSetting = {
    argv: words(setting.argv),
    cwd: setting.cwd === undefined ? null : resolvePath(base, setting.cwd),
    ready: {command: setting.ready?.command ? words(setting.ready.command) : null, timeoutSeconds: setting.ready?.timeout ?? 10},
    graceSeconds: setting.stop?.grace ?? 5,
    idleSeconds: setting.idle ?? 1,
    placement: setting.placement ?? 'auto',
    clients: file.clients.map((client) => ({argv: words(client.argv), parser: client.parser})),
    checks: (file.checks ?? []).map((check) => ({argv: words(check.argv), expect: check.expect})),
  };
  const [program = '', ...args] = server.argv;
  return {...commonFields(file, context), kind: 'server', benchmark: {program, args}, server, threads: commandThreads(), callgrind: {args}, perf: defaultPerf(args)};
}
