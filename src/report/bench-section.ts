/**
 * One saved bench result as a report section: what ran where (profile, machine, compiler,
 * commit, toggles, shell variables), the speed table with intervals, ratios and verdicts, the
 * ratio and memory charts, the latency and memory tables, who served each target and by which
 * witness, and the notes `hak bench` prints under its tables. Every figure comes from
 * analyzeRecord, the analysis `hak bench` and `hak compare` use.
 */
import {type BenchAnalysis, recordUnits} from '../bench/analysis.js';
import {servedShares} from '../bench/evidence.js';
import {describeMachine} from '../bench/machine.js';
import type {BenchRecord, TargetRecord} from '../bench/record.js';
import {benchRows, displayLabel, latencyRows, memoryRows, methodNote, resultNotes, sweepRows} from '../bench/render.js';
import {describeRevision} from '../build/revision.js';
import {describeFeatures} from '../features.js';
import {shellQuote} from '../run/index.js';
import type {TableCell, TableRows} from '../ui/table.js';
import {memoryRatioRows, ratioChart, rssChart, speedRatioRows} from './charts.js';
import {block, escapeHtml, factList, htmlTable, noteList} from './page.js';

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

/** Who served a target, and what says so: the loader's binding and, for hakmem, its counters in every run. */
function witnessText(target: TargetRecord, program: string): string {
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

function evidenceRows(record: BenchRecord, analysis: BenchAnalysis): TableRows {
  const rows = analysis.results.map((result) => {
    const target = record.targets.find((candidate) => candidate.label === result.label)!;
    const verdict: TableCell =
      result.status !== 'ok'
        ? {text: result.status.toUpperCase(), mark: `status-${result.status}`, field: 'served'}
        : {text: result.verified === true ? 'verified' : result.verified === null ? 'bound as named' : 'not verified', field: 'served'};
    return {key: result.label, cells: [displayLabel(result), result.servedBy ?? 'unknown', {text: witnessText(target, record.profile.program), mark: 'wide'}, verdict]};
  });
  return {head: ['target', 'served by', 'witness', 'verdict'], rows};
}

/** The whole section of one result; `extra` (a comparison with the previous result) goes after the tables. */
export function benchSection(record: BenchRecord, analysis: BenchAnalysis, extra = ''): string {
  const {profile} = record;
  const {unit} = recordUnits(record);
  const speedTitle = unit === 'ops/s' ? 'Speed against' : `Median ${unit} against`;
  const charts = [
    `<figure>${ratioChart(speedRatioRows(analysis), {title: `${speedTitle} ${analysis.baseline} (times better, 95% interval)`, above: 'better', below: 'worse', noise: analysis.noise, kind: 'speed-ratio'})}</figure>`,
    `<figure>${ratioChart(memoryRatioRows(analysis), {title: `Peak RSS against ${analysis.baseline} (95% interval)`, above: 'more memory', below: 'less memory', noise: analysis.noise, kind: 'rss-ratio'})}</figure>`,
    `<figure>${rssChart(analysis)}<figcaption>The median run of each valid target; its whole process tree, sampled every 10 ms.</figcaption></figure>`,
  ];
  const parts = [
    `<section class="result" id="${sectionId(record)}" data-result="${escapeHtml(record.id)}">`,
    `<h2>${escapeHtml(profile.name)} <small>${escapeHtml(resultName(record))}</small></h2>`,
    `<p class="command">${escapeHtml([profile.program, ...profile.args].map(shellQuote).join(' '))}</p>`,
    header(record, analysis),
    noteList(analysis.warnings, 'warnings'),
    block('Results', htmlTable(benchRows(analysis), 'speed')),
    block('Charts', `<div class="charts">${charts.join('')}</div>`),
  ];
  if (analysis.results.some((result) => result.latency)) parts.push(block('Latency of the clients\' requests (ms, lower is better) and the server\'s RSS idle after the load', htmlTable(latencyRows(analysis), 'latency')));
  parts.push(block(`Memory, faults and CPU of the ${profile.kind === 'command' ? 'whole process tree' : profile.kind === 'server' ? 'server' : 'program'} (medians)`, htmlTable(memoryRows(analysis), 'memory')));
  if (analysis.steps.length > 0) parts.push(block('Steps of the sweep: gain over the previous step, and over the first', htmlTable(sweepRows(analysis.steps), 'sweep')));
  parts.push(
    block('Who served', htmlTable(evidenceRows(record, analysis), 'evidence') + noteList(resultNotes(record, analysis))),
    noteList(methodNote(profile.runs, profile.warmup, analysis.noise)),
    extra,
    '</section>',
  );
  return parts.join('\n');
}
