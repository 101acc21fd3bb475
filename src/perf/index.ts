/**
 * hak perf: where a profile's run spends its time, attributed to owners (hakmem by tier, glibc's
 * allocator, the benchmark, the kernel), from perf samples or, with `instructions`, from exact
 * callgrind instruction counts of the measured region.
 *
 *   const result = await profileRun({profile, top: 15});
 *   result.categories['glibc malloc']     // share of samples in glibc's malloc internals
 *   if (result.mode === 'instructions') result.instructionsPerOp
 *
 * Each run is saved under `<results>/perf/<UTC time>-<profile>-<allocator or variant>/`:
 * result.json (the returned data) beside the raw material, perf.data and perf-report.txt
 * (perf-stat.txt where hardware counters exist, stacks.folded and flamegraph.svg when a flame
 * graph is drawn), or callgrind.out and callgrind-annotate.txt. The directory appears whole
 * or not at all (result-dir.ts).
 *
 * The measurers are measure-samples.ts, measure-instructions.ts and measure-cache.ts; the second
 * run of --diff and --base, and the runs of --steps, are compare.ts's.
 */
import {existsSync} from 'node:fs';
import {dirname, resolve} from 'node:path';

import type {AllocatorName} from '../allocators.js';
import type {Revision, RevisionInfo} from '../build/revision.js';
import {UsageError} from '../errors.js';
import type {Features} from '../features.js';
import type {SingleRunOptions} from '../run/index.js';
import type {CacheGeometry, CachePerOp} from './cache.js';
import {baseSide, diffSide, profileDiff, profileSteps} from './compare.js';
import {type CategoryComparison, type FunctionComparison, parseDiffTarget} from './diff.js';
import {type Measure, runSide} from './measure.js';
import {measureCache} from './measure-cache.js';
import {measureInstructions} from './measure-instructions.js';
import {measureSamples} from './measure-samples.js';
import type {Category, Hotspot} from './owners.js';
import type {HardwareFigures} from './stat.js';
import {requirePerf, requireValgrind} from './tools.js';

export {DEFAULT_TOP} from './measure.js';

export interface PerfOptions extends SingleRunOptions {
  top?: number;
  /** Count instructions with callgrind (the profile's short arguments) instead of sampling. */
  instructions?: boolean;
  /** Simulate the caches and branch predictor (the profile's short arguments) instead of sampling. */
  cache?: boolean;
  /** With cache: simulate this machine's caches (valgrind's default) instead of FIXED_CACHE_GEOMETRY. */
  hostCaches?: boolean;
  /** Write a flame graph of the samples to this file. */
  flamegraph?: string;
  /** A second run to compare with (parseDiffTarget's syntax). */
  diff?: string;
  /** With cache or instructions: every hakmem variant of the profile in turn (a sweep such as phases). */
  steps?: boolean;
  /** hakmem built from this revision as the second run (--base REF): what a change did, function by function. */
  base?: Revision;
}

export interface PerfHotspot extends Hotspot {
  /** With --instructions: instructions per operation in this function itself. */
  instructionsPerOp?: number;
  /** With --cache: the function's own simulated figures per operation. */
  cachePerOp?: CachePerOp;
}

/** What every run has, whichever way it was measured. */
export interface PerfRunBase {
  profile: string;
  /** What ran: `hakmem`, `mimalloc`, `hakmem:no-wrap-tiny`, `hakmem@3f2a9c0`, ... */
  label: string;
  /** The sources hakmem was built from, for a run of another revision (--base). */
  revision?: RevisionInfo;
  allocator: AllocatorName;
  /** The hakmem build (the build whose benchmark programs ran, for another allocator). */
  variant: string;
  features: Features;
  command: string;
  ops: number;
  /** Length of the measured region. */
  seconds: number;
  /** The sampled event, `instructions` (callgrind) or `cache simulation`. */
  event: string;
  /** The header's account of the event: "cpu-clock (software; hardware counters are not supported here)". */
  eventDescription: string;
  /** Per category, its share: of samples, of instructions, or with --cache of D1 misses. */
  categories: Partial<Record<Category, number>>;
  hotspots: PerfHotspot[];
  /** How hakmem's code was split into tiers. */
  attribution: string;
  warnings: string[];
  resultDir: string;
  /** The files saved in resultDir, by role. */
  files: Record<string, string>;
}

/** perf stat's figures where hardware counters exist, or why there are none. */
interface HardwareFields {
  /** perf stat figures per operation where hardware counters exist; null elsewhere. */
  hardware: HardwareFigures | null;
  /** Why there are no hardware figures, and what to use instead. */
  hardwareNote: string | null;
}

/** Sampled with perf record (the default). */
export interface SamplesRun extends PerfRunBase, HardwareFields {
  mode: 'samples';
  frequency: number;
  callGraph: string;
  samples: number;
  lostSamples: number;
  /** The flame graph written where --flamegraph asked. */
  flamegraph: string | null;
}

/** Counted with callgrind (--instructions): instructions in the measured region (bench_loop*), and per operation. */
export interface InstructionsRun extends PerfRunBase {
  mode: 'instructions';
  instructions: number;
  instructionsPerOp: number;
  categoryInstructionsPerOp: Partial<Record<Category, number>>;
}

/** Simulated by valgrind (--cache): figures per operation of the measured region, per category, and the simulated geometry. */
export interface CacheRun extends PerfRunBase, HardwareFields {
  mode: 'cache';
  instructions: number;
  instructionsPerOp: number;
  cachePerOp: CachePerOp;
  categoryCachePerOp: Partial<Record<Category, CachePerOp>>;
  cacheGeometry: CacheGeometry | null;
}

/** One run; `mode` says which way it was measured, and which fields it has. */
export type PerfRun = SamplesRun | InstructionsRun | CacheRun;
export type PerfMode = PerfRun['mode'];

/** What profileRun returns: the run asked for, with --diff, --base or --steps the others. */
export type PerfResult = PerfRun & {
  /**
   * The second run (--diff, --base) and the differences: per category, and with --instructions
   * or --cache per function (this run's figure per operation against the second's, largest
   * change first).
   */
  diff?: {against: PerfRun; categories: CategoryComparison[]; functions: FunctionComparison[]};
  /** With `steps`: one run per variant of the profile, in its order (the first is this run). */
  steps?: PerfStep[];
};

export interface PerfStep {
  /** The profile's name for the variant. */
  name: string;
  /** What the design notes expected of the step, where the profile says. */
  expected: string | null;
  run: PerfRun;
}

/** Profiles the run the options describe (and, with `diff` or `base`, a second one to compare with). */
export async function profileRun(options: PerfOptions): Promise<PerfResult> {
  const time = new Date();
  const diffTarget = options.diff === undefined ? null : parseDiffTarget(options.diff, options.profile);
  if (options.flamegraph !== undefined && !existsSync(dirname(resolve(options.flamegraph)))) {
    throw new UsageError(`--flamegraph ${options.flamegraph}: the directory ${dirname(options.flamegraph)} does not exist.`);
  }

  // The tools are checked before anything is built.
  let measure: Measure;
  if (options.cache) {
    const valgrind = requireValgrind();
    measure = (run) => measureCache(valgrind, run);
  } else if (options.instructions) {
    const valgrind = requireValgrind();
    measure = (run) => measureInstructions(valgrind, run);
  } else {
    const perf = requirePerf();
    measure = (run) => measureSamples(perf, run);
  }

  if (options.steps) return profileSteps(options, time, measure);
  const second = options.base ? baseSide(options.base) : diffTarget ? diffSide(diffTarget, options) : null;
  return second ? profileDiff(options, second, time, measure) : runSide(options, {suffix: null}, time, measure);
}
