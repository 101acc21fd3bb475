/**
 * Profiles of kind `server`: a server started under each allocator on a free loopback port,
 * waited for, loaded by client commands that run without the allocator, checked and stopped.
 * schema.ts dispatches here on `kind: server`; profiles/README.md documents the fields.
 */
import {resolve as resolvePath} from 'node:path';

import type {ProfileIssue} from '../errors.js';
import {FieldReader, type Path} from './field-reader.js';
import {commandThreads, defaultPerf, type Profile, readCommonFields} from './schema.js';

/** How a client's output is read: redis-benchmark's --csv, or the JSON line of hak's own clients (profiles/scripts/memc_load.py). */
export const CLIENT_PARSERS = ['redis-benchmark-csv', 'hak-client-json'] as const;
export type ClientParser = (typeof CLIENT_PARSERS)[number];

export const PORT_PLACEHOLDER = '{port}';

export interface ServerClient {
  /** The client's command line; `{port}` is replaced by the server's port. Never under the allocator. */
  argv: string[];
  parser: ClientParser;
}

export interface ServerCheck {
  /** A command that asks the server something known (`{port}` replaced), run after the load. */
  argv: string[];
  /** A regular expression its stdout must match. */
  expect: string;
}

export interface ServerSetting {
  /** The server's command line, with `{port}` where the port goes; argv[0] is looked up on PATH unless it has a slash. */
  argv: string[];
  /** Absolute working directory of server, clients and checks; null: hak's own. */
  cwd: string | null;
  /** Ready when the port accepts a connection (command null), or when this command exits 0. */
  ready: {command: string[] | null; timeoutSeconds: number};
  /** Seconds between SIGTERM and SIGKILL. */
  graceSeconds: number;
  /** Seconds the server sits idle after the load before its idle RSS is read. */
  idleSeconds: number;
  /** `auto`: server and clients on different CPUs (taskset) where the machine has two or more; `none`: no placement. */
  placement: 'auto' | 'none';
  clients: ServerClient[];
  checks: ServerCheck[];
}

/** The fields a profile of kind server may have. */
export const SERVER_FIELDS = ['name', 'kind', 'description', 'server', 'clients', 'checks', 'env', 'hakmem', 'allocators', 'runs', 'warmup', 'timeout'] as const;
const SERVER_KEYS = ['argv', 'cwd', 'ready', 'stop', 'idle', 'placement'] as const;

/** A path in a profile: relative to the profile file's directory. */
export function profilePath(reader: FieldReader, value: unknown, path: Path, base: string): string | null {
  const text = reader.string(value, path);
  return text === undefined ? null : resolvePath(base, text);
}

function commandLine(reader: FieldReader, value: unknown, path: Path): string[] | undefined {
  const argv = reader.argumentList(value, path);
  if (argv && argv.length === 0) {
    reader.fail(path, 'a command line: the program, then its arguments', value);
    return undefined;
  }

  return argv;
}

function readReady(reader: FieldReader, value: unknown): ServerSetting['ready'] {
  const ready: ServerSetting['ready'] = {command: null, timeoutSeconds: 10};
  if (value === undefined) return ready;
  const map = reader.mapping(value, ['server', 'ready'], ['port', 'command', 'timeout']);
  if (!map) return ready;
  if (map.port !== undefined && map.command !== undefined) reader.fail(['server', 'ready', 'command'], 'either port: true or a command, not both');
  if (map.port !== undefined && reader.boolean(map.port, ['server', 'ready', 'port']) === false && map.command === undefined) {
    reader.fail(['server', 'ready', 'port'], 'true (the port accepts), or a command instead', map.port);
  }

  if (map.command !== undefined) ready.command = commandLine(reader, map.command, ['server', 'ready', 'command']) ?? null;
  if (map.timeout !== undefined) ready.timeoutSeconds = reader.positiveNumber(map.timeout, ['server', 'ready', 'timeout'], 600) ?? ready.timeoutSeconds;
  return ready;
}

/**
 * A list field whose items are mappings of `keys`: each item read by `readItem` (undefined when
 * it is invalid: the reader has the issue). `required` lists must have at least one item.
 */
function readList<T>(reader: FieldReader, value: unknown, field: string, keys: string[], required: boolean, readItem: (map: Record<string, unknown>, path: (string | number)[]) => T | undefined): T[] {
  if (value === undefined && !required) return [];
  if (!Array.isArray(value) || (required && value.length === 0)) {
    reader.fail([field], `a ${required ? 'non-empty ' : ''}list of ${field}, each with ${keys.join(' and ')}`, value);
    return [];
  }

  return value.flatMap((item, index) => {
    const map = reader.mapping(item, [field, index], keys);
    const read = map ? readItem(map, [field, index]) : undefined;
    return read === undefined ? [] : [read];
  });
}

function readClient(reader: FieldReader, map: Record<string, unknown>, path: (string | number)[]): ServerClient | undefined {
  const argv = commandLine(reader, map.argv, [...path, 'argv']);
  const parser = reader.oneOf(map.parser, [...path, 'parser'], CLIENT_PARSERS);
  if (argv && !argv.some((word) => word.includes(PORT_PLACEHOLDER))) reader.fail([...path, 'argv'], `the server's port as ${PORT_PLACEHOLDER} somewhere in the command line`, argv.join(' '));
  return argv && parser ? {argv, parser} : undefined;
}

function readCheck(reader: FieldReader, map: Record<string, unknown>, path: (string | number)[]): ServerCheck | undefined {
  const argv = commandLine(reader, map.argv, [...path, 'argv']);
  const expect = reader.string(map.expect, [...path, 'expect']);
  if (expect === undefined) return undefined;
  try {
    new RegExp(expect, 'm'); // eslint-disable-line no-new
  } catch (error) {
    reader.fail([...path, 'expect'], `a regular expression (${(error as Error).message})`, expect);
    return undefined;
  }

  return argv ? {argv, expect} : undefined;
}

/** The `server` and `clients` fields of a server profile; undefined when one is invalid (the issues say why). */
export function readServerSetting(reader: FieldReader, top: Record<string, unknown>, directory: string): ServerSetting | undefined {
  const map = reader.mapping(top.server, ['server'], SERVER_KEYS);
  const clients = readList(reader, top.clients, 'clients', ['argv', 'parser'], true, (item, path) => readClient(reader, item, path));
  const checks = readList(reader, top.checks, 'checks', ['argv', 'expect'], false, (item, path) => readCheck(reader, item, path));
  if (!map) return undefined;
  const argv = commandLine(reader, map.argv, ['server', 'argv']);
  if (argv && !argv.some((word) => word.includes(PORT_PLACEHOLDER))) {
    reader.fail(['server', 'argv'], `the port as ${PORT_PLACEHOLDER} somewhere in the command line (hak picks a free loopback port for each run)`, argv.join(' '));
  }

  const cwd = map.cwd === undefined ? null : profilePath(reader, map.cwd, ['server', 'cwd'], directory);
  const ready = readReady(reader, map.ready);
  let graceSeconds = 5;
  if (map.stop !== undefined) {
    const stop = reader.mapping(map.stop, ['server', 'stop'], ['grace']);
    if (stop?.grace !== undefined) graceSeconds = reader.positiveNumber(stop.grace, ['server', 'stop', 'grace'], 600) ?? graceSeconds;
  }

  const idleSeconds = map.idle === undefined ? 1 : (reader.positiveNumber(map.idle, ['server', 'idle'], 600) ?? 1);
  const placement = map.placement === undefined ? 'auto' : (reader.oneOf(map.placement, ['server', 'placement'], ['auto', 'none'] as const) ?? 'auto');
  if (!argv) return undefined;
  return {argv, cwd, ready, graceSeconds, idleSeconds, placement, clients, checks};
}

/** A profile of kind server: the server under each allocator, its clients outside it. */
export function validateServerProfile(reader: FieldReader, top: Record<string, unknown>, context: {file: string; expectedName: string; directory?: string}): {profile?: Profile; issues: ProfileIssue[]} {
  reader.mapping(top, [], SERVER_FIELDS);
  const server = readServerSetting(reader, top, context.directory ?? '.');
  const common = readCommonFields(reader, top, context);
  if (reader.issues.length > 0 || !server || !common) return {issues: reader.issues};
  const [program = '', ...args] = server.argv;
  return {
    issues: [],
    profile: {...common, kind: 'server', benchmark: {program, args}, server, threads: commandThreads(), callgrind: {args}, perf: defaultPerf(args)},
  };
}
