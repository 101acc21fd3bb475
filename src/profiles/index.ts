/**
 * Named measurement profiles: `profiles/<name>.yaml` (or .yml, .json). A profile says which
 * benchmark to run with which arguments and threads, under which allocators and hakmem
 * variants, how many runs, and how to count instructions and sample with perf.
 *
 *   const profile = await loadProfile('larson-mid');
 *   const args = benchmarkArgs(profile, {threads: 2});   // --threads override
 *   for (const variant of profile.variants) await buildVariant(variantRequest(variant, flags));
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {basename, dirname, extname, join, relative, resolve} from 'node:path';

import type {VariantRequest} from '../build/index.js';
import {ProfileError, UsageError} from '../errors.js';
import type {Features, Toolchain} from '../features.js';
import {findOnPath} from '../exec.js';
import {profilesDir} from '../paths.js';
import {type CommandProfile, commandThreads, type ServerProfile, DEFAULT_RUNS, DEFAULT_WARMUP, defaultPerf, type FigureSetting, type Profile, type ProfileVariant} from './schema.js';

export type {BenchmarkProfile, CallGraphMode, CommandProfile, CommandSetting, FigureSetting, PerfSetting, Profile, ProfileKind, ProfileVariant, ServerProfile, ThreadSetting} from './schema.js';
export type {ClientParser, ServerCheck, ServerClient, ServerSetting} from './server-schema.js';

const EXTENSIONS = ['.yaml', '.yml', '.json'];

/** A profile given as a path rather than a name: it has a slash or a profile file extension. */
function looksLikePath(reference: string): boolean {
  return reference.includes('/') || EXTENSIONS.includes(extname(reference));
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

/** The file a profile name or path refers to; a UsageError listing the known names if none. */
export function findProfileFile(reference: string): string {
  if (looksLikePath(reference)) {
    const file = resolve(reference);
    if (!existsSync(file)) throw new UsageError(`profile file ${reference} does not exist.`);
    return file;
  }

  const dir = profilesDir();
  for (const extension of EXTENSIONS) {
    const file = join(dir, `${reference}${extension}`);
    if (existsSync(file)) return file;
  }

  const known = profileNames();
  throw new UsageError(`unknown profile "${reference}".`, {
    hint: known.length > 0 ? `Known profiles: ${known.join(', ')}.` : `No profiles in ${dir}.`,
  });
}

/** Names of the profiles in the profiles directory, sorted. */
export function profileNames(): string[] {
  const dir = profilesDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    // profile.schema.json beside them is the format's JSON Schema, not a profile.
    .filter((file) => EXTENSIONS.includes(extname(file)) && !file.endsWith('.schema.json'))
    .map((file) => basename(file, extname(file)))
    .sort();
}

type YamlModule = typeof import('yaml');

/**
 * The yaml package, loaded on first use. It is CommonJS: imported from the bundle, its exports
 * arrive as the namespace's default export; imported from the sources, as named exports.
 */
async function loadYaml(): Promise<YamlModule> {
  const namespace = (await import('yaml')) as YamlModule & {default?: YamlModule};
  return namespace.default?.parseDocument ? namespace.default : namespace;
}

/** Reads, parses and validates one profile; a ProfileError (exit 2) lists every problem found. */
export async function loadProfile(reference: string): Promise<Profile> {
  const file = findProfileFile(reference);
  const shown = displayPath(file);
  const {LineCounter, parseDocument} = await loadYaml();
  const lineCounter = new LineCounter();
  const text = readFileSync(file, 'utf8');
  const document = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true});
  if (document.errors.length > 0) {
    throw new ProfileError(
      shown,
      document.errors.slice(0, 3).map((error) => ({
        field: '(syntax)',
        expected: error.message.split('\n')[0] ?? 'valid YAML or JSON',
        line: lineCounter.linePos(error.pos[0]).line,
      })),
    );
  }

  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    const node = path.length === 0 ? document.contents : document.getIn(path, true);
    const range = (node as {range?: [number, number, number]} | undefined)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };

  // The schema library is loaded here, with the first profile read, and never for --help.
  const {validateProfile} = await import('./validate.js');
  const {profile, issues} = validateProfile(document.toJS(), {
    file: shown,
    expectedName: basename(file, extname(file)),
    lineOf,
    directory: dirname(file),
  });
  if (!profile) throw new ProfileError(shown, issues);
  return profile;
}

/** Loads every profile in the profiles directory (the first invalid one throws). */
export async function loadAllProfiles(): Promise<Profile[]> {
  const profiles: Profile[] = [];
  for (const name of profileNames()) profiles.push(await loadProfile(name));
  return profiles;
}

/** The thread count to run with: the profile's, or `requested` where the profile allows it. */
export function resolveThreads(profile: Profile, requested?: number): number {
  if (requested === undefined || requested === profile.threads.count) return profile.threads.count;
  if (!profile.threads.overridable) {
    throw new UsageError(`profile ${profile.name} runs with ${profile.threads.count} thread(s); --threads cannot change it.`);
  }

  return requested;
}

function withThreads(profile: Profile, args: readonly string[], threads: number): string[] {
  const copy = [...args];
  const index = profile.threads.arg;
  if (index !== null && index < copy.length) copy[index] = String(threads);
  return copy;
}

export interface ArgumentOptions {
  /** --threads; rejected when the profile does not allow it. */
  threads?: number;
}

/** The benchmark's command-line arguments, with the thread count in place. */
export function benchmarkArgs(profile: Profile, options: ArgumentOptions = {}): string[] {
  return withThreads(profile, profile.benchmark.args, resolveThreads(profile, options.threads));
}

/** The short arguments for callgrind, with the thread count in place. */
export function callgrindArgs(profile: Profile, options: ArgumentOptions = {}): string[] {
  return withThreads(profile, profile.callgrind.args, resolveThreads(profile, options.threads));
}

/** The arguments of the run perf records, with the thread count in place. */
export function perfArgs(profile: Profile, options: ArgumentOptions = {}): string[] {
  return withThreads(profile, profile.perf.args, resolveThreads(profile, options.threads));
}

/** What a profile's figure is counted in and which way is better: a benchmark's operations per second, or a command's figure (wall time in seconds unless it says). */
export function profileFigure(profile: Profile): {unit: string; better: 'lower' | 'higher'} {
  if (profile.kind === 'benchmark') return {unit: 'ops/s', better: 'higher'};
  if (profile.kind === 'server') return {unit: 'req/s', better: 'higher'};
  return {unit: profile.command.figure?.unit ?? 's', better: profile.command.figure?.better ?? 'lower'};
}

export interface VariantOverrides {
  features?: Partial<Features>;
  toolchain?: Partial<Toolchain>;
}

/** What to ask buildVariant for: the profile variant's toggles, overridden by explicit flags. */
export function variantRequest(variant: ProfileVariant, overrides: VariantOverrides = {}): VariantRequest {
  const explicit = Object.entries(overrides.features ?? {}).filter(([, value]) => value !== undefined);
  return {features: {...variant.features, ...Object.fromEntries(explicit)}, toolchain: overrides.toolchain};
}

/** Every variant a profile names (one, or a sweep such as phases), each with its request. */
export function profileVariantRequests(profile: Profile, overrides: VariantOverrides = {}): {name: string; request: VariantRequest}[] {
  return profile.variants.map((variant) => ({name: variant.name, request: variantRequest(variant, overrides)}));
}

/**
 * The profile with each hakmem variant followed by its hardened twin, the same toggles with
 * harden on (`hak bench PROFILE --harden`): `default` gets `harden` beside it, any other
 * variant `<name>-harden`. A profile that has a hardened variant already (harden) stays as it
 * is. The first variant stays first, so it can be the baseline.
 */
export function withHardenedTwins<P extends Profile>(profile: P): P {
  if (profile.variants.some((variant) => variant.features.harden === true)) return profile;   /* it prices harden itself */
  const variants = profile.variants.flatMap((variant) => {
    const twin = {name: variant.name === 'default' ? 'harden' : `${variant.name}-harden`, features: {...variant.features, harden: true}, expected: null};
    return [variant, twin];
  });
  return {...profile, variants};
}

export interface CommandProfileOptions {
  /** How to read the figure; null: wall time in seconds, lower is better. */
  figure?: FigureSetting | null;
  checkOutput?: boolean;
  timeoutSeconds?: number;
  runs?: number;
  warmup?: number;
}

/** The profile `hak bench|verify|perf -- CMD [ARGS...]` runs: the command line as given, nothing else set. */
export function commandProfile(argv: readonly string[], options: CommandProfileOptions = {}): CommandProfile {
  if (argv.length === 0 || argv[0] === '') throw new UsageError('no command after --.', {hint: 'Give the command to measure: hak bench -- python3 script.py'});
  const [program, ...args] = argv as [string, ...string[]];
  return {
    name: 'command',
    description: argv.join(' '),
    file: '(command line)',
    kind: 'command',
    benchmark: {program, args},
    command: {argv: [...argv], stdin: null, cwd: null, figure: options.figure ?? null, checkOutput: options.checkOutput ?? true},
    threads: commandThreads(),
    env: {},
    variants: [{name: 'default', features: {}, expected: null}],
    allocators: ['hakmem', 'glibc', 'mimalloc', 'jemalloc', 'tcmalloc'],
    runs: options.runs ?? DEFAULT_RUNS,
    warmup: options.warmup ?? DEFAULT_WARMUP,
    timeoutSeconds: options.timeoutSeconds ?? 600,
    addressSpaceKib: null,
    callgrind: {args},
    perf: defaultPerf(args),
  };
}

/**
 * The program a command or server profile starts, as an absolute path: argv[0] looked up on PATH, or a
 * path taken from the command's working directory. A UsageError says what is missing.
 */
export function commandProgram(profile: CommandProfile | ServerProfile): string {
  const program = profile.benchmark.program;
  const cwd = profile.kind === 'command' ? profile.command.cwd : profile.server.cwd;
  if (program.includes('/')) {
    const file = resolve(cwd ?? process.cwd(), program);
    if (!existsSync(file)) throw new UsageError(`${program}: no such file.`, {hint: 'Give the path of the program to measure, or a name on PATH.'});
    return file;
  }

  const found = findOnPath(program);
  if (!found) throw new UsageError(`${program}: command not found on PATH.`, {hint: 'Install it, or give the path of the program to measure.'});
  return found;
}
