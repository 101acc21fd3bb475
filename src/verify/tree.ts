/**
 * hak verify of a command: every process of its tree judged on its own, a shell that starts the
 * program, make and its compilers alike. One run with the loader's binding log on (LD_DEBUG, one
 * log per process) and hakmem's stats written per process (HAKMEM_STATS with %p) gives each
 * pid its binding and its counters; a run under perf gives the samples, split by process name.
 *
 * A process that neither loaded hakmem nor logged a binding could not be reached by LD_PRELOAD,
 * and the cause is named from its executable: statically linked (no dynamic loader, so malloc
 * cannot be interposed), or set-uid/set-gid (the loader ignores LD_PRELOAD for it).
 * A process that runs its own allocator in front of malloc (python3's pymalloc) passes, with a
 * note of the share of its requests that reached hakmem, counted against a run with its
 * allocator switched off (PYTHONMALLOC=malloc).
 */
import {closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, join} from 'node:path';

import {HakError, MissingToolError, NoSamplesError, PerfNotPermittedError} from '../errors.js';
import {execProgram} from '../exec.js';
import {judgedTiers} from '../bench/evidence.js';
import {recordSamples} from '../perf/record.js';
import {attribute, type Category, type Hotspot, hakmemSymbolFiles} from '../perf/owners.js';
import {parsePerfReport, REPORT_ARGS, reportSymbols} from '../perf/report.js';
import {chooseEvent, probePerfEvents, requirePerf} from '../perf/tools.js';
import type {Profile} from '../profiles/index.js';
import {type HakmemStats, type RunRecord, type RunRequest, runBenchmark} from '../run/index.js';
import {allocatorOfLibrary, type BindingWitness, noteAllocatorApi} from './binding.js';
import {type CounterWitness, counterWitness, type Tier} from './counters.js';
import {judgeServed, type SamplesWitness, type ServedVerdict} from './judge.js';
import {type ForeignBinding, linkedAllocator, linkedCause, mixedAllocators, type MixedAllocators} from './linked.js';
import {samplesWitness} from './samples.js';

export interface ProcessVerdict {
  /** 0 for a command that ended before any of its processes was seen. */
  pid: number;
  /** The process's name (its program after any exec). */
  program: string;
  /** Its executable, when it was seen running. */
  exe: string | null;
  binding: BindingWitness | null;
  counters: CounterWitness;
  /** perf samples of the processes of this name; null when not sampled. */
  samples: ProgramSamples | null;
  /** The tiers it is judged on: those that received requests. */
  tiers: Tier[];
  verdict: ServedVerdict['verdict'];
  servedBy: ServedVerdict['servedBy'];
  cause: string | null;
  /** Said of a process that passes: its own allocator in front of malloc, and the share that reached hakmem. */
  note: string | null;
  /** Served by hakmem, it also binds another allocator's own API (mallctl...): its memory reports describe that one. */
  mixed: MixedAllocators | null;
}

/** The sample witness of one program, with its top symbols and owner categories. */
export interface ProgramSamples extends SamplesWitness {
  hotspots: Hotspot[];
  categories: Partial<Record<Category, number>>;
}

export interface TreeVerdict {
  processes: ProcessVerdict[];
  verdict: ServedVerdict['verdict'];
  servedBy: ServedVerdict['servedBy'];
  /** The first failing process's cause, with its pid and program. */
  cause: string | null;
  /** The started process's witnesses: what the overall table shows. */
  root: ProcessVerdict | null;
  /** Why the samples were not taken, when they were not. */
  samplesSkipped: string | null;
  samplesCommand: string | null;
  /** The rate the samples were taken at (raised for a run too short for the usual one). */
  samplesFrequency: number | null;
}

const BINDING = /binding file (\S+) \[\d+\] to (\S+) \[\d+\]: normal symbol `(\w+)'/;
const SHARED_OBJECT = /\.so(\.\d+)*$|^linux-vdso|^linux-gate/;

/**
 * Per process, where its main program's malloc and free went: from the loader's logs ld.<pid>.
 * The main program is the file that is not a shared object; after an exec in the same process
 * the last program's bindings count.
 */
export function parseProcessBindings(logs: Map<number, string>): Map<number, BindingWitness> {
  const bindings = new Map<number, BindingWitness>();
  for (const [pid, log] of logs) {
    let mallocLibrary: string | null = null;
    let freeLibrary: string | null = null;
    const allocatorApi = new Map<string, ForeignBinding>();
    for (const line of log.split('\n')) {
      const match = BINDING.exec(line);
      if (!match) continue;
      const [, file, library, symbol] = match as unknown as [string, string, string, string];
      noteAllocatorApi(allocatorApi, library, symbol);
      // Its canonical PLT entry (malloc's address taken) binds to the program itself: not the allocator.
      if (SHARED_OBJECT.test(basename(file)) || library === file) continue;
      if (symbol === 'malloc') mallocLibrary = library;
      else if (symbol === 'free') freeLibrary = library;
    }

    const allocator = mallocLibrary === null ? null : allocatorOfLibrary(mallocLibrary);
    bindings.set(pid, {mallocLibrary, freeLibrary, allocator, noDynamicLoader: false, allocatorApi: [...allocatorApi.values()]});
  }

  return bindings;
}

/** Whether an ELF executable names no program interpreter: statically linked, out of LD_PRELOAD's reach. */
export function isStaticExecutable(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const header = Buffer.alloc(64);
    if (readSync(fd, header, 0, 64, 0) < 64 || header.readUInt32BE(0) !== 0x7f_45_4c_46 || header[4] !== 2) return false;
    const phoff = Number(header.readBigUInt64LE(32));
    const size = header.readUInt16LE(54);
    const count = header.readUInt16LE(56);
    const table = Buffer.alloc(size * count);
    readSync(fd, table, 0, table.length, phoff);
    for (let index = 0; index < count; index++) {
      if (table.readUInt32LE(index * size) === 3) return false; // PT_INTERP
    }

    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function isSetId(file: string): boolean {
  try {
    return (statSync(file).mode & 0o6000) !== 0;
  } catch {
    return false;
  }
}

/** Why hakmem never ran in a process, in words, from what its executable is. */
function unreachedCause(exe: string | null, binding: BindingWitness | null): string {
  if (exe && isStaticExecutable(exe)) return `it is statically linked: it has no dynamic loader, so malloc cannot be interposed by LD_PRELOAD`;
  if (exe && isSetId(exe)) return `it is a set-uid or set-gid binary: the loader ignores LD_PRELOAD for it`;
  if (binding?.allocator === 'glibc') return `libhakmem.so was not loaded and malloc is bound to ${basename(binding.mallocLibrary!)}: LD_PRELOAD did not reach it`;
  return 'libhakmem.so was not loaded: no hakmem counters were written (LD_PRELOAD dropped, or the process did not exit normally)';
}

/** Distinct names of perf's comm column are at most 15 characters, as /proc/<pid>/comm. */
async function samplesByProgram(perf: string, dataFile: string, programs: string[], hakmemFiles: Map<string, string> | undefined): Promise<Map<string, ProgramSamples>> {
  const witnesses = new Map<string, ProgramSamples>();
  for (const program of programs) {
    // Shares relative to this program's own samples; the header's count is the whole recording's.
    const result = await execProgram(perf, ['report', '-i', dataFile, ...REPORT_ARGS, '--comms', program, '--percentage', 'relative'], {timeoutMs: 300_000});
    if (result.exitCode !== 0) continue;
    const parsed = parsePerfReport(result.stdout);
    if (parsed.rows.length === 0) continue;
    const report = {...parsed, samples: parsed.rows.reduce((sum, row) => sum + row.samples, 0)};
    const attribution = attribute(reportSymbols(report), {program, tiers: [], ...(hakmemFiles ? {hakmemFiles} : {})});
    witnesses.set(program, {...samplesWitness(report), hotspots: attribution.hotspots.slice(0, 5), categories: attribution.categories});
  }

  return witnesses;
}

function skipReason(error: HakError): string {
  if (error instanceof MissingToolError) return `${error.tool} is not installed (${error.fix})`;
  return `${error.message}${error.hint ? ` ${error.hint}` : ''}`;
}

/** The command under perf record; samples per process name, or why there are none. */
async function sampleTree(
  request: RunRequest,
  profile: Profile,
  programs: string[],
  wanted: boolean,
): Promise<{samples: Map<string, ProgramSamples>; skipped: string | null; command: string | null; frequency: number | null}> {
  if (!wanted) return {samples: new Map(), skipped: 'not asked for (--no-samples)', command: null, frequency: null};
  const dir = mkdtempSync(join(tmpdir(), 'hak-verify-'));
  try {
    const perf = requirePerf();
    const choice = chooseEvent(profile.perf.event, await probePerfEvents(perf));
    const sampled = await recordSamples(request, perf, {event: choice.event, frequency: 4999, callGraph: 'none'}, {dataFile: join(dir, 'perf.data')}, {minSamples: 400});
    const files = request.allocator.name === 'hakmem' && request.allocator.preload ? await hakmemSymbolFiles(request.allocator.preload) : undefined;
    return {samples: await samplesByProgram(perf, sampled.dataFile, programs, files), skipped: null, command: sampled.run.command, frequency: sampled.frequency};
  } catch (error) {
    if (!(error instanceof MissingToolError || error instanceof NoSamplesError || error instanceof PerfNotPermittedError)) throw error;
    return {samples: new Map(), skipped: skipReason(error), command: null, frequency: null};
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

/** Requests hakmem served in a process: exact at stats >= 1, the blocks its refills supplied at stats 0. */
function servedRequests(stats: HakmemStats): number {
  return counterWitness(stats).tiers.reduce((sum, tier) => sum + tier.served, 0);
}

/** python3 runs its own allocator for small objects; PYTHONMALLOC=malloc sends every request to malloc. */
const OWN_ALLOCATORS: {program: RegExp; name: string; off: Record<string, string>}[] = [
  {program: /^python[\d.]*$/, name: "its own small-object allocator (pymalloc)", off: {PYTHONMALLOC: 'malloc'}},
];

/** The share of a program's requests that reached hakmem, against a run with its own allocator off. */
async function ownAllocatorNotes(request: RunRequest, processes: ProcessVerdict[], stats: Map<number, HakmemStats>): Promise<void> {
  for (const own of OWN_ALLOCATORS) {
    const matching = processes.filter((process) => own.program.test(process.program) && stats.has(process.pid));
    if (matching.length === 0) continue;
    const without = await runBenchmark({...request, env: {...request.env, ...own.off}, collectStats: true});
    const reference = [...without.processStats.entries()].filter(([pid]) => own.program.test(processName(without, pid)));
    const total = reference.reduce((sum, [, counters]) => sum + servedRequests(counters), 0);
    const reached = matching.reduce((sum, process) => sum + servedRequests(stats.get(process.pid)!), 0);
    if (total === 0) continue;
    const share = Math.min(1, reached / total);
    const offText = Object.entries(own.off).map(([key, value]) => `${key}=${value}`).join(' ');
    const note = `${matching[0]!.program} serves most requests with ${own.name}: about ${(share * 100).toFixed(share < 0.1 ? 1 : 0)}% reached hakmem (${reached.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} blocks counted with ${offText})`;
    for (const process of matching) process.note = note;
  }
}

function processName(run: RunRecord, pid: number): string {
  return run.memory.processes.find((process) => process.pid === pid)?.program ?? '';
}

function readLogs(dir: string, skip: number | null): Map<number, string> {
  const logs = new Map<number, string>();
  for (const file of readdirSync(dir)) {
    const match = /^ld\.(\d+)$/.exec(file);
    if (match && Number(match[1]) !== skip) logs.set(Number(match[1]), readFileSync(join(dir, file), 'utf8'));
  }

  return logs;
}

/** The main program's name in a loader log, for a process gone before it was seen running. */
function programOfLog(log: string | undefined): string | null {
  for (const line of (log ?? '').split('\n')) {
    const match = BINDING.exec(line);
    if (match && !SHARED_OBJECT.test(basename(match[1]!))) return basename(match[1]!).slice(0, 15);
  }

  return null;
}

export async function verifyTree(request: RunRequest, profile: Profile, options: {samples: boolean; onProgress: (text: string) => void}): Promise<TreeVerdict> {
  const dir = mkdtempSync(join(tmpdir(), 'hak-ld-'));
  try {
    options.onProgress('running the command with the loader\'s binding log and per-process counters');
    // LD_BIND_NOW: every symbol bound at start-up, so that an allocator API called only later (mallctl) is logged too.
    const run = await runBenchmark({...request, env: {...request.env, LD_DEBUG: 'bindings', LD_DEBUG_OUTPUT: join(dir, 'ld'), LD_BIND_NOW: '1'}, collectStats: true});
    const logs = readLogs(dir, run.toolPid);
    const bindings = parseProcessBindings(logs);
    const seen = new Map(run.memory.processes.map((process) => [process.pid, process]));
    const pids = [...new Set([...(run.pid === null ? [] : [run.pid]), ...seen.keys(), ...run.processStats.keys(), ...logs.keys()])].sort((a, b) => a - b);
    // The started program may be gone before it was first sampled: its executable is the command's.
    const exeOf = (pid: number): string | null => seen.get(pid)?.exe ?? (pid === run.pid || pids.length === 1 ? request.program : null);
    const processes: ProcessVerdict[] = pids.map((pid) => {
      const counters = counterWitness(run.processStats.get(pid) ?? null);
      const binding = bindings.get(pid) ?? null;
      // A child forked without exec shares its parent's loader log and may end before it is seen.
      const program = seen.get(pid)?.program ?? programOfLog(logs.get(pid)) ?? (exeOf(pid) ? basename(exeOf(pid)!).slice(0, 15) : '(forked child)');
      return {pid, program, exe: exeOf(pid), binding, counters, samples: null, tiers: judgedTiers(counters, null), verdict: 'pass', servedBy: 'hakmem', cause: null, note: null, mixed: null};
    });
    // A command that started nothing observable (it ended at once) is still one process: the command itself.
    if (processes.length === 0) {
      processes.push({pid: 0, program: basename(request.program).slice(0, 15), exe: request.program, binding: null, counters: counterWitness(null), samples: null, tiers: [], verdict: 'pass', servedBy: 'hakmem', cause: null, note: null, mixed: null});
    }

    options.onProgress('sampling the command with perf');
    const sampled = await sampleTree({...request, collectStats: false}, profile, [...new Set(processes.map((process) => process.program))], options.samples);
    for (const process of processes) {
      process.samples = sampled.samples.get(process.program) ?? null;
      // A process that ends with _exit (dash does) runs no exit handlers and writes no counters;
      // the loader's binding of its malloc to libhakmem.so is then the evidence that remains.
      if (!process.counters.loaded && process.binding?.allocator === 'hakmem' && request.allocator.name === 'hakmem') {
        process.note = 'it ended without running exit handlers (_exit), so it wrote no counters; the loader bound its malloc to libhakmem.so';
        continue;
      }

      const judged = judgeServed({counters: process.counters, binding: process.binding, samples: process.samples, tiers: process.tiers, sizes: null});
      const unreached = !process.counters.loaded && judged.verdict === 'fail' && !process.binding?.allocator?.match(/mimalloc|jemalloc|tcmalloc|other/);
      // Nothing preloaded into a program that links an allocator itself: that allocator served it.
      const linkedBy = request.allocator.preload === null && process.exe ? linkedAllocator(process.exe) : null;
      const linked = linkedBy ? linkedCause({...linkedBy, program: process.program}, process.binding) : null;
      Object.assign(process, judged, unreached ? {cause: unreachedCause(process.exe, process.binding)} : {}, linked ? {cause: linked} : {});
    }

    for (const process of processes) {
      if (process.verdict === 'pass' && process.binding) process.mixed = mixedAllocators(process.binding.allocatorApi ?? [], process.binding.mallocLibrary);
    }

    if (request.allocator.name === 'hakmem') {
      options.onProgress('counting what the programs\' own allocators kept from hakmem');
      await ownAllocatorNotes(request, processes, run.processStats);
    }

    const failing = processes.find((process) => process.verdict === 'fail');
    const root = processes.find((process) => process.pid === run.pid) ?? processes[0] ?? null;
    return {
      processes,
      verdict: failing ? 'fail' : 'pass',
      servedBy: failing ? failing.servedBy : 'hakmem',
      cause: failing ? `${failing.program}${failing.pid > 0 ? ` (pid ${failing.pid})` : ''}: ${failing.cause}` : null,
      root,
      samplesSkipped: sampled.skipped,
      samplesCommand: sampled.command,
      samplesFrequency: sampled.frequency,
    };
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}
