/**
 * hak bench --base on the real allocator: a change repository whose 4th commit builds hakmem at
 * -O0, measured against BASE. Only the verdict on that several-times slowdown is asserted, never
 * a figure.
 */
import {existsSync, readdirSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import type {BenchJson, SuiteJson} from '../src/commands/bench.js';
import {type ChangeRepo, checkoutCommit, csrcTree, makeChangeRepo, shortSha} from './change-repo.js';
import {runHak, tempDir} from './helpers.js';

/** Builds of the real csrc/ (a few seconds each) and short runs at -O0. */
const TEST_TIMEOUT_MS = 300_000;
const SHORT = ['--allocators', 'hakmem', '--runs', '3', '--warmup', '0', '--json'];

/** Each build directory and when its manifest was written: a rebuild changes one or the other. */
function builds(home: string): Record<string, number> {
  const dir = join(home, 'builds');
  return Object.fromEntries(readdirSync(dir).map((name) => [name, statSync(join(dir, name, 'manifest.json')).mtimeMs]));
}

describe('hak bench --base', {timeout: TEST_TIMEOUT_MS}, () => {
  let repo: ChangeRepo;
  let home: string;
  let baseTag: string;
  const env = () => ({HAK_CSRC: repo.csrc, HAK_HOME: home});

  beforeAll(() => {
    repo = makeChangeRepo();
    home = tempDir('hak-home-');
    baseTag = shortSha(repo, repo.base);
  });

  async function benchJson(args: string[]): Promise<BenchJson> {
    const result = await runHak(['bench', ...args], {env: env()});
    expect(result.exitCode, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as BenchJson;
  }

  it('finds the work tree at HEAD, built at -O0, slower than BASE', async () => {
    checkoutCommit(repo, repo.head);
    const json = await benchJson(['tiny-hot', '--base', repo.base, ...SHORT]);
    expect(json.baseline).toBe(`hakmem@${baseTag}`);
    expect(json.results.map((result) => [result.label, result.allocator, result.status, result.verified, result.runs.length])).toEqual([
      [`hakmem@${baseTag}`, 'hakmem', 'ok', true, 3],
      ['hakmem', 'hakmem', 'ok', true, 3],
    ]);
    const [base, work] = json.results;
    expect(base!.revision).toEqual({ref: repo.base, commit: repo.base, subject: 'BASE: hakmem as the project has it', dirty: false, csrcTree: csrcTree(repo, repo.base)});
    expect(work!.revision).toEqual({ref: 'work tree', commit: repo.head, subject: repo.commits.at(-1)!.subject, dirty: false, csrcTree: csrcTree(repo, repo.head)});
    expect(base!.vsBaseline).toBeNull();
    expect(work!.vsBaseline?.verdict).toBe('slower');
    expect(work!.variantId).not.toBe(base!.variantId);
    // the same work under both libraries; BASE exported once into the cache
    expect(new Set(json.results.map((result) => result.checksum)).size).toBe(1);
    expect(readdirSync(join(home, 'sources'))).toEqual([csrcTree(repo, repo.base)]);
  });

  it('rebuilds nothing for a docs-only commit before the slow one, and finds it not slower', async () => {
    const docs = repo.commits.find((commit, index) => !commit.slow && index < repo.commits.indexOf(repo.slowCommit))!;
    checkoutCommit(repo, docs.sha);
    // BASE's build and the -O0 one, from the test above (they share HAK_HOME)
    const before = builds(home);
    expect(Object.keys(before), 'the first test builds BASE').toHaveLength(2);

    // The same library on both sides: only noise can tell them apart (three runs each on a busy
    // machine have been seen 35% apart), and hak says so rather than calling it a change.
    const json = await benchJson(['tiny-hot', '--base', repo.base, ...SHORT]);
    expect(builds(home)).toEqual(before);
    expect(readdirSync(join(home, 'sources'))).toEqual([csrcTree(repo, repo.base)]);
    const [base, work] = json.results;
    expect(base!.label).toBe(`hakmem@${baseTag}`);
    expect(work!.revision).toEqual({ref: 'work tree', commit: docs.sha, subject: docs.subject, dirty: false, csrcTree: csrcTree(repo, repo.base)});
    // one build serves both: the same csrc/ content is the same variant
    expect(work!.variantId).toBe(base!.variantId);
    expect(work!.vsBaseline?.verdict).toBe('within noise');
    expect(json.warnings).toContainEqual(expect.stringMatching(/^hakmem and hakmem@\w+ are the same build/));
  });

  it('refuses an unknown ref with exit 2 and one line naming it, before building anything', async () => {
    const fresh = tempDir('hak-home-');
    const args = ['bench', 'tiny-hot', '--base', 'nosuchref', '--allocators', 'hakmem', '--runs', '3', '--warmup', '0'];
    const result = await runHak(args, {env: {HAK_CSRC: repo.csrc, HAK_HOME: fresh}});
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    const [message, ...hint] = result.stderr.trimEnd().split('\n');
    expect(message).toBe('Error: nosuchref: neither a commit of this repository nor a directory.');
    expect(hint).toEqual(['  Give a branch, tag, sha or HEAD~N (git rev-parse must know it), or a directory holding csrc/.']);

    const json = await runHak([...args, '--json'], {env: {HAK_CSRC: repo.csrc, HAK_HOME: fresh}});
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({error: {code: 'usage', exitCode: 2, message: 'nosuchref: neither a commit of this repository nor a directory.'}});
    expect(existsSync(join(fresh, 'builds'))).toBe(false);
    expect(existsSync(join(fresh, 'sources'))).toBe(false);
  });

  it('summarizes several profiles with one row each and a geometric mean', async () => {
    checkoutCommit(repo, repo.head);
    const result = await runHak(['bench', 'tiny-hot', 'larson-tiny', '--base', repo.base, ...SHORT], {env: env()});
    expect(result.exitCode, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as SuiteJson;
    expect(json.profiles.map((profile) => [profile.profile, profile.baseline, profile.results.map((entry) => entry.label)])).toEqual([
      ['tiny-hot', `hakmem@${baseTag}`, [`hakmem@${baseTag}`, 'hakmem']],
      ['larson-tiny', `hakmem@${baseTag}`, [`hakmem@${baseTag}`, 'hakmem']],
    ]);
    const {summary} = json;
    expect(summary.profiles.map((row) => [row.profile, row.label, row.baseline, row.status])).toEqual([
      ['tiny-hot', 'hakmem', `hakmem@${baseTag}`, 'ok'],
      ['larson-tiny', 'hakmem', `hakmem@${baseTag}`, 'ok'],
    ]);
    for (const [index, row] of summary.profiles.entries()) expect(row.vsBaseline).toEqual(json.profiles[index]!.results[1]!.vsBaseline);
    expect(summary.profiles[0]!.vsBaseline?.verdict).toBe('slower');

    const ratios = summary.profiles.map((row) => row.vsBaseline!.ratio);
    expect(summary.geomean).toMatchObject({profiles: 2});
    expect(summary.geomean!.ratio).toBeCloseTo(Math.sqrt(ratios[0]! * ratios[1]!), 10);
    const {faster, slower, withinNoise, notCompared} = summary.verdicts;
    expect([faster + slower + withinNoise, notCompared]).toEqual([2, 0]);
    expect(slower).toBeGreaterThanOrEqual(1);
  });
});
