/**
 * What a report adds beside the bench results where it was saved: the latest `hak perf` run of a
 * profile (hotspots, categories, its flame graph), the latest `hak bisect` of it, and the
 * comparison of each result with the one saved before it, judged by `hak compare`'s code.
 */
import type {RecordComparison} from '../bench/compare.js';
import {formatRange, formatRate, formatRatio} from '../bench/format.js';
import type {TargetResult} from '../bench/analysis.js';
import {block, type CellInput, escapeHtml, factList, htmlTable, noteList, verdictClass} from './page.js';
import type {LoadedBisect, LoadedPerf} from './sources.js';

const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;

/** A perf run: what was measured, the share of each owner, the hotspots and the flame graph. */
export function perfSection(perf: LoadedPerf): string {
  const {result} = perf;
  const facts: [string, string][] = [
    ['saved as', perf.id],
    ['ran', `${result.label}: ${result.command}`],
    ['measured', `${result.eventDescription}; ${result.ops.toLocaleString('en-US')} operations in ${result.seconds.toFixed(2)} s`],
  ];
  if (result.mode === 'samples') facts.push(['samples', `${result.samples.toLocaleString('en-US')} at ${result.frequency} Hz (${result.callGraph} call graphs), ${result.lostSamples} lost`]);
  if (result.mode !== 'samples') facts.push(['instructions per operation', result.instructionsPerOp.toFixed(2)]);
  const categories = Object.entries(result.categories)
    .sort(([, a], [, b]) => (b ?? 0) - (a ?? 0))
    .map(([category, share]) => ({key: category, cells: [category, {text: percent(share ?? 0), value: share ?? 0, field: 'share'}]}));
  const hotspots = result.hotspots.map((hotspot) => ({
    key: hotspot.symbol,
    cells: [{text: percent(hotspot.share), value: hotspot.share, field: 'share'}, hotspot.symbol, hotspot.library, hotspot.category] as CellInput[],
  }));
  const flame = perf.flameGraph
    ? `<figure class="flame" data-chart="flamegraph">${perf.flameGraph}</figure>`
    : '<p class="empty">This run drew no flame graph (hak perf PROFILE --flamegraph FILE draws one).</p>';
  const content = [
    factList(facts),
    '<div class="charts">',
    htmlTable(['category', 'share'], categories, {className: 'perf-categories'}),
    htmlTable(['share', 'symbol', 'library', 'category'], hotspots, {className: 'perf-hotspots'}),
    '</div>',
    flame,
    noteList([result.attribution, ...result.warnings]),
  ];
  return block(`Where the time goes: hak perf ${result.profile} (${result.label})`, content.join(''), {className: 'perf'});
}

/** A bisect: the ends, each step's figure and verdict, and the first bad commit. */
export function bisectSection(bisect: LoadedBisect): string {
  const {result} = bisect;
  const figure = (value: number | null): string => (value === null ? 'n/a' : result.unit === 'ops/s' ? formatRate(value) : Number(value.toPrecision(5)).toString());
  const rows = result.steps.map((step, index) => ({
    key: step.commit,
    cells: [String(index + 1), step.commit.slice(0, 12), step.role, {text: figure(step.figure), value: step.figure, field: 'figure'}, {text: step.verdict, className: verdictClass(step.verdict)}, {text: step.reason, className: 'text'}, {text: step.subject, className: 'text'}] as CellInput[],
  }));
  const found = result.firstBad
    ? `First bad commit: ${result.firstBad.commit.slice(0, 12)} "${result.firstBad.subject}": ${figure(result.firstBad.figure)} ${result.unit}, against ${figure(result.firstBad.parent.figure)} at its parent.`
    : `The first bad commit is one of: ${result.possibleFirstBad.map((candidate) => candidate.commit.slice(0, 12)).join(', ')}.`;
  const content = [
    `<p>${escapeHtml(`Saved as ${bisect.id}: by ${result.metric} (${result.unit}, ${result.better} is better), ${result.commits} commits after good, ${result.trees} distinct csrc/ trees, ${result.builds} builds, ${result.wallSeconds.toFixed(1)} s.`)}</p>`,
    htmlTable(['#', 'commit', 'role', result.unit, 'verdict', 'why', 'subject'], rows, {className: 'bisect'}),
    `<p><strong>${escapeHtml(found)}</strong></p>`,
  ];
  return block(`Bisect of ${result.profile}`, content.join(''), {className: 'bisect'});
}

/** This result (B) against the one saved before it (A), target by target. */
export function comparisonSection(comparison: RecordComparison): string {
  const side = (result: TargetResult): CellInput[] =>
    result.status === 'ok' ? [{text: formatRate(result.median!), value: result.median, field: 'median'}, formatRange(result.ci95![0], result.ci95![1])] : [{text: result.status.toUpperCase(), className: `status-${result.status}`}, ''];
  const rows = comparison.targets.map((target) => {
    const change = target.change;
    const interval = change && change.low !== null && change.high !== null ? `${change.low.toFixed(3)}–${change.high.toFixed(3)}` : change ? 'none (< 3 runs)' : '';
    const verdict: CellInput[] = change ? [{text: formatRatio(change.ratio), value: change.ratio, field: 'ratio'}, interval, {text: change.verdict, className: verdictClass(change.verdict)}] : ['—', '', ''];
    return {key: target.label, cells: [target.label, ...side(target.a), ...side(target.b), ...verdict]};
  });
  const notes = [
    comparison.differences.length > 0 ? `What differs: ${comparison.differences.join('; ')}.` : 'Same machine, compiler, commit, builds and libraries.',
    ...(comparison.onlyInA.length > 0 ? [`Only in the earlier result: ${comparison.onlyInA.join(', ')}.`] : []),
    ...(comparison.onlyInB.length > 0 ? [`Only in this result: ${comparison.onlyInB.join(', ')}.`] : []),
  ];
  const content = htmlTable(['target', 'before', '95% CI', 'this run', '95% CI', 'this / before', '95% CI', 'verdict'], rows, {className: 'comparison'}) + noteList(notes) + noteList(comparison.warnings, 'warnings');
  return block(`Against the result saved before it (${comparison.a.id}), as hak compare judges it`, content, {className: 'comparison'});
}
