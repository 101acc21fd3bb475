/**
 * Checks that this machine has what hak needs, and says how to fix what is missing.
 */
import {existsSync} from 'node:fs';
import {join} from 'node:path';

import {isPeerInstalled, PEER_ALLOCATORS, peerAllocator, peerLibraryPath, type PeerAllocatorName} from './allocators.js';
import {execProgram, findOnPath} from './exec.js';
import {csrcDir} from './paths.js';
import {PARANOID_FILE, perfParanoid, probePerfEvents} from './perf/tools.js';
import {aptInstallCommand, isRoot, TOOLS, type ToolName} from './system.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  /** A failed required check makes `hak doctor` exit 3; others only warn. */
  required: boolean;
  detail: string;
  /** The exact command that fixes it, where there is one. */
  fix?: string;
  /** The Debian package that provides it, gathered into one install command. */
  debianPackage?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
  /** One command installing every missing package, when any is missing. */
  fix?: string;
}

const REQUIRED_TOOLS: ToolName[] = ['gcc', 'clang', 'make', 'perf', 'valgrind'];

async function versionLine(program: string, args = ['--version']): Promise<string> {
  const result = await execProgram(program, args, {timeoutMs: 10_000});
  const text = `${result.stdout}\n${result.stderr}`.split('\n').find((line) => line.trim() !== '');
  return text?.trim() ?? 'installed';
}

async function checkTool(name: ToolName, required: boolean): Promise<DoctorCheck> {
  const tool = TOOLS[name];
  const path = findOnPath(tool.program);
  if (!path) {
    return {
      name: tool.program,
      status: required ? 'fail' : 'warn',
      required,
      detail: `not found on PATH: ${tool.purpose}`,
      fix: aptInstallCommand([tool.debianPackage]),
      debianPackage: tool.debianPackage,
    };
  }

  return {name: tool.program, status: 'ok', required, detail: await versionLine(path)};
}

function checkPeer(name: PeerAllocatorName): DoctorCheck {
  const peer = peerAllocator(name);
  const path = peerLibraryPath(name);
  const required = peer.required !== false;
  if (isPeerInstalled(name)) return {name, status: 'ok', required, detail: path};
  const debianPackage = peer.debianPackage ?? 'none';
  return {
    name,
    status: required ? 'fail' : 'warn',
    required,
    detail: `${path} is missing (Debian package ${debianPackage})`,
    fix: aptInstallCommand([debianPackage]),
    debianPackage,
  };
}

function checkParanoid(): DoctorCheck {
  const name = 'perf_event_paranoid';
  const value = perfParanoid();
  if (value === null) return {name, status: 'warn', required: false, detail: `${PARANOID_FILE} is not readable: perf may not work`};

  if (isRoot()) return {name, status: 'ok', required: true, detail: `${value} (running as root: no limit applies)`};
  if (value <= 1) return {name, status: 'ok', required: true, detail: `${value}: user and kernel profiling allowed`};
  if (value === 2) return {name, status: 'ok', required: true, detail: '2: user-space profiling of own processes allowed'};
  return {
    name,
    status: 'fail',
    required: true,
    detail: `${value}: unprivileged profiling is disabled`,
    fix: 'sudo sysctl -w kernel.perf_event_paranoid=2',
  };
}

/** Whether perf can count a hardware event, a software event, or neither. */
async function checkPerfEvents(): Promise<DoctorCheck | undefined> {
  const perf = findOnPath('perf');
  if (!perf) return undefined;
  const {hardware, software} = await probePerfEvents(perf);
  const name = 'perf events';
  if (hardware) return {name, status: 'ok', required: true, detail: 'hardware counters work (instructions, cycles)'};
  if (software) {
    return {
      name,
      status: 'warn',
      required: true,
      detail: 'software events only (cpu-clock); no hardware counters: callgrind counts instructions',
    };
  }

  return {
    name,
    status: 'fail',
    required: true,
    detail: 'perf cannot count even the cpu-clock software event',
    fix: 'sudo sysctl -w kernel.perf_event_paranoid=2',
  };
}

function checkSources(): DoctorCheck {
  const dir = csrcDir();
  const makefile = join(dir, 'Makefile');
  if (existsSync(makefile)) return {name: 'hakmem sources', status: 'ok', required: true, detail: dir};
  return {
    name: 'hakmem sources',
    status: 'fail',
    required: true,
    detail: `${makefile} does not exist`,
    fix: 'run hak from a checkout of the project, or set HAK_CSRC to a hakmem source tree',
  };
}

export async function runDoctor(): Promise<DoctorReport> {
  const node = process.versions.node;
  const nodeMajor = Number.parseInt(node.split('.')[0] ?? '0', 10);
  const checks: DoctorCheck[] = [
    {
      name: 'node',
      status: nodeMajor >= 20 ? 'ok' : 'fail',
      required: true,
      detail: `v${node}${nodeMajor >= 20 ? '' : ': hak needs Node.js 20 or newer'}`,
    },
    ...(await Promise.all(REQUIRED_TOOLS.map((tool) => checkTool(tool, true)))),
  ];
  const events = await checkPerfEvents();
  if (events) checks.push(events);
  checks.push(
    checkParanoid(),
    ...(Object.keys(PEER_ALLOCATORS) as PeerAllocatorName[]).map((name) => checkPeer(name)),
    await checkTool('git', false),
    checkSources(),
  );

  const ok = checks.every((check) => check.status !== 'fail' || !check.required);
  const packages = [...new Set(checks.filter((check) => check.status !== 'ok' && check.debianPackage).map((check) => check.debianPackage!))];
  return {ok, checks, ...(packages.length > 0 ? {fix: aptInstallCommand(packages)} : {})};
}
