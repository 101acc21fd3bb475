/**
 * The text `hak bench` and `hak compare` print: cli-table3 tables of the analysed results and
 * the notes under them (who served, what failed, outliers, how the intervals were made). An
 * invalid or failed result shows INVALID or FAILED where its numbers would be.
 */
import {median, medianInterval} from '../statistics/describe.js';
import {DEFAULT_RESAMPLES, type ComparisonVerdict} from '../statistics/ratio.js';
import {type CellInput, renderTable, type TableCell, type TableRows} from '../ui/table.js';
import type {BenchAnalysis, MemoryVerdict, SweepStep, TargetResult} from './analysis.js';
import type {RecordComparison} from './compare.js';
import {servedShares} from './evidence.js';
import {formatGain, formatPercent, formatRange, formatRate, formatRatio, formatRss} from './format.js';
import type {BenchRecord} from './record.js';
import type {SuiteSummary} from './summary.js';

/** `verdict-faster`, `verdict-within-noise`, ...: how a verdict cell reads. */
export function verdictMark(verdict: string): string {
  return `verdict-${verdict.replaceAll(' ', '-')}`;
}

const MEMORY_UNIT = /^(B|bytes|kB|KB|MB|GB|KiB|MiB|GiB)$/;
const TIME_OR_RATE = /^(s|ms|us|µs|ns|min)$|\/s$/;

/**
 * How a figure's verdict reads: faster or slower for a time or a rate, less or more memory for
 * a memory figure (a command's RSS after idling), better or worse for anything else (blocks
 * served). The data keeps faster and slower: better or worse in the figure's direction.
 */
export function verdictWord(verdict: string, figure: {unit: string; better: 'higher' | 'lower'}): string {
  if (verdict !== 'faster' && verdict !== 'slower') return verdict;
  if (MEMORY_UNIT.test(figure.unit)) return (verdict === 'faster') === (figure.better === 'lower') ? 'less memory' : 'more memory';
  if (TIME_OR_RATE.test(figure.unit)) return verdict;
  return verdict === 'faster' ? 'better' : 'worse';
}

/** The ratio, its interval and the verdict; `prefix` names the fields (`rss-ratio`, ...). */
function ratioCells(comparison: ComparisonVerdict | MemoryVerdict | null, prefix = '', figure?: {unit: string; better: 'higher' | 'lower'}): CellInput[] {
  if (!comparison) return ['—', '', ''];
  const interval = comparison.low === null || comparison.high === null ? 'none (< 3 runs)' : `${comparison.low.toFixed(3)}–${comparison.high.toFixed(3)}`;
  return [
    {text: formatRatio(comparison.ratio), value: comparison.ratio, field: `${prefix}ratio`},
    {text: interval, field: `${prefix}ratio-interval`},
    {text: figure ? verdictWord(comparison.verdict, figure) : comparison.verdict, field: `${prefix}verdict`, mark: verdictMark(comparison.verdict)},
  ];
}

/** "+16.7% faster" over its interval "[+10.6%, +22.1%]", on two lines. */
function gainCell(comparison: ComparisonVerdict | null): string {
  if (!comparison) return '';
  const interval = comparison.low === null || comparison.high === null ? 'no interval (< 3 runs)' : `[${formatGain(comparison.low)}, ${formatGain(comparison.high)}]`;
  return `${formatGain(comparison.ratio)} ${comparison.verdict}\n${interval}`;
}

/** INVALID or FAILED where a result's figures would be. */
function statusCell(result: Pick<TargetResult, 'status'>, field: string): TableCell {
  return {text: result.status.toUpperCase(), field, mark: `status-${result.status}`};
}

const BASELINE: CellInput[] = [{text: 'baseline', field: 'ratio'}, '', ''];

function summaryCells(result: TargetResult): CellInput[] {
  if (result.status !== 'ok') return [statusCell(result, 'median'), '', '', ''];
  return [
    {text: formatRate(result.median!), value: result.median, field: 'median'},
    {text: formatRange(result.ci95![0], result.ci95![1]), field: 'ci95'},
    {text: formatRange(result.min!, result.max!), field: 'range'},
    {text: formatRss(result.peakRssKb!), value: result.peakRssKb, field: 'peak-rss'},
  ];
}

/** One row per target: median, its interval, range, peak RSS, and the ratio to the baseline. */
export function benchRows(analysis: BenchAnalysis): TableRows {
  const rows = analysis.results.map((result) => {
    const ratio = result.label === analysis.baseline && result.status === 'ok' ? BASELINE : ratioCells(result.vsBaseline, '', result);
    return {key: result.label, cells: [displayLabel(result), ...summaryCells(result), ...ratio]};
  });
  const unit = analysis.results[0]?.unit ?? 'ops/s';
  return {head: ['target', `median ${unit}`, '95% CI', 'min–max', 'peak RSS', `vs ${analysis.baseline}`, '95% CI', 'verdict'], rows};
}

export async function benchTable(analysis: BenchAnalysis): Promise<string> {
  const {head, rows} = benchRows(analysis);
  return renderTable(head, rows.map((row) => row.cells));
}

/** The target's label, or what really serves it: "system (jemalloc, linked by redis-server)" for a program that links its allocator. */
export function displayLabel(result: TargetResult): string {
  return result.system ?? result.label;
}

const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));

/**
 * A server's latency percentiles (milliseconds, the clients' worst test): each one's median with
 * its interval, and p99 against the baseline (times better: lower latency is better), beside
 * the server's resident memory once idle after the load.
 */
export function latencyRows(analysis: BenchAnalysis): TableRows {
  const rows = analysis.results.map((result) => {
    if (result.status !== 'ok' || !result.latency) return {key: result.label, cells: [displayLabel(result), statusCell(result, 'p50'), '', '', '', '', '']};
    const {p50, p99, max} = result.latency;
    const cell = (figure: typeof p50, field: string): TableCell => ({text: `${ms(figure.median)}\n[${ms(figure.ci95[0])}, ${ms(figure.ci95[1])}]`, value: figure.median, field});
    const versus = result.label === analysis.baseline ? BASELINE.slice(0, 2) : p99.vsBaseline ? ratioCells(p99.vsBaseline, 'p99-').filter((_, index) => index !== 1) : ['—', ''];
    return {key: result.label, cells: [displayLabel(result), cell(p50, 'p50'), cell(p99, 'p99'), cell(max, 'max'), ...versus, result.idleRssKb === null ? 'n/a' : formatRss(result.idleRssKb)]};
  });
  return {head: ['target', 'p50 ms [95% CI]', 'p99 ms [95% CI]', 'max ms [95% CI]', `p99 vs ${analysis.baseline}`, 'verdict', 'idle RSS'], rows};
}

export async function latencyTable(analysis: BenchAnalysis): Promise<string> {
  const {head, rows} = latencyRows(analysis);
  return renderTable(head, rows.map((row) => row.cells));
}

const count = (value: number | null): string => (value === null ? 'n/a' : Math.round(value).toLocaleString('en-US'));
const seconds = (value: number | null): string => (value === null ? 'n/a' : value.toFixed(2));

/**
 * Memory treated like speed: per target the peak and mean RSS, the peak's ratio to the
 * baseline's with its interval and a verdict (lower, higher, within noise), and beside them the
 * minor page faults and CPU seconds that the memory policy costs.
 */
export function memoryRows(analysis: BenchAnalysis): TableRows {
  const rows = analysis.results.map((result) => {
    if (result.status !== 'ok') return {key: result.label, cells: [displayLabel(result), statusCell(result, 'peak-rss'), '', '', '', '', '', '']};
    const ratio = result.label === analysis.baseline ? BASELINE : ratioCells(result.rssVsBaseline, 'rss-');
    const cpu = result.userSeconds === null ? 'n/a' : `${seconds(result.userSeconds)} + ${seconds(result.systemSeconds)}`;
    return {
      key: result.label,
      cells: [
        displayLabel(result),
        {text: formatRss(result.peakRssKb!), value: result.peakRssKb, field: 'peak-rss'},
        {text: result.meanRssKb === null ? 'n/a' : formatRss(result.meanRssKb), value: result.meanRssKb, field: 'mean-rss'},
        ...ratio,
        {text: count(result.minorFaults), value: result.minorFaults, field: 'minor-faults'},
        {text: cpu, field: 'cpu'},
      ],
    };
  });
  return {head: ['target', 'peak RSS', 'mean RSS', `peak vs ${analysis.baseline}`, '95% CI', 'memory', 'minor faults', 'CPU user + sys s'], rows};
}

export async function memoryTable(analysis: BenchAnalysis): Promise<string> {
  const {head, rows} = memoryRows(analysis);
  return renderTable(head, rows.map((row) => row.cells));
}

/** A sweep's steps: each step's gain over the previous one and over the first, with the design notes' figure. */
export function sweepRows(steps: readonly SweepStep[]): TableRows {
  const withGap = steps.some((step) => step.gapClosed !== null);
  const rows = steps.map((step) => {
    const cells: CellInput[] = [step.variant, step.status === 'ok' ? {text: formatRate(step.median!), value: step.median, field: 'median'} : statusCell(step, 'median'), gainCell(step.step), gainCell(step.cumulative)];
    if (withGap) cells.push(step.gapClosed === null ? '' : formatPercent(step.gapClosed));
    cells.push(step.expected ?? '');
    return {key: step.label, cells};
  });
  const head = ['step', 'median ops/s', 'step gain, 95% CI', 'cumulative, 95% CI'];
  if (withGap) head.push('mimalloc gap closed');
  head.push('expected step gain');
  return {head, rows};
}

export async function sweepTable(steps: readonly SweepStep[]): Promise<string> {
  const {head, rows} = sweepRows(steps);
  return renderTable(head, rows.map((row) => row.cells), {wrap: [head.length - 1]});
}

function indent(text: string, prefix: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => `${prefix}${line}`);
}

/** Who served each target, what failed and why, and the outliers. */
export function resultNotes(record: BenchRecord, analysis: BenchAnalysis): string[] {
  const notes: string[] = [];
  // Verified targets with the same evidence (a sweep's variants) share one line.
  const verified = new Map<string, string[]>();
  for (const result of analysis.results) {
    const target = record.targets.find((candidate) => candidate.label === result.label)!;
    if (result.status === 'failed' && result.failure) {
      notes.push(`${result.label}: FAILED in ${result.cause}`);
      notes.push(...indent(result.failure.stderrTail, '    | '));
      if (result.failure.failure === 'timeout') notes.push("    raise the profile's timeout, or lower its arguments");
      notes.push(`    reproduce: ${result.failure.command}`);
    } else if (result.status === 'invalid') {
      const kept = result.median === null ? '' : ' Its figures are kept in --json and the saved result, never compared.';
      notes.push(`${result.label}: INVALID: ${result.cause}${result.cause?.endsWith('.') ? '' : '.'}${kept}`);
      // A server that did not start or died: its log's last lines, and how to start it by hand.
      if (result.failure) notes.push(...indent(result.failure.stderrTail, '    | '), `    reproduce: ${result.failure.command}`);
    } else if (result.verified) {
      const shares = servedShares(target.runs[0], record.profile.program);
      const bound = target.binding?.mallocLibrary ? `malloc bound to ${target.binding.mallocLibrary.split('/').pop()}` : 'libhakmem.so loaded';
      const exact = target.runs[0]?.counters?.exact ? '' : ' (stats 0: slow-path counters)';
      const evidence = `verified in all ${result.runs.length} runs: ${bound}; hakmem served ${shares || 'every tier used'}${exact}`;
      verified.set(evidence, [...(verified.get(evidence) ?? []), result.label]);
    }
  }

  notes.unshift(...[...verified].map(([evidence, labels]) => `${labels.join(', ')}: ${evidence}`));
  const footprint = analysis.results.flatMap((result) => {
    const values = record.targets.find((target) => target.label === result.label)!.runs.map((run) => run.extra.rssOverLive);
    return result.status === 'ok' && values.length > 0 && values.every((value) => typeof value === 'number') ? [`${result.label} ${median(values as number[]).toFixed(2)}`] : [];
  });
  if (footprint.length > 0) notes.push(`peak RSS / peak live bytes (median; 1.00 would be a perfect fit): ${footprint.join(', ')}`);
  const outliers = analysis.results.flatMap((result) =>
    result.status === 'ok' ? result.outliers.map((outlier) => `${result.label} run ${outlier.index + 1} ${formatRate(outlier.value)} (${outlier.side}, ${outlier.severity})`) : [],
  );
  if (outliers.length > 0) notes.push(`outliers (beyond Tukey's fences, kept in the statistics): ${outliers.join('; ')}`);
  return notes;
}

/** How the figures were made, in two lines, with the real coverage of the median's interval. */
export function methodNote(runs: number, warmup: number, noise: number): string[] {
  const probe = medianInterval(Array.from({length: runs}, (_, index) => index));
  const coverage =
    probe.coverage >= 0.95
      ? `x(${probe.low + 1})..x(${probe.high + 1}) of ${runs}, coverage ${formatPercent(probe.coverage)}`
      : `with ${runs} runs the widest, min–max, covers only ${formatPercent(probe.coverage)}; more runs narrow it`;
  return [
    `Median of ${runs} runs after ${warmup} warm-up, interleaved round by round. 95% CI of the median: order statistics (${coverage}).`,
    `Ratio intervals: bootstrap of the ratio of medians (${DEFAULT_RESAMPLES.toLocaleString('en-US')} resamples, fixed seed); a verdict other than within noise only when the whole interval clears ±${(noise * 100).toFixed(1)}%.`,
  ];
}

/** A row per target in both results: A's and B's medians and intervals, B/A and the verdict. */
export function compareRows(comparison: RecordComparison): TableRows {
  const side = (result: TargetResult, field: string): CellInput[] =>
    result.status === 'ok' ? [{text: formatRate(result.median!), value: result.median, field}, formatRange(result.ci95![0], result.ci95![1])] : [statusCell(result, field), ''];
  const rows = comparison.targets.map((target) => ({key: target.label, cells: [target.label, ...side(target.a, 'a-median'), ...side(target.b, 'b-median'), ...ratioCells(target.change)]}));
  return {head: ['target', 'A median', 'A 95% CI', 'B median', 'B 95% CI', 'B/A', '95% CI', 'verdict'], rows};
}

export async function compareTable(comparison: RecordComparison): Promise<string> {
  const {head, rows} = compareRows(comparison);
  return renderTable(head, rows.map((row) => row.cells));
}

/** Several profiles: one line each for the judged target against its baseline, then the geometric mean. */
export async function suiteTable(suite: SuiteSummary): Promise<string> {
  const rows = suite.profiles.map((summary) => {
    const rss = summary.rssVsBaseline;
    const judged = summary.status === 'ok' || summary.status === 'missing' ? [...ratioCells(summary.vsBaseline, '', summary.figure)] : [summary.status.toUpperCase(), '', ''];
    return [summary.profile, summary.label ?? '—', summary.baseline, ...judged, rss ? `${formatRatio(rss.ratio)} ${rss.verdict}` : '—'];
  });
  if (suite.geomean) {
    const {ratio, peakRssRatio, profiles} = suite.geomean;
    rows.push(['geometric mean', `${profiles} profile${profiles === 1 ? '' : 's'}`, '', formatRatio(ratio), '', '', peakRssRatio === null ? '—' : formatRatio(peakRssRatio)]);
  }

  return renderTable(['profile', 'target', 'against', 'ratio', '95% CI', 'verdict', 'peak RSS ratio'], rows);
}
