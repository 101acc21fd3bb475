/**
 * Running a profile's benchmark under every allocator it compares, interleaved round by round,
 * and recording what each run reported and who served it.
 *
 *   const record = await runBench(profile, {runs: 5, onProgress: (text) => spinner.update(text)});
 *
 * A run that crashes, exits non-zero or times out ends its target (its later runs are skipped:
 * a crash is rarely a one-off, and a hang would cost the timeout every round); the failure is
 * recorded with the run, the signal or exit code and the end of stderr, and the other targets
 * go on. The record says `complete: false` then.
 */
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';

import {type AllocatorName, isPeerInstalled, peerAllocator, peerLibraryPath, resolveAllocator} from '../allocators.js';
import {type BuildManifest, MANIFEST_FILE} from '../build/index.js';
import {gitState} from '../build/git.js';
import type {Revision} from '../build/revision.js';
import {RunError, UsageError} from '../errors.js';
import {PROJECT_ROOT} from '../paths.js';
import {callgrindArgs, type Profile, profileFigure, type VariantOverrides, resolveThreads} from '../profiles/index.js';
import {commandLine, type RunRecord, type RunTarget, resolveTargets, runBenchmark, shellHakmemVariables} from '../run/index.js';
import {DEFAULT_NOISE} from '../statistics/ratio.js';
import {runServer} from '../run/server.js';
import {type BindingWitness, traceMallocBinding, traceServerBinding} from '../verify/binding.js';
import {linkedAllocator, mixedAllocators} from '../verify/linked.js';
import {judgeHakmemRun} from './evidence.js';
import {machineInfo, peerLibraryInfo} from './machine.js';
import {type BenchRecord, type FailureRecord, RECORD_FORMAT, type RunSample, type TargetRecord, type VariantInfo} from './record.js';
import {interleavedSchedule, type ScheduledRun} from './schedule.js';

export interface BenchOptions {
  /** --threads, where the profile allows it. */
  threads?: number;
  runs?: number;
  warmup?: number;
  /** The allocators to compare instead of the profile's list. */
  allocators?: AllocatorName[];
  /** Skip peers whose library is not installed (with a warning) instead of failing. */
  allowMissing?: boolean;
  overrides?: VariantOverrides;
  /** The label (or allocator name) the others are compared with; the first revision's, else mimalloc when present. */
  baseline?: string;
  /**
   * hakmem built from each of these revisions (--base: the base, then the work tree), in place
   * of the checkout alone. Peers then run only when `allocators` names them.
   */
  revisions?: Revision[];
  noise?: number;
  onProgress?: (text: string) => void;
}

export async function runBench(profile: Profile, options: BenchOptions = {}): Promise<BenchRecord> {
  const createdAt = new Date().toISOString();
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const warnings: string[] = [];
  const threads = resolveThreads(profile, options.threads);
  const requested = options.allocators ?? (options.revisions ? ['hakmem' as const] : profile.allocators);
  const allocators = usableAllocators(requested, Boolean(options.allowMissing), warnings);
  if (options.revisions && !allocators.includes('hakmem')) throw new UsageError('comparing revisions needs hakmem among the allocators (--allocators hakmem,...).');
  const targets = await resolveTargets({...profile, allocators}, {threads, overrides: options.overrides, revisions: options.revisions, build: {onProgress: progress}});
  const firstRevision = options.revisions ? targets.find((target) => target.revision)?.label : undefined;
  const baseline = chooseBaseline(targets.map((target) => target.label), options.baseline, warnings, firstRevision);
  const runs = options.runs ?? profile.runs;
  const warmup = options.warmup ?? profile.warmup;

  const records: TargetRecord[] = [];
  for (const target of targets) {
    progress(`${target.label}: tracing which library serves malloc`);
    records.push(await tracedRecord(profile, target, callgrindArgs(profile, {threads})));
  }

  for (const slot of interleavedSchedule(targets.length, warmup, runs)) {
    const target = targets[slot.target]!;
    const record = records[slot.target]!;
    if (record.failure) continue;
    progress(`${target.label} ${slot.warmup ? 'warm-up' : 'run'} ${slot.ordinal}/${slot.warmup ? warmup : runs}`);
    try {
      const request = {...target, timeoutSeconds: profile.timeoutSeconds, runIndex: slot.runIndex, collectStats: target.allocator.name === 'hakmem'};
      const run = target.server ? await runServer({...request, server: target.server}) : await runBenchmark(request);
      (slot.warmup ? record.warmups : record.runs).push(sampleOf(run, slot, target, record.binding));
    } catch (error) {
      if (!(error instanceof RunError)) throw error;
      record.failure = failureOf(error, slot, commandLine(target));
    }
  }

  const [first] = targets;
  return {
    format: RECORD_FORMAT,
    kind: 'bench',
    id: '',
    createdAt,
    complete: records.every((record) => record.failure === null),
    wallSeconds: Math.round(performance.now() - started) / 1000,
    profile: {
      name: profile.name,
      file: profile.file,
      description: profile.description,
      kind: profile.kind,
      ...profileFigure(profile),
      ...(profile.kind === 'command' ? {checkOutput: profile.command.checkOutput} : {}),
      shellEnv: shellHakmemVariables(),
      program: profile.benchmark.program,
      args: first?.args ?? [],
      threads,
      env: profile.env,
      runs,
      warmup,
      timeoutSeconds: profile.timeoutSeconds,
    },
    settings: {baseline, noise: options.noise ?? DEFAULT_NOISE},
    machine: machineInfo(),
    compiler: first ? programManifest(first.program)?.toolchain.compilerVersion ?? 'unknown' : 'unknown',
    source: await gitState(PROJECT_ROOT),
    targets: records,
    warnings,
  };
}

/** The allocators to run: peers that are not installed fail (MissingLibraryError) or, allowed, are dropped. */
function usableAllocators(requested: readonly AllocatorName[], allowMissing: boolean, warnings: string[]): AllocatorName[] {
  const usable: AllocatorName[] = [];
  for (const name of requested) {
    if (name === 'hakmem' || name === 'glibc' || isPeerInstalled(name)) {
      usable.push(name);
    } else if (allowMissing) {
      warnings.push(`${name} skipped: ${peerLibraryPath(name)} is missing (Debian package ${peerAllocator(name).debianPackage}).`);
    } else {
      resolveAllocator(name); // raises MissingLibraryError naming the package
    }
  }

  if (usable.length === 0) throw new UsageError('no allocator left to run: every one requested is missing.');
  return usable;
}

/**
 * The target the others are compared with: the one asked for (a label such as `hakmem:baseline`,
 * or an allocator with a single target), else mimalloc, else glibc, else the first.
 */
export function chooseBaseline(labels: readonly string[], requested: string | undefined, warnings: string[], preferred?: string): string {
  if (requested !== undefined) {
    if (labels.includes(requested)) return requested;
    const matching = labels.filter((label) => label.split(':')[0] === requested);
    if (matching.length === 1) return matching[0]!;
    const why = matching.length > 1 ? `it names ${matching.length} targets` : 'it is not among the targets';
    throw new UsageError(`--baseline ${requested}: ${why}.`, {hint: `Choose one of: ${labels.join(', ')}.`});
  }

  if (preferred !== undefined && labels.includes(preferred)) return preferred;

  for (const preferred of ['mimalloc', 'glibc']) {
    if (labels.includes(preferred)) {
      if (preferred !== 'mimalloc') warnings.push(`mimalloc is not among the targets: ratios are to ${preferred}.`);
      return preferred;
    }
  }

  warnings.push(`neither mimalloc nor glibc is among the targets: ratios are to ${labels[0]}.`);
  return labels[0]!;
}

function readManifest(file: string): BuildManifest | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BuildManifest;
  } catch {
    return null;
  }
}

/** The manifest of the build a benchmark program belongs to (<variant>/bench/<program>). */
function programManifest(program: string): BuildManifest | null {
  return readManifest(join(dirname(dirname(program)), MANIFEST_FILE));
}

/**
 * The target's record with the loader's word on who serves it (a server: started and stopped once
 * with the binding log on; one that does not start fails its target here), what a program
 * served with nothing preloaded links itself, and another allocator's API bound beside malloc.
 */
async function tracedRecord(profile: Profile, target: RunTarget, shortArgs: string[]): Promise<TargetRecord> {
  const {timeoutSeconds} = profile;
  let binding: BindingWitness | null = null;
  let failure: FailureRecord | null = null;
  try {
    binding = target.server
      ? await traceServerBinding({...target, server: target.server, timeoutSeconds, runIndex: 0})
      : await traceMallocBinding({...target, args: shortArgs, timeoutSeconds});
  } catch (error) {
    if (!(error instanceof RunError)) throw error;
    failure = failureOf(error, {round: -1, runIndex: -1, warmup: true, target: 0, ordinal: 0}, commandLine(target)); // -1: before the runs
  }

  const linked = profile.kind === 'benchmark' ? null : linkedAllocator(target.program);
  const mixed = binding ? mixedAllocators(binding.allocatorApi ?? [], binding.mallocLibrary) : null;
  return {
    ...(await targetRecord(profile, target, binding)),
    ...(linked && target.allocator.name === 'glibc' ? {linked} : {}),
    ...(mixed ? {mixed} : {}),
    failure,
  };
}

async function targetRecord(profile: Profile, target: RunTarget, binding: BindingWitness | null): Promise<TargetRecord> {
  const name = target.allocator.name;
  return {
    label: target.label,
    allocator: name,
    preload: target.allocator.preload,
    library: name === 'hakmem' || name === 'glibc' ? null : await peerLibraryInfo(name),
    variant: variantInfo(profile, target),
    ...(target.revision ? {revision: target.revision} : {}),
    command: commandLine(target),
    binding,
    warmups: [],
    runs: [],
    failure: null,
  };
}

function variantInfo(profile: Profile, target: RunTarget): VariantInfo | null {
  const built = target.variant;
  if (!built) return null;
  const name = target.label.includes(':') ? target.label.slice(target.label.indexOf(':') + 1) : (profile.variants[0]?.name ?? 'default');
  const manifest = readManifest(built.manifest);
  return {
    name,
    id: built.variant,
    features: built.features,
    toolchain: built.toolchain,
    compilerVersion: built.compilerVersion,
    library: built.library,
    sourcesHash: manifest?.sources.hash ?? null,
    git: manifest?.git ?? null,
    expected: profile.variants.find((variant) => variant.name === name)?.expected ?? null,
  };
}

function sampleOf(run: RunRecord, slot: ScheduledRun, target: RunTarget, binding: BindingWitness | null): RunSample {
  const {result, usage, memory} = run;
  const evidence = target.allocator.name === 'hakmem' ? judgeHakmemRun(run, binding) : {counters: null, served: null};
  return {
    round: slot.round,
    runIndex: slot.runIndex,
    opsPerSec: result.opsPerSec,
    ops: result.ops,
    seconds: result.seconds,
    peakRssKb: result.peakRssKb,
    ...(result.figure === undefined ? {} : {figure: result.figure}),
    userSeconds: usage?.userSeconds ?? null,
    systemSeconds: usage?.systemSeconds ?? null,
    minorFaults: usage?.minorFaults ?? null,
    rssTimeline: memory.rssTimeline,
    meanRssKb: memory.meanRssKb,
    checksum: result.checksum,
    params: result.params,
    wallSeconds: Math.round(run.wallSeconds * 1000) / 1000,
    extra: result.extra,
    ...evidence,
  };
}

function failureOf(error: RunError, slot: ScheduledRun, command: string): FailureRecord {
  const {facts} = error;
  return {
    message: error.message.split('\n')[0]!,
    failure: facts.failure,
    runIndex: slot.runIndex,
    round: slot.round,
    warmup: slot.warmup,
    ...(facts.exitCode === undefined ? {} : {exitCode: facts.exitCode}),
    ...(facts.signal === undefined ? {} : {signal: facts.signal}),
    ...(facts.timeoutSeconds === undefined ? {} : {timeoutSeconds: facts.timeoutSeconds}),
    stderrTail: facts.stderrTail,
    command,
  };
}
