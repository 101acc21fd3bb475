/**
 * The facts about the machine and its libraries that a saved measurement must carry: numbers
 * from a 2-core virtual machine and a 64-core workstation are not comparable, nor are numbers
 * from two versions of a peer allocator.
 */
import {createHash} from 'node:crypto';
import {readFileSync, realpathSync} from 'node:fs';
import {availableParallelism, cpus, hostname, release, totalmem, type as osType, version as osVersion} from 'node:os';

import {peerAllocator, type PeerAllocatorName, peerLibraryPath} from '../allocators.js';
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

  const {debianPackage} = peerAllocator(name);
  return {path, realPath, sha256: fileSha256(realPath ?? path), debianPackage, version: debianPackage === null ? null : await packageVersion(debianPackage)};
}

/** The library's sha256, which tells two builds under one path apart; null when unreadable. */
function fileSha256(path: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return null;
  }
}
