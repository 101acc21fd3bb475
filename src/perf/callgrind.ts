/**
 * Exact instruction counts with valgrind's callgrind. The benchmark programs run their measured
 * work in functions named bench_loop*, so `--toggle-collect=bench_loop*` counts exactly the
 * measured region (allocator calls included) and leaves start-up and teardown out; divided by
 * the operations the program reports, that is instructions per operation, the same on every
 * run: the figure to compare variants by on a noisy machine.
 *
 * The output file is read directly (the callgrind format, version 1): each function's
 * exclusive (self) cost, with its object and source file, so the owner categories of
 * owners.ts apply as they do to perf samples.
 */
import {basename, dirname} from 'node:path';

import type {Launcher} from '../run/index.js';
import type {WeightedSymbol} from './owners.js';
import {valgrindFailure} from './tools.js';

/** Only the measured region of the benchmark programs (csrc/bench/README.md). */
export const MEASURED_FUNCTIONS = 'bench_loop*';

export interface CallgrindFunction {
  name: string;
  /** The object file (a library or the program), as a path. */
  object: string;
  /** The function's source file (fl=), where the program has debug information. */
  file: string | null;
  /** Instructions executed in the function itself, callees excluded. */
  self: number;
  /** Every event's self cost, in the order of the profile's `events`. */
  costs: number[];
}

export interface CallgrindProfile {
  /** Instructions collected (the file's summary or totals line). */
  instructions: number;
  functions: CallgrindFunction[];
  /** The events the file counts (`Ir`, and with cache simulation `D1mr`, `Bcm`, ...). */
  events: string[];
  /** Each event's total, in the order of `events`. */
  totals: number[];
  /** The file's `desc:` lines by key: `I1 cache`, `D1 cache`, `LL cache`, `Trigger`, ... */
  desc: Record<string, string>;
}

/**
 * The launcher that runs a benchmark under callgrind, writing its profile to `outFile`; `options` go before the output file.
 * `region` 'measured' counts only the benchmark's measured loop; 'whole' counts the whole process (a command has no such loop).
 */
export function callgrindLauncher(valgrind: string, outFile: string, options: readonly string[] = [], region: 'measured' | 'whole' = 'measured'): Launcher {
  // a command may run in its own working directory: then only an absolute output path lands in the result
  const out = region === 'measured' ? basename(outFile) : outFile;
  return {
    argv: [valgrind, '--tool=callgrind', ...(region === 'measured' ? [`--toggle-collect=${MEASURED_FUNCTIONS}`] : []), ...options, `--callgrind-out-file=${out}`],
    preload: 'tool',
    failure: valgrindFailure,
    cwd: dirname(outFile),
  };
}

type NameKind = 'ob' | 'fl' | 'fn';
const KIND_OF: Record<string, NameKind> = {
  ob: 'ob', cob: 'ob',
  fl: 'fl', fi: 'fl', fe: 'fl', cfi: 'fl', cfl: 'fl',
  fn: 'fn', cfn: 'fn',
};

/** Reads the callgrind format: names may be compressed as "(id) name" and later "(id)". */
export function parseCallgrind(text: string): CallgrindProfile {
  const names: Record<NameKind, Map<string, string>> = {ob: new Map(), fl: new Map(), fn: new Map()};
  const resolve = (kind: NameKind, value: string): string => {
    const match = /^\((\d+)\)(?:\s+(.*))?$/.exec(value.trim());
    if (!match) return value.trim();
    if (match[2] !== undefined) names[kind].set(match[1]!, match[2]);
    return names[kind].get(match[1]!) ?? value.trim();
  };

  const functions = new Map<string, CallgrindFunction>();
  let positions = 1;
  let events = ['Ir'];
  let eventIndex = 0;
  let summary: number[] | null = null;
  let totals: number[] | null = null;
  const desc: Record<string, string> = {};
  let object = '';
  let file: string | null = null;
  let current: CallgrindFunction | null = null;
  let nextIsCallCost = false;

  for (const line of text.split('\n')) {
    const spec = /^(\w+)=(.*)$/.exec(line);
    if (spec) {
      const [, key, value] = spec as unknown as [string, string, string];
      const kind = KIND_OF[key];
      if (key === 'calls') {
        nextIsCallCost = true;
        continue;
      }

      if (!kind) continue;
      const name = resolve(kind, value);
      // A callee's object, file or name (cob, cfi, cfn) describes the call, not the current function.
      if (key === 'ob') object = name;
      else if (key === 'fl') file = name;
      else if (key === 'fn') {
        const id = `${object}\u0000${name}`;
        current = functions.get(id) ?? {name, object, file, self: 0, costs: events.map(() => 0)};
        functions.set(id, current);
      }

      continue;
    }

    const description = /^desc:\s*([^:]+):\s*(.*)$/.exec(line);
    if (description) {
      desc[description[1]!.trim()] = description[2]!.trim();
      continue;
    }

    const header = /^(positions|events|summary|totals):\s*(.*)$/.exec(line);
    if (header) {
      const [, key, value] = header as unknown as [string, string, string];
      const numbers = (): number[] => events.map((_, index) => Number(value.trim().split(/\s+/)[index] ?? 0));
      if (key === 'positions') positions = value.trim().split(/\s+/).length;
      else if (key === 'events') {
        events = value.trim().split(/\s+/);
        eventIndex = Math.max(0, events.indexOf('Ir'));
      } else if (key === 'summary') summary = numbers();
      else totals = numbers();
      continue;
    }

    // A cost line: positions (absolute, +n, -n or *), then one number per event (trailing zeros may be left out).
    if (!/^[+\-*\d]/.test(line)) continue;
    if (nextIsCallCost) {
      nextIsCallCost = false; // inclusive cost of a call: the callee's, not this function's
      continue;
    }

    if (!current) continue;
    const fields = line.trim().split(/\s+/);
    for (let index = 0; index < events.length; index++) {
      const cost = Number(fields[positions + index] ?? 0);
      if (Number.isFinite(cost)) current.costs[index]! += cost;
    }
  }

  const list = [...functions.values()];
  for (const fn of list) fn.self = fn.costs[eventIndex] ?? 0;
  const counted = list.filter((fn) => fn.costs.some((cost) => cost > 0)).sort((a, b) => b.self - a.self);
  const sums = events.map((_, index) => counted.reduce((sum, fn) => sum + (fn.costs[index] ?? 0), 0));
  const overall = summary ?? totals ?? sums;
  return {instructions: overall[eventIndex] ?? 0, functions: counted.filter((fn) => fn.self > 0), events, totals: overall, desc};
}

/** The functions as weighted symbols for attribution. */
export function callgrindSymbols(profile: CallgrindProfile): WeightedSymbol[] {
  return profile.functions.map((fn) => ({symbol: fn.name, library: fn.object, ...(fn.file ? {file: fn.file} : {}), weight: fn.self}));
}
