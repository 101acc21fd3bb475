/**
 * What a report adds beside the bench results where it was saved: the latest `hak perf` run of a
 * profile (hotspots, categories, its flame graph), the latest `hak bisect` of it, and the
 * comparison of each result with the one saved before it, judged by `hak compare`'s code.
 */
import type {RecordComparison} from '../bench/compare.js';
import {formatRate} from '../bench/format.js';
import {compareRows, verdictMark} from '../bench/render.js';
import type {CellInput} from '../ui/table.js';
import {block, escapeHtml, factList, htmlTable, noteList} from './page.js';
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
    htmlTable({head: ['category', 'share'], rows: categories}, 'perf-categories'),
    htmlTable({head: ['share', 'symbol', 'library', 'category'], rows: hotspots}, 'perf-hotspots'),
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
    cells: [String(index + 1), step.commit.slice(0, 12), step.role, {text: figure(step.figure), value: step.figure, field: 'figure'}, {text: step.verdict, mark: verdictMark(step.verdict)}, {text: step.reason, mark: 'wide'}, {text: step.subject, mark: 'wide'}] as CellInput[],
  }));
  const found = result.firstBad
    ? `First bad commit: ${result.firstBad.commit.slice(0, 12)} "${result.firstBad.subject}": ${figure(result.firstBad.figure)} ${result.unit}, against ${figure(result.firstBad.parent.figure)} at its parent.`
    : `The first bad commit is one of: ${result.possibleFirstBad.map((candidate) => candidate.commit.slice(0, 12)).join(', ')}.`;
  const content = [
    `<p>${escapeHtml(`Saved as ${bisect.id}: by ${result.metric} (${result.unit}, ${result.better} is better), ${result.commits} commits after good, ${result.trees} distinct csrc/ trees, ${result.builds} builds, ${result.wallSeconds.toFixed(1)} s.`)}</p>`,
    htmlTable({head: ['#', 'commit', 'role', result.unit, 'verdict', 'why', 'subject'], rows}, 'bisect'),
    `<p><strong>${escapeHtml(found)}</strong></p>`,
  ];
  return block(`Bisect of ${result.profile}`, content.join(''), {className: 'bisect'});
}

/** This result (B) against the one saved before it (A), target by target, as `hak compare` prints it. */
export function comparisonSection(comparison: RecordComparison): string {
  const notes = [
    comparison.differences.length > 0 ? `What differs: ${comparison.differences.join('; ')}.` : 'Same machine, compiler, commit, builds and libraries.',
    ...(comparison.onlyInA.length > 0 ? [`Only in A: ${comparison.onlyInA.join(', ')}.`] : []),
    ...(comparison.onlyInB.length > 0 ? [`Only in B: ${comparison.onlyInB.join(', ')}.`] : []),
  ];
  const content = htmlTable(compareRows(comparison), 'comparison') + noteList(notes) + noteList(comparison.warnings, 'warnings');
  return block(`Against the result saved before it: A ${comparison.a.id}, B this result`, content, {className: 'comparison'});
}
