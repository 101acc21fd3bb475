import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import {
  MissingLibraryError,
  ExitCode,
  RunError,
  UsageError,
} from '../src/errors.js';
import {peerLibraryPath, PEER_ALLOCATORS, resolveAllocator} from '../src/allocators.js';
import {buildVariant} from '../src/build/index.js';
import {benchmarkEnvironment, commandFigure, parseBenchmarkOutput, type RunRequest, runBenchmark, shellHakmemVariables, shellVariablesNote} from '../src/run/index.js';
import {summarizeTimeline} from '../src/run/monitor.js';
import {copyFixtureCsrc, tempDir, withEnv} from './helpers.js';

const RESULT =
  '{"bench":"fake","params":{"preload":"%s","wrap":"%s"},"ops":100,"seconds":0.25,"opsPerSec":400,"peakRssKb":2048,"checksum":"0xbeef","verifiedBlocks":7,"rssOverLive":1.5}';

/** A shell script standing in for a benchmark program. */
function fakeProgram(body: string): string {
  const file = join(tempDir('hak-bench-'), 'fake_bench');
  writeFileSync(file, `#!/bin/sh\n${body}\n`, {mode: 0o755});
  return file;
}

function request(program: string, overrides: Partial<RunRequest> = {}): RunRequest {
  return {program, args: [], allocator: {name: 'glibc', preload: null}, timeoutSeconds: 10, runIndex: 3, ...overrides};
}

async function runError(promise: Promise<unknown>): Promise<RunError> {
  const error = await promise.then(
    () => undefined,
    (error_: unknown) => error_,
  );
  expect(error).toBeInstanceOf(RunError);
  return error as RunError;
}

describe('runBenchmark', () => {
  const printer = (): string => fakeProgram(`echo "starting"\nprintf '${RESULT}\\n' "$LD_PRELOAD" "$HAKMEM_WRAP_TINY"`);

  it('parses the last stdout line into a typed result', async () => {
    const run = await runBenchmark(request(printer(), {args: ['1', '2']}));
    expect(run.result).toEqual({
      bench: 'fake',
      params: {preload: '', wrap: ''},
      ops: 100,
      seconds: 0.25,
      opsPerSec: 400,
      peakRssKb: 2048,
      checksum: '0xbeef',
      verifiedBlocks: 7,
      allocatorHint: null,
      extra: {rssOverLive: 1.5},
    });
    expect(run).toMatchObject({allocator: 'glibc', runIndex: 3, stats: null});
    expect(run.command).toMatch(/fake_bench 1 2$/);
  });

  it('preloads the allocator\'s library, and nothing for glibc', async () => {
    const library = peerLibraryPath('mimalloc');
    const mimalloc = await runBenchmark(request(printer(), {allocator: {name: 'mimalloc', preload: library}}));
    expect(mimalloc.result.params.preload).toBe(library);
    expect(mimalloc.command).toContain(`LD_PRELOAD=${library} `);
    await withEnv({LD_PRELOAD: library}, async () => {
      const glibc = await runBenchmark(request(printer()));
      expect(glibc.result.params.preload).toBe('');
    });
  });

  it('passes HAKMEM_* variables from the shell, under the profile\'s', async () => {
    await withEnv({HAKMEM_WRAP_TINY: '0', HAKMEM_STATS: '/tmp/elsewhere.json'}, async () => {
      expect(shellHakmemVariables()).toEqual({HAKMEM_WRAP_TINY: '0'});
      expect(shellVariablesNote(shellHakmemVariables())).toBe('from your shell: HAKMEM_WRAP_TINY=0');
      expect((await runBenchmark(request(printer()))).result.params.wrap).toBe('0');
      const withProfileEnv = await runBenchmark(request(printer(), {env: {HAKMEM_WRAP_TINY: '1'}}));
      expect(withProfileEnv.result.params.wrap).toBe('1');
    });
  });

  it('turns a non-zero exit into a RunError with the code, its meaning and the stderr tail', async () => {
    const program = fakeProgram('for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do echo "line $i" >&2; done\nexit 3');
    const error = await runError(runBenchmark(request(program, {allocator: {name: 'jemalloc', preload: null}})));
    expect(error.exitCode).toBe(ExitCode.RunFailed);
    expect(error.facts).toMatchObject({failure: 'exit', exitCode: 3, allocator: 'jemalloc', runIndex: 3, program: 'fake_bench'});
    expect(error.message).toContain('exited with 3 (memory corruption detected)');
    expect(error.facts.stderrTail.split('\n')).toEqual(Array.from({length: 12}, (_, index) => `line ${index + 4}`));
  });

  it('turns a crash into a RunError naming the signal', async () => {
    const error = await runError(runBenchmark(request(fakeProgram('echo "about to crash" >&2\nkill -SEGV $$'))));
    expect(error.facts).toMatchObject({failure: 'signal', signal: 'SIGSEGV'});
    expect(error.facts.stderrTail).toBe('about to crash');
    expect(error.message).toContain('crashed: killed by SIGSEGV');
  });

  it('kills a run that passes its timeout', async () => {
    const started = Date.now();
    const error = await runError(runBenchmark(request(fakeProgram('exec sleep 30'), {timeoutSeconds: 0.3})));
    expect(error.facts).toMatchObject({failure: 'timeout', timeoutSeconds: 0.3});
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('rejects a run that prints no result line', async () => {
    const error = await runError(runBenchmark(request(fakeProgram('echo "done, no json"'))));
    expect(error.facts.failure).toBe('no-result');
    expect(error.message).toContain('its last line is not JSON: done, no json');
  });

  it('reports a program that cannot start', async () => {
    const error = await runError(runBenchmark(request('/nonexistent/bench')));
    expect(error.facts.failure).toBe('spawn');
  });
});

describe('memory and CPU of a run', () => {
  it('samples the RSS of the whole tree until exit, and counts CPU time and faults of every process', async () => {
    // A shell that starts a child holding 40 MiB for a while: both count, as one workload.
    const script = 'python3 -c "import time; b = bytearray(40 << 20); time.sleep(0.3)"';
    const run = await runBenchmark({
      program: '/bin/sh',
      args: ['-c', `${script}; echo done`],
      allocator: {name: 'glibc', preload: null},
      timeoutSeconds: 30,
      runIndex: 0,
      command: {figure: null},
    });
    const {memory, usage} = run;
    expect(memory.rssTimeline.length).toBeGreaterThanOrEqual(5);
    const times = memory.rssTimeline.map(([ms]) => ms);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(memory.peakRssKb).toBeGreaterThan(40 * 1024);
    expect(memory.meanRssKb).toBeLessThanOrEqual(memory.peakRssKb);
    expect(memory.processes.map((process) => process.program)).toEqual(expect.arrayContaining(['sh']));
    expect(memory.processes.length).toBeGreaterThanOrEqual(2);
    expect(memory.processes.some((process) => process.program === 'time')).toBe(false);
    // python3's start-up alone faults in thousands of pages; sh's a few hundred: the child's are counted.
    expect(usage?.minorFaults).toBeGreaterThan(1000);
    expect(usage).toMatchObject({userSeconds: expect.any(Number), systemSeconds: expect.any(Number), maxProcessRssKb: expect.any(Number)});
    expect(run.result.figure).toBe(run.wallSeconds);
    expect(run.result.checksum).toMatch(/^[0-9a-f]{16}$/);
  });

  it('summarizes a timeline: peak, and the mean weighted by time', () => {
    expect(summarizeTimeline([[0, 100], [10, 300], [30, 100]])).toMatchObject({peakRssKb: 300, meanRssKb: Math.round((100 * 10 + 300 * 20) / 30)});
    expect(summarizeTimeline([])).toMatchObject({peakRssKb: 0, meanRssKb: 0, rssTimeline: []});
  });

  it('reads a command\'s figure with its regex, or its wall time', () => {
    const spec = {regex: 'took (\\d+\\.\\d+) ms', unit: 'ms', better: 'lower' as const};
    expect(commandFigure('took 1.5 ms\ntook 2.25 ms\n', 9, spec)).toBe(2.25);
    expect(commandFigure('nothing', 9, spec)).toBe('its output has no match for /took (\\d+\\.\\d+) ms/');
    expect(commandFigure('anything', 1.25, null)).toBe(1.25);
  });

  it('starts a run under the profile\'s address-space limit, and says so in its command line', async () => {
    const figure = {regex: 'limit (\\d+)', unit: 'KiB', better: 'lower' as const};
    const limited = {program: '/bin/sh', args: ['-c', 'echo limit $(ulimit -v | sed s/unlimited/0/)'], allocator: {name: 'glibc', preload: null}, timeoutSeconds: 30, runIndex: 0, command: {figure}};
    const run = await runBenchmark({...limited, addressSpaceKib: 150000});
    expect(run.result.figure).toBe(150000);
    expect(run.command).toMatch(/^prlimit --as=153600000 -- \/bin\/sh -c /);
    const free = await runBenchmark(limited);
    expect(free.result.figure).toBe(0);
    expect(free.command).not.toContain('prlimit');
  });

  it('refuses to start valgrind under an address-space limit, with a hint', async () => {
    const launcher = {argv: ['valgrind', '--tool=callgrind'], preload: 'tool' as const};
    const run = runBenchmark({program: '/bin/true', args: [], allocator: {name: 'glibc', preload: null}, timeoutSeconds: 30, runIndex: 0, launcher, addressSpaceKib: 150000});
    await expect(run).rejects.toThrow(/valgrind cannot run a program under the profile's address-space limit/);
    await expect(run).rejects.toBeInstanceOf(UsageError);
  });

  it('stops a timed-out command together with its children', async () => {
    const error = await runError(runBenchmark({program: '/bin/sh', args: ['-c', 'sleep 30 & wait'], allocator: {name: 'glibc', preload: null}, timeoutSeconds: 0.5, runIndex: 0, command: {figure: null}}));
    expect(error.facts.failure).toBe('timeout');
  });
});

describe('parseBenchmarkOutput', () => {
  it('names the first missing field', () => {
    expect(parseBenchmarkOutput('{"bench":"x","ops":1,"seconds":1,"opsPerSec":1,"checksum":"0"}')).toBe('its result has no numeric "peakRssKb"');
    expect(parseBenchmarkOutput('')).toBe('it printed nothing on stdout');
    expect(parseBenchmarkOutput('[1]')).toMatch(/not a JSON object/);
  });
});

describe('benchmarkEnvironment', () => {
  it('sets HAKMEM_STATS only when stats are collected', () => {
    expect(benchmarkEnvironment({allocator: {name: 'glibc', preload: null}}).HAKMEM_STATS).toBeUndefined();
    expect(benchmarkEnvironment({allocator: {name: 'glibc', preload: null}}, '/tmp/s.json').HAKMEM_STATS).toBe('/tmp/s.json');
  });
});

describe('allocator registry', () => {
  it('maps each peer allocator to its Debian library', () => {
    expect(resolveAllocator('mimalloc').preload).toBe('/usr/lib/x86_64-linux-gnu/libmimalloc.so.2');
    expect(resolveAllocator('jemalloc').preload).toBe('/usr/lib/x86_64-linux-gnu/libjemalloc.so.2');
    expect(resolveAllocator('tcmalloc').preload).toBe('/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4');
    expect(resolveAllocator('glibc').preload).toBeNull();
    expect(resolveAllocator('hakmem', {hakmemLibrary: '/x/libhakmem.so'}).preload).toBe('/x/libhakmem.so');
  });

  it('needs a built library for hakmem', () => {
    expect(() => resolveAllocator('hakmem')).toThrow(UsageError);
  });

  it('names the Debian package of a missing peer library', async () => {
    await withEnv({HAK_SYSTEM_LIBDIR: tempDir('hak-libs-')}, async () => {
      // The peers in the system library directory (scudo lives under LLVM's own directory).
      for (const peer of Object.values(PEER_ALLOCATORS).filter((peer) => !peer.library.startsWith('/'))) {
        let caught: unknown;
        try {
          resolveAllocator(peer.name);
        } catch (error) {
          caught = error;
        }

        expect(caught).toBeInstanceOf(MissingLibraryError);
        const missing = caught as MissingLibraryError;
        expect(missing.exitCode).toBe(ExitCode.Missing);
        expect(missing.debianPackage).toBe(peer.debianPackage);
        expect(missing.hint).toContain(`apt-get install -y ${peer.debianPackage}`);
      }
    });
  });
});

describe('running under a built hakmem variant', () => {
  let library: string;
  let echoBench: string;

  beforeAll(async () => {
    await withEnv({HAK_CSRC: copyFixtureCsrc(), HAK_HOME: tempDir('hak-home-')}, async () => {
      const built = await buildVariant({features: {superslab: false, stats: 1}});
      library = built.library;
      echoBench = built.benchmarks.echo_bench!;
    });
  });

  it('collects the stats the preloaded library writes at exit', async () => {
    const setup = resolveAllocator('hakmem', {hakmemLibrary: library});
    const run = await runBenchmark({program: echoBench, args: ['77'], allocator: setup, timeoutSeconds: 10, runIndex: 0, collectStats: true});
    expect(run.result.ops).toBe(77);
    expect(run.stats?.config).toMatchObject({superslab: false, directCache: true, stats: 1});
  });

  it('has no stats when the library was not preloaded', async () => {
    const run = await runBenchmark({program: echoBench, args: [], allocator: resolveAllocator('glibc'), timeoutSeconds: 10, runIndex: 0, collectStats: true});
    expect(run.stats).toBeNull();
  });
});
