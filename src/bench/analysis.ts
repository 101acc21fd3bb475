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
import {type Outlier, summarize} from '../statistics/describe.js';
import {type ComparisonVerdict, compareSamples} from '../statistics/ratio.js';
import {servedStatus} from './evidence.js';
import type {BenchRecord, FailureRecord, TargetRecord} from './record.js';

export type TargetStatus = 'ok' | 'invalid' | 'failed';

export interface TargetResult {
  label: string;
  allocator: AllocatorName;
  /** The hakmem variant's name in the profile and its build id; null for peers. */
  variant: string | null;
  variantId: string | null;
  status: TargetStatus;
  /** hakmem: every measured run proven served by hakmem (true) or not (false); peers: null. */
  verified: boolean | null;
  servedBy: string | null;
  /** Why the result is invalid or failed; null when it is ok. */
  cause: string | null;
  /** Median operations per second, and the rest of the summary; null without samples. */
  median: number | null;
  ci95: [number, number] | null;
  /** The real coverage of ci95 (below 0.95 with fewer than 6 runs). */
  ciCoverage: number | null;
  min: number | null;
  max: number | null;
  mean: number | null;
  stddev: number | null;
  /** Operations per second of each measured run, in run order. */
  runs: number[];
  outliers: Outlier[];
  /** The largest peak RSS of the measured runs. */
  peakRssKb: number | null;
  checksum: string | null;
  /** Ratio to the baseline's median with its interval and verdict; null when not comparable. */
  vsBaseline: ComparisonVerdict | null;
  failure: FailureRecord | null;
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
  const run = failure.warmup ? `warm-up run ${failure.runIndex + 1} of ${warmup}` : `run ${failure.runIndex - warmup + 1} of ${runs}`;
  return `${run}: ${failure.message.replace(/^\S+ under \S+ \(run \d+\) /, '')}`;
}

function resultOf(record: BenchRecord, target: TargetRecord, reference: string | null): TargetResult {
  const samples = target.runs.map((run) => run.opsPerSec);
  const summary = samples.length > 0 ? summarize(samples) : null;
  const served = servedStatus(target);
  const checksum = checksumProblem(target, reference);
  let status: TargetStatus = 'ok';
  let cause: string | null = null;
  if (target.failure) {
    status = 'failed';
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
    checksum: target.runs[0]?.checksum ?? null,
    vsBaseline: null,
    failure: target.failure,
  };
}

/** Ratio of two ok results' medians with its interval and verdict; null unless both are ok. */
export function compareResults(candidate: TargetResult | undefined, reference: TargetResult | undefined, noise: number): ComparisonVerdict | null {
  if (candidate?.status !== 'ok' || reference?.status !== 'ok') return null;
  return compareSamples(candidate.runs, reference.runs, noise);
}

function sweepSteps(record: BenchRecord, results: TargetResult[], noise: number): SweepStep[] {
  const variants = results.filter((result) => result.allocator === 'hakmem' && result.variant !== null);
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
    if (result.label !== baseline) result.vsBaseline = compareResults(result, base, noise);
  }

  return {baseline, noise, results, steps: sweepSteps(record, results, noise), warnings};
}
