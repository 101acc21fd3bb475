/**
 * hak verify of a server profile: the server process judged like any other run, started by the
 * same runner hak bench uses (run/server.ts).
 *
 * 1. The loader: the server started once with its binding log on and every symbol bound at
 *    start-up (LD_BIND_NOW), ready, then stopped: where its malloc went, and any other
 *    allocator's own API it binds (redis-server's mallctl and nallocx).
 * 2. hakmem's counters: the server started again with HAKMEM_STATS, loaded by the profile's
 *    clients (outside the allocator), checked and stopped with SIGTERM, so it writes them at exit.
 * 3. perf samples of the server process alone, taken while the clients load it (perf record -p).
 *
 * A server that does not start, dies or answers wrong raises the runner's RunError (failure
 * `server`), which verifyProfile turns into an INVALID verdict with the log's last lines.
 */
import {type ChildProcess, spawn} from 'node:child_process';
import {existsSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

import {judgedTiers} from '../bench/evidence.js';
import {HakError} from '../errors.js';
import {tailLines} from '../exec.js';
import {attribute, hakmemSymbolFiles} from '../perf/owners.js';
import {perfReport} from '../perf/record.js';
import {parsePerfReport, reportSymbols} from '../perf/report.js';
import {chooseEvent, probePerfEvents, requirePerf} from '../perf/tools.js';
import type {Profile} from '../profiles/index.js';
import {commandLine, type SingleTarget} from '../run/index.js';
import {runServer, type ServerRunRequest} from '../run/server.js';
import {traceServerBinding} from './binding.js';
import {counterWitness, type Tier} from './counters.js';
import {counterEvidence, HOTSPOTS_SHOWN, reportHeader, type SamplesEvidence, skipReason, targetRequest, VERIFY_FREQUENCY, type VerifyOptions, type VerifyReport} from './index.js';
import {judgeServed} from './judge.js';
import {linkedAllocator, linkedCause, mixedAllocators, mixedWarning} from './linked.js';
import {samplesWitness} from './samples.js';

interface ServerSampler {
  /** Attaches perf to the server once it is ready; undefined when no samples are taken. */
  whileLoaded?: ServerRunRequest['whileLoaded'];
  /** The sample witness, once the run is over. */
  finish: (tiers: Tier[]) => Promise<SamplesEvidence>;
}

const skipped = (reason: string): ServerSampler => ({finish: async () => ({status: 'skipped', reason})});

/** perf record attached to the server process for the length of the load. */
async function serverSampler(options: VerifyOptions, profile: Profile, request: ServerRunRequest): Promise<ServerSampler> {
  if (options.samples === false) return skipped('not asked for (--no-samples)');
  let perf: string;
  let event: string;
  try {
    perf = requirePerf();
    event = chooseEvent(profile.perf.event, await probePerfEvents(perf)).event;
  } catch (error) {
    if (!(error instanceof HakError)) throw error;
    return skipped(skipReason(error));
  }

  const name = basename(request.program);
  const dir = mkdtempSync(join(tmpdir(), 'hak-verify-'));
  const dataFile = join(dir, 'perf.data');
  let child: ChildProcess | undefined;
  let stderr = '';
  let command = '';
  const whileLoaded = async (pid: number): Promise<() => Promise<void>> => {
    const args = ['record', '-q', '--no-bpf-event', '-N', '-e', event, '-F', String(VERIFY_FREQUENCY), '-p', String(pid), '-o', dataFile];
    command = `perf ${args.slice(0, -3).join(' ')} <pid of ${name}>, while its clients run`;
    const perfChild = spawn(perf, args, {stdio: ['ignore', 'ignore', 'pipe']});
    child = perfChild;
    perfChild.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<void>((resolve) => {
      perfChild.once('close', () => resolve());
      perfChild.once('error', () => resolve());
    });
    return async () => {
      perfChild.kill('SIGINT');
      if (!(await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]))) perfChild.kill('SIGKILL');
    };
  };

  const finish = async (tiers: Tier[]): Promise<SamplesEvidence> => {
    try {
      if (!existsSync(dataFile)) return {status: 'skipped', reason: `perf recorded nothing of ${name}${stderr.trim() ? `: ${tailLines(stderr, 2)}` : ''}`};
      const report = parsePerfReport(await perfReport(perf, dataFile));
      if (report.rows.length === 0) return {status: 'skipped', reason: `perf recorded no samples of ${name} during the load`};
      const files = request.allocator.name === 'hakmem' && request.allocator.preload ? await hakmemSymbolFiles(request.allocator.preload) : undefined;
      const attribution = attribute(reportSymbols(report), {program: name, tiers, ...(files ? {hakmemFiles: files} : {})});
      const hotspots = attribution.hotspots.slice(0, HOTSPOTS_SHOWN);
      return {...samplesWitness(report), status: 'sampled', frequency: VERIFY_FREQUENCY, command, hotspots, categories: attribution.categories};
    } catch (error) {
      if (!(error instanceof HakError)) throw error;
      return {status: 'skipped', reason: skipReason(error)};
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, {recursive: true, force: true});
    }
  };

  return {whileLoaded, finish};
}

export async function verifyServer(options: VerifyOptions, target: SingleTarget, started: number): Promise<VerifyReport> {
  const {profile} = options;
  if (profile.kind !== 'server') throw new Error(`verifyServer: ${profile.name} is not a server profile`);
  const progress = options.onProgress ?? (() => {});
  const name = basename(target.program);
  const request: ServerRunRequest = {...targetRequest(profile, target), server: profile.server};

  progress(`starting ${name} with the loader's binding log`);
  const binding = await traceServerBinding(request);
  const sampler = await serverSampler(options, profile, request);
  progress(`loading ${name} with its clients, hakmem's counters on${sampler.whileLoaded ? ' and perf attached' : ''}`);
  let samples: SamplesEvidence | undefined;
  try {
    const run = await runServer({...request, collectStats: true, ...(sampler.whileLoaded ? {whileLoaded: sampler.whileLoaded} : {})});
    const witness = counterWitness(run.stats);
    const tiers = judgedTiers(witness, null);
    samples = await sampler.finish(tiers);
    const isHakmem = target.allocator.name === 'hakmem';
    const command = commandLine(request);
    const counters = counterEvidence(witness, 'tested', isHakmem ? target.built.variant : null, command);
    let verdict = judgeServed({counters: witness, binding, samples: samples.status === 'sampled' ? samples : null, tiers, sizes: null});
    // Nothing preloaded into a program that links an allocator itself: that allocator served it.
    const linked = target.allocator.preload === null ? linkedAllocator(target.program) : null;
    const linkedText = verdict.verdict === 'fail' ? linkedCause(linked, binding) : null;
    if (linked && linkedText) verdict = {verdict: 'fail', servedBy: linked.allocator, cause: linkedText};
    const mixed = verdict.verdict === 'pass' ? mixedAllocators(binding.allocatorApi ?? [], binding.mallocLibrary) : null;
    return {
      ...reportHeader(profile, target),
      verdict: verdict.verdict,
      servedBy: verdict.servedBy,
      cause: verdict.cause,
      sizes: null,
      tiers,
      witnesses: {counters, variantCounters: null, binding: {...binding, command: `${command} (LD_BIND_NOW=1, started and stopped)`}, samples},
      processes: [],
      mixed,
      warnings: mixed ? [mixedWarning(target.allocator.name, target.program, mixed)] : [],
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    // A run that failed: perf's file and process go too.
    if (!samples) await sampler.finish([]);
  }
}
