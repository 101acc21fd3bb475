/** The statistics behind bench and compare, against values worked out by hand. */
import {describe, expect, it} from 'vitest';

import {mean, median, medianInterval, quantile, standardDeviation, summarize, tukeyOutliers} from '../src/statistics/describe.js';
import {compareSamples, ratioOfMedians, seededRandom, verdictOf} from '../src/statistics/ratio.js';

describe('describing samples', () => {
  it('computes median, quantiles, mean and sample standard deviation', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5, 6], 0.25)).toBe(2.25);
    expect(quantile([1, 2, 3, 4, 5, 6], 0.75)).toBe(4.75);
    expect(mean([2, 4, 4, 4, 5, 5, 7, 9])).toBe(5);
    // population deviation 2, sample deviation sqrt(32/7)
    expect(standardDeviation([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(standardDeviation([7])).toBe(0);
    expect(() => median([])).toThrow(RangeError);
  });

  it('gives the order-statistic interval of the median with its exact coverage', () => {
    // n = 5: no interval reaches 95%; min..max covers 1 - 2/32
    expect(medianInterval([50, 10, 40, 20, 30])).toEqual({low: 10, high: 50, coverage: 0.9375});
    // n = 6: min..max covers 1 - 2/64
    expect(medianInterval([1, 2, 3, 4, 5, 6])).toEqual({low: 1, high: 6, coverage: 0.96875});
    // n = 10: x(2)..x(9), 1 - 2 * 11/1024
    expect(medianInterval([10, 9, 8, 7, 6, 5, 4, 3, 2, 1])).toEqual({low: 2, high: 9, coverage: 1 - 22 / 1024});
    // n = 20: x(6)..x(15), 1 - 2 * 21700/2^20
    const twenty = Array.from({length: 20}, (_, index) => index + 1);
    expect(medianInterval(twenty)).toEqual({low: 6, high: 15, coverage: 1 - 43_400 / 2 ** 20});
    expect(medianInterval([3]).coverage).toBe(0);
  });

  it('flags samples beyond Tukey\'s fences, mild and severe, in their original positions', () => {
    // quartiles 11.25 and 13.75, IQR 2.5: mild beyond 3.75, severe beyond 7.5 from them
    expect(tukeyOutliers([10, 100, 11, 12, 13, 14])).toEqual([{index: 1, value: 100, side: 'high', severity: 'severe'}]);
    expect(tukeyOutliers([10, 11, 12, 13, 14, 19])).toEqual([{index: 5, value: 19, side: 'high', severity: 'mild'}]);
    expect(tukeyOutliers([2, 11, 12, 13, 14, 15])).toEqual([{index: 0, value: 2, side: 'low', severity: 'severe'}]);
    expect(tukeyOutliers([10, 11, 12, 13, 14])).toEqual([]);
    expect(tukeyOutliers([1, 100, 1000])).toEqual([]);
  });

  it('summarizes a run set', () => {
    expect(summarize([102, 98, 100, 101, 99])).toEqual({
      n: 5,
      median: 100,
      min: 98,
      max: 102,
      mean: 100,
      stddev: Math.sqrt(2.5),
      ci95: {low: 98, high: 102, coverage: 0.9375},
      outliers: [],
    });
  });
});

describe('comparing two sample sets', () => {
  it('draws the same uniform numbers from the same seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const draws = Array.from({length: 10_000}, () => a());
    expect(draws.slice(0, 5)).toEqual(Array.from({length: 5}, () => b()));
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(mean(draws)).toBeCloseTo(0.5, 1);
    expect(new Set(draws).size).toBeGreaterThan(9990);
  });

  it('gives the ratio of medians and an interval that holds it', () => {
    const reference = [100, 98, 102, 99, 101];
    const candidate = reference.map((x) => x * 1.5);
    const estimate = ratioOfMedians(candidate, reference)!;
    expect(estimate.ratio).toBe(1.5);
    expect(estimate.low).toBeLessThanOrEqual(1.5);
    expect(estimate.high).toBeGreaterThanOrEqual(1.5);
    // no resample can fall outside min/max ratios
    expect(estimate.low).toBeGreaterThanOrEqual(147 / 102);
    expect(estimate.high).toBeLessThanOrEqual(153 / 98);
    expect(ratioOfMedians(candidate, reference)).toEqual(estimate);
  });

  it('pairs the ratio with its verdict', () => {
    expect(compareSamples([200, 201, 199], [100, 101, 99], 0.02)).toMatchObject({ratio: 2, verdict: 'faster'});
    expect(compareSamples([100, 101, 99], [100, 101, 99], 0.02)).toMatchObject({ratio: 1, verdict: 'within noise'});
    expect(compareSamples([], [1])).toBeNull();
  });

  it('gives a point interval for constant samples, no interval below 3 runs, nothing for empty ones', () => {
    expect(ratioOfMedians([6, 6, 6], [3, 3, 3, 3])).toEqual({ratio: 2, low: 2, high: 2});
    expect(ratioOfMedians([6, 7], [3, 3, 3])).toEqual({ratio: 6.5 / 3, low: null, high: null});
    expect(compareSamples([600], [300, 310, 290], 0.02)).toMatchObject({ratio: 2, verdict: 'within noise'});
    expect(ratioOfMedians([], [1])).toBeNull();
    expect(ratioOfMedians([1], [0, 0])).toBeNull();
  });

  it('calls a difference only when the whole interval clears the noise band', () => {
    expect(verdictOf({low: 1.03, high: 1.08}, 0.02)).toBe('faster');
    expect(verdictOf({low: 1.01, high: 1.08}, 0.02)).toBe('within noise');
    expect(verdictOf({low: 0.99, high: 1.01}, 0.02)).toBe('within noise');
    expect(verdictOf({low: 0.9, high: 0.97}, 0.02)).toBe('slower');
    expect(verdictOf({low: 0.9, high: 0.99}, 0.02)).toBe('within noise');
    expect(verdictOf({low: 0.9, high: 1.3}, 0)).toBe('within noise');
    expect(verdictOf({low: null, high: null}, 0)).toBe('within noise');
  });

  it('tells a 10% difference from noise with 10 runs, and rarely calls one between equals', () => {
    const random = seededRandom(7);
    // throughput with about 1.5% multiplicative noise
    const draw = (centre: number): number => centre * (1 + (random() + random() + random() - 1.5) * 0.03);
    const runs = (centre: number): number[] => Array.from({length: 10}, () => draw(centre));
    let detected = 0;
    let falseCalls = 0;
    const trials = 100;
    for (let trial = 0; trial < trials; trial++) {
      if (verdictOf(ratioOfMedians(runs(110), runs(100), {resamples: 2000, seed: trial})!, 0.02) === 'faster') detected++;
      if (verdictOf(ratioOfMedians(runs(100), runs(100), {resamples: 2000, seed: trial})!, 0) !== 'within noise') falseCalls++;
    }

    expect(detected).toBe(trials);
    // a 95% interval excludes the truth about 5% of the time (3.2% in 1000 such trials)
    expect(falseCalls).toBeLessThanOrEqual(10);
  });
});
