/**
 * `hak perf --diff`: what the second run is, and the two runs side by side.
 *
 *   --diff mimalloc                 the same profile under another allocator (or glibc, or hakmem)
 *   --diff hakmem:baseline          another variant the profile names (phases)
 *   --diff hakmem:no-wrap-tiny      the run's variant with toggles changed, written as the
 *   --diff hakmem:no-superslab,stats=1   toggle flags without their dashes, comma-separated
 */
import {type AllocatorName, ALLOCATOR_NAMES, isAllocatorName} from '../allocators.js';
import {UsageError} from '../errors.js';
import {BOOLEAN_TOGGLES, type Features, STATS_LEVELS, type StatsLevel} from '../features.js';
import type {Profile} from '../profiles/index.js';
import {CATEGORIES, type Category, type Hotspot} from './owners.js';

export type DiffTarget =
  | {kind: 'allocator'; allocator: AllocatorName}
  | {kind: 'variant'; variant: string}
  | {kind: 'toggles'; toggles: Partial<Features>; text: string};

const SYNTAX = `expected an allocator (${ALLOCATOR_NAMES.join(', ')}), hakmem:VARIANT (a variant the profile names) or hakmem:TOGGLES (e.g. hakmem:no-wrap-tiny,stats=1)`;

function parseToggle(item: string, toggles: Partial<Features>): boolean {
  const stats = /^stats=(\d)$/.exec(item);
  if (stats) {
    const level = Number(stats[1]);
    if (!STATS_LEVELS.includes(level as StatsLevel)) return false;
    toggles.stats = level as StatsLevel;
    return true;
  }

  const off = item.startsWith('no-');
  const toggle = BOOLEAN_TOGGLES.find((candidate) => candidate.flag === (off ? item.slice(3) : item));
  if (!toggle) return false;
  toggles[toggle.key] = !off;
  return true;
}

/** Comma-separated toggles without their dashes (`no-wrap-tiny,stats=1`); `bad` lists the items that are none. */
export function parseToggles(text: string): {toggles: Partial<Features>; bad: string[]} {
  const toggles: Partial<Features> = {};
  const bad = text.split(',').filter((item) => !parseToggle(item.trim(), toggles));
  return {toggles, bad};
}

export function parseDiffTarget(spec: string, profile: Profile): DiffTarget {
  if (isAllocatorName(spec)) return {kind: 'allocator', allocator: spec};
  const match = /^hakmem:(.+)$/.exec(spec);
  if (!match) throw new UsageError(`--diff ${spec}: ${SYNTAX}.`);
  const rest = match[1]!;
  if (profile.variants.some((variant) => variant.name === rest)) return {kind: 'variant', variant: rest};
  const {toggles, bad} = parseToggles(rest);
  if (bad.length > 0) {
    const variants = profile.variants.length > 1 ? ` Profile ${profile.name}'s variants: ${profile.variants.map((variant) => variant.name).join(', ')}.` : '';
    throw new UsageError(`--diff ${spec}: "${bad.join('", "')}" is neither a toggle nor a variant of ${profile.name}.`, {hint: `${SYNTAX}.${variants}`});
  }

  return {kind: 'toggles', toggles, text: rest};
}

export interface CategoryComparison {
  category: Category;
  /** Shares of the first and the second run (0 where the category did not appear). */
  a: number;
  b: number;
}

/** Every category either run has, in the fixed category order. */
export function compareCategories(a: Partial<Record<Category, number>>, b: Partial<Record<Category, number>>): CategoryComparison[] {
  return CATEGORIES.filter((category) => a[category] !== undefined || b[category] !== undefined).map((category) => ({
    category,
    a: a[category] ?? 0,
    b: b[category] ?? 0,
  }));
}

/** How functions are compared: the figure's name and how to read it from a hotspot. */
export interface FunctionFigure {
  name: 'instructions' | 'd1Misses';
  of: (hotspot: Hotspot) => number;
}

export interface FunctionComparison {
  symbol: string;
  library: string;
  category: Category;
  /** `instructions` or `d1Misses`, per operation. */
  figure: FunctionFigure['name'];
  /** The first run's figure (the work tree under --base) and the second's; 0 where a function did not run. */
  a: number;
  b: number;
  /** a - b: above 0, the function costs more in the first run. */
  change: number;
}

/**
 * Changes smaller than these, per operation, are left out: below what the table prints (0.1
 * instructions, 0.001 misses), they are start-up work spread over the operations, not a change
 * of the code on the measured path.
 */
const NEGLIGIBLE_CHANGE: Record<FunctionFigure['name'], number> = {instructions: 0.05, d1Misses: 0.0005};

/**
 * Every function of either run, matched by symbol and library, with its figure per operation in
 * both and the change, largest change first; functions that cost the same are left out. Empty
 * without an exact figure (sampled runs).
 */
export function compareFunctions(a: readonly Hotspot[], b: readonly Hotspot[], figure: FunctionFigure | null): FunctionComparison[] {
  if (!figure) return [];
  const key = (hotspot: Hotspot): string => `${hotspot.symbol}\0${hotspot.library}`;
  const rows = new Map<string, FunctionComparison>();
  const row = (hotspot: Hotspot): FunctionComparison => {
    const found = rows.get(key(hotspot));
    if (found) return found;
    const created: FunctionComparison = {symbol: hotspot.symbol, library: hotspot.library, category: hotspot.category, figure: figure.name, a: 0, b: 0, change: 0};
    rows.set(key(hotspot), created);
    return created;
  };

  for (const hotspot of a) row(hotspot).a += figure.of(hotspot);
  for (const hotspot of b) row(hotspot).b += figure.of(hotspot);
  return [...rows.values()]
    .map((entry) => ({...entry, change: entry.a - entry.b}))
    .filter((entry) => Math.abs(entry.change) >= NEGLIGIBLE_CHANGE[figure.name])
    .sort((x, y) => Math.abs(y.change) - Math.abs(x.change) || x.symbol.localeCompare(y.symbol));
}
