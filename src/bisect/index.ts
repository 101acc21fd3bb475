/**
 * `hak bisect`: the first commit between a good and a bad one that moved a profile's figure.
 *
 *   const result = await bisect({profile, good: 'v1.2', bad: 'HEAD', metric: 'instructions'});
 *   result.firstBad?.commit
 *
 * The search runs over the csrc/ trees of the commits in between (commits.ts): a commit that
 * leaves csrc/ as its parent had it cannot change hakmem, and a tree measured once is never
 * built or measured again.
 *
 * - Deterministic metrics (instructions, simulated D1 misses per operation) come from one
 *   callgrind run per tree (hak perf's measurers). A tree is bad when its figure has left the
 *   good tree's by more than the tolerance, towards the bad tree's.
 * - Wall-clock metrics (throughput, peak RSS) run each candidate interleaved with both ends
 *   (hak bench's runner) and judge it from the ratio intervals: good when it is level with
 *   the good end and clear of the bad end, bad when it is clear of the good end on the bad end's
 *   side. Anything else is unclear: the step is run again with twice the runs, up to a cap, and
 *   then skipped as `git bisect skip` does.
 */
import {existsSync, readdirSync} from 'node:fs';

import {compareMemory, compareResults, type TargetResult, analyzeRecord} from '../bench/analysis.js';
import type {BenchRecord} from '../bench/record.js';
import {runBench} from '../bench/runner.js';
import {resolveRevision, type Revision} from '../build/revision.js';
import {UsageError, VerdictError} from '../errors.js';
import {buildsDir} from '../paths.js';
import {profileRun} from '../perf/index.js';
import {type Profile, profileFigure, type VariantOverrides} from '../profiles/index.js';
import type {ComparisonVerdict} from '../statistics/ratio.js';
import {DEFAULT_NOISE} from '../statistics/ratio.js';
import {type BisectCommit, bisectRange, type TreeRun} from './commits.js';

export const BISECT_METRICS = ['throughput', 'peak-rss', 'instructions', 'd1-misses'] as const;
export type BisectMetric = (typeof BISECT_METRICS)[number];

/** A deterministic figure has left the good end's when it differs by more than this (0.5%). */
export const DEFAULT_EXACT_TOLERANCE = 0.005;

export interface BisectOptions {
  profile: Profile;
  good: string;
  bad: string;
  metric: BisectMetric;
  threads?: number;
  overrides?: VariantOverrides;
  /** Wall-clock metrics: measured runs per target in a step (default the profile's). */
  runs?: number;
  warmup?: number;
  /** Wall-clock metrics: an unclear step is rerun with twice the runs up to this many (default 4x runs). */
  maxRuns?: number;
  /** Wall-clock metrics: the noise band of the ratio verdicts. */
  noise?: number;
  /** Deterministic metrics: how far a figure must leave the good end's to count as moved. */
  tolerance?: number;
  onProgress?: (text: string) => void;
}

export type StepVerdict = 'good' | 'bad' | 'skipped';

/** What one measurement of a commit says: its figure, verdict and why. */
export interface Judgement {
  /** The figure (the median, for wall-clock metrics). */
  figure: number | null;
  verdict: StepVerdict;
  /** Why: the ratios and their verdicts, or the figure's distance from the good end's. */
  reason: string;
  /** Wall-clock: the candidate against each end, with their intervals. */
  vsGood: ComparisonVerdict | null;
  vsBad: ComparisonVerdict | null;
  /** Wall-clock: measured runs per target in the step's last attempt; 1 for deterministic metrics. */
  runs: number;
}

export interface BisectStep extends Judgement {
  commit: string;
  subject: string;
  csrcTree: string;
  /** `good end`, `bad end`, or a candidate. */
  role: 'good end' | 'bad end' | 'candidate';
  /** The figure came from a tree measured before (no build, no run). */
  reused: boolean;
}

export interface FigureOf {
  commit: string;
  subject: string;
  figure: number | null;
}

export interface BisectResult {
  profile: string;
  metric: BisectMetric;
  /** `ops/s`, `kB`, `instructions/op`, `D1 misses/op`, or a command's unit. */
  unit: string;
  better: 'higher' | 'lower';
  good: FigureOf;
  bad: FigureOf;
  /** The first commit that moved the figure, with its parent's figure; null when skips leave several. */
  firstBad: (FigureOf & {parent: FigureOf}) | null;
  /** When skipped steps leave more than one commit that may be the first bad one, all of them. */
  possibleFirstBad: {commit: string; subject: string}[];
  /** Commits after good up to bad, and how many distinct csrc/ trees they have (good's included). */
  commits: number;
  trees: number;
  steps: BisectStep[];
  /** hakmem builds made (trees already built, by any earlier run, cost none). */
  builds: number;
  wallSeconds: number;
}

const EXACT: ReadonlySet<BisectMetric> = new Set(['instructions', 'd1-misses']);

function variantDirs(): Set<string> {
  const dir = buildsDir();
  return new Set(existsSync(dir) ? readdirSync(dir).filter((name) => !name.startsWith('.')) : []);
}

function treeRevision(run: TreeRun, good: Revision, bad: Revision): Promise<Revision> {
  const first = run.commits[0]!;
  if (first.commit === good.commit) return Promise.resolve(good);
  if (first.commit === bad.commit) return Promise.resolve(bad);
  return resolveRevision(first.commit);
}

interface Judge {
  unit: string;
  better: 'higher' | 'lower';
  /** Measures both ends and checks that the figure moved between them. */
  ends(good: Revision, bad: Revision): Promise<{good: number | null; bad: number | null; runs: number}>;
  judge(candidate: Revision, good: Revision, bad: Revision): Promise<Judgement>;
}

const percent = (fraction: number): string => `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(2)}%`;

/** Deterministic figures: one measurement per tree, bad when it left the good end's towards the bad end's. */
function exactJudge(options: BisectOptions): Judge {
  const figures = new Map<string, number>();
  const tolerance = options.tolerance ?? DEFAULT_EXACT_TOLERANCE;
  const measure = async (revision: Revision): Promise<number> => {
    const known = figures.get(revision.csrcTree!);
    if (known !== undefined) return known;
    options.onProgress?.(`${revision.tag}: measuring ${options.metric} per operation`);
    const run = await profileRun({
      profile: options.profile,
      instructions: options.metric === 'instructions',
      cache: options.metric === 'd1-misses',
      threads: options.threads,
      overrides: options.overrides,
      sources: revision,
      top: 0,
      onProgress: options.onProgress,
    });
    const figure = run.mode === 'instructions' ? run.instructionsPerOp : run.mode === 'cache' ? run.cachePerOp.d1Misses : undefined;
    if (figure === undefined) throw new UsageError(`${options.profile.name} gave no ${options.metric} figure for ${revision.tag}.`);
    figures.set(revision.csrcTree!, figure);
    return figure;
  };

  let ends: {good: number; bad: number} | null = null;
  return {
    unit: options.metric === 'instructions' ? 'instructions/op' : 'D1 misses/op',
    better: 'lower',
    async ends(good, bad) {
      ends = {good: await measure(good), bad: await measure(bad)};
      const moved = (ends.bad - ends.good) / ends.good;
      if (Math.abs(moved) <= tolerance) {
        throw new VerdictError(
          `${options.metric} per operation did not move between good and bad: ${ends.good.toFixed(3)} and ${ends.bad.toFixed(3)} (${percent(moved)}, within ${(tolerance * 100).toFixed(1)}%): nothing to bisect.`,
          {good: ends.good, bad: ends.bad},
          'Check the refs, or bisect another metric (--metric).',
        );
      }

      return {...ends, runs: 1};
    },
    async judge(candidate) {
      const {good, bad} = ends!;
      const reused = figures.has(candidate.csrcTree!);
      const figure = await measure(candidate);
      const moved = (figure - good) / good;
      const towardsBad = Math.sign(figure - good) === Math.sign(bad - good);
      const level = Math.abs(moved) <= tolerance;
      const verdict: StepVerdict = level ? 'good' : towardsBad ? 'bad' : 'skipped';
      const side = level ? `within ${(tolerance * 100).toFixed(1)}% of good's` : towardsBad ? "towards bad's" : "away from bad's: neither end";
      return {figure, verdict, reason: `${percent(moved)} against good, ${side}${reused ? ' (tree measured before)' : ''}`, vsGood: null, vsBad: null, runs: 1};
    },
  };
}

/** The figure of a wall-clock target: its median, or its median peak RSS in kB. */
function wallFigure(record: BenchRecord, result: TargetResult | undefined, metric: BisectMetric): number | null {
  if (!result || result.status !== 'ok') return null;
  if (metric === 'throughput') return result.median;
  const peaks = record.targets.find((target) => target.label === result.label)?.runs.map((run) => run.peakRssKb).sort((a, b) => a - b) ?? [];
  return peaks.length === 0 ? null : peaks[Math.floor((peaks.length - 1) / 2)]!;
}

/** A memory verdict in speed's words, so one rule judges both: lower memory reads as "faster". */
function asSpeed(verdict: ReturnType<typeof compareMemory>): ComparisonVerdict | null {
  if (!verdict) return null;
  const inverted = (value: number | null): number | null => (value === null ? null : 1 / value);
  return {ratio: 1 / verdict.ratio, low: inverted(verdict.high), high: inverted(verdict.low), verdict: verdict.verdict === 'lower' ? 'faster' : verdict.verdict === 'higher' ? 'slower' : 'within noise'};
}

const opposite = (verdict: string): string => (verdict === 'faster' ? 'slower' : verdict === 'slower' ? 'faster' : 'within noise');

/**
 * A wall-clock step's verdict from the candidate's ratios to both ends, `direction` being how
 * the bad end differs from the good one: bad when the candidate is clear of the good end on the
 * bad end's side; good when it is level with the good end and clear of the bad end; otherwise
 * unclear (skipped, once more runs have not settled it).
 */
export function wallVerdict(vsGood: ComparisonVerdict | null, vsBad: ComparisonVerdict | null, direction: 'faster' | 'slower'): StepVerdict {
  if (vsGood?.verdict === direction) return 'bad';
  if (vsGood?.verdict === 'within noise' && vsBad?.verdict === opposite(direction)) return 'good';
  return 'skipped';
}

function describeRatio(name: string, comparison: ComparisonVerdict | null): string {
  if (!comparison) return `${name}: not comparable`;
  const interval = comparison.low === null ? 'no interval' : `${comparison.low.toFixed(3)}-${comparison.high!.toFixed(3)}`;
  return `${name} x${comparison.ratio.toFixed(3)} [${interval}] ${comparison.verdict}`;
}

/** Wall-clock figures: every step runs the candidate interleaved with both ends. */
function wallJudge(options: BisectOptions): Judge {
  const runs = options.runs ?? options.profile.runs;
  const maxRuns = Math.max(runs, options.maxRuns ?? runs * 4);
  const noise = options.noise ?? DEFAULT_NOISE;
  let direction: 'faster' | 'slower' = 'slower';

  /** One interleaved run of the revisions, each result's ratio to the first (the good end). */
  const measure = async (revisions: Revision[], count: number): Promise<{results: TargetResult[]; record: BenchRecord}> => {
    const record = await runBench(options.profile, {
      revisions,
      allocators: ['hakmem'],
      runs: count,
      warmup: options.warmup,
      threads: options.threads,
      overrides: options.overrides,
      noise,
      onProgress: options.onProgress,
    });
    const analysis = analyzeRecord(record);
    return {results: analysis.results, record};
  };

  const versus = (record: BenchRecord, candidate: TargetResult | undefined, reference: TargetResult | undefined): ComparisonVerdict | null => {
    if (!candidate || !reference) return null;
    return options.metric === 'peak-rss' ? asSpeed(compareMemory(record, candidate, reference, noise)) : compareResults(candidate, reference, noise);
  };

  const failed = (results: TargetResult[]): TargetResult | undefined => results.find((result) => result.status !== 'ok');

  return {
    ...(options.metric === 'peak-rss' ? {unit: 'kB', better: 'lower' as const} : profileFigure(options.profile)),
    async ends(good, bad) {
      for (let count = runs; ; count = Math.min(maxRuns, count * 2)) {
        const {results, record} = await measure([good, bad], count);
        const broken = failed(results);
        if (broken) throw new VerdictError(`${broken.label} is ${broken.status.toUpperCase()}: ${broken.cause}; a bisection needs both ends measured.`, {label: broken.label});
        const [atGood, atBad] = results;
        const moved = versus(record, atBad, atGood);
        if (moved && moved.verdict !== 'within noise') {
          direction = moved.verdict;
          return {good: wallFigure(record, atGood, options.metric), bad: wallFigure(record, atBad, options.metric), runs: count};
        }

        if (count >= maxRuns) {
          throw new VerdictError(
            `${options.metric} did not move between good and bad beyond the noise band in ${count} runs (${describeRatio('bad/good', moved)}): nothing to bisect.`,
            {ratio: moved?.ratio ?? null},
            'Check the refs, raise --max-runs, or bisect a deterministic metric (--metric instructions).',
          );
        }
      }
    },
    async judge(candidate, good, bad) {
      let judgement: Judgement | null = null;
      for (let count = runs; ; count = Math.min(maxRuns, count * 2)) {
        const {results, record} = await measure([good, candidate, bad], count);
        const [atGood, atCandidate, atBad] = results;
        const figure = wallFigure(record, atCandidate, options.metric);
        if (failed(results)) {
          const broken = failed(results)!;
          return {figure, verdict: 'skipped', reason: `${broken.label} ${broken.status.toUpperCase()}: ${broken.cause}`, vsGood: null, vsBad: null, runs: count};
        }

        const vsGood = versus(record, atCandidate, atGood);
        const vsBad = versus(record, atCandidate, atBad);
        const reason = `${describeRatio('vs good', vsGood)}; ${describeRatio('vs bad', vsBad)}`;
        judgement = {figure, verdict: wallVerdict(vsGood, vsBad, direction), reason, vsGood, vsBad, runs: count};
        if (judgement.verdict !== 'skipped' || count >= maxRuns) break;
        options.onProgress?.(`${candidate.tag}: unclear (${reason}); again with ${Math.min(maxRuns, count * 2)} runs`);
      }

      return judgement.verdict === 'skipped' ? {...judgement, reason: `unclear after ${judgement.runs} runs: ${judgement.reason}`} : judgement;
    },
  };
}

function stepOf(commit: BisectCommit, role: BisectStep['role'], judgement: Judgement, reused: boolean): BisectStep {
  return {commit: commit.commit, subject: commit.subject, csrcTree: commit.csrcTree, role, reused, ...judgement};
}

/** The run to try between lo and hi: the middle one not skipped, nearest the middle; null when none is left. */
export function nextCandidate(lo: number, hi: number, skipped: ReadonlySet<number>): number | null {
  const middle = Math.floor((lo + hi) / 2);
  for (let offset = 0; offset < hi - lo; offset++) {
    for (const index of [middle - offset, middle + offset + 1]) {
      if (index > lo && index < hi && !skipped.has(index)) return index;
    }
  }

  return null;
}

export async function bisect(options: BisectOptions): Promise<BisectResult> {
  const started = performance.now();
  if (EXACT.has(options.metric) && options.profile.kind === 'command') {
    throw new UsageError(`--metric ${options.metric} counts the benchmark programs' measured loop; a command profile has none.`, {hint: 'Bisect a command profile by throughput or peak-rss.'});
  }

  const range = await bisectRange(options.good, options.bad);
  const {good, bad, runs} = range;
  if (runs.length < 2) {
    throw new UsageError(`csrc/ is the same at ${options.good} and every commit up to ${options.bad}: no commit between them changed hakmem.`);
  }

  const before = variantDirs();
  const judge = EXACT.has(options.metric) ? exactJudge(options) : wallJudge(options);
  const ends = await judge.ends(good, bad);
  const endFigure = (figure: number | null, verdict: StepVerdict): Judgement => ({figure, verdict, reason: `the ${verdict} end`, vsGood: null, vsBad: null, runs: ends.runs});
  const goodCommit = runs[0]!.commits[0]!;
  const badCommit = runs.at(-1)!.commits.at(-1)!;
  const steps: BisectStep[] = [stepOf(goodCommit, 'good end', endFigure(ends.good, 'good'), false), stepOf(badCommit, 'bad end', endFigure(ends.bad, 'bad'), false)];

  // Judgements by tree: a tree that comes back (a revert) is not measured twice.
  const byTree = new Map<string, Judgement>([[runs[0]!.csrcTree, endFigure(ends.good, 'good')], [runs.at(-1)!.csrcTree, endFigure(ends.bad, 'bad')]]);
  let lo = 0;
  let hi = runs.length - 1;
  const skipped = new Set<number>();
  for (let index = nextCandidate(lo, hi, skipped); index !== null; index = nextCandidate(lo, hi, skipped)) {
    const run = runs[index]!;
    const known = byTree.get(run.csrcTree);
    const judgement = known ?? (await judge.judge(await treeRevision(run, good, bad), good, bad));
    byTree.set(run.csrcTree, judgement);
    steps.push(stepOf(run.commits[0]!, 'candidate', judgement, known !== undefined));
    if (judgement.verdict === 'good') lo = index;
    else if (judgement.verdict === 'bad') hi = index;
    else skipped.add(index);
  }

  // Runs between lo and hi were all skipped: the first bad commit is the first of any of them, or hi's.
  const open = runs.slice(lo + 1, hi + 1).map((run) => run.commits[0]!);
  const figureAt = (index: number): number | null => byTree.get(runs[index]!.csrcTree)?.figure ?? null;
  const first = open.length === 1 ? open[0]! : null;
  const parentCommit = runs[lo]!.commits.at(-1)!;
  return {
    profile: options.profile.name,
    metric: options.metric,
    unit: judge.unit,
    better: judge.better,
    good: {commit: goodCommit.commit, subject: goodCommit.subject, figure: ends.good},
    bad: {commit: badCommit.commit, subject: badCommit.subject, figure: ends.bad},
    firstBad: first ? {commit: first.commit, subject: first.subject, figure: figureAt(hi), parent: {commit: parentCommit.commit, subject: parentCommit.subject, figure: figureAt(lo)}} : null,
    possibleFirstBad: first ? [] : open.map(({commit, subject}) => ({commit, subject})),
    commits: range.commits,
    trees: new Set(runs.map((run) => run.csrcTree)).size,
    steps,
    builds: [...variantDirs()].filter((name) => !before.has(name)).length,
    wallSeconds: Math.round(performance.now() - started) / 1000,
  };
}
