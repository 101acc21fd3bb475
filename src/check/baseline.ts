/**
 * The baseline file of `hak check` (check/baseline.json) and the comparison against it.
 *
 * What is gated: hakmem's own share of the measured region, not its total. The per-operation
 * figures of bench_loop* include the benchmark program's own code and glibc's string functions
 * (memset, memcpy), which glibc picks by CPU features at load time (ifunc: AVX2, EVEX, SSE2
 * variants), so the totals differ from one x86-64 host to another. The allocator's code does
 * not: the owner categories of hak perf (owners.ts) that are hakmem's, and glibc's malloc
 * internals (hakmem hands the requests it declines to glibc, and a change that moved work
 * there must not pass as an improvement), run the same instructions on every host for the
 * same build, and with the fixed cache geometry (perf/cache.ts) the simulator gives their D1
 * misses the same on every host too. The totals are recorded and shown beside them, not gated.
 *
 * The file is plain JSON, meant to be committed and reviewed: per entry (a profile, or a
 * profile with toggles such as `tiny-hot:harden`) the gated figures, the totals, each owner
 * category's figures, the allocator's functions (so that a regression names the functions
 * that grew), and the build it was measured with (variant, toggles, toolchain and compiler).
 */
import {existsSync, readFileSync} from 'node:fs';

import {UsageError} from '../errors.js';
import type {Features, Toolchain} from '../features.js';
import {describeCacheLevels, FIXED_CACHE_GEOMETRY} from '../perf/cache.js';
import type {Category} from '../perf/owners.js';

export const BASELINE_FORMAT = 1;
/** The figures gated, per operation. */
export const CHECK_METRICS = ['instructions', 'd1Misses'] as const;
export type CheckMetric = (typeof CHECK_METRICS)[number];
export const METRIC_NAMES: Record<CheckMetric, string> = {instructions: 'instructions', d1Misses: 'D1 misses'};
/** The owner categories whose figures are the allocator's share: what is gated. */
export const ALLOCATOR_CATEGORIES: readonly Category[] = ['hakmem tiny', 'hakmem mid', 'hakmem large', 'hakmem pages', 'hakmem other', 'glibc malloc'];
/**
 * Changes smaller than this per operation are not called either way, whatever their ratio: on
 * tiny-hot hakmem misses D1 a few times in 300,000 operations, and one miss more is not a
 * regression of 30%. One instruction in a hundred operations; one D1 miss in a thousand.
 */
export const CHANGE_FLOOR: Record<CheckMetric, number> = {instructions: 0.01, d1Misses: 0.001};
export const DEFAULT_TOLERANCE = 0.02;

export type Figures = Record<CheckMetric, number>;

export interface FunctionFigures extends Figures {
  symbol: string;
  library: string;
  category: Category;
}

export interface BaselineEntry {
  /** The profile (name or file) as given. */
  profile: string;
  /** The toggles after the colon (`harden`, `no-superslab,stats=1`) or a variant of the profile; null for the profile as it is. */
  toggles: string | null;
  variant: string;
  features: Features;
  toolchain: Toolchain & {compilerVersion: string};
  /** Operations of the measured region the figures are divided by. */
  ops: number;
  /** The gated figures: the allocator's share (ALLOCATOR_CATEGORIES), per operation. */
  allocator: Figures;
  /** The whole measured region per operation, benchmark and libc included: shown, not gated. */
  total: Figures;
  categories: Partial<Record<Category, Figures>>;
  /** The allocator's functions, most instructions first. */
  functions: FunctionFigures[];
}

export interface Baseline {
  format: typeof BASELINE_FORMAT;
  /** What the file is, for a reader who finds it in the repository. */
  about: string;
  /** The simulated caches (the fixed geometry): a baseline of other caches is not comparable. */
  cacheGeometry: string;
  valgrind: string;
  /** Entry name (`tiny-hot`, `tiny-hot:harden`) to its figures. */
  entries: Record<string, BaselineEntry>;
}

export const BASELINE_ABOUT =
  'hak check\'s baseline: per entry, hakmem\'s own instructions and simulated D1 misses per operation (the gated figures, under "allocator"), measured by hak perf --cache with the fixed cache geometry. Rewrite it with hak check --update.';

/** Rounded so that the file reads well and diffs small; far below any tolerance. */
export function roundFigure(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

function invalid(file: string, problem: string): UsageError {
  return new UsageError(`${file} is not a hak check baseline: ${problem}.`, {hint: 'Measure one: hak check --update (add --file to write another file).'});
}

function isFigures(value: unknown): value is Figures {
  return typeof value === 'object' && value !== null && CHECK_METRICS.every((metric) => typeof (value as Record<string, unknown>)[metric] === 'number');
}

/** Reads and checks a baseline file; a UsageError (exit 2) saying to run `hak check --update` when it is missing or malformed. */
export function readBaseline(file: string): Baseline {
  if (!existsSync(file)) {
    throw new UsageError(`there is no baseline at ${file}.`, {hint: 'Measure one: hak check --update (add --file to write another file).'});
  }

  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw invalid(file, `not valid JSON (${(error as Error).message})`);
  }

  if (typeof data !== 'object' || data === null) throw invalid(file, 'not a JSON object');
  const baseline = data as Partial<Baseline>;
  if (baseline.format !== BASELINE_FORMAT) throw invalid(file, `format ${JSON.stringify(baseline.format)}, expected ${BASELINE_FORMAT}`);
  if (typeof baseline.entries !== 'object' || baseline.entries === null || Object.keys(baseline.entries).length === 0) throw invalid(file, 'it has no entries');
  for (const [name, entry] of Object.entries(baseline.entries)) {
    if (!isFigures(entry?.allocator) || !isFigures(entry.total) || !Array.isArray(entry.functions) || !entry.functions.every(isFigures)) {
      throw invalid(file, `entry ${name} lacks its figures (allocator, total, functions)`);
    }
  }

  const fixed = describeCacheLevels(FIXED_CACHE_GEOMETRY);
  if (baseline.cacheGeometry !== fixed) {
    throw new UsageError(`${file} was measured with other caches (${String(baseline.cacheGeometry)}) than hak simulates now (${fixed}).`, {
      hint: 'Measure it again: hak check --update.',
    });
  }

  return baseline as Baseline;
}

export function formatBaseline(baseline: Baseline): string {
  return `${JSON.stringify(baseline, null, 2)}\n`;
}

export interface FunctionChange {
  symbol: string;
  library: string;
  before: number;
  after: number;
}

export interface MetricComparison {
  metric: CheckMetric;
  before: number;
  after: number;
  /** after / before; null where before is 0. */
  ratio: number | null;
  change: 'regression' | 'improvement' | 'same';
  /** Totals of the measured region, before and after (not gated). */
  totalBefore: number;
  totalAfter: number;
  /** With a regression: the allocator's functions whose figure grew, most first. */
  functions: FunctionChange[];
}

export interface EntryComparison {
  name: string;
  metrics: MetricComparison[];
  /** Differences in how the two were measured that may explain a change (another compiler, other toggles). */
  notes: string[];
}

/** A figure beyond the tolerance: the shape of `--json`'s `regressions` and `improvements`. */
export interface Finding {
  profile: string;
  metric: CheckMetric;
  before: number;
  after: number;
  ratio: number | null;
  functions: FunctionChange[];
}

const MAX_FUNCTIONS = 5;

/** The allocator's functions whose figure grew by more than the floor, most growth first. */
export function grownFunctions(before: readonly FunctionFigures[], after: readonly FunctionFigures[], metric: CheckMetric): FunctionChange[] {
  const key = (fn: FunctionFigures): string => `${fn.symbol}\u0000${fn.library}`;
  const old = new Map(before.map((fn) => [key(fn), fn[metric]]));
  return after
    .map((fn) => ({symbol: fn.symbol, library: fn.library, before: old.get(key(fn)) ?? 0, after: fn[metric]}))
    .filter((fn) => fn.after - fn.before > CHANGE_FLOOR[metric])
    .sort((a, b) => b.after - b.before - (a.after - a.before) || a.symbol.localeCompare(b.symbol))
    .slice(0, MAX_FUNCTIONS);
}

function classify(metric: CheckMetric, before: number, after: number, tolerance: number): MetricComparison['change'] {
  if (Math.abs(after - before) <= CHANGE_FLOOR[metric]) return 'same';
  if (after > before * (1 + tolerance)) return 'regression';
  if (after < before * (1 - tolerance)) return 'improvement';
  return 'same';
}

/** Sets one entry's new figures against its baseline. */
export function compareEntry(name: string, before: BaselineEntry, after: BaselineEntry, tolerance: number): EntryComparison {
  const metrics = CHECK_METRICS.map((metric): MetricComparison => {
    const [x, y] = [before.allocator[metric], after.allocator[metric]];
    const change = classify(metric, x, y, tolerance);
    return {
      metric,
      before: x,
      after: y,
      ratio: x > 0 ? y / x : null,
      change,
      totalBefore: before.total[metric],
      totalAfter: after.total[metric],
      functions: change === 'regression' ? grownFunctions(before.functions, after.functions, metric) : [],
    };
  });
  const notes: string[] = [];
  if (before.toolchain?.compilerVersion !== after.toolchain.compilerVersion) {
    notes.push(`${name}: the baseline was measured with ${before.toolchain?.compilerVersion ?? 'an unknown compiler'}, this run with ${after.toolchain.compilerVersion}; a different compiler alone changes the figures.`);
  }

  if (JSON.stringify(before.features) !== JSON.stringify(after.features)) {
    notes.push(`${name}: the baseline's build had other toggles (variant ${before.variant}, now ${after.variant}).`);
  }

  return {name, metrics, notes};
}

/** The regressions and improvements among the comparisons, as `--json` lists them. */
export function findings(entries: readonly EntryComparison[], change: 'regression' | 'improvement'): Finding[] {
  return entries.flatMap((entry) =>
    entry.metrics
      .filter((metric) => metric.change === change)
      .map(({metric, before, after, ratio, functions}) => ({profile: entry.name, metric, before, after, ratio, functions})),
  );
}
