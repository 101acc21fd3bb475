/** Builds of the real allocator in csrc/, and runs under it. */
import {execFileSync, spawnSync} from 'node:child_process';
import {accessSync, constants, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import {resolveAllocator} from '../src/allocators.js';
import {type BuildManifest, type BuiltVariant, buildVariant} from '../src/build/index.js';
import {variantLabel} from '../src/features.js';
import {callgrindArgs, loadProfile} from '../src/profiles/index.js';
import {resolveTargets, runBenchmark} from '../src/run/index.js';
import {ROOT, tempDir, withEnv} from './helpers.js';

/** A stand-in benchmark: a shell that allocates a little (through whatever malloc is preloaded). */
function shellBench(): string {
  const file = join(tempDir('hak-bench-'), 'shell_bench');
  writeFileSync(
    file,
    '#!/bin/sh\nwords=$(ls /usr/bin | head -200 | tr "\\n" " ")\necho "{\\"bench\\":\\"shell\\",\\"params\\":{},\\"ops\\":${#words},\\"seconds\\":0.01,\\"opsPerSec\\":1,\\"peakRssKb\\":1,\\"checksum\\":\\"0\\"}"\n',
    {mode: 0o755},
  );
  return file;
}

describe('the real csrc build', () => {
  let home: string;
  let standard: BuiltVariant;
  let noWrap: BuiltVariant;

  beforeAll(async () => {
    home = tempDir('hak-home-');
    await withEnv({HAK_CSRC: undefined, HAK_HOME: home}, async () => {
      standard = await buildVariant();
      noWrap = await buildVariant({features: {wrapTiny: false}});
    });
  });

  it('records what make built, and agrees with the Makefile on the variant name', () => {
    const manifest = JSON.parse(readFileSync(standard.manifest, 'utf8')) as BuildManifest;
    expect(manifest.makeConfig.variant).toBe(variantLabel({features: standard.features, toolchain: standard.toolchain}));
    expect(manifest.flags.cflags).toContain('-DHAK_WRAP_TINY=1');
    expect(manifest.toolchain.compilerVersion).toMatch(/^gcc /);
    expect(manifest.git.commit).toBe(execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], {encoding: 'utf8'}).trim());
    expect(typeof manifest.git.dirty).toBe('boolean');
    expect(standard.overridesMalloc).toBe(true);
    expect(Object.keys(standard.benchmarks)).toEqual([
      'cache_scratch',
      'cross_thread',
      'fragment_stress',
      'large_churn',
      'larson',
      'larson_cxx',
      'mid_large_mt',
      'producer_consumer',
      'quick_wins',
      'random_mixed',
      'slot_churn',
      'stress_exchange',
      'stress_rounds',
      'thread_churn',
      'tiny_hot',
      'working_set',
    ]);
    for (const program of Object.values(standard.benchmarks)) accessSync(program, constants.X_OK);
  });

  it('serves small requests from the tiny pool with wrap-tiny on, and hands them to glibc with it off', async () => {
    const program = shellBench();
    const run = async (built: BuiltVariant) =>
      runBenchmark({
        program,
        args: [],
        allocator: resolveAllocator('hakmem', {hakmemLibrary: built.library}),
        timeoutSeconds: 30,
        runIndex: 0,
        collectStats: true,
      });
    const served = await run(standard);
    expect(served.stats?.config).toMatchObject({directCache: true, dualLists: true, superslab: true, wrapTiny: true, stats: 0});
    expect(served.stats?.always.tinyBlocksSupplied).toBeGreaterThan(0);
    expect(served.stats?.always.libcMallocTiny).toBe(0);

    const declined = await run(noWrap);
    expect(declined.stats?.config.wrapTiny).toBe(false);
    expect(declined.stats?.always.libcMallocTiny).toBeGreaterThan(0);
  });

  it('runs a profile\'s benchmark under hakmem and glibc with the same checksum', async () => {
    await withEnv({HAK_CSRC: undefined, HAK_HOME: home}, async () => {
      const profile = await loadProfile('random-mixed');
      const targets = await resolveTargets(profile, {only: ['hakmem', 'glibc']});
      expect(targets.map((target) => target.label)).toEqual(['hakmem', 'glibc']);
      const runs = await Promise.all(
        targets.map((target) =>
          runBenchmark({...target, args: callgrindArgs(profile), timeoutSeconds: 60, runIndex: 0, collectStats: true}),
        ),
      );
      const [hakmem, glibc] = runs;
      expect(hakmem!.result.bench).toBe('random_mixed');
      expect(hakmem!.result.ops).toBe(Number(profile.callgrind.args[0]));
      expect(hakmem!.result.checksum).toBe(glibc!.result.checksum);
      expect(hakmem!.result.allocatorHint).toBe(targets[0]!.allocator.preload);
      expect(glibc!.result.allocatorHint).toBeNull();
      expect(hakmem!.stats?.always.libcMallocTiny).toBe(0);
      expect(hakmem!.stats?.always.tinyBlocksSupplied).toBeGreaterThan(0);
      expect(glibc!.stats).toBeNull();
    });
  });

  it('stops a double free with one line and SIGABRT in a hardened build, and agrees with make on its name', async () => {
    const source = join(tempDir('hak-misuse-'), 'double_free.c');
    writeFileSync(source, '#include <stdlib.h>\nint main(void) { char* volatile p = malloc(40000); free(p); free(p); return 0; }\n');
    const program = source.replace(/\.c$/, '');
    execFileSync('gcc', ['-O0', '-fno-builtin', source, '-o', program]);
    await withEnv({HAK_CSRC: undefined, HAK_HOME: home}, async () => {
      const hardened = await buildVariant({features: {harden: true}});
      const manifest = JSON.parse(readFileSync(hardened.manifest, 'utf8')) as BuildManifest;
      expect(manifest.makeConfig.variant).toBe(variantLabel({features: hardened.features, toolchain: hardened.toolchain}));
      const run = spawnSync(program, [], {env: {...process.env, LD_PRELOAD: hardened.library}, encoding: 'utf8'});
      expect(run.signal).toBe('SIGABRT');
      expect(run.stderr).toMatch(/^hakmem: double free of 0x[0-9a-f]+ \(40960-byte block\)\n$/);
    });
  });

  it('marks a sanitizer build as not replacing malloc', async () => {
    await withEnv({HAK_CSRC: undefined, HAK_HOME: home}, async () => {
      const asan = await buildVariant({toolchain: {sanitize: 'address'}});
      expect(asan.variant).toMatch(/^dc1-dl1-ss1-wt1-s0-gcc-asan-/);
      expect(asan.overridesMalloc).toBe(false);
    });
  });
});
