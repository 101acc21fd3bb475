/**
 * hak perf's runs set against each other: the second run of --diff (another allocator, variant
 * or toggles) or of --base (hakmem from another revision), compared per category and, with an
 * exact figure, per function; and --steps, every variant of a sweep profile in turn.
 */
import type {Revision} from '../build/revision.js';
import {UsageError} from '../errors.js';
import {compareCategories, compareFunctions, type DiffTarget, type FunctionFigure} from './diff.js';
import type {PerfHotspot, PerfMode, PerfOptions, PerfResult, PerfRun, PerfStep} from './index.js';
import {DEFAULT_TOP, type Measure, runSide, type Side} from './measure.js';

/** The second run --diff names. */
export function diffSide(target: DiffTarget, options: PerfOptions): Side {
  switch (target.kind) {
    case 'allocator': {
      return {suffix: target.allocator, label: target.allocator, allocator: target.allocator};
    }

    case 'variant': {
      return {suffix: target.variant, label: `hakmem:${target.variant}`, allocator: 'hakmem', variant: target.variant};
    }

    default: {
      const features = {...options.overrides?.features, ...target.toggles};
      return {suffix: target.text, label: `hakmem:${target.text}`, allocator: 'hakmem', overrides: {...options.overrides, features}};
    }
  }
}

/** hakmem from another revision, with the run's own toggles. */
export function baseSide(base: Revision): Side {
  return {suffix: base.tag, label: `hakmem@${base.tag}`, allocator: 'hakmem', sources: base};
}

/** The per-operation figure functions are compared by: instructions, or with --cache D1 misses; none for samples. */
function exactFigure(mode: PerfMode): FunctionFigure | null {
  if (mode === 'instructions') return {name: 'instructions', of: (hotspot: PerfHotspot) => hotspot.instructionsPerOp ?? 0};
  if (mode === 'cache') return {name: 'd1Misses', of: (hotspot: PerfHotspot) => hotspot.cachePerOp?.d1Misses ?? 0};
  return null;
}

/** The run the options describe and `second`, with their differences; the hotspot lists are cut to --top after the comparison. */
export async function profileDiff(options: PerfOptions, second: Side, time: Date, measure: Measure): Promise<PerfResult> {
  // Every function is kept for the comparison.
  const everything = {...options, top: Number.MAX_SAFE_INTEGER};
  const primary = await runSide(everything, {suffix: null}, time, measure);
  const against = await runSide(everything, second, time, measure);
  const top = (run: PerfRun): PerfRun => ({...run, hotspots: run.hotspots.slice(0, options.top ?? DEFAULT_TOP)});
  return {
    ...top(primary),
    diff: {
      against: top(against),
      categories: compareCategories(primary.categories, against.categories),
      functions: compareFunctions(primary.hotspots, against.hotspots, exactFigure(primary.mode)),
    },
  };
}

/** Each variant of a sweep profile in turn, so that each step's effect on the exact figures shows. */
export async function profileSteps(options: PerfOptions, time: Date, measure: Measure): Promise<PerfResult> {
  const {profile} = options;
  if (!options.cache && !options.instructions) {
    throw new UsageError('--steps compares exact figures: add --cache or --instructions.');
  }

  if (profile.variants.length < 2) {
    throw new UsageError(`--steps: profile ${profile.name} names one hakmem variant; a sweep profile (phases) names several.`);
  }

  const steps: PerfStep[] = [];
  for (const variant of profile.variants) {
    const side: Side = {suffix: variant.name, label: `hakmem:${variant.name}`, allocator: 'hakmem', variant: variant.name};
    steps.push({name: variant.name, expected: variant.expected, run: await runSide(options, side, time, measure)});
  }

  return {...steps[0]!.run, steps};
}
