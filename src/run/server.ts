/**
 * One run of a server profile under one allocator:
 *
 *   const run = await runServer({...target, timeoutSeconds, runIndex, collectStats: true});
 *   run.result.figure            // requests per second, from the clients
 *   run.result.extra.latencyMs   // {p50, p99, max}, the worst test's
 *
 * The server starts on a free loopback port under the allocator (LD_PRELOAD), wrapped by GNU
 * time so its CPU time and faults are counted, its RSS sampled by the monitor as any run's.
 * When it is ready (its port accepts, or the ready command succeeds) each client runs, without
 * the allocator and on the other CPUs where the machine has two or more (taskset); then the
 * checks ask it something known; then it sits idle a fixed time and its idle RSS is read; then
 * it is stopped with SIGTERM, and SIGKILL after the grace period. A server that does not start,
 * dies, or answers wrong raises a RunError of failure `server` carrying its log's last lines:
 * never a number.
 */
import {type ChildProcess, spawn} from 'node:child_process';
import {closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync} from 'node:fs';
import {createConnection, createServer} from 'node:net';
import {availableParallelism, tmpdir} from 'node:os';
import {basename, join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

import {RunError} from '../errors.js';
import {execProgram, findOnPath, tailLines} from '../exec.js';
import {onInterrupt} from '../interrupt.js';
import {PORT_PLACEHOLDER, type ServerSetting} from '../profiles/server-schema.js';
import {benchmarkEnvironment, commandLine, mainStats, readStatsDir, type RunRecord, type RunRequest} from './index.js';
import {gnuTimeArgs, processTree, readGnuTime, requireGnuTime, residentKb, sampleTree} from './monitor.js';
import {type ClientTest, parseClientOutput, summarizeTests} from './server-clients.js';

export interface ServerRunRequest extends Pick<RunRequest, 'program' | 'args' | 'allocator' | 'env' | 'timeoutSeconds' | 'runIndex' | 'collectStats' | 'cwd'> {
  server: ServerSetting;
  /** Start, wait for readiness and stop: no clients, checks or idle time (the loader's binding trace). */
  startOnly?: boolean;
  /** Called with the server's pid once it is ready (verify attaches perf); what it returns is awaited after the load and the checks. */
  whileLoaded?: (pid: number) => Promise<() => Promise<void>>;
}

/** Where server and clients run: CPU lists for taskset, or null when they share the machine. */
export interface Placement {
  server: string;
  clients: string;
}

const LOG_LINES = 12;
const POLL_MS = 100;

/** The CPUs this process may run on (Cpus_allowed_list), as numbers. */
function allowedCpus(): number[] {
  const text = readFileSync('/proc/self/status', 'utf8');
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(text)?.[1];
  if (!list) return Array.from({length: availableParallelism()}, (_, index) => index);
  return list.split(',').flatMap((part) => {
    const [low, high = low] = part.split('-').map(Number) as [number, number?];
    return Array.from({length: high! - low + 1}, (_, index) => low + index);
  });
}

/** The server on the first allowed CPU and the clients on the rest, where there are two or more and taskset exists. */
export function serverPlacement(setting: Pick<ServerSetting, 'placement'>): Placement | null {
  if (setting.placement === 'none' || !findOnPath('taskset')) return null;
  const cpus = allowedCpus();
  if (cpus.length < 2) return null;
  return {server: String(cpus[0]), clients: cpus.slice(1).join(',')};
}

/** A port no one listens on now: the kernel's choice for a loopback listener, closed again. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether a TCP connection to the loopback port is accepted within a second. */
export async function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({host: '127.0.0.1', port});
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };

    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export const withPort = (argv: readonly string[], port: number): string[] => argv.map((word) => word.replaceAll(PORT_PLACEHOLDER, String(port)));

/** The environment of clients and checks: hak's own, without any allocator or loader tracing. */
function clientEnvironment(): NodeJS.ProcessEnv {
  const env = {...process.env};
  for (const key of ['LD_PRELOAD', 'HAKMEM_STATS', 'LD_DEBUG', 'LD_DEBUG_OUTPUT', 'LD_BIND_NOW']) delete env[key];
  return env;
}

interface Started {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
  log: string;
}

function startProcess(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string | undefined, log: string): Started {
  const fd = openSync(log, 'a');
  let exited = false;
  const child = spawn(file, args, {env, cwd, detached: true, stdio: ['ignore', fd, fd]});
  closeSync(fd);
  const done = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  }).then(() => {
    exited = true;
  });
  return {child, exited: done, hasExited: () => exited, log};
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** The server itself: GNU time's child (GNU time does not pass signals on). */
function serverPid(root: number): number | null {
  return processTree(root).find((pid) => pid !== root) ?? null;
}

export async function runServer(request: ServerRunRequest): Promise<RunRecord> {
  const {server} = request;
  const name = basename(request.program);
  const where = `${name} under ${request.allocator.name} (run ${request.runIndex})`;
  const workDir = mkdtempSync(join(tmpdir(), 'hak-server-'));
  const statsDir = request.collectStats ? join(workDir, 'stats') : undefined;
  if (statsDir) mkdirSync(statsDir);
  const timeReport = join(workDir, 'usage.txt');
  const log = join(workDir, 'server.log');
  const placement = serverPlacement(server);
  const time = requireGnuTime();
  const taskset = (cpus: string | undefined): string[] => (cpus === undefined ? [] : [findOnPath('taskset')!, '-c', cpus]);
  const env = benchmarkEnvironment(request, statsDir ? join(statsDir, 'stats-%p.json') : undefined);
  const clientEnv = clientEnvironment();
  const logTail = (): string => {
    try {
      return tailLines(readFileSync(log, 'utf8'), LOG_LINES);
    } catch {
      return '';
    }
  };

  const fail = (message: string, extra = ''): RunError =>
    new RunError(`${where} ${message}`, {failure: 'server', program: name, allocator: request.allocator.name, runIndex: request.runIndex, stderrTail: [extra, logTail()].filter(Boolean).join('\n')});

  let started: Started | undefined;
  const forget = onInterrupt('stop', () => killGroup(started?.child.pid, 'SIGKILL'));
  const began = performance.now();
  try {
    // A port taken between the search and the server's bind (another hak, another program) is searched again.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const argv = [...taskset(placement?.server), time, ...gnuTimeArgs(timeReport), request.program, ...withPort(request.args, port)];
      started = startProcess(argv[0]!, argv.slice(1), env, request.cwd, log);
      const ready = await waitReady(started, server, port, clientEnv, request.cwd);
      if (ready === 'ready') break;
      killGroup(started.child.pid, 'SIGKILL');
      await started.exited;
      const inUse = /in use|already|EADDRINUSE/i.test(logTail());
      if (ready === 'exited' && inUse && attempt < 3) continue;
      throw fail(ready === 'exited' ? 'exited before it was ready.' : `was not ready within ${server.ready.timeoutSeconds} s.`);
    }

    const root = started.child.pid!;
    const toolExe = realpathSync(time);
    const sampler = sampleTree(root, {skip: (pid) => pid === root, toolExe});
    const loaded = serverPid(root);
    const detach = request.whileLoaded && loaded !== null ? await request.whileLoaded(loaded) : null;
    const loadStart = performance.now();
    const tests: ClientTest[] = [];
    for (const client of request.startOnly ? [] : server.clients) {
      const argv = [...taskset(placement?.clients), ...withPort(client.argv, port)];
      const outcome = await execProgram(argv[0]!, argv.slice(1), {env: clientEnv, cwd: request.cwd, timeoutMs: request.timeoutSeconds * 1000, processGroup: true});
      const shown = withPort(client.argv, port).join(' ');
      if (started.hasExited()) throw fail(`died during the load (client ${shown}).`);
      if (outcome.timedOut) throw fail(`did not serve client ${shown} within ${request.timeoutSeconds} s.`);
      if (outcome.exitCode !== 0) throw fail(`failed its client ${shown} (${outcome.signal ?? `exit ${outcome.exitCode}`}).`, tailLines(outcome.stderr || outcome.stdout, 6));
      const parsed = parseClientOutput(client.parser, outcome.stdout);
      if (typeof parsed === 'string') throw fail(`answered wrong or the client could not be read (${shown}): ${parsed}.`, tailLines(outcome.stdout, 4));
      tests.push(...parsed);
    }

    const loadSeconds = (performance.now() - loadStart) / 1000;
    for (const check of request.startOnly ? [] : server.checks) {
      const argv = withPort(check.argv, port);
      const outcome = await execProgram(argv[0]!, argv.slice(1), {env: clientEnv, cwd: request.cwd, timeoutMs: 30_000});
      if (outcome.exitCode !== 0 || !new RegExp(check.expect, 'm').test(outcome.stdout)) {
        throw fail(`answered check ${argv.join(' ')} with ${JSON.stringify(outcome.stdout.trim().slice(0, 80))}, expected /${check.expect}/.`);
      }
    }

    await detach?.();
    if (started.hasExited()) throw fail('died after the load.');
    if (!request.startOnly) await sleep(server.idleSeconds * 1000);
    const pid = serverPid(root);
    const idleRssKb = pid === null ? null : residentKb(pid);
    const stopped = await stop(started, pid, server.graceSeconds);
    const memory = sampler.stop(performance.now() - began);
    const report = readGnuTime(timeReport);
    const summary = tests.length > 0 ? summarizeTests(tests) : {rps: 0, latencyMs: {p50: 0, p99: 0, max: 0}};
    const processStats = statsDir ? readStatsDir(statsDir, root) : new Map();
    const output = readFileSync(log, 'utf8');
    return {
      allocator: request.allocator.name,
      runIndex: request.runIndex,
      command: commandLine(request),
      result: {
        bench: name,
        params: {port},
        ops: 0,
        seconds: loadSeconds,
        opsPerSec: summary.rps,
        figure: summary.rps,
        peakRssKb: Math.max(memory.peakRssKb, report.usage?.maxProcessRssKb ?? 0),
        // Every check passed: the same answer under every allocator.
        checksum: 'checked',
        verifiedBlocks: null,
        allocatorHint: null,
        extra: {latencyMs: summary.latencyMs, tests, idleRssKb, placement, stoppedBy: stopped},
      },
      wallSeconds: (performance.now() - began) / 1000,
      stats: statsDir ? mainStats(processStats, pid) : null,
      processStats,
      pid,
      toolPid: root,
      memory,
      usage: report.usage,
      stdout: output,
      stderr: '',
    };
  } finally {
    killGroup(started?.child.pid, 'SIGKILL');
    forget();
    rmSync(workDir, {recursive: true, force: true});
  }
}

async function waitReady(started: Started, server: ServerSetting, port: number, env: NodeJS.ProcessEnv, cwd: string | undefined): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = performance.now() + server.ready.timeoutSeconds * 1000;
  while (performance.now() < deadline) {
    if (started.hasExited()) return 'exited';
    const command = server.ready.command ? withPort(server.ready.command, port) : null;
    const ready = command ? (await execProgram(command[0]!, command.slice(1), {env, cwd, timeoutMs: 5000})).exitCode === 0 : await portAccepts(port);
    if (started.hasExited()) return 'exited';
    if (ready) return 'ready';
    await sleep(POLL_MS);
  }

  return 'timeout';
}

/** SIGTERM to the server, then SIGKILL to the whole group after the grace period: which one ended it. */
async function stop(started: Started, pid: number | null, graceSeconds: number): Promise<'SIGTERM' | 'SIGKILL'> {
  try {
    if (pid !== null) process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }

  const ended = await Promise.race([started.exited.then(() => true), sleep(graceSeconds * 1000).then(() => false)]);
  if (ended) return 'SIGTERM';
  killGroup(started.child.pid, 'SIGKILL');
  await started.exited;
  return 'SIGKILL';
}
