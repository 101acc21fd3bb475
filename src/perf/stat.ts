/**
 * Hardware counter figures per operation from `perf stat -x,` (where the machine has hardware
 * counters): instructions and IPC, the L1 data cache miss rate and the branch miss rate, the
 * figures seed 3 reported. On machines without hardware counters perf prints
 * `<not supported>` for each, and hak points to callgrind (--instructions) instead.
 */
import {basename, dirname} from 'node:path';

import type {Launcher} from '../run/index.js';
import {perfFailure} from './tools.js';

export const STAT_EVENTS = ['instructions', 'cycles', 'L1-dcache-loads', 'L1-dcache-load-misses', 'branches', 'branch-misses'] as const;
export type StatEvent = (typeof STAT_EVENTS)[number];

/** Counts by event; null where perf printed <not supported> or <not counted>. */
export type StatCounts = Partial<Record<StatEvent, number | null>>;

export interface HardwareFigures {
  /** Per operation of the benchmark (its reported ops); the whole process is counted, start-up included. */
  instructionsPerOp: number | null;
  cyclesPerOp: number | null;
  ipc: number | null;
  l1MissRate: number | null;
  branchMissRate: number | null;
  /** L1 data cache load misses and branch misses per operation (beside the simulated figures of --cache). */
  l1MissesPerOp: number | null;
  branchMissesPerOp: number | null;
  counts: StatCounts;
}

/** `perf stat -x ,` output (CSV: value, unit, event, run time, percentage, ...). */
export function parsePerfStat(text: string): StatCounts {
  const counts: StatCounts = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [value, , rawEvent] = line.split(',');
    // perf appends the privilege level (":u") when it had to exclude the kernel.
    const event = rawEvent?.replace(/:[ukhHG]+$/, '') as StatEvent | undefined;
    if (!event || !(STAT_EVENTS as readonly string[]).includes(event)) continue;
    const number = Number(value);
    counts[event] = /^<not (supported|counted)>$/.test(value ?? '') || !Number.isFinite(number) ? null : number;
  }

  return counts;
}

/** Whether any hardware event was really counted. */
export function hasHardwareCounts(counts: StatCounts): boolean {
  return Object.values(counts).some((value) => typeof value === 'number');
}

export function hardwareFigures(counts: StatCounts, ops: number): HardwareFigures {
  const value = (event: StatEvent): number | null => counts[event] ?? null;
  const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);
  const instructions = value('instructions');
  const cycles = value('cycles');
  return {
    instructionsPerOp: ratio(instructions, ops),
    cyclesPerOp: ratio(cycles, ops),
    ipc: ratio(instructions, cycles),
    l1MissRate: ratio(value('L1-dcache-load-misses'), value('L1-dcache-loads')),
    branchMissRate: ratio(value('branch-misses'), value('branches')),
    l1MissesPerOp: ratio(value('L1-dcache-load-misses'), ops),
    branchMissesPerOp: ratio(value('branch-misses'), ops),
    counts,
  };
}

/** The launcher that counts the hardware events of a benchmark run into `outFile`. */
export function statLauncher(perf: string, outFile: string): Launcher {
  return {
    argv: [perf, 'stat', '-x', ',', '-o', basename(outFile), '-e', STAT_EVENTS.join(','), '--'],
    preload: 'child',
    failure: perfFailure,
    cwd: dirname(outFile),
  };
}
