/** hak verify of servers: a server profile judged on its server process, a server command stopped by --duration, and a server that exits at once. */
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import {buildVariant} from '../src/build/index.js';
import {freePort} from '../src/run/server.js';
import type {VerifyReport} from '../src/verify/index.js';
import {ROOT, runHak, tempDir, withEnv} from './helpers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'server');

describe('hak verify of servers', () => {
  const home = tempDir('hak-home-');
  const env = {HAK_HOME: home, HAK_CSRC: undefined};
  beforeAll(async () => {
    await withEnv(env, async () => buildVariant());
  });

  const verify = async (args: string[]) => {
    const run = await runHak(['verify', ...args], {env});
    return {...run, json: JSON.parse(run.stdout) as VerifyReport};
  };

  it('redis under hakmem: the server process passes, and its jemalloc API (mallctl) is named as mixed', async () => {
    const {exitCode, json, stderr} = await verify(['redis', '--json']);
    expect(exitCode, stderr).toBe(0);
    expect(json).toMatchObject({kind: 'server', verdict: 'pass', servedBy: 'hakmem', allocator: 'hakmem', system: null});
    expect(json.witnesses.counters.loaded).toBe(true);
    expect(json.witnesses.binding).toMatchObject({allocator: 'hakmem'});
    expect(json.mixed).toMatchObject({allocator: 'jemalloc', library: expect.stringMatching(/libjemalloc\.so\.2$/)});
    expect(json.mixed!.symbols).toContain('mallctl');
    expect(json.warnings).toHaveLength(1);
    expect(json.warnings[0]).toMatch(/^MIXED ALLOCATORS: hakmem: redis-server's malloc is served by hakmem, but it also binds libjemalloc\.so\.2's own API \(mallctl/);
    expect(json.warnings[0]).toContain("the program's own memory reports");
  });

  it('redis with nothing preloaded: fails naming jemalloc, linked by redis-server', async () => {
    const {exitCode, json} = await verify(['redis', '--allocator', 'glibc', '--no-samples', '--json']);
    expect(exitCode).toBe(1);
    expect(json).toMatchObject({verdict: 'fail', servedBy: 'jemalloc', allocator: 'glibc', system: 'system (jemalloc, linked by redis-server)', mixed: null});
    expect(json.cause).toContain('jemalloc served it: redis-server links libjemalloc.so.2 itself');
    expect(json.witnesses.binding.allocator).toBe('jemalloc');
  });

  it('a server command stopped by --duration: judged, with mallctl named', async () => {
    const port = await freePort();
    const {exitCode, json, stderr} = await verify(['--duration', '3', '--no-samples', '--json', '--', 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '']);
    expect(exitCode, stderr).toBe(0);
    expect(json).toMatchObject({kind: 'command', verdict: 'pass', servedBy: 'hakmem'});
    const server = json.processes.find((process) => process.program === 'redis-server');
    expect(server).toMatchObject({verdict: 'pass', mixed: {allocator: 'jemalloc'}});
    expect(json.mixed!.symbols).toContain('mallctl');
    expect(json.warnings.some((warning) => warning.startsWith("MIXED ALLOCATORS: hakmem: redis-server's malloc") && warning.includes('mallctl'))).toBe(true);
  });

  it('a server command without --duration: the timeout says how to stop it', async () => {
    const port = await freePort();
    const {exitCode, stderr} = await runHak(['verify', '--timeout', '1', '--no-samples', '--', 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', ''], {env});
    expect(exitCode).toBe(5);
    expect(stderr).toContain('did not finish within 1 s and was killed');
    expect(stderr).toContain('--duration SECONDS');
  });

  it('a server profile whose server exits at once is INVALID with its log lines, exit 1', async () => {
    const file = join(tempDir('hak-server-profiles-'), 'fake-exit.yaml');
    writeFileSync(
      file,
      `name: fake-exit
kind: server
description: exits at once
server:
  argv: [python3, ${FIXTURES}/fake_server.py, '{port}', exit]
  ready: {port: true, timeout: 20}
clients:
  - argv: [python3, ${FIXTURES}/fake_client.py, '{port}', 300]
    parser: hak-client-json
`,
    );
    const json = await runHak(['verify', file, '--json'], {env});
    expect(json.exitCode).toBe(1);
    const {error} = JSON.parse(json.stdout) as {error: {message: string; details: {failure: string; stderrTail: string}}};
    expect(error.message).toMatch(/^fake-exit: INVALID: python3 under hakmem \(run 0\) exited before it was ready\./);
    expect(error.details).toMatchObject({failure: 'server', stderrTail: expect.stringContaining('fatal: cannot load the configuration (fake)')});
    const text = await runHak(['verify', file], {env});
    expect(text.exitCode).toBe(1);
    expect(text.stderr).toContain('fake-exit: INVALID: python3 under hakmem (run 0) exited before it was ready.');
    expect(text.stderr).toContain('| fatal: cannot load the configuration (fake)');
  });
});
