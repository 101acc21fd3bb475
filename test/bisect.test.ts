/**
 * hak bisect: the search over csrc/ trees (unit), the verdict of a wall-clock step (unit), and the
 * first bad commit of a history with one slow commit, found by instructions and by throughput
 * (end to end, in a repository of its own).
 */
import {existsSync, readdirSync} from 'node:fs';
import {join} from 'node:path';
import {assert, describe, expect, it} from 'vitest';

import {groupByTree} from '../src/bisect/commits.js';
import {nextCandidate, wallVerdict} from '../src/bisect/index.js';
import type {BisectJson} from '../src/commands/bisect.js';
import type {PerfResult} from '../src/perf/index.js';
import type {ComparisonVerdict} from '../src/statistics/ratio.js';
import {makeChangeRepo} from './change-repo.js';
import {runHak, tempDir} from './helpers.js';

const TEST_TIMEOUT_MS = 600_000;

const commit = (name: string, tree: string): {commit: string; subject: string; csrcTree: string} => ({commit: name, subject: name, csrcTree: tree});
const ratio = (verdict: ComparisonVerdict['verdict']): ComparisonVerdict => ({ratio: 1, low: 0.9, high: 1.1, verdict});

describe('the commits a bisection walks', () => {
  it('groups commits into runs of one csrc/ tree, a tree that comes back starting a new run', () => {
    const runs = groupByTree([commit('g', 'A'), commit('c1', 'A'), commit('c2', 'B'), commit('c3', 'B'), commit('c4', 'A'), commit('c5', 'C')]);
    expect(runs.map((run) => [run.csrcTree, run.commits.map((entry) => entry.commit)])).toEqual([
      ['A', ['g', 'c1']],
      ['B', ['c2', 'c3']],
      ['A', ['c4']],
      ['C', ['c5']],
    ]);
  });

  it('tries the middle run first and steps around skipped ones until none is left', () => {
    expect(nextCandidate(0, 8, new Set())).toBe(4);
    expect(nextCandidate(0, 1, new Set())).toBeNull();
    expect(nextCandidate(0, 8, new Set([4]))).toBe(5);
    expect(nextCandidate(0, 8, new Set([4, 5]))).toBe(3);
    expect(nextCandidate(2, 4, new Set([3]))).toBeNull();
  });
});

describe('the verdict of a wall-clock step', () => {
  it('calls a candidate bad once it is clear of the good end on the bad end\'s side', () => {
    expect(wallVerdict(ratio('slower'), ratio('within noise'), 'slower')).toBe('bad');
    expect(wallVerdict(ratio('slower'), ratio('slower'), 'slower')).toBe('bad');
    expect(wallVerdict(ratio('faster'), ratio('within noise'), 'faster')).toBe('bad');
  });

  it('calls it good only when level with the good end and clear of the bad end', () => {
    expect(wallVerdict(ratio('within noise'), ratio('faster'), 'slower')).toBe('good');
    expect(wallVerdict(ratio('within noise'), ratio('within noise'), 'slower')).toBe('skipped');
    expect(wallVerdict(ratio('faster'), ratio('faster'), 'slower')).toBe('skipped');
    expect(wallVerdict(null, ratio('faster'), 'slower')).toBe('skipped');
  });
});

describe('hak bisect on a history with one slow commit', () => {
  const repo = makeChangeRepo({commits: 8, slowAt: 4});
  const home = tempDir('hak-home-');
  const env = {HAK_CSRC: repo.csrc, HAK_HOME: home};
  const bisectJson = async (extra: string[]): Promise<BisectJson> => {
    const run = await runHak(['bisect', 'tiny-hot', '--good', repo.base, '--bad', repo.head, '--json', ...extra], {env});
    expect(run.exitCode, run.stderr + run.stdout).toBe(0);
    return JSON.parse(run.stdout) as BisectJson;
  };

  it('names the slow commit by instructions, with at most 4 builds', async () => {
    const result = await bisectJson(['--metric', 'instructions']);
    expect(result.firstBad?.commit).toBe(repo.slowCommit.sha);
    expect(result.firstBad?.subject).toBe(repo.slowCommit.subject);
    expect(result.builds).toBeGreaterThan(0);
    expect(result.builds).toBeLessThanOrEqual(4);
    expect(result.commits).toBe(8);
    expect(result.trees).toBe(2);
    // the -O0 library costs more instructions per operation than its parent's
    expect(result.firstBad!.figure!).toBeGreaterThan(result.firstBad!.parent.figure!);
    expect(result.steps.map((step) => step.role)).toEqual(expect.arrayContaining(['good end', 'bad end']));
    expect(existsSync(result.file)).toBe(true);
  }, TEST_TIMEOUT_MS);

  it('names the same commit by throughput, reusing the builds', async () => {
    const result = await bisectJson(['--runs', '3', '--warmup', '0']);
    expect(result.firstBad?.commit).toBe(repo.slowCommit.sha);
    expect(result.builds).toBe(0);
    expect(result.unit).toBe('ops/s');
    const ends = result.steps.filter((step) => step.role !== 'candidate');
    expect(ends.map((step) => step.verdict)).toEqual(['good', 'bad']);
  }, TEST_TIMEOUT_MS);

  it('hak perf --base shows both figures and the functions that got more expensive', async () => {
    const run = await runHak(['perf', 'tiny-hot', '--instructions', '--base', repo.base, '--json'], {env});
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as PerfResult;
    const against = result.diff!.against;
    expect(result.label).toBe('hakmem');
    expect(against.label).toMatch(/^hakmem@[0-9a-f]{7,}$/);
    expect(against.revision?.commit).toBe(repo.base);
    assert(result.mode === 'instructions' && against.mode === 'instructions');
    expect(result.instructionsPerOp).toBeGreaterThan(against.instructionsPerOp);
    const grew = result.diff!.functions.filter((row) => row.change > 0).map((row) => row.symbol);
    expect(grew).toEqual(expect.arrayContaining(['malloc', 'free']));
  }, TEST_TIMEOUT_MS);

  it('refuses a good commit that is not an ancestor of the bad one, and leaves no result', async () => {
    const before = existsSync(join(home, 'results', 'bisect')) ? readdirSync(join(home, 'results', 'bisect')).length : 0;
    const run = await runHak(['bisect', 'tiny-hot', '--good', repo.head, '--bad', repo.base, '--metric', 'instructions'], {env});
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/is not an ancestor of --bad/);
    expect(run.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    const after = existsSync(join(home, 'results', 'bisect')) ? readdirSync(join(home, 'results', 'bisect')).length : 0;
    expect(after).toBe(before);
  });

  it('refuses a range in which csrc/ never changes', async () => {
    const docsOnly = repo.commits.slice(0, 3).map((entry) => entry.sha);
    const run = await runHak(['bisect', 'tiny-hot', '--good', docsOnly[0]!, '--bad', docsOnly[2]!, '--metric', 'instructions'], {env});
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/no commit between them changed hakmem/);
  });

  it('refuses an unknown metric and an unknown ref with exit 2', async () => {
    const metric = await runHak(['bisect', 'tiny-hot', '--good', repo.base, '--bad', repo.head, '--metric', 'speed'], {env});
    expect(metric.exitCode).toBe(2);
    const ref = await runHak(['bisect', 'tiny-hot', '--good', 'no-such-ref', '--bad', repo.head], {env});
    expect(ref.exitCode).toBe(2);
    expect(ref.stderr).toMatch(/no-such-ref: neither a commit/);
  });
});

describe('hak bisect when every commit has a csrc/ tree of its own', () => {
  const repo = makeChangeRepo({commits: 6, slowAt: 4, touchCsrc: true});
  const env = {HAK_CSRC: repo.csrc, HAK_HOME: tempDir('hak-home-')};

  it('halves the range by instructions, measuring candidates, and names the slow commit', async () => {
    const run = await runHak(['bisect', 'tiny-hot', '--good', repo.base, '--bad', repo.head, '--metric', 'instructions', '--json'], {env});
    expect(run.exitCode, run.stderr + run.stdout).toBe(0);
    const result = JSON.parse(run.stdout) as BisectJson;
    expect(result.trees).toBe(7);
    expect(result.firstBad?.commit).toBe(repo.slowCommit.sha);
    const candidates = result.steps.filter((step) => step.role === 'candidate');
    expect(candidates.length).toBeGreaterThan(0);
    // halving 6 commits takes at most 3 candidates; each candidate and each end is one build
    expect(candidates.length).toBeLessThanOrEqual(3);
    expect(result.builds).toBe(candidates.length + 2);
    for (const step of candidates) expect(step.verdict).toBe(repo.commits.findIndex((entry) => entry.sha === step.commit) >= 3 ? 'bad' : 'good');
  }, TEST_TIMEOUT_MS);
});
