/**
 * Running external programs. execa is loaded on first use so that commands which never spawn
 * anything (and `hak --help`) do not pay for it at start-up.
 */
import {accessSync, constants, statSync} from 'node:fs';
import {delimiter, join} from 'node:path';

import {onInterrupt} from './interrupt.js';

export interface ExecOptions {
  cwd?: string;
  /** The complete environment of the child; nothing is inherited beyond it. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Output lines passed to this callback as they arrive (progress display). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  input?: string;
  /** A file whose content is the program's standard input. */
  inputFile?: string;
  /** Called with the child's pid as soon as it is started (undefined when it could not be). */
  onSpawn?: (pid: number | undefined) => void;
  /**
   * Run the program as the leader of its own process group, so that an interrupt stops it and
   * everything it started (make and its compilers), not just the program itself.
   */
  processGroup?: boolean;
}

export interface ExecResult {
  command: string;
  exitCode: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  /** The program could not be started at all (not found, not executable). */
  spawnFailed: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Runs a program to completion; never throws for a non-zero exit, a signal or a timeout. */
export async function execProgram(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const {execa} = await import('execa');
  const started = performance.now();
  // A process group is stopped whole on a timeout too: a shell's or make's children with it.
  const groupTimeout = options.processGroup === true && options.timeoutMs !== undefined;
  const child = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: options.env === undefined,
    timeout: groupTimeout ? undefined : options.timeoutMs,
    forceKillAfterDelay: 2000,
    killSignal: 'SIGKILL',
    reject: false,
    stripFinalNewline: false,
    input: options.input,
    inputFile: options.inputFile,
    stdin: options.input === undefined && options.inputFile === undefined ? 'ignore' : undefined,
    cleanup: true,
    detached: options.processGroup ?? false,
    maxBuffer: 256 * 1024 * 1024,
  });
  // Interrupted, hak stops the program before removing anything it may be writing.
  const stop = (): void => {
    if (!options.processGroup || child.pid === undefined) {
      child.kill('SIGKILL');
      return;
    }

    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
  };

  const forget = onInterrupt('stop', stop);
  options.onSpawn?.(child.pid);
  let groupTimedOut = false;
  const timer = groupTimeout
    ? setTimeout(() => {
        groupTimedOut = true;
        stop();
      }, options.timeoutMs)
    : undefined;
  const {onLine} = options;
  if (onLine) {
    streamLines(child.stdout, (line) => onLine(line, 'stdout'));
    streamLines(child.stderr, (line) => onLine(line, 'stderr'));
  }
  const result = await child.finally(() => {
    clearTimeout(timer);
    forget();
  });
  const timedOut = result.timedOut || groupTimedOut;
  const spawnFailed = result.exitCode === undefined && result.signal === undefined && !timedOut;
  return {
    command: [file, ...args].join(' '),
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut,
    spawnFailed,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : spawnFailed ? String(result.message) : '',
    durationMs: performance.now() - started,
  };
}

function streamLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let pending = '';
  stream.on('data', (chunk: Buffer | string) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (pending) onLine(pending);
  });
}

/** The absolute path of `tool` on PATH, or undefined; reads the file system only. */
export function findOnPath(tool: string, pathValue = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathValue.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, tool);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: keep looking
    }
  }
  return undefined;
}

/** The last `lines` non-empty lines of `text`. */
export function tailLines(text: string, lines: number): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-lines)
    .join('\n');
}
