/**
 * The text `hak perf` prints: a header per run (what ran, how it was measured, where it was
 * saved), then the hotspot and category tables of one run, the two runs of --diff and --base
 * side by side with the functions whose cost changed, or the steps of --steps; and the warnings.
 */
import {describeFeatures} from '../features.js';
import {renderTable} from '../ui/table.js';
import type {CachePerOp} from './cache.js';
import type {FunctionComparison} from './diff.js';
import type {CacheRun, PerfHotspot, PerfMode, PerfResult, PerfRun, PerfStep} from './index.js';
import type {Category} from './owners.js';

/** How many changed functions the table shows; --json has them all. */
export const SHOWN_FUNCTIONS = 15;

/** A path as the user would type it (the command's displayPath). */
export type ShowPath = (path: string) => string;

const signed = (value: number, digits: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;
const number = (value: number): string => value.toLocaleString('en-US');
const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;
/** Figures per operation keep their decimals; a command's whole-run counts are whole numbers. */
const count = (value: number, digits: number): string => (value >= 10_000 ? number(Math.round(value)) : value.toFixed(digits));
const perOp = (value: number | undefined): string => (value === undefined ? '' : count(value, 1));
const misses = (value: number | undefined): string => (value === undefined ? '' : count(value, 3));
/** Per operation: instructions, D1 misses (reads and writes), D1 read misses, LL misses, branch mispredicts. */
const CACHE_HEAD = ['instr', 'D1 miss', 'D1 read', 'LL miss', 'mispred'];
const cacheCells = (figures: CachePerOp | undefined): string[] =>
  figures
    ? [perOp(figures.instructions), misses(figures.d1Misses), misses(figures.d1ReadMisses), misses(figures.llMisses), misses(figures.branchMispredicts)]
    : ['', '', '', '', ''];

/** A run's exact figures, where its mode has them. */
const instructionsOf = (run: PerfRun): number | undefined => (run.mode === 'samples' ? undefined : run.instructionsPerOp);
const cacheOf = (run: PerfRun): CachePerOp | undefined => (run.mode === 'cache' ? run.cachePerOp : undefined);
const categoryCacheOf = (run: PerfRun, category: Category): CachePerOp | undefined => (run.mode === 'cache' ? run.categoryCachePerOp[category] : undefined);
const categoryInstructionsOf = (run: PerfRun, category: Category): number | undefined =>
  run.mode === 'instructions' ? run.categoryInstructionsPerOp[category] : undefined;

/** The functions whose cost per operation changed most between the two runs, largest change first. */
export async function functionChangeTable(functions: readonly FunctionComparison[], labels: {a: string; b: string}): Promise<string> {
  const digits = functions[0]?.figure === 'd1Misses' ? 3 : 1;
  const rows = functions.slice(0, SHOWN_FUNCTIONS).map((row) => [
    signed(row.change, digits),
    row.b.toFixed(digits),
    row.a.toFixed(digits),
    row.symbol,
    row.library,
    row.category,
  ]);
  const unit = functions[0]?.figure === 'd1Misses' ? 'D1 miss/op' : 'instr/op';
  return renderTable([`change ${unit}`, labels.b, labels.a, 'function (self)', 'library', 'category'], rows, {wrap: [3]});
}

/** How the run was measured: the lines after its `run` line. */
function measuredLines(run: PerfRun): string[] {
  switch (run.mode) {
    case 'samples': {
      const callGraph = run.callGraph === 'none' ? 'no call graphs' : `call graphs ${run.callGraph}`;
      const lines = [
        run.ops > 0 ? `  measured  ${number(run.ops)} ops in ${run.seconds.toFixed(3)} s` : `  measured  ${run.seconds.toFixed(3)} s of wall time (a command: the whole run)`,
        `  event     ${run.eventDescription}, ${run.frequency} Hz, ${callGraph}: ${number(run.samples)} samples`,
      ];
      const h = run.hardware;
      if (h) {
        const figure = (value: number | null, format: (x: number) => string): string => (value === null ? 'n/a' : format(value));
        lines.push(
          `  per op    ${figure(h.instructionsPerOp, (x) => x.toFixed(1))} instructions, ${figure(h.cyclesPerOp, (x) => x.toFixed(1))} cycles, IPC ${figure(h.ipc, (x) => x.toFixed(2))}, ` +
            `L1-dcache miss rate ${figure(h.l1MissRate, (x) => `${(x * 100).toFixed(2)}%`)}, branch miss rate ${figure(h.branchMissRate, (x) => `${(x * 100).toFixed(2)}%`)} (whole process)`,
        );
      } else if (run.hardwareNote) {
        lines.push(`  per op    ${run.hardwareNote}`);
      }

      return lines;
    }

    case 'cache': {
      const figures = run.cachePerOp;
      const lines = [
        `  simulated ${run.eventDescription}: simulated figures, not hardware counts`,
        `  ${run.ops > 0 ? 'per op ' : 'per run'}   ${perOp(figures.instructions)} instructions, ${misses(figures.d1Misses)} D1 misses (${misses(figures.d1ReadMisses)} reads), ` +
          `${misses(figures.llMisses)} LL misses, ${misses(figures.branchMispredicts)} branch mispredicts${run.ops > 0 ? ` (${number(run.ops)} ops)` : ' (the whole command)'}`,
      ];
      const h = run.hardware;
      if (h) {
        const figure = (value: number | null): string => (value === null ? 'n/a' : misses(value));
        lines.push(`  hardware  perf stat, whole process: ${figure(h.l1MissesPerOp)} L1-dcache load misses, ${figure(h.branchMissesPerOp)} branch misses per op`);
      } else if (run.hardwareNote) {
        lines.push(`  hardware  ${run.hardwareNote}`);
      }

      return lines;
    }

    default: {
      return [
        `  counted   ${number(run.instructions)} ${run.eventDescription}`,
        `  per op    ${run.instructionsPerOp.toFixed(1)} instructions per operation (${number(run.ops)} ops: malloc and free calls with the benchmark's own work)`,
      ];
    }
  }
}

/** What ran, with which toggles, how it was measured, and where it was saved. */
export function runHeader(run: PerfRun, showPath: ShowPath): string[] {
  const variant = run.allocator === 'hakmem' ? `, variant ${run.variant}` : ` (benchmark programs of ${run.variant})`;
  return [
    `${run.label}${variant}`,
    ...(run.allocator === 'hakmem' ? [`  toggles   ${describeFeatures(run.features)}`] : []),
    `  run       ${run.command}`,
    ...measuredLines(run),
    `  saved     ${showPath(run.resultDir)}/ (${Object.values(run.files).join(', ')})`,
    ...(run.mode === 'samples' && run.flamegraph ? [`  flame     ${showPath(run.flamegraph)}`] : []),
  ];
}

/** The run's functions, most expensive first: share, and the mode's figures per operation. */
async function hotspotTable(run: PerfRun): Promise<string> {
  const where = (hotspot: PerfHotspot): string[] => [hotspot.symbol, hotspot.library, hotspot.category];
  switch (run.mode) {
    case 'cache': {
      const rows = run.hotspots.map((hotspot) => [...cacheCells(hotspot.cachePerOp), percent(hotspot.share), ...where(hotspot)]);
      return renderTable([...CACHE_HEAD, 'D1 %', 'function (self)', 'library', 'category'], rows, {wrap: [6]});
    }

    case 'instructions': {
      const rows = run.hotspots.map((hotspot) => [perOp(hotspot.instructionsPerOp), percent(hotspot.share), ...where(hotspot)]);
      return renderTable(['instr/op', 'share', 'function (self)', 'library', 'category'], rows, {wrap: [2]});
    }

    default: {
      return renderTable(['share', 'symbol', 'library', 'category'], run.hotspots.map((hotspot) => [percent(hotspot.share), ...where(hotspot)]), {wrap: [1]});
    }
  }
}

/** The run's owners: share, and the mode's figures per operation (with --cache a total). */
async function categoryTable(run: PerfRun): Promise<string> {
  if (run.mode === 'cache') {
    const categories = Object.entries(run.categoryCachePerOp) as [Category, CachePerOp][];
    const rows = categories.map(([category, figures]) => [category, ...cacheCells(figures), percent(run.categories[category] ?? 0)]);
    rows.push(['total', ...cacheCells(run.cachePerOp), '100.0%']);
    return renderTable(['category', ...CACHE_HEAD, 'D1 %'], rows);
  }

  const instructions = run.mode === 'instructions';
  const categories = Object.entries(run.categories) as [Category, number][];
  const rows = categories.map(([category, share]) => [category, ...(instructions ? [perOp(categoryInstructionsOf(run, category))] : []), percent(share)]);
  return renderTable(['category', ...(instructions ? ['instr/op'] : []), 'share'], rows);
}

/** One run: its header, hotspots and owners. */
async function oneRun(run: PerfRun, showPath: ShowPath): Promise<string[]> {
  return [`hak perf ${run.profile}: ${run.label}`, ...runHeader(run, showPath), '', await hotspotTable(run), '', await categoryTable(run), '', run.attribution];
}

/** The steps of --steps side by side, each against the one before. */
async function stepRuns(first: PerfRun, steps: PerfStep[], showPath: ShowPath): Promise<string[]> {
  const cache = first.mode === 'cache';
  const change = (value: number, before: number | undefined, format: (x: number) => string): string =>
    before === undefined ? '' : `${value - before >= 0 ? '+' : ''}${format(value - before)}`;
  const rows = steps.map((step, index) => {
    const figures = cacheOf(step.run);
    const before = index > 0 ? steps[index - 1]!.run : undefined;
    const instructions = instructionsOf(step.run) ?? 0;
    const cells = cache ? [...cacheCells(figures), change(figures?.d1Misses ?? 0, before && cacheOf(before)?.d1Misses, misses)] : [perOp(instructions)];
    return [step.name, ...cells, change(instructions, before && instructionsOf(before), perOp), step.expected ?? ''];
  });
  const head = cache ? [...CACHE_HEAD, 'D1 change'] : ['instr/op'];
  return [
    `hak perf ${first.profile}: ${steps.length} steps`,
    ...steps.flatMap((step) => runHeader(step.run, showPath)),
    '',
    await renderTable(['step', ...head, 'instr change', 'expected'], rows),
    '',
    `Figures per operation; each change is against the step before.${cache ? ' Simulated figures, not hardware counts.' : ''}`,
  ];
}

/** A function in the ranked table of two runs: its figure per operation and where it is. */
function rankCell(hotspot: PerfHotspot | undefined, mode: PerfMode): string {
  if (!hotspot) return '';
  const where = `${hotspot.symbol} (${hotspot.library})`;
  if (mode === 'cache') return `${misses(hotspot.cachePerOp?.d1Misses)} D1/op ${where}`;
  const cost = mode === 'instructions' ? `${perOp(hotspot.instructionsPerOp)}/op ` : '';
  return `${cost}${percent(hotspot.share)} ${where}`;
}

/** The two runs' hotspots rank by rank. */
async function rankTable(a: PerfRun, b: PerfRun): Promise<string> {
  const ranks = Math.max(a.hotspots.length, b.hotspots.length);
  const rows = Array.from({length: ranks}, (_, index) => [String(index + 1), rankCell(a.hotspots[index], a.mode), rankCell(b.hotspots[index], a.mode)]);
  return renderTable(['#', a.label, b.label], rows, {wrap: [1, 2]});
}

/** With an exact figure, the functions whose cost changed most; nothing for sampled runs. */
async function functionChanges(result: PerfResult): Promise<string[]> {
  if (!result.diff || result.mode === 'samples') return [];
  const {against, functions} = result.diff;
  if (functions.length === 0) return [`No function's cost per operation changed between ${against.label} and ${result.label}.`, ''];
  return [
    `Functions whose cost per operation changed most, ${against.label} -> ${result.label} (${functions.length} changed; --json lists all):`,
    await functionChangeTable(functions, {a: result.label, b: against.label}),
    '',
  ];
}

/** With --cache, the two runs' totals (with their ratio) and their figures per category. */
async function cacheComparison(a: CacheRun, b: PerfRun, categories: readonly Category[]): Promise<string[]> {
  const figureNames: Record<keyof CachePerOp, string> = {
    instructions: 'instructions',
    d1Misses: 'D1 misses',
    d1ReadMisses: 'D1 read misses',
    llMisses: 'LL misses',
    branchMispredicts: 'branch mispredicts',
  };
  const totals = (Object.keys(figureNames) as (keyof CachePerOp)[]).map((key) => {
    const x = a.cachePerOp[key];
    const y = cacheOf(b)?.[key] ?? 0;
    const format = key === 'instructions' ? perOp : misses;
    return [figureNames[key], format(x), format(y), y === 0 ? '' : `${(x / y).toFixed(2)}x`];
  });
  const rows = categories.map((category) => {
    const x = a.categoryCachePerOp[category];
    const y = categoryCacheOf(b, category);
    return [category, perOp(x?.instructions ?? 0), misses(x?.d1Misses ?? 0), perOp(y?.instructions ?? 0), misses(y?.d1Misses ?? 0)];
  });
  return [
    await renderTable(['per op', a.label, b.label, `${a.label} / ${b.label}`], totals),
    '',
    await renderTable(['category', `${a.label} instr/op`, `${a.label} D1 miss/op`, `${b.label} instr/op`, `${b.label} D1 miss/op`], rows),
  ];
}

/** Without --cache, the two runs' shares per category (and with --instructions their figures, with a total). */
async function categoryComparison(a: PerfResult, b: PerfRun): Promise<string> {
  const instructions = a.mode === 'instructions';
  const perOpOf = (run: PerfRun, category: Category): string[] => (instructions ? [perOp(categoryInstructionsOf(run, category) ?? 0)] : []);
  const rows = (a.diff?.categories ?? []).map((row) => [row.category, ...perOpOf(a, row.category), percent(row.a), ...perOpOf(b, row.category), percent(row.b)]);
  const unit = (label: string): string[] => (instructions ? [`${label} instr/op`, `${label} share`] : [label]);
  if (instructions) rows.push(['total', perOp(instructionsOf(a) ?? 0), '100.0%', perOp(instructionsOf(b) ?? 0), '100.0%']);
  return renderTable(['category', ...unit(a.label), ...unit(b.label)], rows);
}

/** The run and the second of --diff or --base, side by side. */
async function twoRuns(a: PerfResult, b: PerfRun, showPath: ShowPath): Promise<string[]> {
  const comparison =
    a.mode === 'cache' ? await cacheComparison(a, b, (a.diff?.categories ?? []).map(({category}) => category)) : [await categoryComparison(a, b)];
  return [
    `hak perf ${a.profile}: ${a.label} against ${b.label}`,
    ...runHeader(a, showPath),
    ...runHeader(b, showPath),
    '',
    ...comparison,
    '',
    await rankTable(a, b),
    '',
    ...(await functionChanges(a)),
    a.attribution,
  ];
}

/** Everything `hak perf` prints on stdout for the result. */
export async function perfText(result: PerfResult, showPath: ShowPath): Promise<string> {
  const lines = result.steps
    ? await stepRuns(result, result.steps, showPath)
    : result.diff
      ? await twoRuns(result, result.diff.against, showPath)
      : await oneRun(result, showPath);
  return lines.join('\n');
}

/** The runs' warnings, each naming its run where there are several. */
export function perfWarnings(result: PerfResult): string[] {
  const runs = result.steps ? result.steps.map((step) => step.run) : result.diff ? [result, result.diff.against] : [result];
  return runs.flatMap((run) => run.warnings.map((warning) => `Warning${runs.length > 1 ? ` (${run.label})` : ''}: ${warning}`));
}
