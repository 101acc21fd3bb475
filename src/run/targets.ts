/**
 * From a profile to the runs it asks for: builds the hakmem variant(s) the profile names and
 * resolves every allocator to what the runner needs. bench, verify and perf start here.
 *
 *   const targets = await resolveTargets(profile, {threads: 2, overrides});
 *   for (const target of targets) await runBenchmark({...target, timeoutSeconds, runIndex});
 */
import {type AllocatorName, type AllocatorSetup, resolveAllocator} from '../allocators.js';
import {type BuildOptions, type BuiltVariant, benchmarkPath, buildVariant, type VariantRequest} from '../build/index.js';
import {type Revision, type RevisionInfo, revisionInfo, WORK_TREE} from '../build/revision.js';
import {UsageError} from '../errors.js';
import {benchmarkArgs, commandProgram, type Profile, profileVariantRequests, type ServerSetting, type VariantOverrides} from '../profiles/index.js';
import type {CommandOutput} from './index.js';

export interface RunTarget {
  /** `glibc`, `mimalloc`, ...; `hakmem`, or `hakmem:<variant name>` when a profile names several. */
  label: string;
  allocator: AllocatorSetup;
  /** The hakmem build, for hakmem targets. */
  variant: BuiltVariant | null;
  /** Which sources a hakmem target was built from, where hak was asked to tell (--base, bisect). */
  revision?: RevisionInfo;
  /** The benchmark program; the same binary for every allocator, which it gets by preload. */
  program: string;
  args: string[];
  env: Record<string, string>;
  /** For a command profile: how to read its figure, where it runs and what it reads. */
  command?: CommandOutput;
  /** For a server profile: how to start, wait for, load, check and stop the server (run/server.ts). */
  server?: ServerSetting;
  cwd?: string;
  stdinFile?: string;
  /** RLIMIT_AS every run starts under, in KiB (the profile's limits). */
  addressSpaceKib?: number;
}

/** The runner's fields for a command or server profile, and the limits of any profile. */
export function commandFields(profile: Profile): Pick<RunTarget, 'command' | 'cwd' | 'stdinFile' | 'server' | 'addressSpaceKib'> {
  const limits = profile.addressSpaceKib === null ? {} : {addressSpaceKib: profile.addressSpaceKib};
  if (profile.kind === 'server') return {server: profile.server, ...(profile.server.cwd ? {cwd: profile.server.cwd} : {})};
  if (profile.kind !== 'command') return limits;
  const {command} = profile;
  return {command: {figure: command.figure}, ...(command.cwd ? {cwd: command.cwd} : {}), ...(command.stdin ? {stdinFile: command.stdin} : {}), ...limits};
}

export interface TargetOptions {
  /** --threads, where the profile allows it. */
  threads?: number;
  /** Toggle and toolchain flags given on the command line. */
  overrides?: VariantOverrides;
  /** Run only these allocators (each must be in the profile). */
  only?: AllocatorName[];
  build?: BuildOptions;
  /**
   * Build hakmem from each of these revisions, in this order, instead of the checkout alone: one
   * target per revision and variant, labelled `hakmem@<tag>` (`hakmem` for the work tree).
   * The benchmark programs stay the checkout's, so that only the library differs.
   */
  revisions?: Revision[];
}

/** `hakmem`, `hakmem:<variant>`, and `@<tag>` for a revision other than the work tree. */
function hakmemLabel(variantName: string | null, revision: Revision | null): string {
  const base = variantName === null ? 'hakmem' : `hakmem:${variantName}`;
  return revision && revision.ref !== WORK_TREE ? `${base}@${revision.tag}` : base;
}

/** The request for a revision's build: the checkout's sources need no override. */
function requestAt(request: VariantRequest, revision: Revision | null): VariantRequest {
  return revision && revision.ref !== WORK_TREE ? {...request, sources: revision} : request;
}

/**
 * Builds what the profile needs and lists its targets in the profile's allocator order (hakmem
 * variants in the profile's order). Raises MissingLibraryError for a peer that is not installed
 * and BuildError for a failed build, before anything runs.
 */
export async function resolveTargets(profile: Profile, options: TargetOptions = {}): Promise<RunTarget[]> {
  const allocators = selectAllocators(profile, options.only);
  const args = benchmarkArgs(profile, {threads: options.threads});
  const requests = profileVariantRequests(profile, options.overrides);
  const isCommand = profile.kind !== 'benchmark';
  const commandPath = isCommand ? commandProgram(profile) : null;
  const withHakmem = allocators.includes('hakmem');
  const revisions: (Revision | null)[] = options.revisions && options.revisions.length > 0 ? options.revisions : [null];
  // The benchmark programs come out of the checkout's csrc build, for every target (a command needs only hakmem's).
  const programs = isCommand ? null : await buildVariant(requests[0]!.request, options.build);
  const builds: {name: string; revision: Revision | null; built: BuiltVariant}[] = [];
  for (const revision of withHakmem ? revisions : []) {
    for (const {name, request} of requests) {
      builds.push({name, revision, built: await buildVariant(requestAt(request, revision), options.build)});
    }
  }

  const program = commandPath ?? benchmarkPath(programs!, profile.benchmark.program);
  const targets: RunTarget[] = [];
  for (const name of allocators) {
    if (name !== 'hakmem') {
      targets.push({label: name, allocator: resolveAllocator(name), variant: null, program, args, env: profile.env, ...commandFields(profile)});
      continue;
    }

    for (const {name: variantName, revision, built} of builds) {
      requireMallocOverride(built);
      targets.push({
        label: hakmemLabel(requests.length > 1 ? variantName : null, revision),
        allocator: resolveAllocator('hakmem', {hakmemLibrary: built.library}),
        variant: built,
        ...(revision ? {revision: revisionInfo(revision)} : {}),
        program,
        args,
        env: profile.env,
        ...commandFields(profile),
      });
    }
  }

  return targets;
}

function selectAllocators(profile: Profile, only: AllocatorName[] | undefined): AllocatorName[] {
  if (!only || only.length === 0) return profile.allocators;
  const outside = only.filter((name) => !profile.allocators.includes(name));
  if (outside.length > 0) {
    throw new UsageError(`profile ${profile.name} does not compare ${outside.join(', ')}; it compares ${profile.allocators.join(', ')}.`);
  }

  return profile.allocators.filter((name) => only.includes(name));
}

function requireMallocOverride(built: BuiltVariant): void {
  if (!built.overridesMalloc) {
    throw new UsageError(`hakmem variant ${built.variant} does not replace malloc (a sanitizer build): it cannot be benchmarked by preload.`);
  }
}

export interface SingleTargetOptions extends Pick<TargetOptions, 'threads' | 'overrides' | 'build'> {
  /** Which of the profile's variants (phases names several); the first when left out. */
  variant?: string;
  /** The allocator in place; hakmem when left out. The variant is built either way: it has the benchmark programs. */
  allocator?: AllocatorName;
  /** Variables added to the profile's env (HAKMEM_WRAP_TINY=1, ...). */
  env?: Record<string, string>;
  /** hakmem built from another revision's sources; the benchmark programs stay the checkout's. */
  sources?: Revision;
}

/** What the commands that examine one run of a profile (verify, perf) are asked. */
export interface SingleRunOptions extends Omit<SingleTargetOptions, 'build'> {
  profile: Profile;
  /** Progress for a spinner: builds, runs, analysis. */
  onProgress?: (text: string) => void;
}

export interface SingleTarget extends RunTarget {
  /** The profile's name for the variant ("default" for a profile of one variant). */
  variantName: string;
  /** The hakmem build, also for peers (whose runs use its benchmark programs). */
  built: BuiltVariant;
}

/**
 * One run target from a profile, for the commands that examine a single run (verify, perf):
 * one variant of the profile (toggle flags applied) and any allocator, whether or not the
 * profile compares it.
 */
export async function resolveTarget(profile: Profile, options: SingleTargetOptions = {}): Promise<SingleTarget> {
  const requests = profileVariantRequests(profile, options.overrides);
  const chosen = options.variant === undefined ? requests[0] : requests.find((candidate) => candidate.name === options.variant);
  if (!chosen) {
    throw new UsageError(`profile ${profile.name} has no variant "${options.variant}".`, {
      hint: `Its variants: ${requests.map((candidate) => candidate.name).join(', ')}.`,
    });
  }

  const name = options.allocator ?? 'hakmem';
  // A peer that is not installed is reported before anything is built.
  const peer = name === 'hakmem' ? null : resolveAllocator(name);
  const revision = options.sources ?? null;
  const built = await buildVariant(requestAt(chosen.request, revision), options.build);
  const programs = revision ? await buildVariant(chosen.request, options.build) : built;
  if (name === 'hakmem') requireMallocOverride(built);
  const several = profile.variants.length > 1;
  return {
    label: name === 'hakmem' ? hakmemLabel(several ? chosen.name : null, revision) : name,
    allocator: peer ?? resolveAllocator('hakmem', {hakmemLibrary: built.library}),
    variant: name === 'hakmem' ? built : null,
    ...(revision && name === 'hakmem' ? {revision: revisionInfo(revision)} : {}),
    program: profile.kind !== 'benchmark' ? commandProgram(profile) : benchmarkPath(programs, profile.benchmark.program),
    args: benchmarkArgs(profile, {threads: options.threads}),
    env: {...profile.env, ...options.env},
    ...commandFields(profile),
    variantName: chosen.name,
    built,
  };
}
