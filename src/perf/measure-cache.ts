/**
 * hak perf --cache: the profile's short arguments under valgrind's cache and branch simulator,
 * misses and mispredicts per operation in all, per function and per owner, for a fixed cache
 * geometry (or this machine's), with perf stat's hardware misses beside them where it counts them.
 */
import {findOnPath} from '../exec.js';
import {callgrindArgs} from '../profiles/index.js';
import {isRoot} from '../system.js';
import {attributeCache, CACHE_OUT_FILE, simulateCache} from './cache.js';
import {callgrindSymbols, MEASURED_FUNCTIONS} from './callgrind.js';
import {attributionContext, hardwareRun, type Measured, runRequest, type SideRun} from './measure.js';
import {attribute} from './owners.js';
import type {HardwareFigures} from './stat.js';
import {perfParanoid, probePerfEvents} from './tools.js';

/** Whether perf can count hardware events here; never an error, since --cache only adds them where it can. */
async function hardwareSupport(): Promise<{perf: string; hardware: boolean} | {perf: null; why: string}> {
  const perf = findOnPath('perf');
  if (!perf) return {perf: null, why: 'perf is not installed'};
  const paranoid = perfParanoid();
  if (!isRoot() && paranoid !== null && paranoid > 2) return {perf: null, why: `perf_event_paranoid is ${paranoid}`};
  return {perf, hardware: (await probePerfEvents(perf)).hardware};
}

export async function measureCache(valgrind: string, {options, target, staging, progress}: SideRun): Promise<Measured> {
  const {profile} = options;
  // the simulator runs the short arguments a hundred times slower than they run natively
  const request = runRequest(target, callgrindArgs(profile, {threads: options.threads}), profile.timeoutSeconds * 10);
  progress(`${target.label}: simulating caches and branches with valgrind`);
  const files: Record<string, string> = {callgrind: CACHE_OUT_FILE, result: 'result.json'};
  const simulation = await simulateCache(valgrind, request, staging.path, options.hostCaches ? 'host' : 'fixed');
  const {run, profile: counted} = simulation;
  const context = await attributionContext(target, run);
  // a command's figures are counts for its whole run: one "operation"
  const ops = target.command ? 1 : run.result.ops;
  const split = attributeCache(counted, context, ops);

  let hardware: HardwareFigures | null = null;
  let hardwareNote: string | null = null;
  const support = await hardwareSupport();
  if (support.perf !== null && support.hardware) {
    progress(`${target.label}: counting hardware cache and branch misses with perf stat`);
    hardware = await hardwareRun(support.perf, request, staging);
    files.stat = 'perf-stat.txt';
  } else {
    const why = support.perf === null ? support.why : 'hardware counters are not supported here';
    hardwareNote = `${why}: no perf stat figures beside the simulated ones`;
  }

  const stated = simulation.geometry?.description ?? 'geometry not stated in the output';
  const geometry = options.hostCaches ? `this machine's caches: ${stated}` : `fixed geometry: ${stated}`;
  return {
    run,
    context,
    // glibc's share is judged on instructions, as with --instructions, not on misses
    glibc: {attribution: attribute(callgrindSymbols(counted), context), unit: 'instructions'},
    measurement: {
      mode: 'cache',
      event: 'cache simulation',
      eventDescription: target.command
        ? `simulated by valgrind's cache and branch simulator (${geometry}) over the whole started process, counts per run (its child processes are not simulated)`
        : `simulated by valgrind's cache and branch simulator (${geometry}) in ${MEASURED_FUNCTIONS}, the measured region`,
      instructions: counted.instructions,
      instructionsPerOp: simulation.perOp.instructions,
      categories: split.shares,
      cachePerOp: simulation.perOp,
      categoryCachePerOp: split.categories,
      cacheGeometry: simulation.geometry,
      hotspots: split.hotspots,
      hardware,
      hardwareNote,
      warnings: [],
      files,
    },
  };
}
