/**
 * perf and valgrind as hak uses them: finding them, knowing whether the kernel lets this user
 * sample, which event to sample, and reading their failures.
 */
import {readFileSync} from 'node:fs';

import {type HakError, PerfNotPermittedError, UsageError} from '../errors.js';
import {type ExecResult, execProgram} from '../exec.js';
import {isRoot, requireTool} from '../system.js';

export const PARANOID_FILE = '/proc/sys/kernel/perf_event_paranoid';

/** The profile's `perf.event` that means "cycles where hardware counters work, else cpu-clock". */
export const AUTO_EVENT = 'auto';
export const SOFTWARE_EVENT = 'cpu-clock';
export const HARDWARE_EVENT = 'cycles';

/** kernel.perf_event_paranoid, or null when it cannot be read. */
export function perfParanoid(): number | null {
  try {
    const value = Number.parseInt(readFileSync(PARANOID_FILE, 'utf8').trim(), 10);
    return Number.isInteger(value) ? value : null;
  } catch {
    return null;
  }
}

const PARANOID_FIX = 'sudo sysctl kernel.perf_event_paranoid=1';

/**
 * The path of perf, after checking that this user may sample its own programs: root always
 * may; others need perf_event_paranoid <= 2 (Debian's 3 forbids unprivileged perf entirely).
 */
export function requirePerf(): string {
  const perf = requireTool('perf');
  const paranoid = perfParanoid();
  if (!isRoot() && paranoid !== null && paranoid > 2) throw new PerfNotPermittedError(paranoid, PARANOID_FIX);
  return perf;
}

export function requireValgrind(): string {
  return requireTool('valgrind');
}

/** perf's own complaint in a failed run's stderr, as a hak error; undefined when it is not perf's. */
export function perfFailure(outcome: Pick<ExecResult, 'exitCode' | 'stderr'>): HakError | undefined {
  if (outcome.exitCode === 0) return undefined;
  const text = outcome.stderr;
  if (/perf_event_paranoid|No permission to enable|Access to performance monitoring .* is limited/i.test(text)) {
    return new PerfNotPermittedError(perfParanoid(), PARANOID_FIX);
  }

  const event = /event syntax error: '([^']*)'/.exec(text) ?? /The (\S+) event is not supported/.exec(text);
  if (event) {
    return new UsageError(`perf cannot sample the event "${event[1]}" on this machine.`, {
      hint: `Set perf.event in the profile to ${AUTO_EVENT} or ${SOFTWARE_EVENT}; \`perf list\` shows the events there are.`,
    });
  }

  return undefined;
}

/** valgrind's own complaint (it prefixes them "valgrind:"), as a hak error. */
export function valgrindFailure(outcome: Pick<ExecResult, 'exitCode' | 'stderr'>): HakError | undefined {
  if (outcome.exitCode === 0) return undefined;
  const line = outcome.stderr.split('\n').find((text) => /^valgrind: /.test(text));
  return line ? new UsageError(`valgrind could not run the benchmark: ${line.replace(/^valgrind: /, '')}`) : undefined;
}

export interface PerfEventSupport {
  /** perf counts hardware events (instructions, cycles). */
  hardware: boolean;
  /** perf counts the cpu-clock software event. */
  software: boolean;
}

async function counts(perf: string, event: string): Promise<boolean> {
  const result = await execProgram(perf, ['stat', '-x', ',', '-e', event, '--', 'true'], {timeoutMs: 15_000});
  const line = result.stderr.split('\n').find((text) => text.includes(event));
  return result.exitCode === 0 && line !== undefined && !/<not (supported|counted)>/.test(line);
}

/** Asks perf whether it can count a hardware and a software event here (two runs of `true`). */
export async function probePerfEvents(perf: string): Promise<PerfEventSupport> {
  const [hardware, software] = await Promise.all([counts(perf, 'instructions'), counts(perf, SOFTWARE_EVENT)]);
  return {hardware, software};
}

export interface EventChoice {
  event: string;
  /** Whether the event is a software one (no hardware counters behind it). */
  software: boolean;
  /** What the report's header says about the choice. */
  description: string;
}

const SOFTWARE_EVENTS = new Set(['cpu-clock', 'task-clock', 'page-faults', 'faults', 'context-switches', 'cs', 'cpu-migrations', 'minor-faults', 'major-faults']);

/**
 * The event to sample: the profile's, where the machine can count it; `auto` (the default)
 * means cycles with hardware counters and cpu-clock without.
 */
export function chooseEvent(requested: string, support: PerfEventSupport): EventChoice {
  const software = (event: string): boolean => SOFTWARE_EVENTS.has(event.replace(/:\w+$/, ''));
  if (requested !== AUTO_EVENT && (support.hardware || software(requested))) {
    return {event: requested, software: software(requested), description: `${requested} (the profile's event)`};
  }

  if (support.hardware) return {event: HARDWARE_EVENT, software: false, description: `${HARDWARE_EVENT} (hardware)`};
  const instead = requested === AUTO_EVENT ? '' : `, instead of the profile's ${requested}`;
  return {event: SOFTWARE_EVENT, software: true, description: `${SOFTWARE_EVENT} (software; hardware counters are not supported here${instead})`};
}
