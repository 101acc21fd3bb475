/**
 * The csrc Makefile interface (csrc/README.md): `make -C csrc <target> BUILD=<dir> <toggles>`.
 */
import {availableParallelism} from 'node:os';
import {basename} from 'node:path';

import {type ExecResult, execProgram} from '../exec.js';
import {TOGGLES, type VariantSpec} from '../features.js';

export interface MakeInvocation {
  csrc: string;
  target: string;
  buildDir: string;
  /** `NAME=value` toggle and toolchain variables. */
  variables: readonly string[];
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export function makeArguments(invocation: MakeInvocation, options: {parallel: boolean}): string[] {
  const args = ['-C', invocation.csrc, invocation.target, `BUILD=${invocation.buildDir}`, ...invocation.variables];
  if (options.parallel) args.unshift(`-j${availableParallelism()}`);
  return args;
}

/** The environment make runs in: ours, minus make's own variables inherited from a parent make. */
function makeEnvironment(): NodeJS.ProcessEnv {
  const env = {...process.env};
  for (const name of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'CFLAGS', 'LDFLAGS', 'CPPFLAGS']) delete env[name];
  return env;
}

export async function runMake(invocation: MakeInvocation): Promise<ExecResult> {
  return execProgram('make', makeArguments(invocation, {parallel: true}), {
    env: makeEnvironment(),
    onLine: invocation.onLine,
    processGroup: true,
  });
}

/**
 * What `make print-config` reports: toggles, compiler, compiler version, CFLAGS, LDFLAGS.
 * The whole object is kept in the manifest; the fields hak reads are pulled out leniently.
 */
export interface MakeConfig {
  raw: Record<string, unknown>;
  compiler: string | null;
  compilerVersion: string | null;
  cflags: string | null;
  ldflags: string | null;
}

export async function printConfig(invocation: Omit<MakeInvocation, 'target' | 'onLine'>): Promise<MakeConfig | {error: string}> {
  const result = await execProgram('make', ['-s', ...makeArguments({...invocation, target: 'print-config'}, {parallel: false})], {
    env: makeEnvironment(),
  });
  if (result.exitCode !== 0) return {error: result.stderr.trim() || `make print-config exited with ${result.exitCode}`};
  const line = result.stdout
    .split('\n')
    .map((text) => text.trim())
    .findLast((text) => text.startsWith('{'));
  if (!line) return {error: `make print-config printed no JSON line:\n${result.stdout.trim()}`};
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (error) {
    return {error: `make print-config printed invalid JSON (${(error as Error).message}): ${line}`};
  }

  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {error: `make print-config printed ${line}`};
  const record = raw as Record<string, unknown>;
  return {
    raw: record,
    compiler: pickString(record, ['cc', 'compiler', 'CC']),
    compilerVersion: pickString(record, ['compilerVersion', 'ccVersion', 'cc_version', 'compiler_version', 'version']),
    cflags: pickString(record, ['cflags', 'CFLAGS']),
    ldflags: pickString(record, ['ldflags', 'LDFLAGS']),
  };
}

/**
 * Where `make print-config` disagrees with the variant hak asked for: a Makefile that ignored
 * or renamed a variable would otherwise build something other than what the manifest says.
 * Fields the Makefile does not report are not compared.
 */
export function configMismatches(raw: Record<string, unknown>, spec: VariantSpec): string[] {
  const problems: string[] = [];
  for (const toggle of TOGGLES) {
    const reported = raw[toggle.key];
    if (reported === undefined) continue;
    if (Number(reported) !== Number(spec.features[toggle.key])) {
      problems.push(`${toggle.makeVariable} is ${String(reported)}, expected ${Number(spec.features[toggle.key])}`);
    }
  }

  if (typeof raw.cc === 'string' && basename(raw.cc) !== spec.toolchain.cc) problems.push(`CC is ${raw.cc}, expected ${spec.toolchain.cc}`);
  if (raw.sanitize !== undefined && (raw.sanitize ?? null) !== spec.toolchain.sanitize) {
    problems.push(`SANITIZE is ${String(raw.sanitize)}, expected ${spec.toolchain.sanitize ?? 'none'}`);
  }

  if (typeof raw.debug === 'boolean' && raw.debug !== spec.toolchain.debug) problems.push(`DEBUG is ${raw.debug}, expected ${spec.toolchain.debug}`);
  return problems;
}

function pickString(record: Record<string, unknown>, keys: string[]): string | null {
  for (const key of keys) {
    const value = record[key];
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(' ');
  }

  return null;
}

const ERROR_LINE = /(\berror\b|undefined reference|multiple definition|cannot find|No such file|No rule to make target)/i;

/**
 * The first errors of a failed build, as the compiler wrote them: each error line with the source
 * excerpt and caret lines that follow it, at most `maxLines` lines in all. make's own
 * "*** [target] Error 1" lines are left out; they say nothing the compiler did not.
 */
export function firstCompilerErrors(stderr: string, maxLines = 12): string[] {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '' && !/^make(\[\d+\])?: \*\*\*/.test(line));
  const picked: string[] = [];
  for (let index = 0; index < lines.length && picked.length < maxLines; index++) {
    const line = lines[index]!;
    if (!ERROR_LINE.test(line)) continue;
    picked.push(line);
    for (let next = index + 1; next < lines.length && picked.length < maxLines; next++) {
      const context = lines[next]!;
      // The source excerpt and caret lines under a diagnostic are indented; the next diagnostic is not.
      if (!/^\s/.test(context)) break;
      picked.push(context);
      index = next;
    }
  }

  if (picked.length > 0) return picked;
  // No recognisable diagnostic: show the end of what make said.
  const makeLines = stderr.split('\n').filter((line) => line.trim() !== '');
  return makeLines.slice(-Math.min(maxLines, 8));
}
