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
import {CATEGORIES, type Category} from './owners.js';

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

export function parseDiffTarget(spec: string, profile: Profile): DiffTarget {
  if (isAllocatorName(spec)) return {kind: 'allocator', allocator: spec};
  const match = /^hakmem:(.+)$/.exec(spec);
  if (!match) throw new UsageError(`--diff ${spec}: ${SYNTAX}.`);
  const rest = match[1]!;
  if (profile.variants.some((variant) => variant.name === rest)) return {kind: 'variant', variant: rest};
  const toggles: Partial<Features> = {};
  const bad = rest.split(',').filter((item) => !parseToggle(item.trim(), toggles));
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
