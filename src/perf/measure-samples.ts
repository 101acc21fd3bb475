/**
 * hak perf's default mode: the run under perf record, its symbols attributed to owners by their
 * share of the samples, perf stat's figures per operation where hardware counters exist, and on
 * request a flame graph of the recorded call chains.
 */
import {writeFileSync} from 'node:fs';
import {extname, join, resolve} from 'node:path';

import type {StagingDir} from '../atomic-dir.js';
import {writeFileAtomic} from '../atomic-file.js';
import {execProgram} from '../exec.js';
import {perfArgs} from '../profiles/index.js';
import {buildFlameTree, foldedStacks, parsePerfScript, renderFlameGraph, SCRIPT_ARGS} from './flamegraph.js';
import {attributionContext, hardwareRun, type Measured, runRequest, type SideRun} from './measure.js';
import {type AttributionContext, attribute} from './owners.js';
import {recordSamples} from './record.js';
import {reportSymbols} from './report.js';
import type {HardwareFigures} from './stat.js';
import {chooseEvent, probePerfEvents} from './tools.js';

/** Fewer samples than this make shares rough; the report says so. */
const FEW_SAMPLES = 200;

interface FlameGraphRequest {
  perf: string;
  dataFile: string;
  output: string;
  title: string;
  subtitle: string;
  context: AttributionContext;
}

/** Draws the recorded call chains; saves the folded stacks and the SVG in the result, and the SVG at `output`. */
async function writeFlameGraph(request: FlameGraphRequest, staging: StagingDir): Promise<void> {
  const script = await execProgram(request.perf, ['script', '-i', request.dataFile, ...SCRIPT_ARGS], {timeoutMs: 600_000});
  const tree = buildFlameTree(parsePerfScript(script.stdout));
  writeFileSync(join(staging.path, 'stacks.folded'), foldedStacks(tree));
  const svg = renderFlameGraph(tree, {title: request.title, subtitle: request.subtitle, context: request.context});
  writeFileSync(join(staging.path, 'flamegraph.svg'), svg);
  // the target is never half an SVG
  writeFileAtomic(request.output, svg);
}

/** With --diff, the second run's flame graph goes to NAME-<label>.svg beside the first (`suffix` null: the first). */
function flameGraphFile(file: string, suffix: string | null): string {
  if (suffix === null) return resolve(file);
  const safe = suffix.replaceAll(/[^\w.-]+/g, '-');
  const extension = extname(file);
  return resolve(extension ? `${file.slice(0, -extension.length)}-${safe}${extension}` : `${file}-${safe}`);
}

export async function measureSamples(perf: string, {options, side, target, staging, progress}: SideRun): Promise<Measured> {
  const {profile} = options;
  const support = await probePerfEvents(perf);
  const choice = chooseEvent(profile.perf.event, support);
  const settings = {event: choice.event, frequency: profile.perf.frequency, callGraph: profile.perf.callGraph};
  const request = runRequest(target, perfArgs(profile, {threads: options.threads}), profile.timeoutSeconds);
  progress(`${target.label}: recording ${profile.benchmark.program} with perf (${choice.event}, ${settings.frequency} Hz)`);
  const files: Record<string, string> = {perfData: 'perf.data', report: 'perf-report.txt', result: 'result.json'};
  const sampled = await recordSamples(request, perf, settings, {dataFile: join(staging.path, 'perf.data'), reportFile: join(staging.path, 'perf-report.txt')}, {minSamples: FEW_SAMPLES});
  const context = await attributionContext(target, sampled.run);
  const attribution = attribute(reportSymbols(sampled.report), context);

  let hardware: HardwareFigures | null = null;
  if (support.hardware) {
    progress(`${target.label}: counting hardware events with perf stat`);
    hardware = await hardwareRun(perf, request, staging);
    files.stat = 'perf-stat.txt';
  }

  const warnings: string[] = [];
  if (sampled.report.lostSamples > 0) warnings.push(`perf lost ${sampled.report.lostSamples} samples: the shares may be skewed.`);
  if (sampled.report.samples < FEW_SAMPLES) {
    warnings.push(`only ${sampled.report.samples} samples: shares are rough; raise perf.frequency or lengthen perf.args in the profile.`);
  }

  let flamegraph: string | null = null;
  if (options.flamegraph) {
    progress(`${target.label}: drawing the flame graph`);
    flamegraph = flameGraphFile(options.flamegraph, side.suffix);
    const subtitle = `${profile.benchmark.program} ${request.args.join(' ')} under ${target.label} (${target.built.variant}): ${sampled.report.samples} ${choice.event} samples`;
    await writeFlameGraph({perf, dataFile: sampled.dataFile, output: flamegraph, title: `hak perf ${profile.name}`, subtitle, context}, staging);
    files.flamegraph = 'flamegraph.svg';
    files.folded = 'stacks.folded';
  }

  const hardwareNote = support.hardware
    ? null
    : profile.kind === 'command'
      ? 'hardware counters are not supported here, so there are no instruction, IPC or cache figures'
      : `hardware counters are not supported here, so there are no per-operation instruction, IPC or cache figures: hak perf ${profile.name} --instructions counts instructions per operation exactly with callgrind`;
  return {
    run: sampled.run,
    context,
    glibc: {attribution, unit: `${choice.event} samples`},
    measurement: {
      mode: 'samples',
      event: choice.event,
      eventDescription: choice.description,
      frequency: sampled.frequency,
      callGraph: settings.callGraph,
      samples: sampled.report.samples,
      lostSamples: sampled.report.lostSamples,
      categories: attribution.categories,
      hotspots: attribution.hotspots,
      hardware,
      hardwareNote,
      warnings,
      files,
      flamegraph,
    },
  };
}
