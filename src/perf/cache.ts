/**
 * Simulated data-cache and branch behaviour per operation, for `hak perf --cache`.
 *
 * The simulator is valgrind's, the one cachegrind runs; hak drives it through callgrind
 * (--cache-sim=yes --branch-sim=yes) because callgrind can count only the measured region
 * (--toggle-collect=bench_loop*, as --instructions does) and names each function's library,
 * which the owner categories need. The figures are exact and repeatable, but simulated: they
 * hold for the cache geometry valgrind simulated (the host's, which it reads from the CPU),
 * given in the output's `desc:` lines, and its simple branch predictor.
 *
 * Any run target works: simulateCache takes a RunRequest (program, arguments, allocator),
 * whether it came from a profile or from a command line.
 */
import {readFileSync} from 'node:fs';
import {basename, join} from 'node:path';

import {NoSamplesError} from '../errors.js';
import {type RunRecord, type RunRequest, runBenchmark} from '../run/index.js';
import {type CallgrindProfile, callgrindLauncher, MEASURED_FUNCTIONS, parseCallgrind} from './callgrind.js';
import {type AttributionContext, type Category, categorize, type Hotspot} from './owners.js';

export const CACHE_SIM_OPTIONS = ['--cache-sim=yes', '--branch-sim=yes'] as const;
export const CACHE_OUT_FILE = 'callgrind-cache.out';

/** The figures of `hak perf --cache`, per operation (or as counts, where ops is 1). */
export interface CachePerOp {
  instructions: number;
  /** L1 data cache misses, reads and writes. */
  d1Misses: number;
  d1ReadMisses: number;
  /** Last-level cache misses: instruction fetches, data reads and data writes. */
  llMisses: number;
  /** Conditional and indirect branches the simulated predictor got wrong. */
  branchMispredicts: number;
}

export const CACHE_FIGURES: readonly (keyof CachePerOp)[] = ['instructions', 'd1Misses', 'd1ReadMisses', 'llMisses', 'branchMispredicts'];

/** Which of valgrind's events make up each figure. */
const EVENTS_OF: Record<keyof CachePerOp, readonly string[]> = {
  instructions: ['Ir'],
  d1Misses: ['D1mr', 'D1mw'],
  d1ReadMisses: ['D1mr'],
  llMisses: ['ILmr', 'DLmr', 'DLmw'],
  branchMispredicts: ['Bcm', 'Bim'],
};

export interface CacheLevel {
  /** `I1`, `D1` or `LL`. */
  name: string;
  bytes: number;
  lineBytes: number;
  ways: number;
}

export interface CacheGeometry {
  /** D1, LL and I1, as the simulator configured them. */
  levels: CacheLevel[];
  /** `D1 48 KiB 12-way, LL 304 MiB 38-way, I1 32 KiB 8-way, 64 B lines`. */
  description: string;
}

/** Whether the profile has the events of cache and branch simulation (a plain callgrind profile has only Ir). */
export function hasCacheEvents(events: readonly string[]): boolean {
  return ['D1mr', 'D1mw', 'Bcm'].every((event) => events.includes(event));
}

/** The five figures from a cost vector in the order of `events`, divided by `ops`. */
export function cacheFigures(events: readonly string[], costs: readonly number[], ops = 1): CachePerOp {
  const figure = (key: keyof CachePerOp): number =>
    EVENTS_OF[key].reduce((sum, event) => sum + (events.includes(event) ? costs[events.indexOf(event)] ?? 0 : 0), 0) / ops;
  return {
    instructions: figure('instructions'),
    d1Misses: figure('d1Misses'),
    d1ReadMisses: figure('d1ReadMisses'),
    llMisses: figure('llMisses'),
    branchMispredicts: figure('branchMispredicts'),
  };
}

function sumCosts(into: number[], costs: readonly number[]): number[] {
  for (const [index, cost] of costs.entries()) into[index] = (into[index] ?? 0) + cost;
  return into;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1 << 10 && bytes % (1 << 10) === 0) return `${bytes / (1 << 10)} KiB`;
  return `${bytes} B`;
}

/** The simulated geometry from the `desc: D1 cache: 49152 B, 64 B, 12-way associative` lines; null without them. */
export function cacheGeometry(desc: Record<string, string>): CacheGeometry | null {
  const levels: CacheLevel[] = [];
  for (const name of ['D1', 'LL', 'I1']) {
    const match = /^(\d+) B, (\d+) B, (\d+)-way associative$/.exec(desc[`${name} cache`] ?? '');
    if (match) levels.push({name, bytes: Number(match[1]), lineBytes: Number(match[2]), ways: Number(match[3])});
  }

  if (levels.length === 0) return null;
  const lines = new Set(levels.map((level) => level.lineBytes));
  const level = (l: CacheLevel): string => `${l.name} ${formatBytes(l.bytes)} ${l.ways}-way${lines.size > 1 ? ` ${l.lineBytes} B lines` : ''}`;
  const description = `${levels.map(level).join(', ')}${lines.size === 1 ? `, ${levels[0]!.lineBytes} B lines` : ''}`;
  return {levels, description};
}

export interface CacheHotspot extends Hotspot {
  cachePerOp: CachePerOp;
}

export interface CacheAttribution {
  /** Functions (merged by name and library), most D1 misses first; share is of all D1 misses. */
  hotspots: CacheHotspot[];
  /** Per category, the figures per operation, categories with most D1 misses first. */
  categories: Partial<Record<Category, CachePerOp>>;
  /** Per category, its share of D1 misses. */
  shares: Partial<Record<Category, number>>;
}

/** Splits a cache profile by function and owner category, per operation. */
export function attributeCache(profile: CallgrindProfile, context: AttributionContext, ops: number): CacheAttribution {
  const {events} = profile;
  const byFunction = new Map<string, {symbol: string; library: string; category: Category; costs: number[]}>();
  const byCategory = new Map<Category, number[]>();
  for (const fn of profile.functions) {
    const library = basename(fn.object);
    const category = categorize({symbol: fn.name, library: fn.object, ...(fn.file ? {file: fn.file} : {})}, context);
    const key = `${fn.name}\u0000${library}`;
    const entry = byFunction.get(key) ?? {symbol: fn.name, library, category, costs: []};
    sumCosts(entry.costs, fn.costs);
    byFunction.set(key, entry);
    byCategory.set(category, sumCosts(byCategory.get(category) ?? [], fn.costs));
  }

  const d1Total = cacheFigures(events, profile.totals).d1Misses;
  const share = (misses: number): number => (d1Total > 0 ? misses / d1Total : 0);
  const hotspots = [...byFunction.values()].map(({symbol, library, category, costs}): CacheHotspot => {
    const counts = cacheFigures(events, costs);
    return {symbol, library, category, share: share(counts.d1Misses), weight: counts.d1Misses, cachePerOp: cacheFigures(events, costs, ops)};
  });
  hotspots.sort((a, b) => b.weight - a.weight || b.cachePerOp.instructions - a.cachePerOp.instructions || a.symbol.localeCompare(b.symbol));
  const categories = [...byCategory.entries()]
    .map(([category, costs]) => ({category, counts: cacheFigures(events, costs), perOp: cacheFigures(events, costs, ops)}))
    .sort((a, b) => b.counts.d1Misses - a.counts.d1Misses || b.counts.instructions - a.counts.instructions);
  return {
    hotspots,
    categories: Object.fromEntries(categories.map(({category, perOp}) => [category, perOp])),
    shares: Object.fromEntries(categories.map(({category, counts}) => [category, share(counts.d1Misses)])),
  };
}

export interface CacheSimulation {
  run: RunRecord;
  profile: CallgrindProfile;
  geometry: CacheGeometry | null;
  /** The whole measured region, per operation. */
  perOp: CachePerOp;
}

/**
 * Runs the request under the cache and branch simulator, writing the profile to
 * `dir`/callgrind-cache.out. Any run target: a profile's benchmark or a command.
 */
export async function simulateCache(valgrind: string, request: RunRequest, dir: string): Promise<CacheSimulation> {
  const outFile = join(dir, CACHE_OUT_FILE);
  // a command has no measured loop: the whole started process is simulated, and its figures are per run
  const whole = request.command !== undefined;
  const run = await runBenchmark({...request, launcher: callgrindLauncher(valgrind, outFile, CACHE_SIM_OPTIONS, whole ? 'whole' : 'measured')});
  const profile = parseCallgrind(readFileSync(outFile, 'utf8'));
  if (whole) return {run, profile, geometry: cacheGeometry(profile.desc), perOp: cacheFigures(profile.events, profile.totals, 1)};
  if (profile.instructions === 0 || !hasCacheEvents(profile.events)) {
    throw new NoSamplesError(
      `the cache simulator counted nothing in ${MEASURED_FUNCTIONS}: ${basename(request.program)} has no measured region by that name.`,
      {event: 'cache simulation', frequency: 0, command: run.command},
      'The benchmark programs of csrc/bench run their measured work in functions named bench_loop*.',
    );
  }

  return {run, profile, geometry: cacheGeometry(profile.desc), perOp: cacheFigures(profile.events, profile.totals, run.result.ops)};
}
