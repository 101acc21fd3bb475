/**
 * Reading a server profile's clients: requests per second and latency percentiles, per test and
 * for the whole load.
 *
 * - `redis-benchmark-csv`: redis-benchmark --csv, one row per test
 *   ("test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms").
 * - `hak-client-json`: the last line of stdout is one JSON object
 *   {"test": "...", "rps": n, "p50_ms": n, "p99_ms": n, "max_ms": n, "requests": n, "errors": n}
 *   (profiles/scripts/memc_load.py prints it; an `errors` above 0 is a wrong answer).
 *
 * A load of several tests is summed up as: rps the harmonic mean of the tests' (the rate of the
 * whole load when every test makes the same number of requests), and each latency percentile
 * the worst test's.
 */
import type {ClientParser} from '../profiles/index.js';

export const LATENCY_KEYS = ['p50', 'p99', 'max'] as const;
export type LatencyKey = (typeof LATENCY_KEYS)[number];

export interface ClientTest {
  test: string;
  rps: number;
  /** Milliseconds. */
  latencyMs: Record<LatencyKey, number>;
}

/** The tests a client ran, or why its output could not be read (a string). */
export function parseClientOutput(parser: ClientParser, stdout: string): ClientTest[] | string {
  return parser === 'redis-benchmark-csv' ? parseRedisBenchmarkCsv(stdout) : parseClientJson(stdout);
}

function csvFields(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|([^,]+)/g)].map((match) => (match[1] ?? match[2] ?? '').trim());
}

export function parseRedisBenchmarkCsv(stdout: string): ClientTest[] | string {
  const lines = stdout.split(/\r?\n/).filter((line) => line.trim() !== '');
  const headerIndex = lines.findIndex((line) => line.includes('"rps"'));
  if (headerIndex < 0) return 'no redis-benchmark --csv header ("test","rps",...) in its output';
  const header = csvFields(lines[headerIndex]!);
  const column = (name: string): number => header.indexOf(name);
  const wanted = {rps: column('rps'), p50: column('p50_latency_ms'), p99: column('p99_latency_ms'), max: column('max_latency_ms')};
  const missing = Object.entries(wanted).filter(([, index]) => index < 0).map(([name]) => name);
  if (missing.length > 0) return `redis-benchmark's CSV has no ${missing.join(', ')} column`;
  const tests: ClientTest[] = [];
  for (const line of lines.slice(headerIndex + 1)) {
    const fields = csvFields(line);
    const numbers = [wanted.rps, wanted.p50, wanted.p99, wanted.max].map((index) => Number(fields[index]));
    if (numbers.some((value) => !Number.isFinite(value))) return `unreadable redis-benchmark row: ${line}`;
    const [rps, p50, p99, max] = numbers as [number, number, number, number];
    tests.push({test: fields[0] ?? '?', rps, latencyMs: {p50, p99, max}});
  }

  return tests.length > 0 ? tests : 'redis-benchmark printed its header but no test';
}

export function parseClientJson(stdout: string): ClientTest[] | string {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `its last line is not a JSON object: ${line.slice(0, 120) || '(no output)'}`;
  }

  if (typeof data.errors === 'number' && data.errors > 0) return `the client counted ${data.errors} wrong or failed answer(s)${typeof data.error === 'string' ? `: ${data.error}` : ''}`;
  const numbers = ['rps', 'p50_ms', 'p99_ms', 'max_ms'].map((key) => data[key]);
  if (!numbers.every((value) => typeof value === 'number' && Number.isFinite(value))) return 'its JSON line lacks rps, p50_ms, p99_ms or max_ms';
  const [rps, p50, p99, max] = numbers as [number, number, number, number];
  return [{test: typeof data.test === 'string' ? data.test : 'load', rps, latencyMs: {p50, p99, max}}];
}

/** The whole load's rps (harmonic mean of the tests') and latencies (the worst test's). */
export function summarizeTests(tests: readonly ClientTest[]): {rps: number; latencyMs: Record<LatencyKey, number>} {
  const rps = tests.length / tests.reduce((sum, test) => sum + 1 / Math.max(test.rps, Number.MIN_VALUE), 0);
  const latencyMs = Object.fromEntries(LATENCY_KEYS.map((key) => [key, Math.max(...tests.map((test) => test.latencyMs[key]))])) as Record<LatencyKey, number>;
  return {rps, latencyMs};
}
