/**
 * How one allocator's throughput compares with another's: the ratio of their medians, a 95%
 * interval for it, and a verdict that only calls a difference real when the whole interval lies
 * beyond a noise band.
 *
 * The interval comes from a percentile bootstrap: both sample sets are resampled with
 * replacement, independently, and the ratio of the resampled medians is taken, many times. It
 * needs no assumption about the shape of the timings and works for a ratio, where a difference
 * of means would not. The random numbers come from a fixed-seed generator, so the same samples
 * always give the same interval: `hak compare` on saved results repeats `hak bench`'s verdicts
 * exactly. With 5 runs a side the interval is wide, honestly so; more runs narrow it. With fewer
 * than 3 runs a side there is no interval at all (resampling one or two values says nothing
 * about the spread), and so no verdict but "within noise".
 */
import {median, quantileOfSorted} from './describe.js';

export const DEFAULT_RESAMPLES = 10_000;
/** Differences inside ±2% are not called: run-to-run drift on a shared machine is of that order. */
export const DEFAULT_NOISE = 0.02;
const SEED = 0x4841_4b31; // "HAK1"

/** Runs a side needs before the ratio gets an interval. */
export const MIN_RUNS_FOR_INTERVAL = 3;

export type Verdict = 'faster' | 'slower' | 'within noise';

export interface RatioEstimate {
  /** median(candidate) / median(reference): above 1, the candidate does more operations per second. */
  ratio: number;
  /** The interval; null with fewer than MIN_RUNS_FOR_INTERVAL runs on a side. */
  low: number | null;
  high: number | null;
}

export interface ComparisonVerdict extends RatioEstimate {
  verdict: Verdict;
}

/** A small seeded generator (32-bit state, a splitmix-style output mix): uniform floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e37_79b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0_aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a_2d97);
    z ^= z >>> 15;
    return (z >>> 0) / 2 ** 32;
  };
}

function resampledMedian(values: readonly number[], random: () => number, scratch: number[]): number {
  const n = values.length;
  for (let i = 0; i < n; i++) scratch[i] = values[Math.floor(random() * n)]!;
  scratch.sort((a, b) => a - b);
  const middle = n >> 1;
  return n % 2 === 1 ? scratch[middle]! : (scratch[middle - 1]! + scratch[middle]!) / 2;
}

/**
 * The ratio of medians candidate / reference with its percentile-bootstrap interval; null when
 * a side has no samples or a median of zero.
 */
export function ratioOfMedians(
  candidate: readonly number[],
  reference: readonly number[],
  options: {confidence?: number; resamples?: number; seed?: number} = {},
): RatioEstimate | null {
  if (candidate.length === 0 || reference.length === 0) return null;
  const denominator = median(reference);
  if (!(denominator > 0)) return null;
  const ratio = median(candidate) / denominator;
  if (Math.min(candidate.length, reference.length) < MIN_RUNS_FOR_INTERVAL) return {ratio, low: null, high: null};
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const random = seededRandom(options.seed ?? SEED);
  const scratchA = new Array<number>(candidate.length);
  const scratchB = new Array<number>(reference.length);
  const ratios: number[] = [];
  for (let i = 0; i < resamples; i++) {
    const bottom = resampledMedian(reference, random, scratchB);
    if (bottom > 0) ratios.push(resampledMedian(candidate, random, scratchA) / bottom);
  }

  if (ratios.length === 0) return null;
  ratios.sort((a, b) => a - b);
  const tail = (1 - (options.confidence ?? 0.95)) / 2;
  return {ratio, low: quantileOfSorted(ratios, tail), high: quantileOfSorted(ratios, 1 - tail)};
}

/**
 * Faster or slower only when the whole interval clears the noise band around 1 (noise 0.02:
 * below 0.98 or above 1.02); anything else, including an interval too wide to tell or none at
 * all, is within noise.
 */
export function verdictOf(interval: Pick<RatioEstimate, 'low' | 'high'>, noise = DEFAULT_NOISE): Verdict {
  if (interval.low !== null && interval.low > 1 + noise) return 'faster';
  if (interval.high !== null && interval.high < 1 - noise) return 'slower';
  return 'within noise';
}

/** ratioOfMedians and its verdict in one step; null when no ratio can be formed. */
export function compareSamples(
  candidate: readonly number[],
  reference: readonly number[],
  noise = DEFAULT_NOISE,
): ComparisonVerdict | null {
  const estimate = ratioOfMedians(candidate, reference);
  return estimate ? {...estimate, verdict: verdictOf(estimate, noise)} : null;
}
