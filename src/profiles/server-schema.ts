/**
 * What a profile of kind `server` sets: a server started under each allocator on a free
 * loopback port, waited for, loaded by client commands that run without the allocator, checked
 * and stopped. format.ts has the file's fields; validate.ts builds this from them.
 */

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
