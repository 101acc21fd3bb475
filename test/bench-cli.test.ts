/** hak bench and hak compare as a user runs them, on the fixture's fake benchmark. */
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import type {RecordComparison} from '../src/bench/compare.js';
import type {BenchRecord} from '../src/bench/record.js';
import type {BenchJson} from '../src/commands/bench.js';
import {fakeProfile, RATES} from './bench-fixtures.js';
import {ROOT, runHak, tempDir, useFixtureTree} from './helpers.js';

describe('hak bench', () => {
  const fixture = useFixtureTree();

  it('prints the table, the failure with its stderr, the INVALID hakmem, and exits 5', async () => {
    const profile = fakeProfile({...RATES, FAKE_FAULT_JEMALLOC: 'segv'}, {allocators: 'hakmem, glibc, mimalloc, jemalloc'});
    const result = await runHak(['bench', profile, '--no-save'], {env: fixture.env()});
    expect(result.exitCode).toBe(5);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^fake: fake_bench 1000 \(1 thread\) · /);
    expect(lines[1]).toMatch(/^target\s+median ops\/s\s+95% CI\s+min–max\s+peak RSS\s+vs mimalloc\s+95% CI\s+verdict$/);
    expect(result.stdout).toMatch(/^hakmem\s+INVALID\s+—$/m);
    expect(result.stdout).toMatch(/^glibc\s+\d+\.\d+k?M?\s+\S+\s+\S+\s+2\.0 MiB\s+×0\.[45]\d\d\s+0\.\d+–0\.\d+\s+slower$/m);
    expect(result.stdout).toMatch(/^mimalloc\s+.*baseline$/m);
    expect(result.stdout).toMatch(/^jemalloc\s+FAILED\s+—$/m);
    expect(result.stdout).toContain('jemalloc: FAILED in warm-up run 1 of 1: crashed: killed by SIGSEGV.');
    expect(result.stdout).toContain('    | fake_bench: crashing on purpose');
    expect(result.stdout).toMatch(/hakmem: INVALID: in every run, the program's malloc is bound to libc\.so\.6/);
    expect(result.stdout).toContain('Not saved (--no-save)');
    expect(result.stderr).toBe('Error: 1 of 4 targets failed (jemalloc); the other results stand.\n  Each failure is shown above with the end of its stderr and the command that reproduces it.\n');
  });

  it('prices harden with --harden: the profile\'s build against its hardened twin, the default the baseline, no peers', async () => {
    const result = await runHak(['bench', fakeProfile(RATES), '--harden', '--json', '--runs', '3', '--no-save'], {env: fixture.env()});
    const json = JSON.parse(result.stdout) as BenchJson;
    expect(json.baseline).toBe('hakmem:default');
    expect(json.results.map((entry) => [entry.label, entry.variant])).toEqual([['hakmem:default', 'default'], ['hakmem:harden', 'harden']]);
    expect(json.results[1]!.variantId).toMatch(/-h1-/);
    expect(json.results[0]!.variantId).not.toMatch(/-h1-/);
  });

  it('returns the results as one JSON object, still exiting with the failure\'s code', async () => {
    const profile = fakeProfile({...RATES, FAKE_FAULT_GLIBC: 'exit'});
    const result = await runHak(['bench', profile, '--json', '--runs', '4', '--no-save'], {env: fixture.env()});
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toBe('');
    const json = JSON.parse(result.stdout) as BenchJson;
    expect(json).toMatchObject({profile: 'fake', id: null, file: null, complete: false, baseline: 'mimalloc', benchmark: {runs: 4, warmup: 1}});
    expect(json.results.map((entry) => [entry.allocator, entry.status, entry.verified])).toEqual([
      ['hakmem', 'invalid', false],
      ['glibc', 'failed', null],
      ['mimalloc', 'ok', null],
    ]);
    const mimalloc = json.results[2]!;
    expect(mimalloc.runs).toHaveLength(4);
    expect(mimalloc.ci95![0]).toBeLessThanOrEqual(mimalloc.median!);
    expect(mimalloc.ci95![1]).toBeGreaterThanOrEqual(mimalloc.median!);
    expect(mimalloc.peakRssKb).toBe(2048);
    expect(json.results[1]!.failure).toMatchObject({failure: 'exit', exitCode: 4, runIndex: 0});
    // an INVALID result keeps its raw figures in JSON, without a ratio
    expect(json.results[0]!.runs).toHaveLength(4);
    expect(json.results[0]!.vsBaseline).toBeNull();
  });

  it('exits 1 when hakmem did not serve, 0 when every result is valid', async () => {
    const invalid = await runHak(['bench', fakeProfile(RATES, {allocators: 'hakmem, glibc'}), '--no-save'], {env: fixture.env()});
    expect(invalid.exitCode).toBe(1);
    expect(invalid.stderr).toMatch(/^Error: hakmem: INVALID, not a measurement of the allocator named/m);
    expect(invalid.stderr).toContain('Warning: mimalloc is not among the targets: ratios are to glibc.');
    const valid = await runHak(['bench', fakeProfile(RATES), '--allocators', 'glibc,mimalloc', '--baseline', 'glibc', '--no-save'], {env: fixture.env()});
    expect(valid.exitCode).toBe(0);
    expect(valid.stdout).toMatch(/^mimalloc\s+.*×(1\.9|2\.0)\d\d\s+\S+\s+faster$/m);
  });

  it('saves each result, which hak compare reads back with the same verdicts', async () => {
    const dir = tempDir('hak-profiles-');
    const before = await runHak(['bench', fakeProfile(RATES, {allocators: 'glibc, mimalloc', dir}), '--json'], {env: fixture.env()});
    const after = await runHak(['bench', fakeProfile({...RATES, FAKE_RATE_MIMALLOC: '1000000'}, {allocators: 'glibc, mimalloc', dir}), '--json'], {env: fixture.env()});
    const [a, b] = [before, after].map((result) => JSON.parse(result.stdout) as BenchJson);
    expect(a!.file).toBe(join(fixture.home, 'results', 'bench', `${a!.id}.json`));
    expect(b!.id).toMatch(/^\d{8}T\d{6}Z(\.\d+)?-fake$/);
    const saved = JSON.parse(readFileSync(b!.file!, 'utf8')) as BenchRecord;
    expect(saved).toMatchObject({kind: 'bench', format: 1, id: b!.id, complete: true, profile: {name: 'fake', program: 'fake_bench'}});
    expect(saved.machine.cores).toBeGreaterThan(0);
    expect(saved.compiler).toMatch(/\d/);
    expect(saved.targets[1]!.library).toMatchObject({debianPackage: 'libmimalloc2.0'});
    expect(saved.targets[0]!.runs.map((run) => run.opsPerSec)).toEqual(b!.results[0]!.runs);

    const compared = await runHak(['compare', 'previous', 'latest', '--json'], {env: fixture.env()});
    expect(compared.exitCode).toBe(0);
    const comparison = JSON.parse(compared.stdout) as RecordComparison;
    expect(comparison.a.id).toBe(a!.id);
    expect(comparison.b.id).toBe(b!.id);
    const mimalloc = comparison.targets.find((target) => target.label === 'mimalloc')!;
    expect(mimalloc.change!.verdict).toBe('slower');
    expect(mimalloc.change!.ratio).toBeCloseTo(0.5, 1);
    expect(comparison.targets.find((target) => target.label === 'glibc')!.change!.verdict).toBe('within noise');
    // the same statistics as bench: A's figures recomputed from its saved samples
    expect(mimalloc.a.ci95).toEqual(a!.results[1]!.ci95);

    const text = await runHak(['compare', a!.id!.slice(0, 17), b!.file!], {env: fixture.env()});
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^target\s+A median\s+A 95% CI\s+B median\s+B 95% CI\s+B\/A\s+95% CI\s+verdict$/m);
    expect(text.stdout).toMatch(/^mimalloc\s+\S+\s+\S+\s+\S+\s+\S+\s+×0\.\d+\s+\S+\s+slower$/m);
  });

  it('writes an SVG chart with interval bars and the INVALID result marked', async () => {
    const chart = join(tempDir(), 'charts', 'fake.svg');
    const result = await runHak(['bench', fakeProfile(RATES), '--no-save', '--chart', chart], {env: fixture.env()});
    expect(result.exitCode).toBe(1);
    const svg = readFileSync(chart, 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('<title>fake: fake_bench 1000</title>');
    expect(svg).toContain('INVALID: in every run, the program&apos;s malloc is bound to libc.so.6');
    // bars for glibc and mimalloc only, each with a whisker
    expect(svg.match(/<rect x="180" y="[\d.]+" width="[\d.]+" height="18" fill="#/g)).toHaveLength(2);
    expect(svg.match(/<path d="M[\d.]+ [\d.]+H/g)).toHaveLength(2);
    expect(readdirSync(join(chart, '..'))).toEqual(['fake.svg']);
  });

  it('exports the valid results in Bencher Metric Format with --export bmf=FILE', async () => {
    const file = join(tempDir(), 'bmf.json');
    const result = await runHak(['bench', fakeProfile(RATES), '--no-save', '--json', '--export', `bmf=${file}`], {env: fixture.env()});
    expect(result.exitCode).toBe(1);
    expect((JSON.parse(result.stdout) as BenchJson).export).toBe(file);
    const bmf = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, {value: number}>>;
    // hakmem is INVALID in this fixture, so only the peers are exported
    expect(Object.keys(bmf).sort()).toEqual(['fake/glibc', 'fake/mimalloc']);
    expect(bmf['fake/glibc']!.throughput!.value).toBeGreaterThan(0);
  });

  it('lists the known profiles for an unknown one', async () => {
    const result = await runHak(['bench', 'no-such-profile']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(`Error: unknown profile "no-such-profile".\n  Known profiles: ${readdirSync(join(ROOT, 'profiles')).filter((file) => file.endsWith('.yaml')).map((file) => file.replace('.yaml', '')).sort().join(', ')}.\n`);
  });

  it.each([
    [['--allocators', 'glibc,ptmalloc'], 'Error: unknown allocator "ptmalloc": expected one of hakmem, glibc, mimalloc, jemalloc, tcmalloc, scudo, or NAME=PATH for any malloc library.'],
    [['--allocators', 'glibc,mine=/no/such/libmine.so'], 'Error: --allocators mine=/no/such/libmine.so: /no/such/libmine.so does not exist or is not a file.'],
    [['--allocators', `glibc,mine=${join(ROOT, 'package.json')}`], `Error: --allocators mine=${join(ROOT, 'package.json')}: ${join(ROOT, 'package.json')} is not a shared library hak can preload (not an ELF file).`],
    [['--baseline', 'tcmalloc'], 'Error: --baseline tcmalloc: it is not among the targets.'],
    [['--noise', 'lots'], 'Error: --noise: expected a percentage from 0 to below 100, got lots'],
    [['--runs', '0'], 'Error: --runs: Expected an integer greater than or equal to 1 but received: 0'],
    [['--threads', '2'], 'Error: profile fake runs with 1 thread(s); --threads cannot change it.'],
    [['--export', 'bmf', 'bmf.json'], 'Error: --export bmf: name the file to write after the format, as FORMAT=FILE.'],
    [['--export', 'csv=out.csv'], 'Error: --export csv=out.csv: the format must be one of bmf (bmf: Bencher Metric Format), written FORMAT=FILE.'],
    [['--export'], 'Error: --export expects a value.'],
  ])('rejects %j with exit 2 and nothing saved', async (flags, message) => {
    const result = await runHak(['bench', fakeProfile(RATES), ...flags], {env: fixture.env()});
    expect(result.exitCode).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe(message);
    expect(existsSync(join(fixture.home, 'results', 'bench')) ? readdirSync(join(fixture.home, 'results', 'bench')).filter((name) => name.startsWith('.')) : []).toEqual([]);
  });

  it('names the Debian package of a missing peer, and skips it with --allow-missing', async () => {
    const env = {...fixture.env(), HAK_SYSTEM_LIBDIR: tempDir('hak-libs-')};
    const missing = await runHak(['bench', fakeProfile(RATES, {allocators: 'glibc, jemalloc'}), '--no-save'], {env});
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toMatch(/^Error: jemalloc is not installed: .*libjemalloc\.so\.2 does not exist\.\n {2}Install the Debian package libjemalloc2: /);
    const allowed = await runHak(['bench', fakeProfile(RATES, {allocators: 'glibc, jemalloc'}), '--no-save', '--allow-missing'], {env});
    expect(allowed.exitCode).toBe(0);
    expect(allowed.stderr).toContain('Warning: jemalloc skipped:');
    expect(allowed.stdout).not.toMatch(/^jemalloc/m);
  });
});

describe('hak compare', () => {
  const fixture = useFixtureTree();

  it('says what to do when nothing is saved, and names what a reference matches', async () => {
    const none = await runHak(['compare', 'previous', 'latest'], {env: fixture.env()});
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/^Error: no saved bench results in .*results\/bench\.\n {2}Run hak bench first/);
    await runHak(['bench', fakeProfile(RATES, {allocators: 'glibc'}), '--json'], {env: fixture.env()});
    const one = await runHak(['compare', 'previous', 'latest'], {env: fixture.env()});
    expect(one.stderr).toMatch(/^Error: there is no previous result: only \S+-fake is saved\.$/m);
    const unknown = await runHak(['compare', 'latest', '1999'], {env: fixture.env()});
    expect(unknown.stderr).toMatch(/^Error: no saved result matches "1999"\.\n {2}Most recent: \S+-fake\.\n$/);
  });

  it('refuses results of different arguments', async () => {
    const first = JSON.parse((await runHak(['bench', fakeProfile(RATES, {allocators: 'glibc'}), '--json'], {env: fixture.env()})).stdout) as BenchJson;
    const other = fakeProfile(RATES, {allocators: 'glibc', args: '2000'});
    const second = JSON.parse((await runHak(['bench', other, '--json'], {env: fixture.env()})).stdout) as BenchJson;
    const result = await runHak(['compare', first.file!, second.file!], {env: fixture.env()});
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('ran "fake_bench 1000" and');
    expect(result.stderr).toContain('their numbers are not comparable');
  });
});
