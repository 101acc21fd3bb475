/**
 * Describing one set of throughput samples: centre, spread, an interval for the median and the
 * samples that stand apart. Pure functions; `hak bench` and `hak compare` both use them, so the
 * same samples always give the same figures.
 *
 * The interval of the median is the distribution-free order-statistic interval: with n samples
 * sorted, [x(k), x(n-k+1)] covers the true median with probability 1 - 2·P(Binomial(n, ½) < k),
 * whatever the distribution of the samples. Benchmark timings are skewed (a run can only be
 * slowed down, never sped up, by interference), so an interval that assumes normality or a
 * bootstrap of the median (which collapses to a few sample values with five runs) would claim
 * more than the data show. With fewer than 6 samples no such interval reaches 95%: the widest,
 * min..max, is used and its real coverage (93.8% for 5 runs) is reported with it.
 */

export interface Interval {
  low: number;
  high: number;
}

export interface MedianInterval extends Interval {
  /** The probability that this interval holds the true median (at least the level asked for, when n allows). */
  coverage: number;
}

export interface Outlier {
  /** Index in the samples as given (measurement order). */
  index: number;
  value: number;
  side: 'low' | 'high';
  /** Beyond 1.5 (mild) or 3 (severe) interquartile ranges from the quartiles: Tukey's fences. */
  severity: 'mild' | 'severe';
}

export interface SampleSummary {
  n: number;
  median: number;
  min: number;
  max: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); 0 for a single sample. */
  stddev: number;
  ci95: MedianInterval;
  outliers: Outlier[];
}

function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

function requireSamples(values: readonly number[]): void {
  if (values.length === 0) throw new RangeError('no samples');
}

/** The p-quantile by linear interpolation between order statistics (Hyndman and Fan's type 7). */
export function quantile(values: readonly number[], p: number): number {
  requireSamples(values);
  const sorted = sortedCopy(values);
  return quantileOfSorted(sorted, p);
}

export function quantileOfSorted(sorted: readonly number[], p: number): number {
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, p));
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function mean(values: readonly number[]): number {
  requireSamples(values);
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

export function standardDeviation(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const centre = mean(values);
  const squares = values.reduce((sum, value) => sum + (value - centre) ** 2, 0);
  return Math.sqrt(squares / (values.length - 1));
}

/** P(X <= k) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(n: number, k: number): number {
  let term = 0.5 ** n; // P(X = 0)
  let sum = term;
  for (let i = 1; i <= k; i++) {
    term = (term * (n - i + 1)) / i;
    sum += term;
  }

  return sum;
}

/**
 * The narrowest symmetric order-statistic interval for the median whose coverage is at least
 * `confidence`; when no interval reaches it (n < 6 at 95%), min..max with its actual coverage.
 */
export function medianInterval(values: readonly number[], confidence = 0.95): MedianInterval {
  requireSamples(values);
  const sorted = sortedCopy(values);
  const n = sorted.length;
  const coverageOf = (k: number): number => 1 - 2 * binomialHalfCdf(n, k - 1);
  let k = 1;
  while (k + 1 <= n - k && coverageOf(k + 1) >= confidence) k++;
  return {low: sorted[k - 1]!, high: sorted[n - k]!, coverage: Math.max(0, coverageOf(k))};
}

/** Samples outside Tukey's fences; none with fewer than 4 samples, where quartiles say little. */
export function tukeyOutliers(values: readonly number[]): Outlier[] {
  if (values.length < 4) return [];
  const sorted = sortedCopy(values);
  const q1 = quantileOfSorted(sorted, 0.25);
  const q3 = quantileOfSorted(sorted, 0.75);
  const iqr = q3 - q1;
  const outliers: Outlier[] = [];
  for (const [index, value] of values.entries()) {
    const distance = value < q1 ? q1 - value : value > q3 ? value - q3 : 0;
    if (distance <= 1.5 * iqr || distance === 0) continue;
    outliers.push({index, value, side: value < q1 ? 'low' : 'high', severity: distance > 3 * iqr ? 'severe' : 'mild'});
  }

  return outliers;
}

export function summarize(values: readonly number[]): SampleSummary {
  requireSamples(values);
  const sorted = sortedCopy(values);
  return {
    n: values.length,
    median: quantileOfSorted(sorted, 0.5),
    min: sorted[0]!,
    max: sorted.at(-1)!,
    mean: mean(values),
    stddev: standardDeviation(values),
    ci95: medianInterval(values, 0.95),
    outliers: tukeyOutliers(values),
  };
}
