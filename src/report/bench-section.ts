/**
 * One saved bench result as a report section: what ran where (profile, machine, compiler,
 * commit, toggles, shell variables), the speed table with intervals, ratios and verdicts, the
 * ratio and memory charts, the latency and memory tables, who served each target and by which
 * witness, and the notes `hak bench` prints under its tables. Every figure comes from
 * analyzeRecord, the analysis `hak bench` and `hak compare` use.
 */
import type {BenchAnalysis, LatencyFigure, TargetResult} from '../bench/analysis.js';
import {recordUnits} from '../bench/analysis.js';
import {servedShares} from '../bench/evidence.js';
import {formatRange, formatRate, formatRatio, formatRss} from '../bench/format.js';
import {describeMachine} from '../bench/machine.js';
import type {BenchRecord, TargetRecord} from '../bench/record.js';
import {displayLabel, methodNote, resultNotes} from '../bench/render.js';
import {describeRevision} from '../build/revision.js';
import {describeFeatures} from '../features.js';
import {shellQuote} from '../run/index.js';
import type {ComparisonVerdict} from '../statistics/ratio.js';
import {memoryRows, ratioChart, rssChart, speedRows} from './charts.js';
import {block, type Cell, type CellInput, escapeHtml, factList, htmlTable, noteList, verdictClass} from './page.js';

/** The anchor of a result's section. */
export function sectionId(record: BenchRecord): string {
  return `result-${resultName(record).replaceAll(/[^\w-]/g, '_')}`;
}

/** The saved result's id, or for a result not saved (--no-save) its profile and time. */
export function resultName(record: BenchRecord): string {
  return record.id || `${record.profile.name}, not saved, ${record.createdAt.slice(0, 19).replace('T', ' ')}`;
}

function commitText(record: BenchRecord): string {
  const {commit, dirty} = record.source;
  if (commit === null) return 'not a git checkout';
  return `${commit.slice(0, 12)}${dirty === true ? ' with uncommitted changes' : dirty === false ? ' (clean)' : ''}`;
}

function header(record: BenchRecord, analysis: BenchAnalysis): string {
  const {profile, machine} = record;
  const {unit, better} = recordUnits(record);
  const facts: [string, string][] = [
    ['profile', `${profile.name}${profile.description ? `: ${profile.description}` : ''}`],
    ['measured', `${record.createdAt.slice(0, 19).replace('T', ' ')} UTC, ${record.wallSeconds.toFixed(1)} s; ${profile.runs} runs per target after ${profile.warmup} warm-up, interleaved; ${profile.threads} thread${profile.threads === 1 ? '' : 's'}`],
    ['figure', `median ${unit}, ${better} is better; baseline ${analysis.baseline}, noise band ±${(analysis.noise * 100).toFixed(1)}%`],
    ['machine', `${machine.hostname}: ${describeMachine(machine)}${machine.os ? `; ${machine.os}` : ''}${machine.glibc ? `; glibc ${machine.glibc}` : ''}; Node ${machine.node}`],
    ['compiler', record.compiler],
    ['commit', commitText(record)],
  ];
  for (const target of record.targets) {
    if (target.variant) facts.push([`${target.label} toggles`, `${describeFeatures(target.variant.features)} · build ${target.variant.id} · ${target.variant.compilerVersion}`]);
    if (target.revision) facts.push([`${target.label} sources`, describeRevision(target.revision)]);
    if (target.library) facts.push([`${target.label} library`, `${target.library.debianPackage} ${target.library.version ?? '(version unknown)'}`]);
  }

  const shell = Object.entries(profile.shellEnv ?? {});
  facts.push(['shell variables', shell.length > 0 ? shell.map(([key, value]) => `${key}=${value}`).join(' ') : 'none (no HAKMEM_* variable reached the runs)']);
  const env = Object.entries(profile.env);
  if (env.length > 0) facts.push(['profile environment', env.map(([key, value]) => `${key}=${value}`).join(' ')]);
  return factList(facts);
}

/** The figure as the unit reads: `241.3M` for operations per second, `1.204` for seconds. */
function figure(value: number, unit: string): string {
  return unit === 'ops/s' ? formatRate(value) : Number(value.toPrecision(4)).toString();
}

function statusCell(result: TargetResult, field: string): Cell {
  return {text: result.status.toUpperCase(), field, className: `status-${result.status}`};
}

function ratioCells(comparison: ComparisonVerdict | {ratio: number; low: number | null; high: number | null; verdict: string} | null, prefix: string): CellInput[] {
  if (!comparison) return ['—', '', ''];
  const interval = comparison.low === null || comparison.high === null ? 'none (< 3 runs)' : `${comparison.low.toFixed(3)}–${comparison.high.toFixed(3)}`;
  return [
    {text: formatRatio(comparison.ratio), value: comparison.ratio, field: `${prefix}ratio`},
    {text: interval, field: `${prefix}ratio-interval`},
    {text: comparison.verdict, field: `${prefix}verdict`, className: verdictClass(comparison.verdict)},
  ];
}

function speedTable(analysis: BenchAnalysis, unit: string): string {
  const rows = analysis.results.map((result) => {
    const label = displayLabel(result);
    if (result.status !== 'ok' || result.median === null || result.ci95 === null) {
      return {key: result.label, cells: [label, statusCell(result, 'median'), {text: result.cause ?? '', className: 'text'}, '', '', '', '', '']};
    }

    const versus = result.label === analysis.baseline ? [{text: 'baseline', field: 'ratio'}, '', ''] : ratioCells(result.vsBaseline, '');
    return {
      key: result.label,
      cells: [
        label,
        {text: figure(result.median, unit), value: result.median, field: 'median'},
        {text: unit === 'ops/s' ? formatRange(result.ci95[0], result.ci95[1]) : `${figure(result.ci95[0], unit)}–${figure(result.ci95[1], unit)}`, field: 'ci95'},
        {text: unit === 'ops/s' ? formatRange(result.min!, result.max!) : `${figure(result.min!, unit)}–${figure(result.max!, unit)}`, field: 'range'},
        {text: formatRss(result.peakRssKb!), value: result.peakRssKb, field: 'peak-rss'},
        ...versus,
      ],
    };
  });
  return htmlTable(['target', `median ${unit}`, '95% CI', 'min–max', 'peak RSS', `vs ${analysis.baseline}`, '95% CI', 'verdict'], rows, {className: 'speed'});
}

const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));

function latencyTable(analysis: BenchAnalysis): string {
  const rows = analysis.results.map((result) => {
    if (result.status !== 'ok' || !result.latency) return {key: result.label, cells: [displayLabel(result), statusCell(result, 'p50'), '', '', '', '', '']};
    const {p50, p99, max} = result.latency;
    const latency = (value: LatencyFigure, field: string): Cell => ({text: `${ms(value.median)}\n[${ms(value.ci95[0])}, ${ms(value.ci95[1])}]`, value: value.median, field});
    const versus: CellInput[] = result.label === analysis.baseline ? ['baseline', ''] : p99.vsBaseline ? [formatRatio(p99.vsBaseline.ratio), {text: p99.vsBaseline.verdict, className: verdictClass(p99.vsBaseline.verdict)}] : ['—', ''];
    return {key: result.label, cells: [displayLabel(result), latency(p50, 'p50'), latency(p99, 'p99'), latency(max, 'max'), ...versus, result.idleRssKb === null ? 'n/a' : formatRss(result.idleRssKb)]};
  });
  return htmlTable(['target', 'p50 ms [95% CI]', 'p99 ms [95% CI]', 'max ms [95% CI]', `p99 vs ${analysis.baseline}`, 'verdict', 'idle RSS'], rows, {className: 'latency'});
}

function memoryTable(analysis: BenchAnalysis): string {
  const rows = analysis.results.map((result) => {
    if (result.status !== 'ok') return {key: result.label, cells: [displayLabel(result), statusCell(result, 'peak-rss'), '', '', '', '', '', '']};
    const versus = result.label === analysis.baseline ? ['baseline', '', ''] : ratioCells(result.rssVsBaseline, 'rss-');
    const cpu = result.userSeconds === null ? 'n/a' : `${result.userSeconds.toFixed(2)} + ${(result.systemSeconds ?? 0).toFixed(2)}`;
    return {
      key: result.label,
      cells: [
        displayLabel(result),
        {text: formatRss(result.peakRssKb!), value: result.peakRssKb, field: 'peak-rss'},
        {text: result.meanRssKb === null ? 'n/a' : formatRss(result.meanRssKb), value: result.meanRssKb, field: 'mean-rss'},
        ...versus,
        {text: result.minorFaults === null ? 'n/a' : Math.round(result.minorFaults).toLocaleString('en-US'), value: result.minorFaults, field: 'minor-faults'},
        {text: cpu, field: 'cpu'},
      ],
    };
  });
  return htmlTable(['target', 'peak RSS', 'mean RSS', `peak vs ${analysis.baseline}`, '95% CI', 'memory', 'minor faults', 'CPU user + sys s'], rows, {className: 'memory'});
}

/** Who served a target, and what says so: the loader's binding and, for hakmem, its counters in every run. */
function witnessText(target: TargetRecord, result: TargetResult, program: string): string {
  const binding = target.binding;
  const bound = binding?.noDynamicLoader
    ? 'no dynamic loader: a static program, preloading cannot reach it'
    : binding?.mallocLibrary
      ? `loader: malloc bound to ${binding.mallocLibrary.split('/').pop()}`
      : 'loader: no binding logged';
  if (target.allocator !== 'hakmem') return bound;
  const shares = servedShares(target.runs[0], program);
  const exact = target.runs[0]?.counters?.exact ? 'exact counters' : 'slow-path counters (stats 0)';
  const passed = target.runs.filter((run) => run.served?.verdict === 'pass').length;
  return `${bound}; hakmem's ${exact}: ${shares || 'no tier reached'}; ${passed} of ${target.runs.length} runs passed`;
}

function evidenceTable(record: BenchRecord, analysis: BenchAnalysis): string {
  const rows = analysis.results.map((result) => {
    const target = record.targets.find((candidate) => candidate.label === result.label)!;
    const verdict: Cell =
      result.status !== 'ok'
        ? {text: result.status.toUpperCase(), className: `status-${result.status}`, field: 'served'}
        : {text: result.verified === true ? 'verified' : result.verified === null ? 'bound as named' : 'not verified', field: 'served'};
    return {key: result.label, cells: [displayLabel(result), result.servedBy ?? 'unknown', {text: witnessText(target, result, record.profile.program), className: 'text'}, verdict]};
  });
  return htmlTable(['target', 'served by', 'witness', 'verdict'], rows, {className: 'evidence'});
}

function sweepTable(analysis: BenchAnalysis): string {
  const gain = (comparison: ComparisonVerdict | null): string => (comparison ? `${formatRatio(comparison.ratio)} ${comparison.verdict}` : '');
  const rows = analysis.steps.map((step) => ({
    key: step.label,
    cells: [step.variant, step.status === 'ok' ? {text: formatRate(step.median!), value: step.median, field: 'median'} : step.status.toUpperCase(), gain(step.step), gain(step.cumulative), step.expected ?? ''],
  }));
  return htmlTable(['step', 'median ops/s', 'over the previous step', 'over the first', 'expected step gain'], rows, {className: 'sweep'});
}

/** The whole section of one result; `extra` (a comparison with the previous result) goes after the tables. */
export function benchSection(record: BenchRecord, analysis: BenchAnalysis, extra = ''): string {
  const {profile} = record;
  const {unit} = recordUnits(record);
  const speedTitle = unit === 'ops/s' ? 'Speed against' : `${unit} against`;
  const charts = [
    `<figure>${ratioChart(speedRows(analysis), {title: `${speedTitle} ${analysis.baseline} (times better, 95% interval)`, above: 'better', below: 'worse', noise: analysis.noise, kind: 'speed-ratio'})}</figure>`,
    `<figure>${ratioChart(memoryRows(analysis), {title: `Peak RSS against ${analysis.baseline} (95% interval)`, above: 'more memory', below: 'less memory', noise: analysis.noise, kind: 'rss-ratio'})}</figure>`,
    `<figure>${rssChart(analysis)}<figcaption>The median run of each valid target; its whole process tree, sampled every 10 ms.</figcaption></figure>`,
  ];
  const warnings = [...record.warnings, ...analysis.warnings];
  const parts = [
    `<section class="result" id="${sectionId(record)}" data-result="${escapeHtml(record.id)}">`,
    `<h2>${escapeHtml(profile.name)} <small>${escapeHtml(resultName(record))}</small></h2>`,
    `<p class="command">${escapeHtml([profile.program, ...profile.args].map(shellQuote).join(' '))}</p>`,
    header(record, analysis),
    noteList(warnings, 'warnings'),
    block('Results', speedTable(analysis, unit)),
    block('Charts', `<div class="charts">${charts.join('')}</div>`),
  ];
  if (analysis.results.some((result) => result.latency)) parts.push(block('Latency of the clients\' requests (ms, lower is better)', latencyTable(analysis)));
  parts.push(block(`Memory, faults and CPU of the ${profile.kind === 'command' ? 'whole process tree' : profile.kind === 'server' ? 'server' : 'program'} (medians)`, memoryTable(analysis)));
  if (analysis.steps.length > 0) parts.push(block('Steps of the sweep', sweepTable(analysis)));
  parts.push(
    block('Who served', evidenceTable(record, analysis) + noteList(resultNotes(record, analysis))),
    noteList(methodNote(profile.runs, profile.warmup, analysis.noise)),
    extra,
    '</section>',
  );
  return parts.join('\n');
}
