/**
 * The facts about the machine and its libraries that a saved measurement must carry: numbers
 * from a 2-core virtual machine and a 64-core workstation are not comparable, nor are numbers
 * from two versions of a peer allocator.
 */
import {readFileSync, realpathSync} from 'node:fs';
import {availableParallelism, cpus, hostname, release, totalmem, type as osType, version as osVersion} from 'node:os';

import {PEER_ALLOCATORS, type PeerAllocatorName, peerLibraryPath} from '../allocators.js';
import {execProgram, findOnPath} from '../exec.js';
import type {LibraryInfo, MachineInfo} from './record.js';

function osPrettyName(): string | null {
  try {
    const match = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return match?.[1] ?? null;
  } catch {
    return null;
  }
}

function glibcVersion(): string | null {
  const report = process.report?.getReport() as {header?: {glibcVersionRuntime?: string}} | undefined;
  return report?.header?.glibcVersionRuntime ?? null;
}

export function machineInfo(): MachineInfo {
  return {
    hostname: hostname(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    kernel: `${osType()} ${release()}`,
    kernelVersion: osVersion(),
    os: osPrettyName(),
    glibc: glibcVersion(),
    node: process.version,
  };
}

/** "AMD EPYC, 2 cores, 24 GiB": the line charts and tables put under their titles. */
export function describeMachine(machine: MachineInfo): string {
  const gib = Math.round(machine.memoryBytes / 2 ** 30);
  return `${machine.cpu}, ${machine.cores} core${machine.cores === 1 ? '' : 's'}, ${gib} GiB, ${machine.kernel}`;
}

async function packageVersion(debianPackage: string): Promise<string | null> {
  if (!findOnPath('dpkg-query')) return null;
  const result = await execProgram('dpkg-query', ['-W', '-f=${Version}', debianPackage]);
  const version = result.stdout.trim();
  return result.exitCode === 0 && version !== '' ? version : null;
}

/** Where a peer's library is, what it resolves to and which package version installed it. */
export async function peerLibraryInfo(name: PeerAllocatorName): Promise<LibraryInfo> {
  const path = peerLibraryPath(name);
  let realPath: string | null = null;
  try {
    realPath = realpathSync(path);
  } catch {
    // reported as missing elsewhere
  }

  const {debianPackage} = PEER_ALLOCATORS[name];
  return {path, realPath, debianPackage, version: await packageVersion(debianPackage)};
}
