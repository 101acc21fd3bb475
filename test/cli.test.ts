/** The CLI as a user runs it: `node bin/run.js ...` in its own process. */
import {existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import {copyFixtureCsrc, runHak, tempDir, useFixtureTree} from './helpers.js';

/** No stack trace: no "    at ..." frames and no file:line references into hak's own code. */
function expectNoStack(text: string): void {
  expect(text).not.toMatch(/^\s+at /m);
  expect(text).not.toMatch(/dist\/|src\/.*\.ts/);
}

describe('usage errors', () => {
  it.each([
    [['build', '--stats', '7'], 'Error: Expected --stats=7 to be one of: 0, 1, 2'],
    [['build', '--cc', 'icc'], 'Error: Expected --cc=icc to be one of: gcc, clang'],
    [['build', '--sanitize', 'memory'], 'Error: Expected --sanitize=memory to be one of: address, thread, undefined'],
    [['build', '--turbo'], 'Error: Nonexistent flag: --turbo'],
    [['features', 'extra'], 'Error: Unexpected argument: extra'],
    [['frobnicate'], 'Error: unknown command "frobnicate".'],
    [['build', '--profile', 'no-such-profile'], 'Error: unknown profile "no-such-profile".'],
  ])('hak %j exits 2 with one clear line', async (args, message) => {
    const result = await runHak(args);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(message);
    expect(lines.length).toBeLessThanOrEqual(2);
    expectNoStack(result.stderr);
  });

  it('reports usage errors as JSON under --json', async () => {
    const result = await runHak(['build', '--stats', '9', '--json']);
    expect(result.exitCode).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      error: {code: 'usage', exitCode: 2, message: 'Expected --stats=9 to be one of: 0, 1, 2', hint: 'See the flags with --help.'},
    });
  });

  it('names the field and line of an invalid profile file', async () => {
    const dir = tempDir();
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'name: broken\ndescription: d\nbenchmark:\n  program: random_mixed\nwarmup: -1\n');
    const result = await runHak(['build', '--profile', file]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('broken.yaml:5: warmup: expected an integer from 0 to 100, got -1');
    expectNoStack(result.stderr);
  });
});

describe('hak --help', () => {
  it('lists every command', async () => {
    const result = await runHak(['--help']);
    expect(result.exitCode).toBe(0);
    for (const command of ['build', 'doctor', 'features', 'profiles']) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('documents the shared toggle flags on build', async () => {
    const result = await runHak(['build', '--help']);
    expect(result.stdout).toContain('--[no-]direct-cache');
    expect(result.stdout).toContain('--stats=<option>');
    expect(result.stdout).toContain('HAKMEM TOGGLE FLAGS');
  });
});

describe('hak build', () => {
  const env = useFixtureTree().env;

  it('builds, then reuses, and says so in its JSON', async () => {
    const first = await runHak(['build', '--no-dual-lists', '--stats', '1', '--json'], {env: env()});
    expect(first.exitCode).toBe(0);
    const built = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(built).toMatchObject({
      variant: expect.stringMatching(/^dc1-dl0-ss1-wt1-s1-gcc-[0-9a-f]{12}$/),
      features: {directCache: true, dualLists: false, superslab: true, wrapTiny: true, stats: 1, harden: false},
      cached: false,
      library: expect.stringMatching(/libhakmem\.so$/),
      manifest: expect.stringMatching(/manifest\.json$/),
    });
    expect(existsSync(built.library as string)).toBe(true);
    expect(built.benchmarks).toEqual({
      echo_bench: join(built.dir as string, 'bench', 'echo_bench'),
      fake_bench: join(built.dir as string, 'bench', 'fake_bench'),
    });
    const manifest = JSON.parse(readFileSync(built.manifest as string, 'utf8')) as {features: unknown};
    expect(manifest.features).toEqual(built.features);

    const second = await runHak(['build', '--no-dual-lists', '--stats', '1', '--json'], {env: env()});
    expect(JSON.parse(second.stdout)).toMatchObject({variant: built.variant, cached: true});

    const forced = await runHak(['build', '--no-dual-lists', '--stats', '1', '--force', '--json'], {env: env()});
    expect(JSON.parse(forced.stdout)).toMatchObject({variant: built.variant, cached: false});
  });

  it('prints what it built in plain text', async () => {
    const result = await runHak(['build', '--no-wrap-tiny'], {env: env()});
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^Built dc1-dl1-ss1-wt0-s0-gcc-[0-9a-f]{12}\n/);
    expect(result.stdout).toContain('wrap-tiny off');
    expect(result.stdout).toMatch(/programs\s+echo_bench/);
    expect(result.stderr).toBe('');
  });

  it('builds a hardened variant with --harden and reports it in its JSON', async () => {
    const result = await runHak(['build', '--harden', '--json'], {env: env()});
    expect(result.exitCode, result.stderr).toBe(0);
    const built = JSON.parse(result.stdout) as {variant: string; features: {harden: boolean}; manifest: string};
    expect(built.variant).toMatch(/^dc1-dl1-ss1-wt1-s0-h1-gcc-[0-9a-f]{12}$/);
    expect(built.features.harden).toBe(true);
    const manifest = JSON.parse(readFileSync(built.manifest, 'utf8')) as {flags: {make: string[]}; makeConfig: {harden: number}};
    expect(manifest.flags.make).toContain('HARDEN=1');
    expect(manifest.makeConfig.harden).toBe(1);
  });

  it('builds every variant a profile names', async () => {
    const result = await runHak(['build', '--profile', 'phases', '--json'], {env: env()});
    expect(result.exitCode).toBe(0);
    const sweep = JSON.parse(result.stdout) as {profile: string; variants: {name: string; variant: string}[]};
    expect(sweep.profile).toBe('phases');
    expect(sweep.variants.map((variant) => variant.name)).toEqual(['baseline', 'direct-cache', 'dual-lists', 'superslab']);
    expect(sweep.variants.map((variant) => variant.variant.slice(0, 15))).toEqual([
      'dc0-dl0-ss0-wt1',
      'dc1-dl0-ss0-wt1',
      'dc1-dl1-ss0-wt1',
      'dc1-dl1-ss1-wt1',
    ]);
  });

  it('lets toggle flags override a profile', async () => {
    const result = await runHak(['build', '--profile', 'random-mixed', '--no-superslab', '--json'], {env: env()});
    expect(JSON.parse(result.stdout)).toMatchObject({name: 'default', features: {superslab: false, directCache: true}});
  });

  it('exits 4 with the compiler\'s first errors and leaves no variant behind', async () => {
    const broken = copyFixtureCsrc();
    const brokenHome = tempDir('hak-home-');
    writeFileSync(join(broken, 'src', 'hakmem.c'), 'int f(void) { return missing_symbol; }\n');
    const result = await runHak(['build'], {env: {HAK_CSRC: broken, HAK_HOME: brokenHome}});
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/^Error: building dc1-dl1-ss1-wt1-s0-gcc-[0-9a-f]{12} failed: make exited with 2\.$/m);
    expect(result.stderr).toMatch(/hakmem\.c:1:\d+: error: .*missing_symbol/);
    expectNoStack(result.stderr);
    expect(readdirSync(join(brokenHome, 'builds'))).toEqual([]);
  });

  it('exits 3 when make is missing', async () => {
    const bin = tempDir('hak-bin-');
    symlinkSync(process.execPath, join(bin, 'node'));
    const result = await runHak(['build'], {env: {...env(), PATH: bin}});
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/^Error: make is not installed/);
    expect(result.stderr).toContain('apt-get install -y make');
  });

  it('leaves nothing behind when interrupted', async () => {
    const slow = copyFixtureCsrc();
    const slowHome = tempDir('hak-home-');
    const makefile = join(slow, 'Makefile');
    // The first compile step now waits long enough to be interrupted.
    writeFileSync(makefile, readFileSync(makefile, 'utf8').replace('\t@mkdir -p $(dir $@)\n\t$(CC) $(CFLAGS)', '\t@mkdir -p $(dir $@)\n\tsleep 20\n\t$(CC) $(CFLAGS)'));
    let pid = 0;
    const running = runHak(['build'], {env: {HAK_CSRC: slow, HAK_HOME: slowHome}, onSpawn: (child) => (pid = child)});
    const builds = join(slowHome, 'builds');
    for (let waited = 0; waited < 100 && !(existsSync(builds) && readdirSync(builds).length > 0); waited++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    expect(readdirSync(builds)[0]).toMatch(/^\.staging-/);
    // Let make reach its sleep, so there is a running build to stop.
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(pid, 'SIGINT');
    const result = await running;
    expect(result.exitCode, result.stderr).toBe(130);
    expect(readdirSync(builds)).toEqual([]);
  });
});

describe('hak features', () => {
  it('lists every toggle with its default and mechanism as JSON', async () => {
    const result = await runHak(['features', '--json']);
    expect(result.exitCode).toBe(0);
    const features = JSON.parse(result.stdout) as {toggles: {key: string; default: unknown; makeVariable: string; mechanism: string}[]};
    expect(features.toggles.map((toggle) => [toggle.key, toggle.default, toggle.makeVariable])).toEqual([
      ['directCache', true, 'DIRECT_CACHE'],
      ['dualLists', true, 'DUAL_LISTS'],
      ['superslab', true, 'SUPERSLAB'],
      ['wrapTiny', true, 'WRAP_TINY'],
      ['stats', 0, 'STATS'],
      ['harden', false, 'HARDEN'],
    ]);
    expect(features.toggles.every((toggle) => toggle.mechanism.length > 10)).toBe(true);
  });
});

describe('hak doctor', () => {
  it('exits 3 and prints the install command when tools and libraries are missing', async () => {
    const bin = tempDir('hak-bin-');
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/usr/bin/make', join(bin, 'make'));
    const result = await runHak(['doctor'], {env: {PATH: bin, HAK_SYSTEM_LIBDIR: tempDir('hak-libs-')}});
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toMatch(/^make\s+ok\s+GNU Make/m);
    expect(result.stdout).toMatch(/^gcc\s+MISSING/m);
    expect(result.stdout).toMatch(/^mimalloc\s+MISSING/m);
    expect(result.stdout).toMatch(/^To fix:\n {2}(sudo )?apt-get update && (sudo )?apt-get install -y gcc clang linux-perf valgrind libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 git$/m);
    expect(result.stderr).toMatch(/^Error: missing: gcc, clang, perf, valgrind, mimalloc, jemalloc, tcmalloc\.$/m);
  });

  it('reports each check under --json', async () => {
    const result = await runHak(['doctor', '--json'], {env: {HAK_SYSTEM_LIBDIR: tempDir('hak-libs-')}});
    expect(result.exitCode).toBe(3);
    const {error} = JSON.parse(result.stdout) as {error: {code: string; details: {checks: {name: string; status: string}[]}}};
    expect(error.code).toBe('missing-requirements');
    const status = Object.fromEntries(error.details.checks.map((check) => [check.name, check.status]));
    expect(status).toMatchObject({gcc: 'ok', make: 'ok', mimalloc: 'fail', jemalloc: 'fail', tcmalloc: 'fail'});
  });
});
