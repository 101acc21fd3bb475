/**
 * One sampled run: the benchmark under `perf record`, then perf's flat report of it, parsed.
 * hak perf keeps perf.data and the report; hak verify reads the report as its sample witness.
 */
import {rmSync, writeFileSync} from 'node:fs';
import {basename, dirname} from 'node:path';

import {NoSamplesError, RunError} from '../errors.js';
import {execProgram, tailLines} from '../exec.js';
import type {CallGraphMode} from '../profiles/index.js';
import {type Launcher, type RunRecord, type RunRequest, commandLine, runBenchmark} from '../run/index.js';
import {parsePerfReport, type PerfReport, REPORT_ARGS} from './report.js';
import {perfFailure} from './tools.js';

export interface SamplingSettings {
  event: string;
  frequency: number;
  callGraph: CallGraphMode;
}

export interface SampledRun {
  run: RunRecord;
  report: PerfReport;
  /** perf report's text, as perf printed it. */
  reportText: string;
  dataFile: string;
  /** The rate the samples were taken at: the one asked for, or a higher one for a run too short for it. */
  frequency: number;
}

export function recordLauncher(perf: string, settings: SamplingSettings, dataFile: string): Launcher {
  return {
    // --no-bpf-event spares a second of start-up; -N keeps binaries out of ~/.debug.
    argv: [
      perf, 'record', '-q', '--no-bpf-event', '-N',
      '-e', settings.event, '-F', String(settings.frequency),
      ...(settings.callGraph === 'none' ? [] : ['--call-graph', settings.callGraph]),
      '-o', basename(dataFile), '--',
    ],
    preload: 'child',
    failure: perfFailure,
    cwd: dirname(dataFile),
  };
}

/** perf report of a recorded file: the flat self-time report hak parses (REPORT_ARGS). */
export async function perfReport(perf: string, dataFile: string): Promise<string> {
  const result = await execProgram(perf, ['report', '-i', dataFile, ...REPORT_ARGS], {timeoutMs: 300_000});
  if (result.exitCode !== 0) {
    throw perfFailure(result) ?? new RunError(`perf report failed: ${tailLines(result.stderr, 3)}`, {
      failure: 'exit', program: 'perf report', allocator: '', runIndex: 0, exitCode: result.exitCode, stderrTail: tailLines(result.stderr, 12),
    });
  }

  return result.stdout;
}

/** The highest rate a re-recorded run is sampled at: well under the kernel's usual limit. */
export const MAX_FREQUENCY = 20_000;

/**
 * Runs the request under perf record into `dataFile` and reads the samples back. A run too
 * short to be sampled raises NoSamplesError; the report text is written to `reportFile` when given.
 *
 * With `minSamples`, a run that finished too quickly for that many samples (a faster machine, a
 * faster allocator: runs are sized by operations, not by time) is recorded again, sampled as
 * much faster as it was short, so the count depends on the run's length, not on its speed.
 */
export async function recordSamples(
  request: RunRequest,
  perf: string,
  settings: SamplingSettings,
  files: {dataFile: string; reportFile?: string},
  options: {minSamples?: number} = {},
): Promise<SampledRun> {
  const first = await recordOnce(request, perf, settings, files);
  const wanted = options.minSamples ?? 0;
  if (first.report.samples >= wanted || settings.frequency >= MAX_FREQUENCY) return first;
  const frequency = Math.min(MAX_FREQUENCY, Math.ceil((settings.frequency * 2 * wanted) / Math.max(1, first.report.samples)));
  // perf would keep the first recording as perf.data.old.
  rmSync(files.dataFile, {force: true});
  return recordOnce(request, perf, {...settings, frequency}, files);
}

async function recordOnce(request: RunRequest, perf: string, settings: SamplingSettings, files: {dataFile: string; reportFile?: string}): Promise<SampledRun> {
  const run = await runBenchmark({...request, launcher: recordLauncher(perf, settings, files.dataFile)});
  const reportText = await perfReport(perf, files.dataFile);
  if (files.reportFile) writeFileSync(files.reportFile, reportText);
  const report = parsePerfReport(reportText);
  if (report.rows.length === 0) {
    throw new NoSamplesError(
      `perf recorded no samples of ${report.event ?? settings.event} in ${run.result.bench} (${run.result.seconds.toFixed(3)} s measured).`,
      {event: settings.event, frequency: settings.frequency, command: commandLine(request)},
      'The run is too short for the sampling rate: raise perf.frequency or lengthen perf.args in the profile.',
    );
  }

  return {run, report, reportText, dataFile: files.dataFile, frequency: settings.frequency};
}
