/**
 * One run of hak perf, whichever way it is measured: the target is built, a result directory
 * staged, the measurer (measure-samples.ts, measure-instructions.ts, measure-cache.ts) runs it
 * and gives its mode's figures, and the fields every run has are added before the result is
 * published. Also what the measurers share: the run request, the attribution context and a
 * perf stat run for hardware figures.
 */
import {readFileSync} from 'node:fs';
import {basename, join} from 'node:path';

import type {AllocatorName} from '../allocators.js';
import type {StagingDir} from '../atomic-dir.js';
import type {Revision} from '../build/revision.js';
import type {VariantOverrides} from '../profiles/index.js';
import {type RunRecord, type RunRequest, type SingleTarget, resolveTarget, runBenchmark} from '../run/index.js';
import {requestSizes, tiersForSizes} from '../verify/counters.js';
import type {PerfOptions, PerfRun, PerfRunBase} from './index.js';
import {type Attribution, type AttributionContext, attributionNote, glibcWarning, hakmemSymbolFiles} from './owners.js';
import {publishResult, stageResult} from './result-dir.js';
import {hardwareFigures, type HardwareFigures, hasHardwareCounts, parsePerfStat, statLauncher} from './stat.js';

export const DEFAULT_TOP = 15;

/** One of the runs: the one asked for, or the other side of --diff. */
export interface Side {
  /** Added to the flame graph's file name for the second run of --diff; null for the first. */
  suffix: string | null;
  label?: string;
  allocator?: AllocatorName;
  variant?: string;
  overrides?: VariantOverrides;
  /** hakmem built from another revision (--base). */
  sources?: Revision;
}

/** The fields every run has, which runSide adds to what the measurer gives. */
type RunFields = Exclude<keyof PerfRunBase, 'event' | 'eventDescription' | 'categories' | 'hotspots' | 'warnings' | 'files'>;

/** Omit over each member of a union, so that the result is still a union on `mode`. */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What measuring one run gives: its mode's fields, with every hotspot (runSide keeps --top of them). */
export type Measurement = OmitEach<PerfRun, RunFields>;

export interface Measured {
  run: RunRecord;
  context: AttributionContext;
  /** The attribution the glibc warning is judged on, and what its weights count. */
  glibc: {attribution: Attribution; unit: string};
  measurement: Measurement;
}

/** What a measurer is given. */
export interface SideRun {
  options: PerfOptions;
  side: Side;
  target: SingleTarget;
  staging: StagingDir;
  progress: (text: string) => void;
}

export type Measure = (run: SideRun) => Promise<Measured>;

function isPeer(name: AllocatorName): name is 'mimalloc' | 'jemalloc' | 'tcmalloc' {
  return name === 'mimalloc' || name === 'jemalloc' || name === 'tcmalloc';
}

export async function attributionContext(target: SingleTarget, run: RunRecord): Promise<AttributionContext> {
  const sizes = requestSizes(run.result.bench, run.result.params);
  const hakmem = target.allocator.name === 'hakmem' ? target.allocator.preload : null;
  return {
    program: basename(target.program),
    tiers: sizes ? tiersForSizes(sizes.min, sizes.max) : [],
    ...(hakmem ? {hakmemFiles: await hakmemSymbolFiles(hakmem)} : {}),
    ...(isPeer(target.allocator.name) ? {peer: target.allocator.name} : {}),
  };
}

export function runRequest(target: SingleTarget, args: string[], timeoutSeconds: number): RunRequest {
  return {
    program: target.program,
    args,
    allocator: target.allocator,
    env: target.env,
    timeoutSeconds,
    runIndex: 0,
    collectStats: target.allocator.name === 'hakmem',
    ...(target.command ? {command: target.command, cwd: target.cwd, stdinFile: target.stdinFile} : {}),
    ...(target.addressSpaceKib === undefined ? {} : {addressSpaceKib: target.addressSpaceKib}),
  };
}

/** Hardware counter figures per operation, from a separate run under perf stat (saved as perf-stat.txt). */
export async function hardwareRun(perf: string, request: RunRequest, staging: StagingDir): Promise<HardwareFigures | null> {
  const file = join(staging.path, 'perf-stat.txt');
  const run = await runBenchmark({...request, collectStats: false, launcher: statLauncher(perf, file)});
  const counts = parsePerfStat(readFileSync(file, 'utf8'));
  return hasHardwareCounts(counts) ? hardwareFigures(counts, run.result.ops) : null;
}

/** Builds what one side needs, measures it into a staged result directory, and publishes it. */
export async function runSide(options: PerfOptions, side: Side, time: Date, measure: Measure): Promise<PerfRun> {
  const {profile} = options;
  const progress = options.onProgress ?? (() => {});
  const target = await resolveTarget(profile, {
    variant: side.variant ?? options.variant,
    overrides: side.overrides ?? options.overrides,
    allocator: side.allocator ?? options.allocator,
    sources: side.sources ?? options.sources,
    env: options.env,
    threads: options.threads,
    build: {onProgress: progress},
  });
  const staging = stageResult(profile.name, target, time);
  try {
    const {run, context, glibc, measurement} = await measure({options, side, target, staging, progress});
    // glibc's allocator doing a hakmem run's work is worth a warning in every mode, before the mode's own
    const warning = target.allocator.name === 'hakmem' ? glibcWarning(glibc.attribution, glibc.unit, run.stats) : null;
    const measured: Measurement = {
      ...measurement,
      hotspots: measurement.hotspots.slice(0, options.top ?? DEFAULT_TOP),
      warnings: warning ? [warning, ...measurement.warnings] : measurement.warnings,
    };
    return publishResult(staging, (resultDir): PerfRun => ({
      profile: profile.name,
      label: side.label ?? target.label,
      ...(target.revision ? {revision: target.revision} : {}),
      allocator: target.allocator.name,
      variant: target.built.variant,
      features: target.built.features,
      command: run.command,
      ops: run.result.ops,
      seconds: run.result.seconds,
      attribution: attributionNote(context, requestSizes(run.result.bench, run.result.params)),
      resultDir,
      ...measured,
    }));
  } catch (error) {
    staging.discard();
    throw error;
  }
}
