/**
 * hak perf: where a profile's run spends its time, attributed to owners (hakmem by tier, glibc's
 * allocator, the benchmark, the kernel), from perf samples or, with `instructions`, from exact
 * callgrind instruction counts of the measured region.
 *
 *   const result = await profileRun({profile, top: 15});
 *   result.categories['glibc malloc']     // share of samples in glibc's malloc internals
 *
 * Each run is saved under `<results>/perf/<UTC time>-<profile>-<allocator or variant>/`:
 * result.json (the returned data) beside the raw material, perf.data and perf-report.txt
 * (perf-stat.txt where hardware counters exist, stacks.folded and flamegraph.svg when a flame
 * graph is drawn), or callgrind.out and callgrind-annotate.txt. The directory appears whole
 * or not at all.
 */
import {existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs';
import {basename, dirname, extname, join, resolve} from 'node:path';

import type {AllocatorName} from '../allocators.js';
import type {Revision, RevisionInfo} from '../build/revision.js';
import {type StagingDir, stageDir} from '../atomic-dir.js';
import {NoSamplesError, UsageError} from '../errors.js';
import {execProgram, findOnPath} from '../exec.js';
import type {Features} from '../features.js';
import {resultsDir} from '../paths.js';
import {callgrindArgs, perfArgs, type VariantOverrides} from '../profiles/index.js';
import {type RunRecord, type RunRequest, type SingleRunOptions, type SingleTarget, resolveTarget, runBenchmark} from '../run/index.js';
import {isRoot} from '../system.js';
import {requestSizes, tiersForSizes} from '../verify/counters.js';
import {attributeCache, CACHE_OUT_FILE, type CacheGeometry, type CachePerOp, simulateCache} from './cache.js';
import {callgrindLauncher, callgrindSymbols, MEASURED_FUNCTIONS, parseCallgrind} from './callgrind.js';
import {compareCategories, compareFunctions, type CategoryComparison, type DiffTarget, type FunctionComparison, type FunctionFigure, parseDiffTarget} from './diff.js';
import {buildFlameTree, foldedStacks, parsePerfScript, renderFlameGraph, SCRIPT_ARGS} from './flamegraph.js';
import {type AttributionContext, attribute, attributionNote, type Category, glibcWarning, type Hotspot, hakmemSymbolFiles} from './owners.js';
import {recordSamples} from './record.js';
import {reportSymbols} from './report.js';
import {hardwareFigures, type HardwareFigures, hasHardwareCounts, parsePerfStat, statLauncher} from './stat.js';
import {chooseEvent, perfParanoid, probePerfEvents, requirePerf, requireValgrind} from './tools.js';

export const DEFAULT_TOP = 15;
/** Fewer samples than this make shares rough; the report says so. */
const FEW_SAMPLES = 200;

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

export interface PerfRun {
  profile: string;
  /** What ran: `hakmem`, `mimalloc`, `hakmem:no-wrap-tiny`, `hakmem@3f2a9c0`, ... */
  label: string;
  /** The sources hakmem was built from, for a run of another revision (--base). */
  revision?: RevisionInfo;
  allocator: AllocatorName;
  /** The hakmem build (the build whose benchmark programs ran, for another allocator). */
  variant: string;
  features: Features;
  mode: 'samples' | 'instructions' | 'cache';
  command: string;
  ops: number;
  /** Length of the measured region. */
  seconds: number;
  /** The sampled event, or `instructions` (callgrind). */
  event: string;
  /** The header's account of the event: "cpu-clock (software; hardware counters are not supported here)". */
  eventDescription: string;
  frequency: number | null;
  callGraph: string | null;
  samples: number | null;
  lostSamples: number | null;
  /** With --instructions: instructions in the measured region (bench_loop*), and per operation. */
  instructions: number | null;
  instructionsPerOp: number | null;
  /** Per category: share, and with --instructions instructions per operation. */
  categories: Partial<Record<Category, number>>;
  categoryInstructionsPerOp: Partial<Record<Category, number>> | null;
  /** With --cache: simulated figures per operation of the measured region, per category, and the simulated geometry. */
  cachePerOp: CachePerOp | null;
  categoryCachePerOp: Partial<Record<Category, CachePerOp>> | null;
  cacheGeometry: CacheGeometry | null;
  hotspots: PerfHotspot[];
  /** perf stat figures per operation where hardware counters exist (beside the simulated ones with --cache); null elsewhere. */
  hardware: HardwareFigures | null;
  /** Why there are no hardware figures, and what to use instead. */
  hardwareNote: string | null;
  /** How hakmem's code was split into tiers. */
  attribution: string;
  warnings: string[];
  resultDir: string;
  /** The files saved in resultDir, by role. */
  files: Record<string, string>;
  /** The flame graph written where --flamegraph asked. */
  flamegraph: string | null;
}

export interface PerfResult extends PerfRun {
  /**
   * The second run (--diff, --base) and the differences: per category, and with --instructions
   * or --cache per function (this run's figure per operation against the second's, largest
   * change first).
   */
  diff?: {against: PerfRun; categories: CategoryComparison[]; functions: FunctionComparison[]};
  /** With `steps`: one run per variant of the profile, in its order (the first is this run). */
  steps?: PerfStep[];
}

export interface PerfStep {
  /** The profile's name for the variant. */
  name: string;
  /** What the design notes expected of the step, where the profile says. */
  expected: string | null;
  run: PerfRun;
}

const NO_CACHE = {cachePerOp: null, categoryCachePerOp: null, cacheGeometry: null} as const;

/** One of the runs: the one asked for, or the other side of --diff. */
interface Side {
  /** Added to the flame graph's file name for the second run of --diff; null for the first. */
  suffix: string | null;
  label?: string;
  allocator?: AllocatorName;
  variant?: string;
  overrides?: VariantOverrides;
  /** hakmem built from another revision (--base). */
  sources?: Revision;
}


/** What measuring one run gives, before the fields every run has are added. */
type Measurement = Omit<PerfRun, 'profile' | 'label' | 'allocator' | 'variant' | 'features' | 'command' | 'ops' | 'seconds' | 'attribution' | 'resultDir'>;

interface Measured {
  run: RunRecord;
  context: AttributionContext;
  measurement: Measurement;
}

interface SideRun {
  options: PerfOptions;
  side: Side;
  target: SingleTarget;
  staging: StagingDir;
  progress: (text: string) => void;
}

/** `20250105T051337Z`: sortable, and safe in a file name. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll('-', '').replaceAll(':', '');
}

function stageResult(profile: string, target: SingleTarget, time: Date): StagingDir {
  const parent = join(resultsDir(), 'perf');
  const what = target.allocator.name === 'hakmem' ? target.built.variant : target.allocator.name;
  return stageDir(join(parent, `${timestamp(time)}-${profile}-${what}`), parent);
}

/** The staged name, or the name with -2, -3, ... when another run in the same second took it. */
function freeName(final: string): string {
  let name = final;
  for (let attempt = 2; existsSync(name); attempt++) name = `${final}-${attempt}`;
  return name;
}

function isPeer(name: AllocatorName): name is 'mimalloc' | 'jemalloc' | 'tcmalloc' {
  return name === 'mimalloc' || name === 'jemalloc' || name === 'tcmalloc';
}

async function attributionContext(target: SingleTarget, run: RunRecord): Promise<AttributionContext> {
  const sizes = requestSizes(run.result.bench, run.result.params);
  const hakmem = target.allocator.name === 'hakmem' ? target.allocator.preload : null;
  return {
    program: basename(target.program),
    tiers: sizes ? tiersForSizes(sizes.min, sizes.max) : [],
    ...(hakmem ? {hakmemFiles: await hakmemSymbolFiles(hakmem)} : {}),
    ...(isPeer(target.allocator.name) ? {peer: target.allocator.name} : {}),
  };
}

function runRequest(target: SingleTarget, args: string[], timeoutSeconds: number): RunRequest {
  return {
    program: target.program,
    args,
    allocator: target.allocator,
    env: target.env,
    timeoutSeconds,
    runIndex: 0,
    collectStats: target.allocator.name === 'hakmem',
    ...(target.command ? {command: target.command, cwd: target.cwd, stdinFile: target.stdinFile} : {}),
  };
}

/** Hardware counter figures per operation, from a separate run under perf stat. */
async function hardwareRun(perf: string, request: RunRequest, staging: StagingDir): Promise<HardwareFigures | null> {
  const file = join(staging.path, 'perf-stat.txt');
  const run = await runBenchmark({...request, collectStats: false, launcher: statLauncher(perf, file)});
  const counts = parsePerfStat(readFileSync(file, 'utf8'));
  return hasHardwareCounts(counts) ? hardwareFigures(counts, run.result.ops) : null;
}

interface FlameGraphRequest {
  perf: string;
  dataFile: string;
  output: string;
  title: string;
  subtitle: string;
  context: AttributionContext;
}

/** Draws the recorded call chains; saves the folded stacks and the SVG in the result, and the SVG at `output`. */
async function writeFlameGraph(request: FlameGraphRequest, staging: StagingDir): Promise<void> {
  const script = await execProgram(request.perf, ['script', '-i', request.dataFile, ...SCRIPT_ARGS], {timeoutMs: 600_000});
  const tree = buildFlameTree(parsePerfScript(script.stdout));
  writeFileSync(join(staging.path, 'stacks.folded'), foldedStacks(tree));
  const svg = renderFlameGraph(tree, {title: request.title, subtitle: request.subtitle, context: request.context});
  writeFileSync(join(staging.path, 'flamegraph.svg'), svg);
  // Written beside the target and renamed, so the target is never half an SVG.
  const temporary = `${request.output}.${process.pid}.tmp`;
  writeFileSync(temporary, svg);
  renameSync(temporary, request.output);
}

/** With --diff, the second run's flame graph goes to NAME-<label>.svg beside the first. */
function flameGraphFile(file: string, side: Side): string {
  if (side.suffix === null) return resolve(file);
  const suffix = side.suffix.replaceAll(/[^\w.-]+/g, '-');
  const extension = extname(file);
  return resolve(extension ? `${file.slice(0, -extension.length)}-${suffix}${extension}` : `${file}-${suffix}`);
}

async function measureSamples(perf: string, {options, side, target, staging, progress}: SideRun): Promise<Measured> {
  const {profile} = options;
  const support = await probePerfEvents(perf);
  const choice = chooseEvent(profile.perf.event, support);
  const settings = {event: choice.event, frequency: profile.perf.frequency, callGraph: profile.perf.callGraph};
  const request = runRequest(target, perfArgs(profile, {threads: options.threads}), profile.timeoutSeconds);
  progress(`${target.label}: recording ${profile.benchmark.program} with perf (${choice.event}, ${settings.frequency} Hz)`);
  const files: Record<string, string> = {perfData: 'perf.data', report: 'perf-report.txt', result: 'result.json'};
  const sampled = await recordSamples(request, perf, settings, {dataFile: join(staging.path, 'perf.data'), reportFile: join(staging.path, 'perf-report.txt')}, {minSamples: FEW_SAMPLES});
  const context = await attributionContext(target, sampled.run);
  const attribution = attribute(reportSymbols(sampled.report), context);

  let hardware: HardwareFigures | null = null;
  if (support.hardware) {
    progress(`${target.label}: counting hardware events with perf stat`);
    hardware = await hardwareRun(perf, request, staging);
    files.stat = 'perf-stat.txt';
  }

  const warnings: string[] = [];
  const glibc = target.allocator.name === 'hakmem' ? glibcWarning(attribution, `${choice.event} samples`, sampled.run.stats) : null;
  if (glibc) warnings.push(glibc);
  if (sampled.report.lostSamples > 0) warnings.push(`perf lost ${sampled.report.lostSamples} samples: the shares may be skewed.`);
  if (sampled.report.samples < FEW_SAMPLES) {
    warnings.push(`only ${sampled.report.samples} samples: shares are rough; raise perf.frequency or lengthen perf.args in the profile.`);
  }

  let flamegraph: string | null = null;
  if (options.flamegraph) {
    progress(`${target.label}: drawing the flame graph`);
    flamegraph = flameGraphFile(options.flamegraph, side);
    const subtitle = `${profile.benchmark.program} ${request.args.join(' ')} under ${target.label} (${target.built.variant}): ${sampled.report.samples} ${choice.event} samples`;
    await writeFlameGraph({perf, dataFile: sampled.dataFile, output: flamegraph, title: `hak perf ${profile.name}`, subtitle, context}, staging);
    files.flamegraph = 'flamegraph.svg';
    files.folded = 'stacks.folded';
  }

  const hardwareNote = support.hardware
    ? null
    : profile.kind === 'command'
      ? 'hardware counters are not supported here, so there are no instruction, IPC or cache figures'
      : `hardware counters are not supported here, so there are no per-operation instruction, IPC or cache figures: hak perf ${profile.name} --instructions counts instructions per operation exactly with callgrind`;
  return {
    run: sampled.run,
    context,
    measurement: {
      mode: 'samples',
      event: choice.event,
      eventDescription: choice.description,
      frequency: sampled.frequency,
      callGraph: settings.callGraph,
      samples: sampled.report.samples,
      lostSamples: sampled.report.lostSamples,
      instructions: null,
      instructionsPerOp: null,
      categories: attribution.categories,
      categoryInstructionsPerOp: null,
      ...NO_CACHE,
      hotspots: attribution.hotspots.slice(0, options.top ?? DEFAULT_TOP),
      hardware,
      hardwareNote,
      warnings,
      files,
      flamegraph,
    },
  };
}

/** callgrind_annotate's report of the profile, when the script is installed (it comes with valgrind). */
async function annotate(outFile: string): Promise<string | null> {
  const script = findOnPath('callgrind_annotate');
  if (!script) return null;
  const result = await execProgram(script, [outFile], {timeoutMs: 120_000});
  return result.exitCode === 0 ? result.stdout : null;
}

async function measureInstructions(valgrind: string, {options, target, staging, progress}: SideRun): Promise<Measured> {
  const {profile} = options;
  // callgrind runs the short arguments some fifty times slower than they run natively
  const request = runRequest(target, callgrindArgs(profile, {threads: options.threads}), profile.timeoutSeconds * 5);
  progress(`${target.label}: counting instructions with callgrind`);
  const files: Record<string, string> = {callgrind: 'callgrind.out', result: 'result.json'};
  const outFile = join(staging.path, 'callgrind.out');
  const run = await runBenchmark({...request, launcher: callgrindLauncher(valgrind, outFile)});
  const counted = parseCallgrind(readFileSync(outFile, 'utf8'));
  if (counted.instructions === 0) {
    throw new NoSamplesError(
      `callgrind counted no instructions in ${MEASURED_FUNCTIONS}: ${basename(target.program)} has no measured region by that name.`,
      {event: 'instructions', frequency: 0, command: run.command},
      'The benchmark programs of csrc/bench run their measured work in functions named bench_loop*.',
    );
  }

  const annotated = await annotate(outFile);
  if (annotated !== null) {
    writeFileSync(join(staging.path, 'callgrind-annotate.txt'), annotated);
    files.report = 'callgrind-annotate.txt';
  }

  const context = await attributionContext(target, run);
  const attribution = attribute(callgrindSymbols(counted), context);
  const perOp = (instructions: number): number => instructions / run.result.ops;
  const warnings: string[] = [];
  const glibc = target.allocator.name === 'hakmem' ? glibcWarning(attribution, 'instructions', run.stats) : null;
  if (glibc) warnings.push(glibc);
  const categoryInstructionsPerOp = Object.fromEntries(
    Object.entries(attribution.categories).map(([category, share]) => [category, perOp((share ?? 0) * counted.instructions)]),
  ) as Partial<Record<Category, number>>;
  return {
    run,
    context,
    measurement: {
      mode: 'instructions',
      event: 'instructions',
      eventDescription: `instructions counted by callgrind in ${MEASURED_FUNCTIONS} (the measured region: start-up and teardown excluded)`,
      frequency: null,
      callGraph: null,
      samples: null,
      lostSamples: null,
      instructions: counted.instructions,
      instructionsPerOp: perOp(counted.instructions),
      categories: attribution.categories,
      categoryInstructionsPerOp,
      ...NO_CACHE,
      hotspots: attribution.hotspots.slice(0, options.top ?? DEFAULT_TOP).map((hotspot) => ({...hotspot, instructionsPerOp: perOp(hotspot.weight)})),
      hardware: null,
      hardwareNote: null,
      warnings,
      files,
      flamegraph: null,
    },
  };
}

/** Whether perf can count hardware events here; never an error, since --cache only adds them where it can. */
async function hardwareSupport(): Promise<{perf: string; hardware: boolean} | {perf: null; why: string}> {
  const perf = findOnPath('perf');
  if (!perf) return {perf: null, why: 'perf is not installed'};
  const paranoid = perfParanoid();
  if (!isRoot() && paranoid !== null && paranoid > 2) return {perf: null, why: `perf_event_paranoid is ${paranoid}`};
  return {perf, hardware: (await probePerfEvents(perf)).hardware};
}

async function measureCache(valgrind: string, {options, target, staging, progress}: SideRun): Promise<Measured> {
  const {profile} = options;
  // the simulator runs the short arguments a hundred times slower than they run natively
  const request = runRequest(target, callgrindArgs(profile, {threads: options.threads}), profile.timeoutSeconds * 10);
  progress(`${target.label}: simulating caches and branches with valgrind`);
  const files: Record<string, string> = {callgrind: CACHE_OUT_FILE, result: 'result.json'};
  const simulation = await simulateCache(valgrind, request, staging.path, options.hostCaches ? 'host' : 'fixed');
  const {run, profile: counted} = simulation;
  const context = await attributionContext(target, run);
  // a command's figures are counts for its whole run: one "operation"
  const ops = target.command ? 1 : run.result.ops;
  const split = attributeCache(counted, context, ops);
  const warnings: string[] = [];
  const glibc = target.allocator.name === 'hakmem' ? glibcWarning(attribute(callgrindSymbols(counted), context), 'instructions', run.stats) : null;
  if (glibc) warnings.push(glibc);

  let hardware: HardwareFigures | null = null;
  let hardwareNote: string | null = null;
  const support = await hardwareSupport();
  if (support.perf !== null && support.hardware) {
    progress(`${target.label}: counting hardware cache and branch misses with perf stat`);
    hardware = await hardwareRun(support.perf, request, staging);
    files.stat = 'perf-stat.txt';
  } else {
    const why = support.perf === null ? support.why : 'hardware counters are not supported here';
    hardwareNote = `${why}: no perf stat figures beside the simulated ones`;
  }

  const stated = simulation.geometry?.description ?? 'geometry not stated in the output';
  const geometry = options.hostCaches ? `this machine's caches: ${stated}` : `fixed geometry: ${stated}`;
  return {
    run,
    context,
    measurement: {
      mode: 'cache',
      event: 'cache simulation',
      eventDescription: target.command
        ? `simulated by valgrind's cache and branch simulator (${geometry}) over the whole started process, counts per run (its child processes are not simulated)`
        : `simulated by valgrind's cache and branch simulator (${geometry}) in ${MEASURED_FUNCTIONS}, the measured region`,
      frequency: null,
      callGraph: null,
      samples: null,
      lostSamples: null,
      instructions: counted.instructions,
      instructionsPerOp: simulation.perOp.instructions,
      categories: split.shares,
      categoryInstructionsPerOp: null,
      cachePerOp: simulation.perOp,
      categoryCachePerOp: split.categories,
      cacheGeometry: simulation.geometry,
      hotspots: split.hotspots.slice(0, options.top ?? DEFAULT_TOP),
      hardware,
      hardwareNote,
      warnings,
      files,
      flamegraph: null,
    },
  };
}

type Measure = (run: SideRun) => Promise<Measured>;

/** Builds what one side needs, measures it into a staged result directory, and publishes it. */
async function runSide(options: PerfOptions, side: Side, time: Date, measure: Measure): Promise<PerfRun> {
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
    const {run, context, measurement} = await measure({options, side, target, staging, progress});
    const resultDir = freeName(staging.final);
    const result: PerfRun = {
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
      ...measurement,
    };
    writeFileSync(join(staging.path, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    renameSync(staging.path, resultDir);
    staging.discard();
    return result;
  } catch (error) {
    staging.discard();
    throw error;
  }
}

function diffSide(target: DiffTarget, options: PerfOptions): Side {
  switch (target.kind) {
    case 'allocator': {
      return {suffix: target.allocator, label: target.allocator, allocator: target.allocator};
    }

    case 'variant': {
      return {suffix: target.variant, label: `hakmem:${target.variant}`, allocator: 'hakmem', variant: target.variant};
    }

    default: {
      const features = {...options.overrides?.features, ...target.toggles};
      return {suffix: target.text, label: `hakmem:${target.text}`, allocator: 'hakmem', overrides: {...options.overrides, features}};
    }
  }
}

/** hakmem from another revision, with the run's own toggles. */
function baseSide(base: Revision): Side {
  return {suffix: base.tag, label: `hakmem@${base.tag}`, allocator: 'hakmem', sources: base};
}

/** The per-operation figure functions are compared by: instructions, or with --cache D1 misses; none for samples. */
function exactFigure(mode: PerfRun['mode']): FunctionFigure | null {
  if (mode === 'instructions') return {name: 'instructions', of: (hotspot: PerfHotspot) => hotspot.instructionsPerOp ?? 0};
  if (mode === 'cache') return {name: 'd1Misses', of: (hotspot: PerfHotspot) => hotspot.cachePerOp?.d1Misses ?? 0};
  return null;
}

/** Each variant of a sweep profile in turn, so that each step's effect on the exact figures shows. */
async function profileSteps(options: PerfOptions, time: Date, measure: Measure): Promise<PerfResult> {
  const {profile} = options;
  if (!options.cache && !options.instructions) {
    throw new UsageError('--steps compares exact figures: add --cache or --instructions.');
  }

  if (profile.variants.length < 2) {
    throw new UsageError(`--steps: profile ${profile.name} names one hakmem variant; a sweep profile (phases) names several.`);
  }

  const steps: PerfStep[] = [];
  for (const variant of profile.variants) {
    const side: Side = {suffix: variant.name, label: `hakmem:${variant.name}`, allocator: 'hakmem', variant: variant.name};
    steps.push({name: variant.name, expected: variant.expected, run: await runSide(options, side, time, measure)});
  }

  return {...steps[0]!.run, steps};
}

/** Profiles the run the options describe (and, with `diff`, a second one to compare with). */
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
  if (!second) return runSide(options, {suffix: null}, time, measure);
  // Every function is kept for the comparison; the hotspot lists are cut to --top after it.
  const everything = {...options, top: Number.MAX_SAFE_INTEGER};
  const primary = await runSide(everything, {suffix: null}, time, measure);
  const against = await runSide(everything, second, time, measure);
  const top = (run: PerfRun): PerfRun => ({...run, hotspots: run.hotspots.slice(0, options.top ?? DEFAULT_TOP)});
  return {
    ...top(primary),
    diff: {
      against: top(against),
      categories: compareCategories(primary.categories, against.categories),
      functions: compareFunctions(primary.hotspots, against.hotspots, exactFigure(primary.mode)),
    },
  };
}
