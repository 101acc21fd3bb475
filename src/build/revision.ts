/**
 * hakmem's sources at another revision, for measuring a change rather than a toggle.
 *
 *   const base = await resolveRevision('main');       // or HEAD~3, a sha, a directory
 *   base.csrc        // <HAK_HOME>/sources/<csrc tree sha>: that commit's csrc/, ready to build
 *   await buildVariant({...request, sources: base});
 *
 * A commit's csrc/ is exported with `git archive` of its tree into hak's own cache, keyed by the
 * tree's sha: the user's work tree, index and HEAD are never touched, and two commits whose csrc/
 * trees are identical (a docs-only commit and its parent) share one export and, since variants
 * are keyed by the sources' content, one build. A directory is taken as it is (its csrc/, or the
 * directory itself when it holds hakmem's Makefile).
 */
import {existsSync, mkdirSync, rmSync, statSync} from 'node:fs';
import {basename, join, resolve} from 'node:path';

import {stageDir} from '../atomic-dir.js';
import {UsageError} from '../errors.js';
import {execProgram, findOnPath, tailLines} from '../exec.js';
import {csrcDir, hakHome} from '../paths.js';

/** Which sources a hakmem build comes from, as results record it. */
export interface RevisionInfo {
  /** What was asked for: `main`, `HEAD~3`, a directory; `work tree` for the checkout itself. */
  ref: string;
  /** The full commit sha; null for a directory outside git. */
  commit: string | null;
  /** The commit's subject line; null without a commit. */
  subject: string | null;
  /** The work tree only: whether its csrc/ has uncommitted changes (untracked files count). */
  dirty: boolean;
  /** The git tree sha of csrc/ at the commit; null for a dirty work tree or a plain directory. */
  csrcTree: string | null;
}

export interface Revision extends RevisionInfo {
  /** The directory holding the sources to build. */
  csrc: string;
  /** `hakmem@` and this: the short sha, a directory's name, or `dirty` added for a modified work tree. */
  tag: string;
}

/** The ref of the checkout's own csrc/. */
export const WORK_TREE = 'work tree';

async function git(dir: string, args: string[]): Promise<{ok: boolean; out: string; err: string}> {
  const result = await execProgram('git', ['-C', dir, ...args], {timeoutMs: 120_000});
  return {ok: result.exitCode === 0, out: result.stdout.trim(), err: result.stderr.trim()};
}

function requireGit(): void {
  if (!findOnPath('git')) {
    throw new UsageError('git is not installed: a revision cannot be read without it.', {hint: 'Install git (apt-get install git), or give a directory with another csrc/.'});
  }
}

/** Where csrc/ lies in its repository (`csrc/`), or null when it is not in one. */
async function csrcPrefix(csrc: string): Promise<string | null> {
  if (!findOnPath('git')) return null;
  const prefix = await git(csrc, ['rev-parse', '--show-prefix']);
  return prefix.ok ? prefix.out : null;
}

async function subjectOf(dir: string, commit: string): Promise<string | null> {
  const log = await git(dir, ['log', '-1', '--format=%s', commit]);
  return log.ok ? log.out : null;
}

async function shortSha(dir: string, commit: string): Promise<string> {
  const short = await git(dir, ['rev-parse', '--short', commit]);
  return short.ok ? short.out : commit.slice(0, 7);
}

/** The hakmem sources in a directory the user named: its csrc/, or itself. */
function directorySources(path: string): string | null {
  if (existsSync(join(path, 'csrc', 'Makefile'))) return join(path, 'csrc');
  if (existsSync(join(path, 'Makefile')) && existsSync(join(path, 'src'))) return path;
  return null;
}

/** The checkout's own csrc/: HEAD, and whether csrc/ differs from it. */
export async function workTreeRevision(): Promise<Revision> {
  const csrc = csrcDir();
  const prefix = await csrcPrefix(csrc);
  if (prefix === null) return {ref: WORK_TREE, commit: null, subject: null, dirty: false, csrcTree: null, csrc, tag: basename(csrc)};
  const head = await git(csrc, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
  const status = await git(csrc, ['status', '--porcelain', '--untracked-files=normal', '--', '.']);
  const dirty = !head.ok || !status.ok || status.out !== '';
  const commit = head.ok ? head.out : null;
  const tree = commit && !dirty ? await git(csrc, ['rev-parse', `${commit}:${prefix}`]) : null;
  return {
    ref: WORK_TREE,
    commit,
    subject: commit ? await subjectOf(csrc, commit) : null,
    dirty,
    csrcTree: tree?.ok ? tree.out : null,
    csrc,
    tag: dirty ? 'dirty' : commit ? await shortSha(csrc, commit) : 'work-tree',
  };
}

/**
 * The sources of `ref`: a commit of the repository csrc/ belongs to (anything `git rev-parse`
 * takes), or a directory. A UsageError says what is wrong with a ref that is neither.
 */
export async function resolveRevision(ref: string): Promise<Revision> {
  const asPath = resolve(ref);
  if (existsSync(asPath) && statSync(asPath).isDirectory()) {
    const csrc = directorySources(asPath);
    if (!csrc) throw new UsageError(`${ref}: this directory holds no hakmem sources (no csrc/Makefile, nor a Makefile beside src/).`);
    const prefix = await csrcPrefix(csrc);
    const head = prefix === null ? null : await git(csrc, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
    const commit = head?.ok ? head.out : null;
    return {
      ref,
      commit,
      subject: commit ? await subjectOf(csrc, commit) : null,
      dirty: false,
      csrcTree: null,
      csrc,
      tag: basename(asPath),
    };
  }

  requireGit();
  const home = csrcDir();
  const prefix = await csrcPrefix(home);
  if (prefix === null) {
    throw new UsageError(`${ref}: ${home} is not in a git repository, so no revision can be read.`, {hint: 'Give a directory with another csrc/ instead.'});
  }

  const found = await git(home, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (!found.ok) {
    throw new UsageError(`${ref}: neither a commit of this repository nor a directory.`, {
      hint: 'Give a branch, tag, sha or HEAD~N (git rev-parse must know it), or a directory holding csrc/.',
    });
  }

  const commit = found.out;
  const tree = await git(home, ['rev-parse', '--verify', '--quiet', `${commit}:${prefix}`]);
  if (!tree.ok) throw new UsageError(`${ref} (${commit.slice(0, 12)}) has no ${prefix || 'csrc/'}: hakmem's sources did not exist yet at that commit.`);
  return {
    ref,
    commit,
    subject: await subjectOf(home, commit),
    dirty: false,
    csrcTree: tree.out,
    csrc: await exportTree(home, tree.out),
    tag: await shortSha(home, commit),
  };
}

/** `<HAK_HOME>/sources/`: one directory per exported csrc/ tree. */
export function sourcesDir(): string {
  return join(hakHome(), 'sources');
}

/**
 * Exports a csrc/ tree into the cache (once: a tree's content never changes) and returns its
 * directory. The export is staged and renamed into place, so a cached tree is always whole.
 */
async function exportTree(repoDir: string, tree: string): Promise<string> {
  const parent = sourcesDir();
  const final = join(parent, tree);
  if (existsSync(join(final, 'Makefile'))) return final;
  mkdirSync(parent, {recursive: true});
  const staging = stageDir(final, parent);
  try {
    const archive = join(staging.path, '.csrc.tar');
    // From the top of the repository: below it, git archive keeps only the subdirectory's part of the tree.
    const top = await git(repoDir, ['rev-parse', '--show-toplevel']);
    const packed = await git(top.ok ? top.out : repoDir, ['archive', '--format=tar', '-o', archive, tree]);
    if (!packed.ok) throw new UsageError(`git archive of csrc/ tree ${tree.slice(0, 12)} failed: ${tailLines(packed.err, 3)}`);
    const unpacked = await execProgram('tar', ['-xf', archive, '-C', staging.path], {timeoutMs: 120_000});
    if (unpacked.exitCode !== 0) throw new UsageError(`unpacking csrc/ tree ${tree.slice(0, 12)} failed: ${tailLines(unpacked.stderr, 3)}`);
    rmSync(archive);
  } catch (error) {
    staging.discard();
    throw error;
  }

  // Another hak exporting the same tree may have published first: theirs is identical.
  staging.publish();
  return final;
}

/** The fields results record (no cache path, which differs from machine to machine). */
export function revisionInfo(revision: Revision): RevisionInfo {
  const {ref, commit, subject, dirty, csrcTree} = revision;
  return {ref, commit, subject, dirty, csrcTree};
}

/** `main: 3f2a9c0d1b7e "Mid pool: one lock per class"`, `work tree: 3f2a9c0d1b7e with uncommitted changes in csrc/`. */
export function describeRevision(revision: RevisionInfo): string {
  const commit = revision.commit ? revision.commit.slice(0, 12) : 'no commit';
  if (revision.ref === WORK_TREE) return `work tree at ${commit}${revision.dirty ? ', with uncommitted changes in csrc/' : ''}`;
  const subject = revision.subject ? ` "${revision.subject.length > 60 ? `${revision.subject.slice(0, 57)}...` : revision.subject}"` : '';
  return revision.ref === commit || revision.commit?.startsWith(revision.ref) ? `${commit}${subject}` : `${revision.ref} = ${commit}${subject}`;
}
