/**
 * A witness that does not trust hakmem: the dynamic loader itself. With LD_DEBUG=bindings,
 * ld.so logs which library each of a program's symbol references was bound to, so the binding
 * of the benchmark program's own `malloc` names the allocator that really received its calls:
 * libhakmem.so, glibc's libc.so.6 (the preload was dropped: a static or setuid binary, a
 * preload path that does not exist), or another allocator preloaded in its place.
 */
import {mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, join} from 'node:path';

import type {AllocatorName} from '../allocators.js';
import {customAllocatorOfPath} from '../custom-allocators.js';
import {execProgram} from '../exec.js';
import {benchmarkEnvironment, type RunRequest} from '../run/index.js';
import {runServer, type ServerRunRequest} from '../run/server.js';
import {ALLOCATOR_API, type ForeignBinding} from './linked.js';

export interface BindingWitness {
  /** The library the program's `malloc` calls were bound to; null when no binding was logged. */
  mallocLibrary: string | null;
  freeLibrary: string | null;
  /** Which allocator that library is; 'other' for a library hak does not know. */
  allocator: AllocatorName | 'other' | null;
  /** The loader logged nothing at all: a statically linked program, which LD_PRELOAD cannot reach. */
  noDynamicLoader: boolean;
  /** Another allocator's own API (mallctl, mi_*, ...) bound anywhere in the process (linked.ts); absent in older records. */
  allocatorApi?: ForeignBinding[];
}

const BINDING = /binding file (\S+) \[\d+\] to (\S+) \[\d+\]: normal symbol `(\w+)'/;

/** The allocator a shared library belongs to: by its file name, or a library given as NAME=PATH by its path. */
export function allocatorOfLibrary(path: string): AllocatorName | 'other' {
  const custom = customAllocatorOfPath(path);
  if (custom) return custom.name;
  const name = basename(path);
  if (name.startsWith('libhakmem')) return 'hakmem';
  if (/^libc\.so/.test(name) || /^libc-/.test(name)) return 'glibc';
  if (name.startsWith('libmimalloc')) return 'mimalloc';
  if (name.startsWith('libjemalloc')) return 'jemalloc';
  if (name.startsWith('libtcmalloc')) return 'tcmalloc';
  if (name.startsWith('libclang_rt.scudo')) return 'scudo';
  return 'other';
}

function samePath(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** Keeps a binding of another allocator's own API (mallctl, mi_*, ...) to that allocator's library. */
export function noteAllocatorApi(apis: Map<string, ForeignBinding>, library: string, symbol: string): void {
  if (ALLOCATOR_API.test(symbol) && allocatorOfLibrary(library) !== 'other') apis.set(symbol, {symbol, library});
}

/** Reads the loader's log: where `program`'s own malloc and free references went. */
export function parseBindings(log: string, program: string): BindingWitness {
  let mallocLibrary: string | null = null;
  let freeLibrary: string | null = null;
  const allocatorApi = new Map<string, ForeignBinding>();
  for (const line of log.split('\n')) {
    const match = BINDING.exec(line);
    if (!match) continue;
    const [, file, library, symbol] = match;
    if (library && symbol) noteAllocatorApi(allocatorApi, library, symbol);
    if (!file || !library || (symbol !== 'malloc' && symbol !== 'free') || !samePath(file, program)) continue;
    // A program that takes malloc's address has a canonical PLT entry bound to itself; its calls still go on to the allocator.
    if (library === file) continue;
    if (symbol === 'malloc') mallocLibrary ??= library;
    else freeLibrary ??= library;
  }

  return {
    mallocLibrary,
    freeLibrary,
    allocator: mallocLibrary === null ? null : allocatorOfLibrary(mallocLibrary),
    noDynamicLoader: log.trim() === '',
    allocatorApi: [...allocatorApi.values()],
  };
}

function readLogs(dir: string): string {
  // one file per process: ld.<pid>
  return readdirSync(dir)
    .map((file) => readFileSync(join(dir, file), 'utf8'))
    .join('\n');
}

/**
 * A server started with the loader's binding log on, every symbol bound at start-up
 * (LD_BIND_NOW, so that an allocator API it calls only later is seen), then stopped.
 */
export async function traceServerBinding(request: ServerRunRequest): Promise<BindingWitness> {
  const dir = mkdtempSync(join(tmpdir(), 'hak-ld-'));
  try {
    await runServer({...request, env: {...request.env, LD_DEBUG: 'bindings', LD_DEBUG_OUTPUT: join(dir, 'ld'), LD_BIND_NOW: '1'}, startOnly: true, collectStats: false});
    return parseBindings(readLogs(dir), request.program);
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

/**
 * Runs the benchmark once with the loader's binding log on (its own short run: the log is
 * written at start-up and first calls, but it is not a measured run).
 */
export async function traceMallocBinding(request: Pick<RunRequest, 'program' | 'args' | 'allocator' | 'env' | 'timeoutSeconds'>): Promise<BindingWitness> {
  const dir = mkdtempSync(join(tmpdir(), 'hak-ld-'));
  try {
    const env = benchmarkEnvironment(request);
    env.LD_DEBUG = 'bindings';
    env.LD_DEBUG_OUTPUT = join(dir, 'ld');
    await execProgram(request.program, request.args, {env, timeoutMs: Math.round(request.timeoutSeconds * 1000)});
    return parseBindings(readLogs(dir), request.program);
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}
