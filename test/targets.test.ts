import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {MissingLibraryError, UsageError} from '../src/errors.js';
import {loadProfile} from '../src/profiles/index.js';
import {resolveTargets, runBenchmark} from '../src/run/index.js';
import {tempDir, useFixtureTree, withEnv} from './helpers.js';

const SWEEP = `name: sweep
description: two hakmem variants against two peers, on the fixture's benchmark
benchmark:
  program: echo_bench
  args: [500, 3]
threads:
  count: 3
  overridable: true
  arg: 1
env:
  HAKMEM_PURGE_LIMIT: 0
hakmem:
  - name: plain
    superslab: false
  - name: counted
    stats: 1
allocators: [glibc, hakmem, mimalloc]
`;

describe('resolveTargets', () => {
  const fixture = useFixtureTree();
  const profileFile = (): string => {
    const file = join(tempDir('hak-profiles-'), 'sweep.yaml');
    writeFileSync(file, SWEEP);
    return file;
  };

  it('builds every variant and lists one target per allocator and variant, in profile order', async () => {
    await withEnv(fixture.env(), async () => {
      const targets = await resolveTargets(await loadProfile(profileFile()), {threads: 2});
      expect(targets.map((target) => target.label)).toEqual(['glibc', 'hakmem:plain', 'hakmem:counted', 'mimalloc']);
      expect(targets.map((target) => target.allocator.preload)).toEqual([
        null,
        targets[1]!.variant!.library,
        targets[2]!.variant!.library,
        '/usr/lib/x86_64-linux-gnu/libmimalloc.so.2',
      ]);
      expect(targets[1]!.variant!.features).toMatchObject({superslab: false, stats: 0});
      expect(targets[2]!.variant!.features).toMatchObject({superslab: true, stats: 1});
      expect(new Set(targets.map((target) => target.program)).size).toBe(1);
      expect(targets.every((target) => target.args.join(' ') === '500 2')).toBe(true);
      expect(targets[0]!.env).toEqual({HAKMEM_PURGE_LIMIT: '0'});
    });
  });

  it('produces targets the runner can run', async () => {
    await withEnv(fixture.env(), async () => {
      const [target] = await resolveTargets(await loadProfile(profileFile()), {only: ['hakmem'], overrides: {features: {dualLists: false}}});
      expect(target!.label).toBe('hakmem:plain');
      const run = await runBenchmark({...target!, timeoutSeconds: 10, runIndex: 0, collectStats: true});
      expect(run.result.ops).toBe(500);
      expect(run.stats?.config).toMatchObject({superslab: false, dualLists: false});
    });
  });

  it('refuses allocators the profile does not compare', async () => {
    await withEnv(fixture.env(), async () => {
      await expect(resolveTargets(await loadProfile(profileFile()), {only: ['jemalloc']})).rejects.toThrow(UsageError);
    });
  });

  it('fails before running anything when a peer library is missing', async () => {
    await withEnv({...fixture.env(), HAK_SYSTEM_LIBDIR: tempDir('hak-libs-')}, async () => {
      await expect(resolveTargets(await loadProfile(profileFile()))).rejects.toThrow(MissingLibraryError);
    });
  });
});
