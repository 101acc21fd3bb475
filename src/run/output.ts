/**
 * What a run printed, read as its result: a benchmark program's last stdout line (one JSON
 * object), or a command's figure (its regex's last match, or its wall time) with its stdout's
 * hash as the checksum.
 */
import {createHash} from 'node:crypto';
import {basename} from 'node:path';

import type {TreeMemory, TreeUsage} from './monitor.js';

/**
 * The JSON object a benchmark program prints as its last line (csrc/bench/README.md, "Output").
 * Fields a program adds of its own (fragment_stress's rssOverLive, quick_wins' patterns) are
 * kept in `extra`.
 */
export interface BenchmarkResult {
  bench: string;
  /** Every argument's effective value, defaults filled in. */
  params: Record<string, unknown>;
  ops: number;
  seconds: number;
  opsPerSec: number;
  peakRssKb: number;
  /** Hex string: the same inputs give the same checksum under every allocator. */
  checksum: string;
  /** Blocks verified whole before being freed; null from a program that does not say. */
  verifiedBlocks: number | null;
  /** The LD_PRELOAD the program saw: what was asked to serve it, not proof of what did. */
  allocatorHint: string | null;
  /** A command's figure (its wall time, or what its regex read); absent for a benchmark program. */
  figure?: number;
  extra: Record<string, unknown>;
}

const RESULT_FIELDS = new Set(['bench', 'params', 'ops', 'seconds', 'opsPerSec', 'peakRssKb', 'checksum', 'verifiedBlocks', 'allocatorHint']);

/** How to read a figure from a command's output: the first group of `regex`'s last match on stdout. */
export interface FigureSpec {
  regex: string;
  unit: string;
  better: 'lower' | 'higher';
}

/** Parses the last non-empty stdout line; a string saying what is wrong when it is not a result. */
export function parseBenchmarkOutput(stdout: string): BenchmarkResult | string {
  const line = stdout
    .split('\n')
    .map((text) => text.trim())
    .findLast((text) => text !== '');
  if (!line) return 'it printed nothing on stdout';
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return `its last line is not JSON: ${line.slice(0, 200)}`;
  }

  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `its last line is not a JSON object: ${line.slice(0, 200)}`;
  const record = value as Record<string, unknown>;
  const numbers = ['ops', 'seconds', 'opsPerSec', 'peakRssKb'] as const;
  for (const key of numbers) {
    if (typeof record[key] !== 'number' || !Number.isFinite(record[key])) return `its result has no numeric "${key}"`;
  }

  if (typeof record.bench !== 'string') return 'its result has no "bench" name';
  if (typeof record.checksum !== 'string') return 'its result has no "checksum" string';
  const params = typeof record.params === 'object' && record.params !== null ? (record.params as Record<string, unknown>) : {};
  return {
    bench: record.bench,
    params,
    ops: record.ops as number,
    seconds: record.seconds as number,
    opsPerSec: record.opsPerSec as number,
    peakRssKb: record.peakRssKb as number,
    checksum: record.checksum,
    verifiedBlocks: typeof record.verifiedBlocks === 'number' ? record.verifiedBlocks : null,
    allocatorHint: typeof record.allocatorHint === 'string' ? record.allocatorHint : null,
    extra: Object.fromEntries(Object.entries(record).filter(([key]) => !RESULT_FIELDS.has(key))),
  };
}

/** The figure of a command's run: the regex's last match on stdout, or the wall time; a string when there is none. */
export function commandFigure(stdout: string, wallSeconds: number, figure: FigureSpec | null): number | string {
  if (!figure) return wallSeconds;
  const pattern = new RegExp(figure.regex, 'gm');
  const matches = [...stdout.matchAll(pattern)];
  const last = matches.at(-1);
  if (!last) return `its output has no match for /${figure.regex}/`;
  const value = Number(last[1] ?? last[0]);
  return Number.isFinite(value) ? value : `/${figure.regex}/ matched "${(last[1] ?? last[0]).slice(0, 60)}", not a number`;
}

/** A command's run as a result: the figure, and its stdout's hash as the checksum every allocator must match. */
export function commandResult(program: string, spec: FigureSpec | null, stdout: string, wallSeconds: number, memory: TreeMemory, usage: TreeUsage | null): BenchmarkResult | string {
  const figure = commandFigure(stdout, wallSeconds, spec);
  if (typeof figure === 'string') return figure;
  return {
    bench: basename(program),
    params: {},
    ops: 0,
    seconds: wallSeconds,
    opsPerSec: 0,
    figure,
    peakRssKb: Math.max(memory.peakRssKb, usage?.maxProcessRssKb ?? 0),
    checksum: createHash('sha256').update(stdout).digest('hex').slice(0, 16),
    verifiedBlocks: null,
    allocatorHint: null,
    extra: {},
  };
}
