/**
 * The errors hak reports, each mapped to one documented exit code.
 *
 * Library code throws these; the base command turns any of them into one or two lines on stderr
 * (or an `{"error": ...}` object under --json) and exits with `exitCode`. Anything else that
 * escapes is a bug and exits with {@link ExitCode.Internal}.
 */

export const ExitCode = {
  /** Everything worked and every verdict passed. */
  Ok: 0,
  /** The command ran, but a verdict it checks failed (a verification or comparison said no). */
  VerdictFailed: 1,
  /** Bad usage: an unknown flag or command, a bad flag value, an invalid profile file. */
  Usage: 2,
  /** A tool or a library hak needs is not installed. */
  Missing: 3,
  /** Compiling hakmem or its benchmark programs failed. */
  BuildFailed: 4,
  /** A benchmark program crashed, exited non-zero, timed out or printed no result. */
  RunFailed: 5,
  /** Interrupted by Ctrl-C (SIGINT), as shells report it. */
  Interrupted: 130,
  /** A bug in hak itself: an unexpected exception. */
  Internal: 70,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** What an error becomes under --json: stable keys a script can rely on. */
export interface ErrorJson {
  code: string;
  exitCode: number;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export abstract class HakError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: ExitCodeValue;
  /** One line saying how to fix it, printed under the message. */
  readonly hint?: string;

  constructor(message: string, options: {hint?: string; cause?: unknown} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause});
    this.name = new.target.name;
    this.hint = options.hint;
  }

  /** Structured facts for --json output; subclasses add their fields. */
  details(): Record<string, unknown> | undefined {
    return undefined;
  }

  toJSON(): ErrorJson {
    const details = this.details();
    return {
      code: this.code,
      exitCode: this.exitCode,
      message: this.message,
      ...(this.hint === undefined ? {} : {hint: this.hint}),
      ...(details === undefined ? {} : {details}),
    };
  }
}

export class UsageError extends HakError {
  readonly code: string = 'usage';
  readonly exitCode = ExitCode.Usage;
}

/** One problem found in a profile file; `line` is 1-based where the parser knows it. */
export interface ProfileIssue {
  field: string;
  expected: string;
  line?: number;
}

export class ProfileError extends UsageError {
  override readonly code = 'profile-invalid';

  constructor(
    readonly file: string,
    readonly issues: ProfileIssue[],
  ) {
    super(issues.map((issue) => formatProfileIssue(file, issue)).join('\n'), {
      hint: 'Fix the profile file; the fields are described in profiles/README.md.',
    });
  }

  override details(): Record<string, unknown> {
    return {file: this.file, issues: this.issues};
  }
}

function formatProfileIssue(file: string, issue: ProfileIssue): string {
  const where = issue.line === undefined ? file : `${file}:${issue.line}`;
  return `${where}: ${issue.field}: ${issue.expected}`;
}

/** Something hak needs is not installed; `fix` is the exact command that installs it. */
export abstract class MissingDependencyError extends HakError {
  readonly exitCode = ExitCode.Missing;

  constructor(
    message: string,
    readonly fix: string,
    hint: string,
  ) {
    super(message, {hint});
  }
}

/** A required program (compiler, make, perf, valgrind, ...) is not on PATH. */
export class MissingToolError extends MissingDependencyError {
  readonly code = 'missing-tool';

  constructor(
    readonly tool: string,
    fix: string,
    purpose?: string,
  ) {
    super(`${tool} is not installed${purpose ? ` (${purpose})` : ''}.`, fix, `Install it: ${fix}`);
  }

  override details(): Record<string, unknown> {
    return {tool: this.tool, fix: this.fix};
  }
}

/** A peer allocator's shared library is not where its Debian package puts it. */
export class MissingLibraryError extends MissingDependencyError {
  readonly code = 'missing-library';

  constructor(
    readonly allocator: string,
    readonly library: string,
    readonly debianPackage: string,
    fix: string,
  ) {
    super(`${allocator} is not installed: ${library} does not exist.`, fix, `Install the Debian package ${debianPackage}: ${fix}`);
  }

  override details(): Record<string, unknown> {
    return {allocator: this.allocator, library: this.library, package: this.debianPackage, fix: this.fix};
  }
}

/** An error that carries structured facts; --json shows them as its details. */
abstract class FactualError<Facts extends object> extends HakError {
  constructor(
    message: string,
    readonly facts: Facts,
    hint?: string,
  ) {
    super(message, {hint});
  }

  override details(): Record<string, unknown> {
    return {...(this.facts as Record<string, unknown>)};
  }
}

/** perf is installed but the kernel does not let this user sample (perf_event_paranoid). */
export class PerfNotPermittedError extends MissingDependencyError {
  readonly code = 'perf-not-permitted';

  constructor(
    readonly paranoid: number | null,
    fix: string,
  ) {
    const setting = paranoid === null ? 'kernel.perf_event_paranoid could not be read' : `kernel.perf_event_paranoid is ${paranoid}`;
    super(`perf is not permitted to sample here: ${setting}.`, fix, `Allow it: ${fix} (or -1 to sample the kernel too), or run as root.`);
  }

  override details(): Record<string, unknown> {
    return {paranoid: this.paranoid, fix: this.fix};
  }
}

/** Several requirements are missing at once (hak doctor); the facts are the full report. */
export class MissingRequirementsError extends FactualError<object> {
  readonly code = 'missing-requirements';
  readonly exitCode = ExitCode.Missing;
}

export interface BuildFailureFacts {
  variant: string;
  /** The compiler's first error lines, already trimmed for display. */
  firstErrors: string[];
  stderr: string;
}

export class BuildError extends FactualError<BuildFailureFacts> {
  readonly code = 'build-failed';
  readonly exitCode = ExitCode.BuildFailed;

  constructor(message: string, facts: BuildFailureFacts, hint?: string) {
    super([message, ...facts.firstErrors].join('\n'), facts, hint);
  }
}

/** Why a benchmark run did not produce a result. */
/** `server`: a server profile's server did not start, died, or answered wrong (its result is INVALID). */
export type RunFailure = 'signal' | 'exit' | 'timeout' | 'no-result' | 'spawn' | 'server';

export interface RunErrorFacts {
  failure: RunFailure;
  program: string;
  allocator: string;
  runIndex: number;
  exitCode?: number;
  signal?: string;
  timeoutSeconds?: number;
  stderrTail: string;
}

export class RunError extends FactualError<RunErrorFacts> {
  readonly code = 'run-failed';
  readonly exitCode = ExitCode.RunFailed;

  constructor(message: string, facts: RunErrorFacts, hint?: string) {
    super(facts.stderrTail ? `${message}\n${indentTail(facts.stderrTail)}` : message, facts, hint);
  }
}

function indentTail(text: string): string {
  return text
    .split('\n')
    .map((line) => `  | ${line}`)
    .join('\n');
}

/** A profiled run produced no samples: too short for the sampling frequency. */
export class NoSamplesError extends FactualError<{event: string; frequency: number; command: string}> {
  readonly code = 'no-samples';
  readonly exitCode = ExitCode.RunFailed;
}

/** A verdict (a verification, a significance test) failed: the command worked, the answer is no. */
export class VerdictError extends FactualError<Record<string, unknown>> {
  readonly code = 'verdict-failed';
  readonly exitCode = ExitCode.VerdictFailed;
}

export class InterruptedError extends HakError {
  readonly code = 'interrupted';
  readonly exitCode = ExitCode.Interrupted;

  constructor(what = 'hak') {
    super(`${what} was interrupted; nothing partial was kept.`);
  }
}

export class InternalError extends HakError {
  readonly code = 'internal';
  readonly exitCode = ExitCode.Internal;

  constructor(cause: unknown) {
    const text = cause instanceof Error ? cause.message : String(cause);
    super(`unexpected error: ${text}`, {
      cause,
      hint: 'This is a bug in hak. Run again with HAK_DEBUG=1 for the stack trace.',
    });
  }
}

/**
 * oclif's own parse errors (unknown flag, bad option value, ...) carry multi-line messages and
 * exit 2. They become a UsageError whose message is their first meaningful line.
 */
export function isOclifParseError(error: unknown): error is Error & {parse: unknown} {
  return error instanceof Error && 'parse' in error && 'oclif' in error;
}

/**
 * A flag's own parse function failed (an integer out of its range, a custom check): oclif
 * rethrows that function's error with "Parsing --flag" put before its message.
 */
function isFlagParseFailure(error: unknown): error is Error {
  return error instanceof Error && /^Parsing --[\w-]+ /.test(error.message);
}

export function toHakError(error: unknown): HakError {
  if (error instanceof HakError) {
    // A flag's parse function threw one of hak's own errors: oclif rewrote its message in place.
    if (isFlagParseFailure(error)) error.message = oneLine(error.message.replace(/^Parsing --[\w-]+ \s*/, ''));
    return error;
  }

  if (isOclifParseError(error)) return new UsageError(oneLine(error.message), {hint: 'See the flags with --help.'});
  // oclif throws a plain Error for a flag given last without its value (`hak bench --chart`).
  if (error instanceof Error && /^Flag --[\w-]+ expects a value$/.test(error.message)) {
    return new UsageError(`${error.message.replace(/^Flag /, '')}.`, {hint: 'See the flags with --help.'});
  }

  if (isFlagParseFailure(error)) {
    return new UsageError(oneLine(error.message.replace(/^Parsing (--[\w-]+) \s*/, '$1: ')), {hint: 'See the flags with --help.'});
  }

  return new InternalError(error);
}

/** oclif writes "Expected --stats=7 to be one of: 0, 1, 2\nSee more help with --help": keep the first line. */
function oneLine(message: string): string {
  const lines = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('See more help with'));
  return lines.join(' ');
}
