import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {assert, describe, expect, it} from 'vitest';

import {ExitCode, ProfileError, UsageError} from '../src/errors.js';
import {DEFAULT_FEATURES, resolveFeatures} from '../src/features.js';
import {
  benchmarkArgs,
  callgrindArgs,
  loadAllProfiles,
  loadProfile,
  perfArgs,
  profileNames,
  profileVariantRequests,
} from '../src/profiles/index.js';
import {tempDir} from './helpers.js';

const SEED_PROFILES = [
  'cross-thread',
  'false-sharing',
  'fragment-stress',
  'gcc-compile',
  'growing-cache',
  'harden',
  'idle-release',
  'large-churn',
  'larson-cxx',
  'larson-mid',
  'larson-tiny',
  'malloc-thread',
  'memcached',
  'mid-large-mt',
  'mimalloc-stress',
  'mimalloc-stress-large',
  'perl-words',
  'phases',
  'producer-consumer',
  'python-containers',
  'quick-wins',
  'random-churn',
  'random-mixed',
  'redis',
  'scarce-limit',
  'short-threads',
  'slot-churn',
  'stress-exchange',
  'thread-churn',
  'tiny-hot',
  'tiny-working-set',
];

/** Writes a profile file into a fresh directory and returns its path. */
function writeProfile(name: string, text: string, extension = '.yaml'): string {
  const file = join(tempDir('hak-profiles-'), `${name}${extension}`);
  writeFileSync(file, text);
  return file;
}

async function loadError(file: string): Promise<ProfileError> {
  const error = await loadProfile(file).then(
    () => undefined,
    (error_: unknown) => error_,
  );
  expect(error).toBeInstanceOf(ProfileError);
  return error as ProfileError;
}

const MINIMAL = `name: tiny
description: a test profile
benchmark:
  program: random_mixed
  args: [1000, 64, 7, 16, 1039]
`;

describe('shipped profiles', () => {
  it('has one valid profile for every seed measurement', async () => {
    expect(profileNames()).toEqual(SEED_PROFILES);
    const profiles = await loadAllProfiles();
    expect(profiles.map((profile) => profile.name)).toEqual(SEED_PROFILES);
  });

  it('sweeps the roadmap phases from a baseline, adding one mechanism at a time with the tiny pool on', async () => {
    const phases = await loadProfile('phases');
    const steps = profileVariantRequests(phases).map(({name, request}) => ({name, features: resolveFeatures(request.features)}));
    expect(steps.map((step) => step.name)).toEqual(['baseline', 'direct-cache', 'dual-lists', 'superslab']);
    expect(steps.map(({features}) => [features.directCache, features.dualLists, features.superslab])).toEqual([
      [false, false, false],
      [true, false, false],
      [true, true, false],
      [true, true, true],
    ]);
    expect(steps.every(({features}) => features.wrapTiny)).toBe(true);
    expect(phases.variants.map((variant) => variant.expected)).toEqual([
      null,
      '+15-20% (roadmap phase 1)',
      '+10-15% (roadmap phase 2)',
      '+10-15% (battle plan MF2)',
    ]);
  });

  it('sweeps harden off and on with every other toggle at its default', async () => {
    const harden = await loadProfile('harden');
    const steps = profileVariantRequests(harden).map(({name, request}) => ({name, features: resolveFeatures(request.features)}));
    expect(steps).toEqual([
      {name: 'default', features: {...DEFAULT_FEATURES, harden: false}},
      {name: 'harden', features: {...DEFAULT_FEATURES, harden: true}},
    ]);
    expect(harden.benchmark.program).toBe('random_mixed');
  });

  it('runs larson-mid on four threads by default and lets --threads change the thread argument', async () => {
    const profile = await loadProfile('larson-mid');
    expect(profile.benchmark.program).toBe('larson');
    expect(benchmarkArgs(profile)[6]).toBe('4');
    const two = benchmarkArgs(profile, {threads: 2});
    expect(two[6]).toBe('2');
    expect(two.slice(0, 6)).toEqual(profile.benchmark.args.slice(0, 6));
    expect(callgrindArgs(profile, {threads: 2})[6]).toBe('2');
    expect(perfArgs(profile, {threads: 2})[6]).toBe('2');
  });

  it('refuses --threads for a single-threaded profile', async () => {
    const profile = await loadProfile('tiny-hot');
    expect(benchmarkArgs(profile, {threads: 1})).toEqual(profile.benchmark.args);
    expect(() => benchmarkArgs(profile, {threads: 2})).toThrow(UsageError);
  });

  it('runs the five quick-wins patterns', async () => {
    const profile = await loadProfile('quick-wins');
    expect(profile.benchmark.args[0]).toBe('all');
  });

  it('gives callgrind shorter runs than the benchmark', async () => {
    for (const profile of await loadAllProfiles()) {
      if (profile.callgrind.args === profile.benchmark.args) continue;
      expect(profile.callgrind.args.length, profile.name).toBe(profile.benchmark.args.length);
      expect(profile.callgrind.args, profile.name).not.toEqual(profile.benchmark.args);
    }
  });
});

describe('a profile of kind command', () => {
  const COMMAND = 'name: cmd\nkind: command\ndescription: any program\n';

  it('reads the command line, its directory and stdin relative to the file, and the figure', async () => {
    const file = writeProfile('cmd', `${COMMAND}command:\n  argv: [python3, run.py, 3]\n  cwd: work\n  stdin: input.txt\n  figure: {regex: 'took (\\d+) ms', unit: ms, better: lower}\nruns: 3\n`);
    const profile = await loadProfile(file);
    const dir = file.slice(0, file.lastIndexOf('/'));
    expect(profile).toMatchObject({
      kind: 'command',
      benchmark: {program: 'python3', args: ['run.py', '3']},
      command: {argv: ['python3', 'run.py', '3'], cwd: join(dir, 'work'), stdin: join(dir, 'input.txt'), figure: {regex: 'took (\\d+) ms', unit: 'ms', better: 'lower'}, checkOutput: true},
      runs: 3,
      timeoutSeconds: 120,
    });
  });

  it('reads an address-space limit, none by default, and refuses one too small to start a program', async () => {
    const limited = await loadProfile(writeProfile('cmd', `${COMMAND}command:\n  argv: [echo, hi]\nlimits:\n  addressSpaceKib: 150000\n`));
    expect(limited.addressSpaceKib).toBe(150000);
    expect((await loadProfile(writeProfile('cmd', `${COMMAND}command:\n  argv: [echo, hi]\n`))).addressSpaceKib).toBeNull();
    expect((await loadProfile('scarce-limit')).addressSpaceKib).toBe(150000);
    const error = await loadError(writeProfile('cmd', `${COMMAND}command:\n  argv: [echo, hi]\nlimits:\n  addressSpaceKib: 10\n`));
    expect(error.issues.map((issue) => issue.field)).toEqual(['limits.addressSpaceKib']);
  });

  it('defaults to wall time, lower is better, with output checked', async () => {
    const profile = await loadProfile(writeProfile('cmd', `${COMMAND}command:\n  argv: [echo, hi]\n`));
    assert(profile.kind === 'command');
    expect(profile.command).toEqual({argv: ['echo', 'hi'], cwd: null, stdin: null, figure: null, checkOutput: true});
  });

  it('names the file, line and field of each mistake', async () => {
    const error = await loadError(writeProfile('cmd', `${COMMAND}command:\n  argv: []\n  figure: {regex: '(', unit: ms, better: less}\nbenchmark:\n  program: tiny_hot\n`));
    expect(error.exitCode).toBe(ExitCode.Usage);
    expect(error.issues.map((issue) => [issue.field, issue.line])).toEqual([
      ['benchmark', 8],
      ['command.argv', 5],
      ['command.figure.regex', 6],
      ['command.figure.better', 6],
    ]);
    expect(error.issues[0]!.expected).toMatch(/^expected no such field; allowed: name, kind, description, command/);
    expect(error.issues[2]!.expected).toMatch(/^expected a regular expression \(Invalid regular expression/);
    expect(error.issues[3]!.expected).toBe('expected one of lower, higher, got "less"');
  });

  it('rejects an unknown kind', async () => {
    const error = await loadError(writeProfile('cmd', 'name: cmd\nkind: script\ndescription: d\nbenchmark:\n  program: tiny_hot\n'));
    expect(error.issues[0]).toMatchObject({field: 'kind', line: 2, expected: 'expected one of benchmark, command, server, got "script"'});
  });
});

describe('loading a profile file', () => {
  it('fills in defaults for the optional fields', async () => {
    const profile = await loadProfile(writeProfile('tiny', MINIMAL));
    expect(profile).toMatchObject({
      name: 'tiny',
      benchmark: {program: 'random_mixed', args: ['1000', '64', '7', '16', '1039']},
      threads: {count: 1, overridable: false, arg: null},
      env: {},
      variants: [{name: 'default', features: {}}],
      allocators: ['hakmem', 'glibc', 'mimalloc', 'jemalloc', 'tcmalloc'],
      runs: 5,
      warmup: 1,
      timeoutSeconds: 120,
      callgrind: {args: ['1000', '64', '7', '16', '1039']},
      perf: {event: 'auto', frequency: 999, callGraph: 'dwarf'},
    });
  });

  it('reads JSON profiles with the same schema', async () => {
    const file = writeProfile('json-one', JSON.stringify({name: 'json-one', description: 'd', benchmark: {program: 'tiny_hot'}, hakmem: {stats: 2}}), '.json');
    const profile = await loadProfile(file);
    expect(profile.variants).toEqual([{name: 'default', features: {stats: 2}, expected: null}]);
  });

  it('names the file, line, field and expectation of a bad value', async () => {
    const file = writeProfile('tiny', `${MINIMAL}runs: five\n`);
    const error = await loadError(file);
    expect(error.exitCode).toBe(ExitCode.Usage);
    expect(error.issues).toEqual([{field: 'runs', expected: 'expected an integer from 1 to 1000, got "five"', line: 6}]);
    expect(error.message).toMatch(/tiny\.yaml:6: runs: expected an integer from 1 to 1000, got "five"$/);
  });

  it('reports every problem, nested ones with their path', async () => {
    const file = writeProfile(
      'tiny',
      `${MINIMAL}allocators: [hakmem, ptmalloc]\nhakmem:\n  - name: base\n    superslab: maybe\n    turbo: true\nperf:\n  callGraph: lbr\n`,
    );
    const error = await loadError(file);
    expect(error.issues).toEqual(
      expect.arrayContaining([
        {field: 'hakmem[0].superslab', expected: 'expected true or false, got "maybe"', line: 9},
        {field: 'hakmem[0].turbo', expected: expect.stringMatching(/^expected a toggle: name, expected, directCache, .*stats, harden$/), line: 10},
        {field: 'allocators[1]', expected: 'expected one of hakmem, glibc, mimalloc, jemalloc, tcmalloc, got "ptmalloc"', line: 6},
        {field: 'perf.callGraph', expected: 'expected one of none, fp, dwarf, got "lbr"', line: 12},
      ]),
    );
    expect(error.issues).toHaveLength(4);
  });

  it('checks a sweep step\'s expected gain', async () => {
    const error = await loadError(writeProfile('tiny', `${MINIMAL}hakmem:\n  - name: base\n  - name: next\n    expected: 15\n    superslab: false\n`));
    expect(error.issues).toEqual([{field: 'hakmem[1].expected', expected: 'expected a non-empty string, got 15', line: 9}]);
    const profile = await loadProfile(writeProfile('tiny', `${MINIMAL}hakmem:\n  - name: base\n  - name: next\n    expected: "+5%"\n`));
    expect(profile.variants).toEqual([
      {name: 'base', features: {}, expected: null},
      {name: 'next', features: {}, expected: '+5%'},
    ]);
  });

  it('points a missing field at its parent', async () => {
    const error = await loadError(writeProfile('tiny', 'name: tiny\ndescription: d\nbenchmark:\n  args: [1]\n'));
    expect(error.issues).toEqual([{field: 'benchmark.program', expected: expect.stringContaining('benchmark program name'), line: 4}]);
  });

  it('rejects unknown top-level fields and a name that differs from the file', async () => {
    const error = await loadError(writeProfile('tiny', MINIMAL.replace('name: tiny', 'name: other') + 'iterations: 3\n'));
    expect(error.issues.map((issue) => issue.field).sort()).toEqual(['iterations', 'name']);
    expect(error.issues.find((issue) => issue.field === 'name')?.expected).toBe('expected "tiny", the file\'s name, got "other"');
  });

  it('requires the thread argument to say the thread count', async () => {
    const error = await loadError(writeProfile('tiny', `${MINIMAL}threads:\n  count: 4\n  overridable: true\n  arg: 1\n`));
    expect(error.issues).toEqual([{field: 'benchmark.args[1]', expected: 'expected the thread count 4 (threads.arg points here), got "64"', line: 5}]);
  });

  it('refuses LD_PRELOAD in env', async () => {
    const error = await loadError(writeProfile('tiny', `${MINIMAL}env:\n  LD_PRELOAD: /tmp/x.so\n`));
    expect(error.issues[0]).toMatchObject({field: 'env.LD_PRELOAD', line: 7});
  });

  it('reports YAML syntax errors with their line', async () => {
    const error = await loadError(writeProfile('tiny', 'name: tiny\ndescription: [unclosed\nruns: 3\n'));
    expect(error.issues[0]?.field).toBe('(syntax)');
    expect(error.issues[0]?.line).toBeGreaterThanOrEqual(2);
  });

  it('lists the known profiles when a name is unknown', async () => {
    await expect(loadProfile('no-such-profile')).rejects.toThrow(UsageError);
    const error = await loadProfile('no-such-profile').then(
      () => undefined,
      (error_: unknown) => error_ as UsageError,
    );
    expect(error?.hint).toContain('random-mixed');
  });
});
