/**
 * hak check: a regression gate that gives the same answer on every machine. Each entry (a
 * profile, or PROFILE:TOGGLES such as `tiny-hot:harden`) is measured as `hak perf --cache`
 * measures it, one valgrind run with the fixed cache geometry, and hakmem's own instructions and
 * simulated D1 misses per operation are set against the baseline file (baseline.ts says why
 * these figures and not the totals).
 *
 *   const report = await checkBaseline({});            // check/baseline.json, 2% tolerance
 *   report.regressions                                  // [{profile, metric, before, after, ratio, functions}]
 *   await checkBaseline({update: true, entries: ['tiny-hot:harden']});   // measure and write
 */
import {join, resolve} from 'node:path';

import {writeFileAtomic} from '../atomic-file.js';
import {checkVariantDir} from '../build/index.js';
import {InternalError, UsageError} from '../errors.js';
import {execProgram} from '../exec.js';
import type {Features} from '../features.js';
import {buildsDir, PROJECT_ROOT} from '../paths.js';
import {type CachePerOp, describeCacheLevels, FIXED_CACHE_GEOMETRY} from '../perf/cache.js';
import {parseToggles} from '../perf/diff.js';
import {profileRun, type PerfResult} from '../perf/index.js';
import type {Category} from '../perf/owners.js';
import {requireValgrind} from '../perf/tools.js';
import {loadProfile} from '../profiles/index.js';
import {
  ALLOCATOR_CATEGORIES,
  type Baseline,
  BASELINE_ABOUT,
  BASELINE_FORMAT,
  type BaselineEntry,
  compareEntry,
  DEFAULT_TOLERANCE,
  type EntryComparison,
  type Figures,
  type Finding,
  findings,
  formatBaseline,
  readBaseline,
  roundFigure,
} from './baseline.js';

export const DEFAULT_BASELINE_FILE = join(PROJECT_ROOT, 'check', 'baseline.json');
/** What a new baseline holds when no entries are named. */
export const DEFAULT_ENTRIES = ['tiny-hot', 'random-mixed'];
export const GATE_DESCRIPTION = 'hakmem\'s own share of the measured region (its owner categories and glibc\'s malloc internals): instructions and simulated D1 misses per operation';

export interface CheckOptions {
  /** Entries to measure: PROFILE or PROFILE:TOGGLES; default the baseline's (a new one: DEFAULT_ENTRIES). */
  entries?: string[];
  /** The baseline file; default check/baseline.json at the project root. */
  file?: string;
  /** A fraction: 0.02 is 2%. */
  tolerance?: number;
  /** Write the measured figures into the file (other entries kept) instead of failing on a change. */
  update?: boolean;
  onProgress?: (text: string) => void;
}

export interface CheckedEntry extends EntryComparison {
  /** This run's figures (the baseline's are in the file). */
  measured: BaselineEntry;
  /** Whether the baseline had the entry; a new one (only with --update) is compared with nothing. */
  inBaseline: boolean;
  /** Where hak perf saved the run (callgrind-cache.out and result.json). */
  resultDir: string;
}

export interface CheckReport {
  file: string;
  tolerance: number;
  updated: boolean;
  gate: string;
  cacheGeometry: string;
  entries: CheckedEntry[];
  /** Figures that grew beyond the tolerance: the check fails on any. */
  regressions: Finding[];
  /** Figures that shrank beyond it: reported; --update keeps them. */
  improvements: Finding[];
  warnings: string[];
}

const sumFigures = (figures: readonly (CachePerOp | undefined)[]): Figures => ({
  instructions: roundFigure(figures.reduce((sum, f) => sum + (f?.instructions ?? 0), 0)),
  d1Misses: roundFigure(figures.reduce((sum, f) => sum + (f?.d1Misses ?? 0), 0)),
});

/** An entry's parts: the profile, and the toggles or variant after the first colon. */
export function splitEntry(spec: string): {profile: string; rest: string | null} {
  const colon = spec.indexOf(':');
  if (colon < 0) return {profile: spec, rest: null};
  if (colon === 0 || colon === spec.length - 1) throw new UsageError(`${spec}: expected PROFILE or PROFILE:TOGGLES (tiny-hot:harden).`);
  return {profile: spec.slice(0, colon), rest: spec.slice(colon + 1)};
}

/** The baseline entry of one perf --cache run: the allocator's share, the totals, categories and functions. */
export function baselineEntry(run: PerfResult, spec: {profile: string; rest: string | null}, toolchain: BaselineEntry['toolchain']): BaselineEntry {
  if (run.mode !== 'cache') throw new InternalError(`hak perf --cache gave no simulated figures for ${run.profile}`);
  const categories = Object.fromEntries(Object.entries(run.categoryCachePerOp).map(([category, figures]) => [category, sumFigures([figures])]));
  const allocator = (category: Category): boolean => ALLOCATOR_CATEGORIES.includes(category);
  const functions = run.hotspots
    .filter((hotspot) => allocator(hotspot.category) && hotspot.cachePerOp)
    .map((hotspot) => ({symbol: hotspot.symbol, library: hotspot.library, category: hotspot.category, ...sumFigures([hotspot.cachePerOp])}))
    .filter((fn) => fn.instructions > 0 || fn.d1Misses > 0)
    .sort((a, b) => b.instructions - a.instructions || a.symbol.localeCompare(b.symbol));
  return {
    profile: spec.profile,
    toggles: spec.rest,
    variant: run.variant,
    features: run.features,
    toolchain,
    ops: run.ops,
    allocator: sumFigures(ALLOCATOR_CATEGORIES.map((category) => run.categoryCachePerOp[category])),
    total: sumFigures([run.cachePerOp]),
    categories,
    functions,
  };
}

/** Measures one entry with hak perf --cache (fixed geometry, the default hakmem build with the entry's toggles). */
async function measureEntry(name: string, onProgress: (text: string) => void): Promise<{entry: BaselineEntry; run: PerfResult}> {
  const spec = splitEntry(name);
  const profile = await loadProfile(spec.profile);
  let variant: string | undefined;
  let features: Partial<Features> = {};
  if (spec.rest !== null) {
    if (profile.variants.some((candidate) => candidate.name === spec.rest)) variant = spec.rest;
    else {
      const parsed = parseToggles(spec.rest);
      if (parsed.bad.length > 0) {
        throw new UsageError(`${name}: "${parsed.bad.join('", "')}" is neither a toggle nor a variant of ${profile.name}.`, {
          hint: 'An entry is PROFILE or PROFILE:TOGGLES, the toggle flags without their dashes: tiny-hot:harden, random-mixed:no-superslab,stats=1.',
        });
      }

      features = parsed.toggles;
    }
  }

  const run = await profileRun({profile, cache: true, top: Number.POSITIVE_INFINITY, variant, overrides: {features}, allocator: 'hakmem', onProgress: (text) => onProgress(`${name}: ${text}`)});
  const manifest = checkVariantDir(join(buildsDir(), run.variant));
  if (!manifest.ok) throw new InternalError(`the build hak perf ran is not intact: ${manifest.problem}`);
  return {entry: baselineEntry(run, spec, manifest.manifest.toolchain), run};
}

async function valgrindVersion(valgrind: string): Promise<string> {
  const result = await execProgram(valgrind, ['--version']);
  return result.stdout.trim() || 'unknown';
}

/** Reads the file for --update: a missing or unreadable one is started afresh. */
function previousBaseline(file: string): Baseline | null {
  try {
    return readBaseline(file);
  } catch (error) {
    if (error instanceof UsageError) return null;
    throw error;
  }
}

/** Measures the entries and sets them against the baseline file, or with `update` writes them into it. */
export async function checkBaseline(options: CheckOptions = {}): Promise<CheckReport> {
  const file = resolve(options.file ?? DEFAULT_BASELINE_FILE);
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const progress = options.onProgress ?? (() => {});
  // the tool first, then the file: nothing is built for a check that cannot run or compare
  const valgrind = requireValgrind();
  const baseline = options.update ? previousBaseline(file) : readBaseline(file);
  const names = options.entries && options.entries.length > 0 ? [...new Set(options.entries)] : baseline ? Object.keys(baseline.entries) : DEFAULT_ENTRIES;
  if (!options.update) {
    const missing = names.filter((name) => !baseline?.entries[name]);
    if (missing.length > 0) {
      throw new UsageError(`${file} holds no figures for ${missing.join(', ')}.`, {hint: `Measure them into it: hak check ${missing.join(' ')} --update.`});
    }
  }

  const entries: CheckedEntry[] = [];
  const warnings: string[] = [];
  for (const name of names) {
    const {entry, run} = await measureEntry(name, progress);
    const before = baseline?.entries[name];
    const comparison = before ? compareEntry(name, before, entry, tolerance) : {name, metrics: [], notes: []};
    entries.push({...comparison, measured: entry, inBaseline: before !== undefined, resultDir: run.resultDir});
    warnings.push(...run.warnings.map((warning) => `${name}: ${warning}`), ...comparison.notes);
  }

  const cacheGeometry = describeCacheLevels(FIXED_CACHE_GEOMETRY);
  if (options.update) {
    const written: Baseline = {
      format: BASELINE_FORMAT,
      about: BASELINE_ABOUT,
      cacheGeometry,
      valgrind: await valgrindVersion(valgrind),
      entries: {...baseline?.entries, ...Object.fromEntries(entries.map((entry) => [entry.name, entry.measured]))},
    };
    writeFileAtomic(file, formatBaseline(written));
  }

  return {
    file,
    tolerance,
    updated: options.update ?? false,
    gate: GATE_DESCRIPTION,
    cacheGeometry,
    entries,
    // --update accepts whatever changed: nothing to fail on
    regressions: options.update ? [] : findings(entries, 'regression'),
    improvements: options.update ? [] : findings(entries, 'improvement'),
    warnings,
  };
}
