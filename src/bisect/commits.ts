/**
 * The commits a bisection walks: those between good and bad, grouped into runs whose csrc/ tree
 * is the same. Only the first commit of a run can change what hakmem is, so the search runs over
 * the runs, and a commit whose csrc/ equals one already measured reuses that measurement.
 */
import {UsageError} from '../errors.js';
import {execProgram} from '../exec.js';
import {csrcDir} from '../paths.js';
import {resolveRevision, type Revision} from '../build/revision.js';

export interface BisectCommit {
  commit: string;
  subject: string;
  csrcTree: string;
}

/** Commits in a row with one csrc/ tree; `commits[0]` is where that tree first appears. */
export interface TreeRun {
  csrcTree: string;
  commits: BisectCommit[];
}

export interface BisectRange {
  good: Revision;
  bad: Revision;
  /** good first, then every commit after it up to bad, in order, grouped by csrc/ tree. */
  runs: TreeRun[];
  /** Commits after good up to and including bad. */
  commits: number;
}

async function git(args: string[]): Promise<string> {
  const result = await execProgram('git', ['-C', csrcDir(), ...args], {timeoutMs: 120_000});
  if (result.exitCode !== 0) throw new UsageError(`git ${args[0]} failed: ${result.stderr.trim().split('\n')[0] ?? ''}`);
  return result.stdout;
}

/** Runs of equal trees, in order: a tree that comes back later (a revert) starts a new run. */
export function groupByTree(commits: readonly BisectCommit[]): TreeRun[] {
  const runs: TreeRun[] = [];
  for (const commit of commits) {
    const last = runs.at(-1);
    if (last && last.csrcTree === commit.csrcTree) last.commits.push(commit);
    else runs.push({csrcTree: commit.csrcTree, commits: [commit]});
  }

  return runs;
}

/**
 * good and bad as revisions, and the commits between them (git rev-list --ancestry-path, oldest
 * first). good must be an ancestor of bad.
 */
export async function bisectRange(goodRef: string, badRef: string): Promise<BisectRange> {
  const good = await resolveRevision(goodRef);
  const bad = await resolveRevision(badRef);
  if (!good.commit || !bad.commit || !good.csrcTree || !bad.csrcTree) {
    throw new UsageError('--good and --bad must be commits, not directories: a bisection walks the history between them.');
  }

  const ancestor = await execProgram('git', ['-C', csrcDir(), 'merge-base', '--is-ancestor', good.commit, bad.commit]);
  if (ancestor.exitCode !== 0 || good.commit === bad.commit) {
    throw new UsageError(`--good ${goodRef} (${good.commit.slice(0, 12)}) is not an ancestor of --bad ${badRef} (${bad.commit.slice(0, 12)}).`, {
      hint: 'Give the older commit, where the figure was as expected, as --good.',
    });
  }

  const listed = (await git(['rev-list', '--reverse', '--ancestry-path', `${good.commit}..${bad.commit}`])).split('\n').filter(Boolean);
  const prefix = (await git(['rev-parse', '--show-prefix'])).trim();
  const trees = listed.length > 0 ? (await git(['rev-parse', ...listed.map((commit) => `${commit}:${prefix}`)])).split('\n').filter(Boolean) : [];
  const subjects = (await git(['log', '--no-walk=unsorted', '--format=%s', ...listed])).split('\n');
  const commits: BisectCommit[] = listed.map((commit, index) => ({commit, subject: subjects[index] ?? '', csrcTree: trees[index]!}));
  return {
    good,
    bad,
    runs: groupByTree([{commit: good.commit, subject: good.subject ?? '', csrcTree: good.csrcTree}, ...commits]),
    commits: commits.length,
  };
}
