/**
 * What a report covers: the bench results named (by path, id or prefix, `latest`, `previous`,
 * resolved as `hak compare` resolves them) or by default the latest saved result of every
 * profile; and for each profile reported, its latest saved `hak perf` run and `hak bisect`
 * result, and the result saved just before each bench result, to compare with.
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';

import {listSavedResults, loadRecord, resolveResultReference} from '../bench/results.js';
import type {BenchRecord} from '../bench/record.js';
import type {BisectResult} from '../bisect/index.js';
import {UsageError} from '../errors.js';
import {resultsDir} from '../paths.js';
import type {PerfResult} from '../perf/index.js';

export interface LoadedBench {
  file: string;
  record: BenchRecord;
}

export interface LoadedPerf {
  /** The result directory's name. */
  id: string;
  dir: string;
  result: PerfResult;
  /** The flame graph's SVG, when the run drew one. */
  flameGraph: string | null;
}

export interface LoadedBisect {
  id: string;
  result: BisectResult;
}

/** The bench result files a report covers, in order, each once. */
export function selectBenchFiles(references: readonly string[]): string[] {
  if (references.length > 0) return [...new Set(references.map((reference) => resolveResultReference(reference)))];
  const latest = new Map<string, string>();
  for (const saved of listSavedResults()) latest.set(saved.profile, saved.file);
  if (latest.size === 0) resolveResultReference('latest'); // throws: no saved bench results, and how to make one
  return [...latest].sort(([a], [b]) => a.localeCompare(b)).map(([, file]) => file);
}

export function loadBench(files: readonly string[]): LoadedBench[] {
  return files.map((file) => ({file, record: loadRecord(file)}));
}

/** The saved result of the same profile just before this one; null when there is none or it cannot be read. */
export function previousResult(record: BenchRecord): BenchRecord | null {
  const saved = listSavedResults().filter((result) => result.profile === record.profile.name);
  const index = saved.findIndex((result) => result.id === record.id);
  if (index <= 0) return null;
  try {
    return loadRecord(saved[index - 1]!.file);
  } catch (error) {
    if (error instanceof UsageError) return null;
    throw error;
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** A flame graph's SVG without its XML prolog, ready to sit inside an HTML page. */
function inlineSvg(file: string): string | null {
  if (!existsSync(file)) return null;
  const svg = readFileSync(file, 'utf8');
  const start = svg.indexOf('<svg');
  return start < 0 ? null : svg.slice(start);
}

/** The latest saved perf run of each profile named (the directories' names sort in time order). */
export function latestPerfRuns(profiles: ReadonlySet<string>): LoadedPerf[] {
  const parent = join(resultsDir(), 'perf');
  if (!existsSync(parent)) return [];
  const latest = new Map<string, LoadedPerf>();
  for (const id of readdirSync(parent).filter((name) => !name.startsWith('.')).sort()) {
    const dir = join(parent, id);
    const result = readJson(join(dir, 'result.json')) as PerfResult | null;
    // A directory without a readable result of this kind (a run of an older hak) is passed over.
    if (!result || typeof result.profile !== 'string' || !profiles.has(result.profile) || !Array.isArray(result.hotspots) || typeof result.ops !== 'number' || typeof result.eventDescription !== 'string') continue;
    const flameFile = result.files?.flamegraph;
    latest.set(result.profile, {id, dir, result, flameGraph: flameFile ? inlineSvg(join(dir, flameFile)) : null});
  }

  return [...latest.values()];
}

/** The latest saved bisect of each profile named. */
export function latestBisects(profiles: ReadonlySet<string>): LoadedBisect[] {
  const latest = new Map<string, LoadedBisect>();
  for (const saved of listSavedResults(join(resultsDir(), 'bisect'))) {
    if (!profiles.has(saved.profile)) continue;
    const result = readJson(saved.file) as BisectResult | null;
    if (result && Array.isArray(result.steps)) latest.set(saved.profile, {id: saved.id, result});
  }

  return [...latest.values()];
}
