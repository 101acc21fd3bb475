/**
 * From a bench record's raw samples to what is reported: per target the median and its interval,
 * spread, outliers and peak RSS; whether the result is valid (the allocator really served it,
 * it did the same work as the others, it did not fail); its ratio to the baseline with a
 * verdict; and for a sweep of hakmem variants, each step's gain and the cumulative gain.
 *
 * An invalid or failed result keeps its raw figures here (for --json and the saved file) but is
 * never compared: no ratio, no verdict, and tables print INVALID or FAILED instead of numbers.
 */
import type {AllocatorName} from '../allocators.js';
import {type RevisionInfo, WORK_TREE} from '../build/revision.js';
import {median as medianOf, type Outlier, summarize} from '../statistics/describe.js';
import {type ComparisonVerdict, compareSamples, type RatioEstimate, ratioOfMedians, verdictOf} from '../statistics/ratio.js';
import {servedStatus} from './evidence.js';
import {LATENCY_KEYS, type LatencyKey} from '../run/server-clients.js';
import {type MixedAllocators, mixedWarning, systemLabel} from '../verify/linked.js';
import type {BenchRecord, FailureRecord, RunSample, TargetRecord} from './record.js';

export type TargetStatus = 'ok' | 'invalid' | 'failed';

/** Peak RSS against the baseline: the ratio of medians of per-run peaks, its interval and a verdict. */
export interface MemoryVerdict extends RatioEstimate {
  verdict: 'lower' | 'higher' | 'within noise';
}

export interface TargetResult {
  label: string;
  allocator: AllocatorName;
  /** The hakmem variant's name in the profile and its build id; null for peers. */
  variant: string | null;
  variantId: string | null;
  /** A peer's library: its path and sha256 (absent in older records); null for hakmem and glibc. */
  library: {path: string; sha256: string | null} | null;
  /** The sources a hakmem target was built from (--base, bisect); null where one checkout served. */
  revision: RevisionInfo | null;
  status: TargetStatus;
  /** hakmem: every measured run proven served by hakmem (true) or not (false); peers: null. */
  verified: boolean | null;
  servedBy: string | null;
  /** Why the result is invalid or failed; null when it is ok. */
  cause: string | null;
  /** How to read median: `ops/s` (benchmarks) or a command's unit (`s` of wall time by default). */
  unit: string;
  /** Whether a higher or a lower median is better. */
  better: 'higher' | 'lower';
  /** Median of the figure (operations per second, or the command's), and the rest of the summary; null without samples. */
  median: number | null;
  ci95: [number, number] | null;
  /** The real coverage of ci95 (below 0.95 with fewer than 6 runs). */
  ciCoverage: number | null;
  min: number | null;
  max: number | null;
  mean: number | null;
  stddev: number | null;
  /** The figure of each measured run, in run order. */
  runs: number[];
  outliers: Outlier[];
  /** The largest peak RSS of the measured runs (a command's: of its whole process tree). */
  peakRssKb: number | null;
  /** Median over the runs of the time-weighted mean RSS of the process tree. */
  meanRssKb: number | null;
  /** The RSS of the process tree over the median run: [ms, kB], every 10 ms and at exit. */
  rssTimeline: [number, number][];
  /** Medians over the runs of the whole tree's user and system CPU seconds and minor page faults. */
  userSeconds: number | null;
  systemSeconds: number | null;
  minorFaults: number | null;
  checksum: string | null;
  /** A command: its stdout equals the first target's in every run (null: not checked, --no-check-output). */
  outputsMatch: boolean | null;
  /**
   * Ratio to the baseline's median with its interval and verdict; null when not comparable.
   * Always "times better": for a lower-is-better figure, the baseline's median over this one.
   */
  vsBaseline: ComparisonVerdict | null;
  /** Peak RSS over the baseline's (per-run peaks), with its interval: lower, higher or within noise. */
  rssVsBaseline: MemoryVerdict | null;
  failure: FailureRecord | null;
  /** A program that links an allocator itself, run with nothing preloaded: "system (jemalloc, linked by redis-server)"; null otherwise. */
  system: string | null;
  /** Another allocator's API the process binds beside the malloc measured; null when none. */
  mixed: MixedAllocators | null;
  /** A server profile: the clients' latency percentiles in ms, each with its median, interval and verdict (lower is better); null otherwise. */
  latency: Record<LatencyKey, LatencyFigure> | null;
  /** A server profile: median over the runs of the server's RSS after the load, idle. */
  idleRssKb: number | null;
}

export interface LatencyFigure {
  median: number;
  ci95: [number, number];
  runs: number[];
  /** Times better than the baseline's (its median over this one), with interval and verdict. */
  vsBaseline: ComparisonVerdict | null;
}

export interface SweepStep {
  label: string;
  variant: string;
  expected: string | null;
  status: TargetStatus;
  median: number | null;
  /** Gain over the previous step; null for the first step or when either is not ok. */
  step: ComparisonVerdict | null;
  /** Gain over the first step. */
  cumulative: ComparisonVerdict | null;
  /** Share of the first step's distance to mimalloc that this step has covered; null without mimalloc. */
  gapClosed: number | null;
}

export interface BenchAnalysis {
  baseline: string;
  noise: number;
  results: TargetResult[];
  /** Present when the record holds several hakmem variants (a sweep such as phases). */
  steps: SweepStep[];
  warnings: string[];
}

/** The checksum most targets agree on (glibc's on a tie): what "the same work" is. */
function referenceChecksum(targets: readonly TargetRecord[]): string | null {
  const counts = new Map<string, number>();
  for (const target of targets) {
    const checksum = target.runs[0]?.checksum ?? target.warmups[0]?.checksum;
    if (checksum !== undefined) counts.set(checksum, (counts.get(checksum) ?? 0) + 1);
  }

  const most = Math.max(0, ...counts.values());
  const leaders = [...counts].filter(([, count]) => count === most).map(([checksum]) => checksum);
  if (leaders.length <= 1) return leaders[0] ?? null;
  const glibc = targets.find((target) => target.allocator === 'glibc')?.runs[0]?.checksum;
  return glibc !== undefined && leaders.includes(glibc) ? glibc : leaders[0]!;
}

function checksumProblem(target: TargetRecord, reference: string | null): string | null {
  const own = new Set([...target.warmups, ...target.runs].map((run) => run.checksum));
  if (own.size > 1) return `its runs did different work: checksums ${[...own].join(', ')}`;
  const [checksum] = own;
  if (checksum !== undefined && reference !== null && checksum !== reference) {
    return `it did different work from the others: checksum ${checksum}, the others ${reference}`;
  }

  return null;
}

/** "run 3 of 5: crashed: killed by SIGSEGV." (the runner's message without its "<program> under <allocator> (run i)"). */
function failureCause(failure: FailureRecord, warmup: number, runs: number): string {
  if (failure.runIndex < 0) return `its first start (the loader's trace, before the runs): ${failure.message.replace(/^\S+ under \S+ \(run -?\d+\) /, '')}`;
  const run = failure.warmup ? `warm-up run ${failure.runIndex + 1} of ${warmup}` : `run ${failure.runIndex - warmup + 1} of ${runs}`;
  return `${run}: ${failure.message.replace(/^\S+ under \S+ \(run \d+\) /, '')}`;
}

/** The figure of a run: a command's, or a benchmark's operations per second. */
export function figureOf(run: RunSample): number {
  return run.figure ?? run.opsPerSec;
}

/** How a record's figures read: older records are benchmarks, ops/s, higher is better. */
export function recordUnits(record: BenchRecord): {unit: string; better: 'higher' | 'lower'} {
  return {unit: record.profile.unit ?? 'ops/s', better: record.profile.better ?? 'higher'};
}

/** The measured run whose figure is the median (the lower middle for an even count). */
function medianRun(runs: readonly RunSample[]): RunSample | undefined {
  const sorted = [...runs].sort((a, b) => figureOf(a) - figureOf(b));
  return sorted[(sorted.length - 1) >> 1];
}

function medianOrNull(values: (number | null | undefined)[]): number | null {
  const known = values.filter((value): value is number => typeof value === 'number');
  return known.length > 0 ? medianOf(known) : null;
}

/** A command's stdout against the first target's: equal in every run, or not. */
function outputProblem(target: TargetRecord, first: TargetRecord | undefined): string | null {
  const reference = first?.runs[0]?.checksum ?? first?.warmups[0]?.checksum;
  const own = [...target.warmups, ...target.runs].map((run) => run.checksum);
  if (reference === undefined || own.length === 0) return null;
  if (own.every((checksum) => checksum === reference)) return null;
  if (target === first) return 'its stdout differed from run to run (use --no-check-output where output legitimately varies)';
  return `its stdout differs from ${first!.label}'s (use --no-check-output where output legitimately varies)`;
}

function resultOf(record: BenchRecord, target: TargetRecord, reference: string | null): TargetResult {
  const samples = target.runs.map(figureOf);
  const summary = samples.length > 0 ? summarize(samples) : null;
  const served = servedStatus(target);
  const isCommand = record.profile.kind === 'command';
  const checkOutput = isCommand && record.profile.checkOutput !== false;
  const output = checkOutput ? outputProblem(target, record.targets.find((candidate) => !candidate.failure && candidate.runs.length > 0)) : null;
  const checksum = isCommand ? output : checksumProblem(target, reference);
  let status: TargetStatus = 'ok';
  let cause: string | null = null;
  if (target.failure) {
    // A server that did not start, died or answered wrong gave no measurement: INVALID, not a crash of the allocator's.
    status = target.failure.failure === 'server' ? 'invalid' : 'failed';
    cause = failureCause(target.failure, record.profile.warmup, record.profile.runs);
  } else if (served.cause !== null) {
    status = 'invalid';
    cause = served.cause;
  } else if (checksum !== null) {
    status = 'invalid';
    cause = checksum;
  }

  return {
    label: target.label,
    allocator: target.allocator,
    variant: target.variant?.name ?? null,
    variantId: target.variant?.id ?? null,
    library: target.library ? {path: target.library.realPath ?? target.library.path, sha256: target.library.sha256 ?? null} : null,
    revision: target.revision ?? null,
    ...recordUnits(record),
    status,
    verified: served.verified,
    servedBy: served.servedBy,
    cause,
    median: summary?.median ?? null,
    ci95: summary ? [summary.ci95.low, summary.ci95.high] : null,
    ciCoverage: summary?.ci95.coverage ?? null,
    min: summary?.min ?? null,
    max: summary?.max ?? null,
    mean: summary?.mean ?? null,
    stddev: summary?.stddev ?? null,
    runs: samples,
    outliers: summary?.outliers ?? [],
    peakRssKb: target.runs.length > 0 ? Math.max(...target.runs.map((run) => run.peakRssKb)) : null,
    meanRssKb: medianOrNull(target.runs.map((run) => run.meanRssKb)),
    rssTimeline: medianRun(target.runs)?.rssTimeline ?? [],
    userSeconds: medianOrNull(target.runs.map((run) => run.userSeconds)),
    systemSeconds: medianOrNull(target.runs.map((run) => run.systemSeconds)),
    minorFaults: medianOrNull(target.runs.map((run) => run.minorFaults)),
    checksum: target.runs[0]?.checksum ?? null,
    outputsMatch: checkOutput && target.runs.length > 0 ? output === null : null,
    vsBaseline: null,
    rssVsBaseline: null,
    failure: target.failure,
    system: target.linked ? systemLabel(target.linked) : null,
    mixed: target.mixed ?? null,
    latency: latencyFigures(target.runs),
    idleRssKb: medianOrNull(target.runs.map((run) => run.extra.idleRssKb as number | null | undefined)),
  };
}

/** A server's latency percentiles over the measured runs: median and its interval each; null for other profiles. */
function latencyFigures(runs: readonly RunSample[]): Record<LatencyKey, LatencyFigure> | null {
  const latencies = runs.map((run) => run.extra.latencyMs as Record<LatencyKey, number> | undefined);
  if (latencies.length === 0 || latencies.some((latency) => latency === undefined)) return null;
  const figure = (key: LatencyKey): LatencyFigure => {
    const values = latencies.map((latency) => latency![key]);
    const summary = summarize(values);
    return {median: summary.median, ci95: [summary.ci95.low, summary.ci95.high], runs: values, vsBaseline: null};
  };

  return Object.fromEntries(LATENCY_KEYS.map((key) => [key, figure(key)])) as Record<LatencyKey, LatencyFigure>;
}

/**
 * Ratio of two ok results' medians with its interval and verdict; null unless both are ok. The
 * ratio says how many times better the candidate is: for a lower-is-better figure (a command's
 * wall time) it is the reference's median over the candidate's.
 */
export function compareResults(candidate: TargetResult | undefined, reference: TargetResult | undefined, noise: number): ComparisonVerdict | null {
  if (candidate?.status !== 'ok' || reference?.status !== 'ok') return null;
  if (candidate.better === 'lower') return compareSamples(reference.runs, candidate.runs, noise);
  return compareSamples(candidate.runs, reference.runs, noise);
}

/** Per-run peak RSS of a target's measured runs. */
function peaks(record: BenchRecord, label: string): number[] {
  return record.targets.find((target) => target.label === label)?.runs.map((run) => run.peakRssKb) ?? [];
}

/** Peak RSS of two ok results: candidate over reference, its interval and lower, higher or within noise. */
export function compareMemory(record: BenchRecord, candidate: TargetResult, reference: TargetResult | undefined, noise: number): MemoryVerdict | null {
  if (candidate.status !== 'ok' || reference?.status !== 'ok') return null;
  const estimate = ratioOfMedians(peaks(record, candidate.label), peaks(record, reference.label));
  if (!estimate) return null;
  const speed = verdictOf(estimate, noise);
  return {...estimate, verdict: speed === 'faster' ? 'higher' : speed === 'slower' ? 'lower' : 'within noise'};
}

function sweepSteps(record: BenchRecord, results: TargetResult[], noise: number): SweepStep[] {
  // With revisions compared (--base), the sweep is the work tree's variants'.
  const variants = results.filter((result) => result.allocator === 'hakmem' && result.variant !== null && (result.revision === null || result.revision.ref === WORK_TREE));
  if (variants.length < 2) return [];
  const first = variants[0]!;
  const mimalloc = results.find((result) => result.allocator === 'mimalloc');
  return variants.map((result, index) => {
    const expected = record.targets.find((target) => target.label === result.label)?.variant?.expected ?? null;
    const closes =
      index > 0 && result.status === 'ok' && first.status === 'ok' && mimalloc?.status === 'ok' && mimalloc.median! !== first.median!
        ? (result.median! - first.median!) / (mimalloc.median! - first.median!)
        : null;
    return {
      label: result.label,
      variant: result.variant!,
      expected,
      status: result.status,
      median: result.median,
      step: index === 0 ? null : compareResults(result, variants[index - 1], noise),
      cumulative: index === 0 ? null : compareResults(result, first, noise),
      gapClosed: closes,
    };
  });
}

/** Two hakmem targets built from identical sources with identical settings: one library. */
function isSameBuild(a: TargetResult, b: TargetResult): boolean {
  return a.allocator === 'hakmem' && b.allocator === 'hakmem' && a.variantId !== null && a.variantId === b.variantId;
}

export function analyzeRecord(record: BenchRecord): BenchAnalysis {
  const {baseline, noise} = record.settings;
  const reference = referenceChecksum(record.targets);
  const results = record.targets.map((target) => resultOf(record, target, reference));
  const warnings = [...record.warnings];
  for (const result of results) {
    if (result.cause?.includes('did different work')) warnings.push(`CHECKSUM MISMATCH: ${result.label}: ${result.cause}; its numbers measure other work and are not compared.`);
  }

  const base = results.find((result) => result.label === baseline);
  if (base && base.status !== 'ok') warnings.push(`the baseline ${baseline} is ${base.status.toUpperCase()}: no ratios can be given.`);
  for (const result of results) {
    if (result.label === baseline) continue;
    result.vsBaseline = compareResults(result, base, noise);
    result.rssVsBaseline = compareMemory(record, result, base, noise);
    for (const key of LATENCY_KEYS) {
      const own = result.latency?.[key];
      const reference = base?.latency?.[key];
      // Lower latency is better: the baseline's over this one, times better.
      if (own && reference && result.status === 'ok' && base?.status === 'ok') own.vsBaseline = compareSamples(reference.runs, own.runs, noise);
    }

    if (base && isSameBuild(result, base)) {
      // The same library serves both (revisions whose csrc/ is identical): whatever the runs show is noise.
      if (result.vsBaseline) result.vsBaseline.verdict = 'within noise';
      if (result.rssVsBaseline) result.rssVsBaseline.verdict = 'within noise';
      warnings.push(`${result.label} and ${base.label} are the same build (${result.variantId}): their difference is noise, not a change, and is called within noise.`);
    }
  }

  for (const result of results) {
    if (result.mixed) warnings.push(mixedWarning(result.label, record.profile.program, result.mixed));
    if (result.status === 'invalid' && result.cause?.includes('stdout differ')) warnings.push(`OUTPUT MISMATCH: ${result.label}: ${result.cause}; not compared.`);
  }

  return {baseline, noise, results, steps: sweepSteps(record, results, noise), warnings};
}
