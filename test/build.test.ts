import {execFileSync} from 'node:child_process';
import {appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import {
  type BuildManifest,
  type BuiltVariant,
  benchmarkPath,
  buildVariant,
  buildStepTarget,
  checkVariantDir,
  identifyVariant,
  listBuiltVariants,
} from '../src/build/index.js';
import {sha256File} from '../src/build/sources.js';
import {BuildError, ExitCode} from '../src/errors.js';
import {copyFixtureCsrc, tempDir, useFixtureTree, withEnv} from './helpers.js';

function readManifest(built: BuiltVariant): BuildManifest {
  return JSON.parse(readFileSync(built.manifest, 'utf8')) as BuildManifest;
}

/** Everything in the builds directory, staging directories included. */
function buildsEntries(home: string): string[] {
  const dir = join(home, 'builds');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

describe('buildVariant', () => {
  const fixture = useFixtureTree();
  const env = fixture.env;

  it('builds a variant once, then reuses it', async () => {
    await withEnv(env(), async () => {
      const first = await buildVariant({features: {superslab: false}});
      expect(first.cached).toBe(false);
      expect(first.variant).toMatch(/^dc1-dl1-ss0-wt1-s0-gcc-[0-9a-f]{12}$/);
      expect(first.dir).toBe(join(fixture.home, 'builds', first.variant));
      expect(existsSync(first.library)).toBe(true);
      expect(first.benchmarks).toEqual({echo_bench: join(first.dir, 'bench', 'echo_bench'), fake_bench: join(first.dir, 'bench', 'fake_bench')});

      const builtAt = readManifest(first).builtAt;
      const second = await buildVariant({features: {superslab: false}});
      expect(second.cached).toBe(true);
      expect(second.variant).toBe(first.variant);
      expect(readManifest(second).builtAt).toBe(builtAt);
    });
  });

  it('rebuilds with force and replaces the old build', async () => {
    await withEnv(env(), async () => {
      const before = await buildVariant({features: {stats: 1}});
      const oldBuiltAt = readManifest(before).builtAt;
      await new Promise((resolve) => setTimeout(resolve, 5));
      const forced = await buildVariant({features: {stats: 1}}, {force: true});
      expect(forced.cached).toBe(false);
      expect(forced.variant).toBe(before.variant);
      expect(readManifest(forced).builtAt).not.toBe(oldBuiltAt);
      expect(buildsEntries(fixture.home).filter((name) => name.startsWith('.'))).toEqual([]);
    });
  });

  it('gives each configuration its own variant directory', async () => {
    await withEnv(env(), async () => {
      const a = await buildVariant({features: {directCache: false, dualLists: false, superslab: false}});
      const b = await buildVariant({features: {wrapTiny: false, stats: 2}, toolchain: {cc: 'clang'}});
      const c = await buildVariant({toolchain: {debug: true}});
      const d = await buildVariant({features: {harden: true}});
      expect(a.variant).toMatch(/^dc0-dl0-ss0-wt1-s0-gcc-/);
      expect(b.variant).toMatch(/^dc1-dl1-ss1-wt0-s2-clang-/);
      expect(c.variant).toMatch(/^dc1-dl1-ss1-wt1-s0-gcc-debug-/);
      expect(d.variant).toMatch(/^dc1-dl1-ss1-wt1-s0-h1-gcc-/);
      expect(new Set([a.dir, b.dir, c.dir, d.dir]).size).toBe(4);
      const listed = listBuiltVariants().map((built) => built.variant);
      expect(listed).toEqual(expect.arrayContaining([a.variant, b.variant, c.variant, d.variant]));
    });
  });

  it('writes a manifest with toggles, compiler, flags, sources and artifact hashes', async () => {
    await withEnv(env(), async () => {
      const built = await buildVariant({features: {dualLists: false, stats: 2}});
      const manifest = readManifest(built);
      expect(manifest.format).toBe(1);
      expect(manifest.variant).toBe(built.variant);
      expect(manifest.features).toEqual({directCache: true, dualLists: false, superslab: true, wrapTiny: true, stats: 2, harden: false});
      expect(manifest.toolchain).toMatchObject({cc: 'gcc', sanitize: null, debug: false});
      const gccVersion = execFileSync('gcc', ['-dumpversion'], {encoding: 'utf8'}).trim();
      expect(manifest.toolchain.compilerVersion).toBe(gccVersion);
      expect(manifest.flags.make).toEqual(expect.arrayContaining(['DIRECT_CACHE=1', 'DUAL_LISTS=0', 'STATS=2', 'HARDEN=0', 'CC=gcc']));
      expect(manifest.flags.cflags).toContain('-DDUAL_LISTS=0');
      expect(manifest.flags.ldflags).toBe('-shared');
      expect(manifest.makeConfig).toMatchObject({dualLists: 0, stats: 2});
      expect(manifest.sources.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(manifest.git).toEqual({commit: null, dirty: null});
      expect(Date.parse(manifest.builtAt)).toBeGreaterThan(Date.now() - 60_000);
      expect(manifest.artifacts.library.sha256).toBe(sha256File(built.library));
      expect(manifest.artifacts.staticLibrary?.path).toBe('libhakmem.a');
      expect(manifest.artifacts.benchmarks.echo_bench?.sha256).toBe(sha256File(join(built.dir, 'bench', 'echo_bench')));
    });
  });

  it('rebuilds a variant whose artifacts no longer match the manifest', async () => {
    await withEnv(env(), async () => {
      const built = await buildVariant({features: {wrapTiny: false}});
      appendFileSync(built.library, 'tampered');
      const again = await buildVariant({features: {wrapTiny: false}});
      expect(again.cached).toBe(false);
      expect(sha256File(again.library)).toBe(readManifest(again).artifacts.library.sha256);
    });
  });

  it('finds benchmark programs by name and names the ones it has when asked for another', async () => {
    await withEnv(env(), async () => {
      const built = await buildVariant();
      expect(benchmarkPath(built, 'echo_bench')).toBe(join(built.dir, 'bench', 'echo_bench'));
      expect(() => benchmarkPath(built, 'random_mixed')).toThrow(/random_mixed.*echo_bench/);
    });
  });

  it('builds the same variant concurrently without corrupting it', async () => {
    await withEnv(env(), async () => {
      const request = {features: {directCache: false}};
      const results = await Promise.all([buildVariant(request), buildVariant(request), buildVariant(request)]);
      expect(new Set(results.map((result) => result.dir)).size).toBe(1);
      const check = readManifest(results[0]!);
      expect(sha256File(results[0]!.library)).toBe(check.artifacts.library.sha256);
      expect(buildsEntries(fixture.home).filter((name) => name.startsWith('.'))).toEqual([]);
    });
  });

  it('removes staging directories left by processes that died', async () => {
    await withEnv(env(), async () => {
      const abandoned = join(fixture.home, 'builds', '.staging-999999999-abc123');
      mkdirSync(abandoned, {recursive: true});
      writeFileSync(join(abandoned, 'libhakmem.so'), 'half written');
      await buildVariant({features: {stats: 1}}, {force: true});
      expect(existsSync(abandoned)).toBe(false);
    });
  });
});

describe('variant identity', () => {
  it('changes when a source file changes', async () => {
    const csrc = copyFixtureCsrc();
    await withEnv({HAK_CSRC: csrc, HAK_HOME: tempDir()}, async () => {
      const before = await identifyVariant();
      appendFileSync(join(csrc, 'src', 'hakmem.c'), '\n/* edited */\n');
      const after = await identifyVariant();
      expect(after.variant).not.toBe(before.variant);
      expect(after.variant.slice(0, -12)).toBe(before.variant.slice(0, -12));
    });
  });

  it('ignores build outputs inside the source tree', async () => {
    const csrc = copyFixtureCsrc();
    await withEnv({HAK_CSRC: csrc, HAK_HOME: tempDir()}, async () => {
      const before = await identifyVariant();
      mkdirSync(join(csrc, 'build', 'x'), {recursive: true});
      writeFileSync(join(csrc, 'build', 'x', 'libhakmem.so'), 'output');
      writeFileSync(join(csrc, 'src', 'hakmem.o'), 'object');
      expect((await identifyVariant()).variant).toBe(before.variant);
    });
  });

  it('records the git commit and whether the sources were dirty', async () => {
    const csrc = copyFixtureCsrc();
    const git = (...args: string[]): string =>
      execFileSync('git', ['-C', csrc, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {encoding: 'utf8'}).trim();
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'fixture');
    const head = git('rev-parse', 'HEAD');
    await withEnv({HAK_CSRC: csrc, HAK_HOME: tempDir()}, async () => {
      const clean = await buildVariant();
      expect(readManifest(clean).git).toEqual({commit: head, dirty: false});
      appendFileSync(join(csrc, 'src', 'hakmem.c'), '\n/* uncommitted */\n');
      const dirty = await buildVariant();
      expect(dirty.variant).not.toBe(clean.variant);
      expect(readManifest(dirty).git).toEqual({commit: head, dirty: true});
    });
  });
});

describe('a failing build', () => {
  it('reports the compiler\'s first errors and leaves no variant behind', async () => {
    const csrc = copyFixtureCsrc();
    const home = tempDir('hak-home-');
    writeFileSync(join(csrc, 'src', 'hakmem.c'), 'int broken(void) { return undeclared_name; }\n');
    await withEnv({HAK_CSRC: csrc, HAK_HOME: home}, async () => {
      const error = await buildVariant().then(
        () => undefined,
        (error_: unknown) => error_,
      );
      expect(error).toBeInstanceOf(BuildError);
      const buildError = error as BuildError;
      expect(buildError.exitCode).toBe(ExitCode.BuildFailed);
      expect(buildError.facts.firstErrors[0]).toMatch(/hakmem\.c:1:\d+: error: .*undeclared_name/);
      expect(buildError.message).toContain('undeclared_name');
      expect(buildsEntries(home)).toEqual([]);
    });
  });

  it('refuses a build whose Makefile ignored a toggle', async () => {
    const csrc = copyFixtureCsrc();
    const home = tempDir('hak-home-');
    const makefile = join(csrc, 'Makefile');
    writeFileSync(makefile, readFileSync(makefile, 'utf8').replace('"superslab":%s', '"superslab":1').replace(' $(SUPERSLAB) $(WRAP_TINY)', ' $(WRAP_TINY)'));
    await withEnv({HAK_CSRC: csrc, HAK_HOME: home}, async () => {
      await expect(buildVariant({features: {superslab: false}})).rejects.toThrow(/print-config disagrees .*SUPERSLAB is 1, expected 0/);
      expect(buildsEntries(home)).toEqual([]);
    });
  });

  it('keeps the good build of a variant when a forced rebuild of it fails', async () => {
    const csrc = copyFixtureCsrc();
    const home = tempDir('hak-home-');
    // A gcc that reports the real version (same variant id) but fails every compile.
    const bin = tempDir('hak-bin-');
    writeFileSync(
      join(bin, 'gcc'),
      '#!/bin/sh\ncase "$1" in --version|-dumpversion) exec /usr/bin/gcc "$@";; esac\necho "x.c:1:1: error: injected failure" >&2\nexit 1\n',
      {mode: 0o755},
    );
    await withEnv({HAK_CSRC: csrc, HAK_HOME: home}, async () => {
      const good = await buildVariant();
      await withEnv({PATH: `${bin}:${process.env.PATH}`}, async () => {
        await expect(buildVariant({}, {force: true})).rejects.toThrow(/injected failure/);
      });
      expect(checkVariantDir(good.dir).ok).toBe(true);
      expect(buildsEntries(home)).toEqual([good.variant]);
    });
  });
});

describe('buildStepTarget', () => {
  it('names the file a make output line produces', () => {
    expect(buildStepTarget('gcc -std=c11 -O2 -MMD -MP -c src/hak_page.c -o /x/.staging-1-a/obj/hak_page.o')).toBe('hak_page.o');
    expect(buildStepTarget('rm -f /x/libhakmem.a && ar rcs /x/libhakmem.a /x/obj/a.o')).toBe('libhakmem.a');
    expect(buildStepTarget('gcc -O2 -o /x/bench/random_mixed.tmp bench/random_mixed.c')).toBe('random_mixed');
    expect(buildStepTarget("make: Leaving directory '/work/csrc'")).toBeUndefined();
  });
});
