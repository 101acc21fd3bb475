/**
 * The host tools hak relies on, the Debian packages that provide them, and the exact command
 * that installs a missing one.
 */
import {MissingToolError} from './errors.js';
import {findOnPath} from './exec.js';

export interface ToolInfo {
  /** The program looked up on PATH. */
  program: string;
  debianPackage: string;
  purpose: string;
}

export const TOOLS = {
  gcc: {program: 'gcc', debianPackage: 'gcc', purpose: 'compiles hakmem (--cc gcc)'},
  clang: {program: 'clang', debianPackage: 'clang', purpose: 'compiles hakmem (--cc clang) and the sanitizer tests'},
  make: {program: 'make', debianPackage: 'make', purpose: 'drives the csrc build'},
  perf: {program: 'perf', debianPackage: 'linux-perf', purpose: 'samples where the cycles go (hak perf)'},
  valgrind: {
    program: 'valgrind',
    debianPackage: 'valgrind',
    purpose: 'counts instructions exactly with callgrind (hak perf)',
  },
  git: {program: 'git', debianPackage: 'git', purpose: 'records the source commit in build manifests'},
} as const satisfies Record<string, ToolInfo>;

export type ToolName = keyof typeof TOOLS;

/** Whether hak runs as root (no sudo in install commands; perf has no limits). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** `apt-get install -y <packages>`, with sudo when not running as root. */
export function aptInstallCommand(packages: readonly string[]): string {
  const sudo = isRoot() ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y ${packages.join(' ')}`;
}

/** The path of a tool, or a MissingToolError naming the command that installs it. */
export function requireTool(name: ToolName): string {
  const tool = TOOLS[name];
  const path = findOnPath(tool.program);
  if (!path) throw new MissingToolError(tool.program, aptInstallCommand([tool.debianPackage]), tool.purpose);
  return path;
}
