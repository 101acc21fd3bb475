/**
 * Simulated data-cache and branch behaviour per operation, for `hak perf --cache`.
 *
 * The simulator is valgrind's, the one cachegrind runs; hak drives it through callgrind
 * (--cache-sim=yes --branch-sim=yes) because callgrind can count only the measured region
 * (--toggle-collect=bench_loop*, as --instructions does) and names each function's library,
 * which the owner categories need. The figures are exact and repeatable, but simulated: they
 * hold for the cache geometry valgrind simulated (FIXED_CACHE_GEOMETRY, or with --host-caches
 * the host's, which valgrind reads from the CPU), given in the output's `desc:` lines, and for
 * its simple branch predictor.
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

/** Which caches were simulated: hak's fixed geometry, or the host CPU's (`--host-caches`). */
export type CacheSource = 'fixed' | 'host';

export interface CacheGeometry {
  /** D1, LL and I1, as the simulator configured them. */
  levels: CacheLevel[];
  /** `D1 32 KiB 8-way, LL 8 MiB 16-way, I1 32 KiB 8-way, 64 B lines`. */
  description: string;
  source: CacheSource;
}

/**
 * The caches `hak perf --cache` and `hak check` simulate unless --host-caches asks for the
 * host's. Left to itself valgrind copies the host CPU's caches (a 48 KiB 12-way D1 on one Intel
 * machine, a 256 MiB direct-mapped LL on an AMD EPYC), so the same code gave different miss
 * counts on different machines; with one fixed geometry, given to valgrind explicitly, the
 * figures compare across machines and commits. It is a common x86-64 core's: 32 KiB 8-way L1
 * instruction and data caches and an 8 MiB 16-way last level, 64 B lines. valgrind requires
 * each level's set count (bytes / (ways x line)) to be a power of two: 64, 64 and 8192 here.
 */
export const FIXED_CACHE_GEOMETRY: readonly CacheLevel[] = [
  {name: 'D1', bytes: 32 * 1024, lineBytes: 64, ways: 8},
  {name: 'LL', bytes: 8 * 1024 * 1024, lineBytes: 64, ways: 16},
  {name: 'I1', bytes: 32 * 1024, lineBytes: 64, ways: 8},
];

/** valgrind's options for the simulator: the fixed geometry's `--I1=32768,8,64 --D1=... --LL=...`, or none for the host's caches. */
export function cacheSimOptions(source: CacheSource): string[] {
  const geometry = source === 'fixed' ? ['I1', 'D1', 'LL'].map((name) => {
    const level = FIXED_CACHE_GEOMETRY.find((candidate) => candidate.name === name)!;
    return `--${name}=${level.bytes},${level.ways},${level.lineBytes}`;
  }) : [];
  return [...CACHE_SIM_OPTIONS, ...geometry];
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

/** One `desc:` line's level: `49152 B, 64 B, 12-way associative`, `... direct-mapped` (1 way) or `... fully associative` (one set); null for anything else. */
function parseCacheLevel(name: string, text: string): CacheLevel | null {
  const match = /^(\d+) B, (\d+) B, (?:(\d+)-way associative|(direct-mapped)|(fully associative))$/.exec(text.trim());
  if (!match) return null;
  const bytes = Number(match[1]);
  const lineBytes = Number(match[2]);
  const ways = match[3] === undefined ? (match[4] === undefined ? bytes / lineBytes : 1) : Number(match[3]);
  return {name, bytes, lineBytes, ways};
}

function describeWays(level: CacheLevel): string {
  if (level.ways === 1) return 'direct-mapped';
  return level.ways * level.lineBytes === level.bytes ? 'fully associative' : `${level.ways}-way`;
}

/** `D1 32 KiB 8-way, LL 8 MiB 16-way, I1 32 KiB 8-way, 64 B lines` (each level's line size where they differ). */
export function describeCacheLevels(levels: readonly CacheLevel[]): string {
  const lines = new Set(levels.map((level) => level.lineBytes));
  const level = (l: CacheLevel): string => `${l.name} ${formatBytes(l.bytes)} ${describeWays(l)}${lines.size > 1 ? ` ${l.lineBytes} B lines` : ''}`;
  return `${levels.map(level).join(', ')}${lines.size === 1 ? `, ${levels[0]!.lineBytes} B lines` : ''}`;
}

/** The simulated geometry from the `desc: D1 cache: 49152 B, 64 B, 12-way associative` lines; null without them. */
export function cacheGeometry(desc: Record<string, string>, source: CacheSource): CacheGeometry | null {
  const levels = ['D1', 'LL', 'I1'].flatMap((name) => parseCacheLevel(name, desc[`${name} cache`] ?? '') ?? []);
  if (levels.length === 0) return null;
  return {levels, description: describeCacheLevels(levels), source};
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
 * `dir`/callgrind-cache.out. Any run target: a profile's benchmark or a command. The caches are
 * FIXED_CACHE_GEOMETRY's unless `source` is 'host'.
 */
export async function simulateCache(valgrind: string, request: RunRequest, dir: string, source: CacheSource = 'fixed'): Promise<CacheSimulation> {
  const outFile = join(dir, CACHE_OUT_FILE);
  // a command has no measured loop: the whole started process is simulated, and its figures are per run
  const whole = request.command !== undefined;
  const run = await runBenchmark({...request, launcher: callgrindLauncher(valgrind, outFile, cacheSimOptions(source), whole ? 'whole' : 'measured')});
  const profile = parseCallgrind(readFileSync(outFile, 'utf8'));
  const geometry = cacheGeometry(profile.desc, source);
  if (whole) return {run, profile, geometry, perOp: cacheFigures(profile.events, profile.totals, 1)};
  if (profile.instructions === 0 || !hasCacheEvents(profile.events)) {
    throw new NoSamplesError(
      `the cache simulator counted nothing in ${MEASURED_FUNCTIONS}: ${basename(request.program)} has no measured region by that name.`,
      {event: 'cache simulation', frequency: 0, command: run.command},
      'The benchmark programs of csrc/bench run their measured work in functions named bench_loop*.',
    );
  }

  return {run, profile, geometry, perOp: cacheFigures(profile.events, profile.totals, run.result.ops)};
}
