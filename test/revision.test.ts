/** Another revision's csrc/ (src/build/revision.ts), in a change repository of the real sources. */
import {execFileSync} from 'node:child_process';
import {appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {basename, join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import {type Revision, resolveRevision, sourcesDir, WORK_TREE, workTreeRevision} from '../src/build/revision.js';
import {fingerprintSources} from '../src/build/sources.js';
import {listSourceFiles} from '../src/build/sources.js';
import {UsageError} from '../src/errors.js';
import {type ChangeRepo, checkoutCommit, csrcTree, FAST_OPT, makeChangeRepo, repoGit, shortSha, SLOW_OPT} from './change-repo.js';
import {tempDir, withEnv} from './helpers.js';


/** Whether two revisions hold the same csrc/ content (what makes their builds one). */
function sameSources(a: Revision, b: Revision): boolean {
  return fingerprintSources(a.csrc).hash === fingerprintSources(b.csrc).hash;
}

describe('revisions of csrc/', () => {
  let repo: ChangeRepo;
  beforeAll(() => {
    repo = makeChangeRepo({beforeCsrc: true});
  });

  /** hak pointed at the change repository's csrc/, with a fresh cache unless one is given. */
  function inRepo<T>(fn: () => Promise<T>, home = tempDir('hak-home-')): Promise<T> {
    return withEnv({HAK_CSRC: repo.csrc, HAK_HOME: home}, fn);
  }

  /** The repository checked out at `sha`, with no local changes. */
  function cleanCheckout(sha: string): void {
    repoGit(repo.dir, ['reset', '--quiet', '--hard']);
    repoGit(repo.dir, ['clean', '--quiet', '-fdx']);
    checkoutCommit(repo, sha);
  }

  async function usageError(promise: Promise<unknown>): Promise<UsageError> {
    const error = await promise.then(
      () => null,
      (error: unknown) => error,
    );
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }

  it('builds the fixture: BASE, then docs-only commits and one slow commit, the 4th', () => {
    expect(repo.commits.map((commit) => commit.slow)).toEqual([false, false, false, true, false, false, false, false]);
    expect(repo.slowCommit).toBe(repo.commits[3]);
    expect(repoGit(repo.dir, ['rev-list', '--count', 'HEAD'])).toBe('10');
    expect(repoGit(repo.dir, ['rev-parse', 'HEAD'])).toBe(repo.head);
    expect(repoGit(repo.dir, ['rev-parse', `${repo.base}^`])).toBe(repo.beforeCsrc);
    for (const commit of repo.commits) {
      const changed = repoGit(repo.dir, ['diff', '--name-only', `${commit.sha}^`, commit.sha]).split('\n');
      expect(changed.every((file) => (commit.slow ? file === 'csrc/Makefile' : file === 'README.md' || file.startsWith('docs/'))), `${commit.subject}: ${changed.join(', ')}`).toBe(true);
    }

    expect(repoGit(repo.dir, ['show', `${repo.base}:csrc/Makefile`])).toContain(FAST_OPT);
    expect(repoGit(repo.dir, ['show', `${repo.slowCommit.sha}:csrc/Makefile`])).toContain(SLOW_OPT);
    expect(repoGit(repo.dir, ['ls-tree', '-r', '--name-only', repo.base, 'csrc/']).split('\n').some((file) => file.startsWith('csrc/build/'))).toBe(false);
    expect(repoGit(repo.dir, ['log', '-1', '--format=%an <%ae>', repo.head])).toBe('Change Repo <change-repo@example.invalid>');
  });

  it('resolves a commit to its sha, subject and csrc/ tree, exported into the cache', async () => {
    cleanCheckout(repo.head);
    const home = tempDir('hak-home-');
    const base = await inRepo(() => resolveRevision(repo.base), home);
    const tree = csrcTree(repo, repo.base);
    expect(base).toEqual({
      ref: repo.base,
      commit: repo.base,
      subject: 'BASE: hakmem as the project has it',
      dirty: false,
      csrcTree: tree,
      csrc: join(home, 'sources', tree),
      tag: shortSha(repo, repo.base),
    } satisfies Revision);
    // the commit's csrc/ exactly: its files, and the fast Makefile though the work tree has the slow one
    expect(listSourceFiles(base.csrc)).toEqual(repoGit(repo.dir, ['ls-tree', '-r', '--name-only', repo.base, 'csrc/']).split('\n').map((file) => file.slice('csrc/'.length)).sort());
    expect(readFileSync(join(base.csrc, 'Makefile'), 'utf8')).toContain(FAST_OPT);
    expect(readFileSync(join(repo.csrc, 'Makefile'), 'utf8')).toContain(SLOW_OPT);

    // anything git rev-parse takes, relative to the repository's HEAD
    const slow = await inRepo(() => resolveRevision('HEAD~4'), home);
    expect(slow).toMatchObject({ref: 'HEAD~4', commit: repo.slowCommit.sha, subject: repo.slowCommit.subject, csrcTree: csrcTree(repo, repo.slowCommit.sha)});
    expect(readFileSync(join(slow.csrc, 'Makefile'), 'utf8')).toContain(SLOW_OPT);
    expect(await inRepo(() => resolveRevision('main'), home)).toMatchObject({ref: 'main', commit: repo.head, csrc: slow.csrc});
    expect(await inRepo(() => resolveRevision(shortSha(repo, repo.base)), home)).toMatchObject({commit: repo.base, csrc: base.csrc});
  });

  it('exports commits with the same csrc/ tree once, to one directory', async () => {
    cleanCheckout(repo.head);
    const home = tempDir('hak-home-');
    const base = await inRepo(() => resolveRevision(repo.base), home);
    const exported = statSync(base.csrc);
    // were the tree exported again, the staged copy would replace this directory and lose the mark
    writeFileSync(join(base.csrc, 'exported-once'), '');

    const beforeSlow = repo.commits.filter((commit) => !commit.slow && repo.commits.indexOf(commit) < repo.commits.indexOf(repo.slowCommit));
    expect(beforeSlow).toHaveLength(3);
    for (const commit of beforeSlow) {
      const docs = await inRepo(() => resolveRevision(commit.sha), home);
      expect(docs).toMatchObject({commit: commit.sha, subject: commit.subject, csrcTree: base.csrcTree, csrc: base.csrc});
      expect(docs.tag).not.toBe(base.tag);
      expect(sameSources(docs, base)).toBe(true);
    }

    expect(statSync(base.csrc).ino).toBe(exported.ino);
    expect(existsSync(join(base.csrc, 'exported-once'))).toBe(true);
    expect(await inRepo(async () => sourcesDir(), home)).toBe(join(home, 'sources'));
    expect(readdirSync(join(home, 'sources'))).toEqual([base.csrcTree]);

    // the slow commit's csrc/ is another tree, and the commits after it share that one
    const slow = await inRepo(() => resolveRevision(repo.slowCommit.sha), home);
    const after = await inRepo(() => resolveRevision(repo.head), home);
    expect(slow.csrc).not.toBe(base.csrc);
    expect(after.csrc).toBe(slow.csrc);
    expect(sameSources(slow, base)).toBe(false);
    expect(readdirSync(join(home, 'sources')).sort()).toEqual([base.csrcTree, slow.csrcTree].sort());
  });

  it('takes a work tree with docs-only changes as clean, with HEAD\'s csrc/ tree', async () => {
    const docsCommit = repo.commits[1]!;
    cleanCheckout(docsCommit.sha);
    appendFileSync(join(repo.dir, 'README.md'), '\nAn uncommitted note.\n');
    mkdirSync(join(repo.dir, 'docs'), {recursive: true});
    writeFileSync(join(repo.dir, 'docs', 'untracked.md'), 'not added\n');
    const home = tempDir('hak-home-');

    const work = await inRepo(() => workTreeRevision(), home);
    expect(work).toEqual({
      ref: WORK_TREE,
      commit: docsCommit.sha,
      subject: docsCommit.subject,
      dirty: false,
      csrcTree: csrcTree(repo, docsCommit.sha),
      csrc: repo.csrc,
      tag: shortSha(repo, docsCommit.sha),
    } satisfies Revision);
    expect(work.csrcTree).toBe(csrcTree(repo, repo.base));
    expect(sameSources(work, await inRepo(() => resolveRevision(repo.base), home))).toBe(true);
    // the work tree is built where it is, never exported
    expect(readdirSync(join(home, 'sources'))).toEqual([csrcTree(repo, repo.base)]);
  });

  it('takes a work tree with an edited or a new file in csrc/ as dirty, with no tree', async () => {
    cleanCheckout(repo.head);
    appendFileSync(join(repo.csrc, 'Makefile'), '\n# an uncommitted edit\n');
    const edited = await inRepo(() => workTreeRevision());
    expect(edited).toMatchObject({ref: WORK_TREE, commit: repo.head, subject: repo.commits.at(-1)!.subject, dirty: true, csrcTree: null, csrc: repo.csrc, tag: 'dirty'});

    cleanCheckout(repo.head);
    writeFileSync(join(repo.csrc, 'src', 'untracked.c'), 'int untracked;\n');
    expect(await inRepo(() => workTreeRevision())).toMatchObject({dirty: true, csrcTree: null, tag: 'dirty'});

    cleanCheckout(repo.head);
    expect(await inRepo(() => workTreeRevision())).toMatchObject({dirty: false, csrcTree: csrcTree(repo, repo.head), tag: shortSha(repo, repo.head)});
  });

  it('refuses an unknown ref, and a commit from before csrc/ existed, saying why', async () => {
    cleanCheckout(repo.head);
    const home = tempDir('hak-home-');
    const unknown = await usageError(inRepo(() => resolveRevision('nosuchref'), home));
    expect(unknown.message).toBe('nosuchref: neither a commit of this repository nor a directory.');
    expect(unknown.hint).toMatch(/git rev-parse must know it/);

    const early = await usageError(inRepo(() => resolveRevision(repo.beforeCsrc!), home));
    expect(early.message).toBe(`${repo.beforeCsrc} (${repo.beforeCsrc!.slice(0, 12)}) has no csrc/: hakmem's sources did not exist yet at that commit.`);
    const viaParent = await usageError(inRepo(() => resolveRevision(`${repo.base}~1`), home));
    expect(viaParent.message).toMatch(/^[0-9a-f]{40}~1 \([0-9a-f]{12}\) has no csrc\/: hakmem's sources did not exist yet at that commit\.$/);

    const noSources = tempDir('hak-empty-');
    const empty = await usageError(inRepo(() => resolveRevision(noSources), home));
    expect(empty.message).toBe(`${noSources}: this directory holds no hakmem sources (no csrc/Makefile, nor a Makefile beside src/).`);
    expect(existsSync(join(home, 'sources'))).toBe(false);
  });

  it('takes a directory holding csrc/, or csrc/ itself, as it is', async () => {
    cleanCheckout(repo.head);
    const home = tempDir('hak-home-');
    const checkout = await inRepo(() => resolveRevision(repo.dir), home);
    expect(checkout).toEqual({
      ref: repo.dir,
      commit: repo.head,
      subject: repo.commits.at(-1)!.subject,
      dirty: false,
      csrcTree: null,
      csrc: repo.csrc,
      tag: basename(repo.dir),
    } satisfies Revision);

    // a plain copy of BASE's sources, outside any repository
    const base = await inRepo(() => resolveRevision(repo.base), home);
    const plain = join(tempDir('hak-plain-'), 'patched');
    cpSync(base.csrc, join(plain, 'csrc'), {recursive: true});
    const copy = await inRepo(() => resolveRevision(plain), home);
    expect(copy).toEqual({ref: plain, commit: null, subject: null, dirty: false, csrcTree: null, csrc: join(plain, 'csrc'), tag: 'patched'} satisfies Revision);
    expect(await inRepo(() => resolveRevision(join(plain, 'csrc')), home)).toMatchObject({commit: null, csrc: join(plain, 'csrc'), tag: 'csrc'});
    expect(sameSources(copy, base)).toBe(true);
    expect(sameSources(copy, checkout)).toBe(false);
  });

  it('leaves the user\'s work tree, index and HEAD as they were', async () => {
    cleanCheckout(repo.commits[1]!.sha);
    appendFileSync(join(repo.dir, 'README.md'), '\nUnstaged.\n');
    writeFileSync(join(repo.dir, 'docs', 'staged.md'), 'staged\n');
    repoGit(repo.dir, ['add', 'docs/staged.md']);
    appendFileSync(join(repo.csrc, 'src', readdirSync(join(repo.csrc, 'src')).find((file) => file.endsWith('.c'))!), '\n/* unstaged */\n');
    writeFileSync(join(repo.csrc, 'untracked.txt'), 'untracked\n');

    // as the user's own git sees it
    const state = () => {
      const git = (args: string[]) => execFileSync('git', ['-C', repo.dir, ...args], {encoding: 'utf8'});
      return {
        status: git(['status', '--porcelain', '--untracked-files=all']),
        head: git(['rev-parse', 'HEAD']),
        symbolic: execFileSync('git', ['-C', repo.dir, 'rev-parse', '--symbolic-full-name', 'HEAD'], {encoding: 'utf8'}),
        index: git(['ls-files', '--stage']),
        staged: git(['diff', '--cached']),
        unstaged: git(['diff']),
        branches: git(['for-each-ref']),
        stashes: git(['stash', 'list']),
      };
    };

    const before = state();
    expect(before.status.split('\n').filter(Boolean)).toHaveLength(4);
    await inRepo(async () => {
      for (const ref of [repo.base, repo.slowCommit.sha, 'main', 'HEAD~1', repo.dir]) await resolveRevision(ref);
      await resolveRevision('nosuchref').catch(() => null);
      await resolveRevision(repo.beforeCsrc!).catch(() => null);
      expect((await workTreeRevision()).dirty).toBe(true);
    });
    expect(state()).toEqual(before);
  });
});
