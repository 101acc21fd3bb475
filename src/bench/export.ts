/**
 * A bench result for a continuous-benchmarking service, in Bencher Metric Format (BMF):
 *
 *   {"<profile>/<target>": {"<measure>": {"value": v, "lower_value": lo, "upper_value": hi}}}
 *
 * One benchmark per profile and target (`tiny-hot/hakmem`, `command/mimalloc`), each with its
 * speed and its memory:
 * - `throughput`: the median operations per second (or a command's higher-is-better figure),
 *   bounded by the median's 95% interval;
 * - `latency`: a command's median wall time (or lower-is-better figure in seconds), in
 *   nanoseconds as the service's built-in measure expects; a lower-is-better figure of another
 *   unit goes under a measure named after the unit (`figure-ms`);
 * - `latency-p50`, `latency-p99`, `latency-max`: a server's latency percentiles (their medians
 *   over the runs, bounded by their intervals), in nanoseconds;
 * - `peak-rss`: the median of the runs' peak RSS in bytes, bounded by its 95% interval.
 * Results that are not valid measurements (INVALID, FAILED) are left out: a service would
 * otherwise keep a figure no one should read.
 */
import {UsageError} from '../errors.js';
import {summarize} from '../statistics/describe.js';
import type {BenchAnalysis, TargetResult} from './analysis.js';
import type {BenchRecord} from './record.js';

export interface BmfMetric {
  value: number;
  lower_value?: number;
  upper_value?: number;
}

export type BencherMetrics = Record<string, Record<string, BmfMetric>>;

/** The formats `--export` writes: `bmf` is Bencher Metric Format. */
export const EXPORT_FORMATS = ['bmf'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Where `--export FORMAT=FILE` writes, and in which format. */
export interface ExportTarget {
  format: ExportFormat;
  file: string;
}

/** Reads the value of `--export`: FORMAT=FILE, such as bmf=results.json. */
export function parseExportTarget(value: string): ExportTarget {
  const separator = value.indexOf('=');
  const format = separator < 0 ? value : value.slice(0, separator);
  const file = separator < 0 ? '' : value.slice(separator + 1);
  const example = `--export bmf=${file || 'results.json'}`;
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--export ${value}: the format must be one of ${EXPORT_FORMATS.join(', ')} (bmf: Bencher Metric Format), written FORMAT=FILE.`, {hint: `For example: ${example}`});
  }

  if (file === '') throw new UsageError(`--export ${value}: name the file to write after the format, as FORMAT=FILE.`, {hint: `For example: ${example}`});
  return {format: format as ExportFormat, file};
}

function metric(value: number, interval: [number, number] | null, scale = 1): BmfMetric {
  // Nanoseconds and bytes are whole numbers.
  const convert = (x: number): number => (scale === 1 ? x : Math.round(x * scale));
  if (!interval) return {value: convert(value)};
  return {value: convert(value), lower_value: convert(interval[0]), upper_value: convert(interval[1])};
}

/** The speed measure's name and the factor that converts the figure to its unit. */
function speedMeasure(result: TargetResult): {name: string; scale: number} {
  if (result.better === 'higher') return {name: 'throughput', scale: 1};
  if (result.unit === 's') return {name: 'latency', scale: 1e9};
  const slug = result.unit.toLowerCase().replaceAll(/[^a-z0-9]+/g, '-').replaceAll(/^-|-$/g, '');
  return {name: slug ? `figure-${slug}` : 'figure', scale: 1};
}

export function bencherMetrics(record: BenchRecord, analysis: BenchAnalysis): BencherMetrics {
  const metrics: BencherMetrics = {};
  for (const result of analysis.results) {
    if (result.status !== 'ok' || result.median === null) continue;
    const speed = speedMeasure(result);
    const peaks = record.targets.find((target) => target.label === result.label)?.runs.map((run) => run.peakRssKb) ?? [];
    const memory = peaks.length > 0 ? summarize(peaks) : null;
    // A server's latency percentiles, in nanoseconds as the service's latency measure expects.
    const latency = Object.entries(result.latency ?? {}).map(([key, figure]) => [`latency-${key}`, metric(figure.median / 1000, figure.ci95.map((value) => value / 1000) as [number, number], 1e9)]);
    metrics[`${record.profile.name}/${result.label}`] = {
      [speed.name]: metric(result.median, result.ci95, speed.scale),
      ...Object.fromEntries(latency),
      ...(memory ? {'peak-rss': metric(memory.median, [memory.ci95.low, memory.ci95.high], 1024)} : {}),
    };
  }

  return metrics;
}
