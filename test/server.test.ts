/** Profiles of kind server: the schema, the client parsers, the runner on a fake server, and the allocator traps on redis-server. */
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import type {BenchJson} from '../src/commands/bench.js';
import {ProfileError, RunError} from '../src/errors.js';
import {loadProfile, type ServerProfile} from '../src/profiles/index.js';
import {parseClientJson, parseRedisBenchmarkCsv, summarizeTests} from '../src/run/server-clients.js';
import {freePort, runServer, serverPlacement} from '../src/run/server.js';
import {parseBindings} from '../src/verify/binding.js';
import {linkedAllocator, mixedAllocators, neededLibraries, systemLabel} from '../src/verify/linked.js';
import {ROOT, runHak, tempDir} from './helpers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'server');
const GLIBC = {name: 'glibc' as const, preload: null};

function writeProfile(name: string, text: string): string {
  const file = join(tempDir('hak-server-profiles-'), `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** A server profile on the fake server, in MODE, checked by a known key read back. */
function fakeProfile(name: string, mode: string, extra = ''): string {
  return writeProfile(
    name,
    `name: ${name}
kind: server
description: the fake server of the tests
server:
  argv: [python3, ${FIXTURES}/fake_server.py, '{port}', ${mode}]
  ready: {port: true, timeout: 20}
  stop: {grace: 1}
  idle: 0.2
clients:
  - argv: [python3, ${FIXTURES}/fake_client.py, '{port}', 300]
    parser: hak-client-json
checks:
  - argv: [python3, ${FIXTURES}/fake_client.py, '{port}', 1, 'get hak:check']
    expect: ^hakmem$
allocators: [glibc]
runs: 1
warmup: 0
${extra}`,
  );
}

async function loadError(file: string): Promise<string> {
  const error = await loadProfile(file).then(
    () => undefined,
    (error_: unknown) => error_,
  );
  expect(error).toBeInstanceOf(ProfileError);
  return (error as ProfileError).message;
}

describe('server profiles: schema', () => {
  it('loads the shipped server profiles', async () => {
    for (const name of ['redis', 'memcached', 'growing-cache']) {
      const profile = (await loadProfile(name)) as ServerProfile;
      expect(profile.kind).toBe('server');
      expect(profile.server.argv.some((word) => word.includes('{port}'))).toBe(true);
      expect(profile.server.clients.length).toBeGreaterThan(0);
    }
  });

  it('names the file, line and field of each mistake', async () => {
    const file = writeProfile(
      'bad-server',
      `name: bad-server
kind: server
description: broken on purpose
server:
  argv: [redis-server, --port, 6379]
  ready: {timeout: -1}
  placement: everywhere
  colour: blue
clients:
  - argv: [redis-benchmark, -p, '{port}']
    parser: memtier
  - parser: redis-benchmark-csv
checks:
  - argv: [redis-cli, get, x]
    expect: '('
`,
    );
    const message = await loadError(file);
    expect(message).toContain('bad-server.yaml:5: server.argv: expected the port as {port} somewhere in the command line');
    expect(message).toContain('bad-server.yaml:6: server.ready.timeout: expected a number of seconds above 0');
    expect(message).toContain('bad-server.yaml:7: server.placement: expected one of auto, none, got "everywhere"');
    expect(message).toMatch(/bad-server\.yaml:8: server\.colour: expected no such field; allowed: argv, cwd, ready, stop, idle, placement/);
    expect(message).toContain('bad-server.yaml:11: clients[0].parser: expected one of redis-benchmark-csv, hak-client-json, got "memtier"');
    expect(message).toMatch(/bad-server\.yaml:12: clients\[1\]\.argv: expected a list of arguments/);
    expect(message).toMatch(/bad-server\.yaml:15: checks\[0\]\.expect: expected a regular expression/);
  });

  it('needs clients, and refuses fields of other kinds', async () => {
    const message = await loadError(writeProfile('no-clients', 'name: no-clients\nkind: server\ndescription: x\nserver:\n  argv: [srv, "{port}"]\nbenchmark: {program: tiny_hot}\n'));
    expect(message).toContain('clients: expected a non-empty list of clients');
    expect(message).toMatch(/:6: benchmark: expected no such field/);
  });
});

describe('server profiles: client parsers', () => {
  it("reads redis-benchmark's --csv: rps per test, the load's harmonic rps and worst latencies", () => {
    const tests = parseRedisBenchmarkCsv(readFileSync(join(FIXTURES, 'redis-benchmark.csv'), 'utf8'));
    assert(Array.isArray(tests));
    expect(tests.map((test) => test.test)).toEqual(['SET', 'GET', 'LPUSH', 'LPOP']);
    expect(tests[0]).toEqual({test: 'SET', rps: 106_382.98, latencyMs: {p50: 2.855, p99: 6.623, max: 7.351}});
    const summary = summarizeTests(tests);
    expect(summary.rps).toBeGreaterThan(106_382.98);
    expect(summary.rps).toBeLessThan(169_491.53);
    expect(summary.latencyMs).toEqual({p50: 2.855, p99: 6.623, max: 7.351});
    expect(parseRedisBenchmarkCsv('ERROR: connection refused\n')).toMatch(/no redis-benchmark --csv header/);
  });

  it("reads hak's client JSON line, and takes an error count above 0 as a wrong server", () => {
    expect(parseClientJson('{"test": "get/set", "rps": 1000, "p50_ms": 0.1, "p99_ms": 0.5, "max_ms": 2, "errors": 0}\n')).toEqual([
      {test: 'get/set', rps: 1000, latencyMs: {p50: 0.1, p99: 0.5, max: 2}},
    ]);
    expect(parseClientJson('{"rps": 1000, "p50_ms": 0.1, "p99_ms": 0.5, "max_ms": 2, "errors": 3, "error": "wrong answer for hak:7"}')).toBe(
      'the client counted 3 wrong or failed answer(s): wrong answer for hak:7',
    );
    expect(parseClientJson('Traceback (most recent call last):')).toMatch(/not a JSON object/);
  });
});

function assert(condition: unknown): asserts condition {
  expect(condition).toBeTruthy();
}

describe('server profiles: the runner on a fake server', () => {
  const request = async (mode: string) => {
    const profile = (await loadProfile(fakeProfile(`fake-${mode}`, mode))) as ServerProfile;
    return {program: 'python3', args: profile.benchmark.args, allocator: GLIBC, env: {}, timeoutSeconds: 60, runIndex: 0, server: profile.server};
  };

  it('starts, waits, loads, checks, idles and stops it with SIGTERM; figures from the client, memory from the server', async () => {
    const run = await runServer(await request('serve'));
    expect(run.result.figure).toBeGreaterThan(0);
    expect(run.result.extra).toMatchObject({latencyMs: {p50: expect.any(Number), p99: expect.any(Number), max: expect.any(Number)}, stoppedBy: 'SIGTERM'});
    expect(run.result.extra.idleRssKb).toBeGreaterThan(1000);
    expect(run.memory.peakRssKb).toBeGreaterThan(1000);
    expect(run.memory.processes.map((process) => process.program)).toContain('python3');
    expect(run.usage?.minorFaults).toBeGreaterThan(0);
    const port = run.result.params.port as number;
    expect(port).toBeGreaterThan(0);
    expect(run.stdout).toContain(`fake server starting on port ${port}`);
    const placement = serverPlacement({placement: 'auto'});
    expect(run.result.extra.placement).toEqual(placement);
  });

  it('kills a server that ignores SIGTERM after the grace period', async () => {
    const run = await runServer(await request('ignore-term'));
    expect(run.result.extra.stoppedBy).toBe('SIGKILL');
  });

  it('fails a server that exits at once with its last log lines, never a number', async () => {
    const error = await runServer(await request('exit')).then(
      () => undefined,
      (error_: unknown) => error_,
    );
    expect(error).toBeInstanceOf(RunError);
    expect((error as RunError).facts).toMatchObject({failure: 'server'});
    expect((error as RunError).message).toContain('exited before it was ready');
    expect((error as RunError).facts.stderrTail).toContain('fatal: cannot load the configuration (fake)');
  });

  it('hands out different free loopback ports', async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    expect(new Set(ports).size).toBe(3);
  });

  it('hak bench: a server that exits at once is INVALID with its log lines, exit 1', async () => {
    const {exitCode, stdout} = await runHak(['bench', fakeProfile('fake-exit', 'exit'), '--no-save', '--json'], {env: {HAK_HOME: tempDir('hak-home-')}});
    expect(exitCode).toBe(1);
    const json = JSON.parse(stdout) as BenchJson;
    const [result] = json.results;
    expect(result).toMatchObject({label: 'glibc', status: 'invalid', median: null, latency: null});
    expect(result!.cause).toContain('exited before it was ready');
    expect(result!.failure?.stderrTail).toContain('fatal: cannot load the configuration (fake)');
    const text = await runHak(['bench', fakeProfile('fake-exit', 'exit'), '--no-save'], {env: {HAK_HOME: tempDir('hak-home-')}});
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toContain("glibc: INVALID: its first start (the loader's trace, before the runs): exited before it was ready.");
    expect(text.stdout).toContain('| fatal: cannot load the configuration (fake)');
  });
});

describe('server profiles: the allocator traps on Debian redis-server', () => {
  it('reads the NEEDED entries: redis-server links libjemalloc.so.2, so its no-preload target is jemalloc', () => {
    expect(neededLibraries('/usr/bin/redis-server')).toContain('libjemalloc.so.2');
    const linked = linkedAllocator('/usr/bin/redis-server');
    expect(linked).toEqual({allocator: 'jemalloc', library: 'libjemalloc.so.2', program: 'redis-server'});
    expect(systemLabel(linked!)).toBe('system (jemalloc, linked by redis-server)');
    expect(linkedAllocator('/usr/bin/python3')).toBeNull();
  });

  it("names another allocator's API bound beside the malloc measured", () => {
    const log = [
      "  1234:	binding file /usr/bin/redis-server [0] to /tmp/libhakmem.so [0]: normal symbol `malloc' [GLIBC_2.2.5]",
      "  1234:	binding file /usr/bin/redis-server [0] to /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 [0]: normal symbol `mallctl'",
      "  1234:	binding file /usr/bin/redis-server [0] to /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 [0]: normal symbol `nallocx'",
    ].join('\n');
    const binding = parseBindings(log, '/usr/bin/redis-server');
    expect(binding.allocator).toBe('hakmem');
    expect(mixedAllocators(binding.allocatorApi ?? [], binding.mallocLibrary)).toEqual({
      library: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
      allocator: 'jemalloc',
      symbols: ['mallctl', 'nallocx'],
    });
    // Served by the same jemalloc it asks: not mixed.
    expect(mixedAllocators(binding.allocatorApi ?? [], '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2')).toBeNull();
  });
});
