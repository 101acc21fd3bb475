/**
 * hak verify: proof of who served a profile's allocations, from witnesses that do not depend on
 * each other, judged by judgeServed (the verdict hak bench gives every hakmem result).
 *
 * 1. hakmem's counters. A stats-0 build keeps only slow-path counters: the requests it handed
 *    to glibc are exact, but what the tiny pool served is bounded only by the blocks its refills
 *    supplied. So for a stats-0 variant verify also builds its stats-1 twin (the same toggles,
 *    compiler and sources; only the counters differ) and judges by its exact per-tier counts,
 *    and by the variant's own slow-path counters: both must pass. --no-stats-twin judges by
 *    the slow-path counters alone.
 * 2. The dynamic loader: which library the program's own malloc and free were bound to.
 * 3. perf samples of the variant's run, grouped by library and symbol: glibc's malloc internals
 *    taking the time mean glibc served. Skipped, and said so, where perf is missing or not
 *    permitted.
 *
 * The loader and the twin run the profile's short (callgrind) arguments; the sampled run uses
 * its perf arguments (a few tenths of a second), sampled at VERIFY_FREQUENCY without call graphs.
 */
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {type AllocatorName, resolveAllocator} from '../allocators.js';
import {type BuildOptions, buildVariant} from '../build/index.js';
import {HakError, MissingToolError, NoSamplesError, PerfNotPermittedError, RunError, UsageError, VerdictError} from '../errors.js';
import type {Features} from '../features.js';
import {attribute, type Category, type Hotspot, hakmemSymbolFiles} from '../perf/owners.js';
import {recordSamples} from '../perf/record.js';
import {reportSymbols} from '../perf/report.js';
import {chooseEvent, probePerfEvents, requirePerf} from '../perf/tools.js';
import {callgrindArgs, perfArgs, type Profile} from '../profiles/index.js';
import {commandFields, commandLine, type RunRecord, type RunRequest, type SingleRunOptions, type SingleTarget, resolveTarget, runBenchmark, shellHakmemVariables} from '../run/index.js';
import {type BindingWitness, traceMallocBinding} from './binding.js';
import {type CounterWitness, counterWitness, requestSizes, type Tier, tiersForSizes} from './counters.js';
import {judgeServed, type SamplesWitness, type ServedVerdict} from './judge.js';
import {samplesWitness} from './samples.js';
import {linkedAllocator, type MixedAllocators, mixedWarning, systemLabel} from './linked.js';
import {verifyServer} from './server.js';
import {isStaticExecutable, type ProcessVerdict, verifyTree} from './tree.js';

export type {ProcessVerdict} from './tree.js';

/** Samples per second of verify's sampled run: a few thousand samples in a few tenths of a second. */
export const VERIFY_FREQUENCY = 4999;
export const HOTSPOTS_SHOWN = 5;
/** Fewer samples than this and a run is sampled again, faster: the count follows the run's length, not the machine's speed. */
const MIN_SAMPLES = 400;

export interface VerifyOptions extends SingleRunOptions {
  /** Build a stats-1 twin of a stats-0 variant for exact counts (default true). */
  statsTwin?: boolean;
  /** Take the perf sample witness (default true); false skips it. */
  samples?: boolean;
  build?: BuildOptions;
  /** A command that runs until stopped (a server): SIGTERM to its tree after this many seconds, then judged. */
  durationSeconds?: number;
}

export interface CounterEvidence extends CounterWitness {
  /** Whose counters: the tested build's, or its stats-1 twin's. */
  build: 'tested' | 'twin';
  /** Which counters these are, in words. */
  source: string;
  /** The build that wrote them (null for another allocator). */
  variant: string | null;
  command: string;
}

export interface BindingEvidence extends BindingWitness {
  command: string;
}

export type SamplesEvidence =
  | (SamplesWitness & {status: 'sampled'; frequency: number; command: string; hotspots: Hotspot[]; categories: Partial<Record<Category, number>>})
  | {status: 'skipped'; reason: string};

export interface VerifyReport {
  profile: string;
  /** `benchmark` (a csrc/bench program), `command` (any command line, judged process by process) or `server` (a server profile's server, loaded by its clients). */
  kind: 'benchmark' | 'command' | 'server';
  /** The command line, for a command. */
  command: string[] | null;
  /** The profile's name for the variant, and its build. */
  variantName: string;
  variant: string;
  features: Features;
  allocator: AllocatorName;
  /** With nothing preloaded into a program that links an allocator itself, what serves it: "system (jemalloc, linked by redis-server)"; else null. */
  system: string | null;
  env: Record<string, string>;
  /** HAKMEM_* variables of your shell that reached the runs (beside `env`, the profile's and --env's). */
  shellEnv: Record<string, string>;
  verdict: ServedVerdict['verdict'];
  servedBy: ServedVerdict['servedBy'];
  cause: string | null;
  sizes: {min: number; max: number} | null;
  tiers: Tier[];
  witnesses: {
    /** The counters the verdict rests on: the twin's exact ones, or the variant's own. */
    counters: CounterEvidence;
    /** The tested variant's own slow-path counters, when `counters` came from its twin. */
    variantCounters: CounterEvidence | null;
    binding: BindingEvidence;
    samples: SamplesEvidence;
  };
  /** A command: every process of its tree with its own witnesses and verdict; empty for a benchmark. */
  processes: ProcessVerdict[];
  /** The started process, served by hakmem, also binds another allocator's own API (mallctl, mi_*...); else null. */
  mixed: MixedAllocators | null;
  /** MIXED ALLOCATORS warnings, one per program served by hakmem that binds another allocator's API. */
  warnings: string[];
  seconds: number;
}

export function counterEvidence(witness: CounterWitness, build: CounterEvidence['build'], variant: string | null, command: string): CounterEvidence {
  let source: string;
  if (!witness.loaded) source = 'none: no stats file was written';
  else if (build === 'twin') source = `exact per-tier counts of the stats-1 twin ${variant}`;
  else if (witness.exact) source = `exact per-tier counts (stats ${witness.statsLevel})`;
  else source = 'slow-path counters (stats 0): hand-offs to glibc exact, served at most what refills supplied';
  return {...witness, build, source, variant, command};
}

interface SampledCounters {
  samples: SamplesEvidence;
  run: RunRecord;
  request: RunRequest;
}

/** Why the sample witness could not be taken, in one line with what fixes it. */
export function skipReason(error: HakError): string {
  if (error instanceof MissingToolError) return `${error.tool} is not installed (${error.fix})`;
  return `${error.message}${error.hint ? ` ${error.hint}` : ''}`;
}

/** The variant's run under perf (its counters and the sample witness), or without perf when it cannot sample. */
async function sampledRun(request: RunRequest, profile: Profile, options: VerifyOptions, shortArgs: string[]): Promise<SampledCounters> {
  let skipped = options.samples === false ? 'not asked for (--no-samples)' : null;
  let perf: string | null = null;
  if (skipped === null) {
    try {
      perf = requirePerf();
    } catch (error) {
      if (!(error instanceof HakError)) throw error;
      skipped = skipReason(error);
    }
  }

  if (perf) {
    const dir = mkdtempSync(join(tmpdir(), 'hak-verify-'));
    try {
      const choice = chooseEvent(profile.perf.event, await probePerfEvents(perf));
      const sampledRequest = {...request, args: perfArgs(profile, {threads: options.threads})};
      const settings = {event: choice.event, frequency: VERIFY_FREQUENCY, callGraph: 'none' as const};
      options.onProgress?.(`sampling ${profile.benchmark.program} with perf (${choice.event})`);
      const sampled = await recordSamples(sampledRequest, perf, settings, {dataFile: join(dir, 'perf.data')}, {minSamples: MIN_SAMPLES});
      const witness = samplesWitness(sampled.report);
      const tiers = tiersOf(sampled.run);
      const files = request.allocator.name === 'hakmem' && request.allocator.preload ? await hakmemSymbolFiles(request.allocator.preload) : undefined;
      const attribution = attribute(reportSymbols(sampled.report), {program: profile.benchmark.program, tiers: tiers.tiers, hakmemFiles: files});
      return {
        samples: {
          ...witness,
          status: 'sampled',
          frequency: sampled.frequency,
          command: sampled.run.command,
          hotspots: attribution.hotspots.slice(0, HOTSPOTS_SHOWN),
          categories: attribution.categories,
        },
        run: sampled.run,
        request: sampledRequest,
      };
    } catch (error) {
      // perf refusing, or a run too short to sample, is no reason to give up the other witnesses.
      if (!(error instanceof NoSamplesError || error instanceof PerfNotPermittedError)) throw error;
      skipped = skipReason(error);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  }

  const shortRequest = {...request, args: shortArgs};
  const run = await runBenchmark({...shortRequest, collectStats: true});
  return {samples: {status: 'skipped', reason: skipped ?? 'perf recorded nothing'}, run, request: shortRequest};
}

function tiersOf(run: RunRecord): {sizes: {min: number; max: number} | null; tiers: Tier[]} {
  const sizes = requestSizes(run.result.bench, run.result.params);
  return {sizes, tiers: sizes ? tiersForSizes(sizes.min, sizes.max) : []};
}

/** What serves a program run with nothing preloaded, when it links an allocator itself. */
export function systemOf(target: SingleTarget): string | null {
  const linked = target.allocator.preload === null && target.program.includes('/') ? linkedAllocator(target.program) : null;
  return linked ? systemLabel(linked) : null;
}

export async function verifyProfile(options: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now();
  const {profile} = options;
  const progress = options.onProgress ?? (() => {});
  const target = await resolveTarget(profile, {
    variant: options.variant,
    overrides: options.overrides,
    allocator: options.allocator,
    env: options.env,
    threads: options.threads,
    build: {...options.build, onProgress: progress},
  });
  if (options.durationSeconds !== undefined && profile.kind !== 'command') throw new UsageError('--duration applies to a command given after --.', {hint: 'A server profile stops its server itself, after its clients.'});
  if (profile.kind === 'command') return verifyCommand(options, target, started);
  if (profile.kind === 'server') {
    try {
      return await verifyServer(options, target, started);
    } catch (error) {
      // A server that does not start, dies or answers wrong: no verdict on who served it.
      if (!(error instanceof RunError && error.facts.failure === 'server')) throw error;
      throw new VerdictError(`${profile.name}: INVALID: ${error.message}`, {...error.facts}, 'Start the server by hand with the same command line to see why (its log\'s last lines are above).');
    }
  }

  const shortArgs = callgrindArgs(profile, {threads: options.threads});
  const timeoutSeconds = profile.timeoutSeconds;
  const base: RunRequest = {program: target.program, args: shortArgs, allocator: target.allocator, env: target.env, timeoutSeconds, runIndex: 0};

  progress('tracing the loader\'s malloc binding');
  const binding = await traceMallocBinding(base);
  const sampled = await sampledRun({...base, collectStats: true}, profile, options, shortArgs);
  const {sizes, tiers} = tiersOf(sampled.run);

  const isHakmem = target.allocator.name === 'hakmem';
  const useTwin = isHakmem && target.built.features.stats === 0 && options.statsTwin !== false;
  const variantEvidence = counterEvidence(counterWitness(sampled.run.stats), 'tested', isHakmem ? target.built.variant : null, commandLine(sampled.request));
  let counters = variantEvidence;
  let variantCounters: CounterEvidence | null = null;
  if (useTwin) {
    progress('building the stats-1 twin for exact counters');
    const twin = await buildVariant({features: {...target.built.features, stats: 1}, toolchain: target.built.toolchain}, {...options.build, onProgress: progress});
    const twinRequest = {...base, allocator: resolveAllocator('hakmem', {hakmemLibrary: twin.library})};
    progress('counting with the stats-1 twin');
    const twinRun = await runBenchmark({...twinRequest, collectStats: true});
    counters = counterEvidence(counterWitness(twinRun.stats), 'twin', twin.variant, commandLine(twinRequest));
    variantCounters = variantEvidence;
  }

  const samples = sampled.samples.status === 'sampled' ? sampled.samples : null;
  const judge = (witness: CounterWitness): ServedVerdict => judgeServed({counters: witness, binding, samples, tiers, sizes});
  let verdict = judge(counters);
  if (verdict.verdict === 'pass' && variantCounters) verdict = judge(variantCounters);

  return {
    ...reportHeader(profile, target),
    verdict: verdict.verdict,
    servedBy: verdict.servedBy,
    cause: verdict.cause,
    sizes,
    tiers,
    witnesses: {counters, variantCounters, binding: {...binding, command: commandLine(base)}, samples: sampled.samples},
    processes: [],
    mixed: null,
    warnings: [],
    seconds: (performance.now() - started) / 1000,
  };
}

/** What a report says of what ran: the profile or command, the build, the allocator and the environment. */
export function reportHeader(profile: Profile, target: SingleTarget): Pick<VerifyReport, 'profile' | 'kind' | 'command' | 'variantName' | 'variant' | 'features' | 'allocator' | 'system' | 'env' | 'shellEnv'> {
  return {
    profile: profile.name,
    kind: profile.kind,
    command: profile.kind !== 'benchmark' ? [profile.benchmark.program, ...profile.benchmark.args] : null,
    variantName: target.variantName,
    variant: target.built.variant,
    features: target.built.features,
    allocator: target.allocator.name,
    system: profile.kind === 'benchmark' ? null : systemOf(target),
    env: target.env,
    shellEnv: shellHakmemVariables(),
  };
}

/** The one run of the target a command or server profile asks for (a server's `server` and `cwd` among its fields). */
export function targetRequest(profile: Profile, target: SingleTarget): RunRequest {
  return {program: target.program, args: target.args, allocator: target.allocator, env: target.env, timeoutSeconds: profile.timeoutSeconds, runIndex: 0, ...commandFields(profile)};
}

/** A command's tree judged process by process; the started process's witnesses fill the report's table. */
async function verifyCommand(options: VerifyOptions, target: SingleTarget, started: number): Promise<VerifyReport> {
  const {profile} = options;
  const request: RunRequest = {...targetRequest(profile, target), ...(options.durationSeconds === undefined ? {} : {stopAfterSeconds: options.durationSeconds})};
  if (options.durationSeconds !== undefined && options.durationSeconds >= profile.timeoutSeconds) {
    throw new UsageError(`--duration ${options.durationSeconds} is not below the timeout (${profile.timeoutSeconds} s).`, {hint: 'Raise --timeout, or stop the command sooner.'});
  }

  const tree = await verifyTree(request, profile, {samples: options.samples !== false, onProgress: options.onProgress ?? (() => {})});
  const root = tree.root!;
  const isHakmem = target.allocator.name === 'hakmem';
  const command = commandLine(request);
  const counters = counterEvidence(root.counters, 'tested', isHakmem ? target.built.variant : null, command);
  const binding: BindingEvidence = {...(root.binding ?? {mallocLibrary: null, freeLibrary: null, allocator: null, noDynamicLoader: root.exe !== null && isStaticExecutable(root.exe)}), command};
  const samples: SamplesEvidence = root.samples
    ? {...root.samples, status: 'sampled', frequency: tree.samplesFrequency ?? VERIFY_FREQUENCY, command: tree.samplesCommand ?? command}
    : {status: 'skipped', reason: tree.samplesSkipped ?? `perf took no samples of ${root.program}`};
  return {
    ...reportHeader(profile, target),
    verdict: tree.verdict,
    servedBy: tree.servedBy,
    cause: tree.cause,
    sizes: null,
    tiers: root.tiers,
    witnesses: {counters, variantCounters: null, binding, samples},
    processes: tree.processes,
    mixed: root.mixed ?? tree.processes.find((process) => process.mixed)?.mixed ?? null,
    warnings: [...new Map(tree.processes.filter((process) => process.mixed).map((process) => [process.program, mixedWarning(target.allocator.name, process.program, process.mixed!)])).values()],
    seconds: (performance.now() - started) / 1000,
  };
}
