/**
 * hak perf --instructions: the profile's short arguments under callgrind, counting only the
 * measured region (bench_loop*), so that instructions per operation, in all and per function and
 * owner, are exact and the same on every run.
 */
import {readFileSync, writeFileSync} from 'node:fs';
import {basename, join} from 'node:path';

import {NoSamplesError} from '../errors.js';
import {execProgram, findOnPath} from '../exec.js';
import {callgrindArgs} from '../profiles/index.js';
import {runBenchmark} from '../run/index.js';
import {callgrindLauncher, callgrindSymbols, MEASURED_FUNCTIONS, parseCallgrind} from './callgrind.js';
import {attributionContext, type Measured, runRequest, type SideRun} from './measure.js';
import {attribute, type Category} from './owners.js';

/** callgrind_annotate's report of the profile, when the script is installed (it comes with valgrind). */
async function annotate(outFile: string): Promise<string | null> {
  const script = findOnPath('callgrind_annotate');
  if (!script) return null;
  const result = await execProgram(script, [outFile], {timeoutMs: 120_000});
  return result.exitCode === 0 ? result.stdout : null;
}

export async function measureInstructions(valgrind: string, {options, target, staging, progress}: SideRun): Promise<Measured> {
  const {profile} = options;
  // callgrind runs the short arguments some fifty times slower than they run natively
  const request = runRequest(target, callgrindArgs(profile, {threads: options.threads}), profile.timeoutSeconds * 5);
  progress(`${target.label}: counting instructions with callgrind`);
  const files: Record<string, string> = {callgrind: 'callgrind.out', result: 'result.json'};
  const outFile = join(staging.path, 'callgrind.out');
  const run = await runBenchmark({...request, launcher: callgrindLauncher(valgrind, outFile)});
  const counted = parseCallgrind(readFileSync(outFile, 'utf8'));
  if (counted.instructions === 0) {
    throw new NoSamplesError(
      `callgrind counted no instructions in ${MEASURED_FUNCTIONS}: ${basename(target.program)} has no measured region by that name.`,
      {event: 'instructions', frequency: 0, command: run.command},
      'The benchmark programs of csrc/bench run their measured work in functions named bench_loop*.',
    );
  }

  const annotated = await annotate(outFile);
  if (annotated !== null) {
    writeFileSync(join(staging.path, 'callgrind-annotate.txt'), annotated);
    files.report = 'callgrind-annotate.txt';
  }

  const context = await attributionContext(target, run);
  const attribution = attribute(callgrindSymbols(counted), context);
  const perOp = (instructions: number): number => instructions / run.result.ops;
  const categoryInstructionsPerOp = Object.fromEntries(
    Object.entries(attribution.categories).map(([category, share]) => [category, perOp((share ?? 0) * counted.instructions)]),
  ) as Partial<Record<Category, number>>;
  return {
    run,
    context,
    glibc: {attribution, unit: 'instructions'},
    measurement: {
      mode: 'instructions',
      event: 'instructions',
      eventDescription: `instructions counted by callgrind in ${MEASURED_FUNCTIONS} (the measured region: start-up and teardown excluded)`,
      instructions: counted.instructions,
      instructionsPerOp: perOp(counted.instructions),
      categories: attribution.categories,
      categoryInstructionsPerOp,
      hotspots: attribution.hotspots.map((hotspot) => ({...hotspot, instructionsPerOp: perOp(hotspot.weight)})),
      warnings: [],
      files,
    },
  };
}
