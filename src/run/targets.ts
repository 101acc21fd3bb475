/**
 * From a profile to the runs it asks for: builds the hakmem variant(s) the profile names and
 * resolves every allocator to what the runner needs. bench, verify and perf start here.
 *
 *   const targets = await resolveTargets(profile, {threads: 2, overrides});
 *   for (const target of targets) await runBenchmark({...target, timeoutSeconds, runIndex});
 */
import {type AllocatorName, type AllocatorSetup, resolveAllocator} from '../allocators.js';
import {type BuildOptions, type BuiltVariant, benchmarkPath, buildVariant} from '../build/index.js';
import {UsageError} from '../errors.js';
import {benchmarkArgs, commandProgram, type Profile, profileVariantRequests, type VariantOverrides} from '../profiles/index.js';
import type {CommandOutput} from './index.js';

export interface RunTarget {
  /** `glibc`, `mimalloc`, ...; `hakmem`, or `hakmem:<variant name>` when a profile names several. */
  label: string;
  allocator: AllocatorSetup;
  /** The hakmem build, for hakmem targets. */
  variant: BuiltVariant | null;
  /** The benchmark program; the same binary for every allocator, which it gets by preload. */
  program: string;
  args: string[];
  env: Record<string, string>;
  /** For a command profile: how to read its figure, where it runs and what it reads. */
  command?: CommandOutput;
  cwd?: string;
  stdinFile?: string;
}

/** The runner's fields for a command profile; none for a benchmark profile. */
export function commandFields(profile: Profile): Pick<RunTarget, 'command' | 'cwd' | 'stdinFile'> {
  const {command} = profile;
  if (!command) return {};
  return {command: {figure: command.figure}, ...(command.cwd ? {cwd: command.cwd} : {}), ...(command.stdin ? {stdinFile: command.stdin} : {})};
}

export interface TargetOptions {
  /** --threads, where the profile allows it. */
  threads?: number;
  /** Toggle and toolchain flags given on the command line. */
  overrides?: VariantOverrides;
  /** Run only these allocators (each must be in the profile). */
  only?: AllocatorName[];
  build?: BuildOptions;
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
  const isCommand = profile.kind === 'command';
  const commandPath = isCommand ? commandProgram(profile) : null;
  // Peers need a build too: the benchmark programs come out of the same csrc build (a command needs only hakmem's).
  const builds: {name: string; built: BuiltVariant}[] = [];
  for (const {name, request} of allocators.includes('hakmem') ? requests : isCommand ? [] : requests.slice(0, 1)) {
    builds.push({name, built: await buildVariant(request, options.build)});
  }

  const program = commandPath ?? benchmarkPath(builds[0]!.built, profile.benchmark.program);
  const targets: RunTarget[] = [];
  for (const name of allocators) {
    if (name !== 'hakmem') {
      targets.push({label: name, allocator: resolveAllocator(name), variant: null, program, args, env: profile.env, ...commandFields(profile)});
      continue;
    }

    for (const {name: variantName, built} of builds) {
      requireMallocOverride(built);
      targets.push({
        label: builds.length > 1 ? `hakmem:${variantName}` : 'hakmem',
        allocator: resolveAllocator('hakmem', {hakmemLibrary: built.library}),
        variant: built,
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
  const built = await buildVariant(chosen.request, options.build);
  if (name === 'hakmem') requireMallocOverride(built);
  const several = profile.variants.length > 1;
  return {
    label: name === 'hakmem' ? (several ? `hakmem:${chosen.name}` : 'hakmem') : name,
    allocator: peer ?? resolveAllocator('hakmem', {hakmemLibrary: built.library}),
    variant: name === 'hakmem' ? built : null,
    program: profile.kind === 'command' ? commandProgram(profile) : benchmarkPath(built, profile.benchmark.program),
    args: benchmarkArgs(profile, {threads: options.threads}),
    env: {...profile.env, ...options.env},
    ...commandFields(profile),
    variantName: chosen.name,
    built,
  };
}
