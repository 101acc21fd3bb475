/**
 * A git repository holding a copy of the project's real csrc/ and a history with one slow change
 * in it: the fixture of `hak bench --base` (and of anything else that measures a change).
 *
 *   const repo = makeChangeRepo();            // BASE, then 8 commits; the 4th builds at -O0
 *   checkoutCommit(repo, repo.commits[1]!.sha); // a docs-only commit before the slow one
 *   runHak(['bench', 'tiny-hot', '--base', repo.base], {env: {HAK_CSRC: repo.csrc, HAK_HOME: home}});
 *
 * The other commits touch README.md and docs/ only, so their csrc/ trees are BASE's (before the
 * slow commit) or the slow commit's (after it). Author, committer and dates are fixed, and the
 * user's git configuration is not read: it works on a machine with no git identity, and the same
 * csrc/ always gives the same shas.
 */
import {execFileSync} from 'node:child_process';
import {appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {dirname, join} from 'node:path';

import {listSourceFiles} from '../src/build/sources.js';
import {ROOT, tempDir} from './helpers.js';

export interface ChangeCommit {
  sha: string;
  subject: string;
  /** Whether this commit made hakmem slower (the library built at -O0 from here on). */
  slow: boolean;
}

export interface ChangeRepo {
  /** The repository's top directory. */
  dir: string;
  /** `<dir>/csrc`: what HAK_CSRC points at. */
  csrc: string;
  /** The commit that added csrc/ as it is in the project. */
  base: string;
  /** The last commit. */
  head: string;
  /** The commits after BASE, oldest first. */
  commits: ChangeCommit[];
  /** The one commit that slows hakmem down. */
  slowCommit: ChangeCommit;
  /** A commit before csrc/ existed (README.md only), BASE's parent; null unless asked for. */
  beforeCsrc: string | null;
}

export interface ChangeRepoOptions {
  /** Commits after BASE (default 8). */
  commits?: number;
  /** Which of them, counted from 1, builds the library at -O0 (default 4). */
  slowAt?: number;
  /** Start the history with a commit that has no csrc/ yet (default false). */
  beforeCsrc?: boolean;
  /**
   * The other commits also add a line to csrc/README.md (default false): every commit then has a
   * csrc/ tree of its own and builds anew, though only the slow one changes the code.
   */
  touchCsrc?: boolean;
}

/** csrc/Makefile's optimization of a release build, and what the slow commit makes of it. */
export const FAST_OPT = '-O2 -g -DNDEBUG';
export const SLOW_OPT = '-O0 -g -DNDEBUG';

const IDENTITY = {name: 'Change Repo', email: 'change-repo@example.invalid'};
/** 2026-01-01T00:00:00Z: commit n is dated n minutes later. */
const EPOCH = 1_767_225_600;
let clock = 0;

/** git in `dir`, with a fixed identity and date, and no user or system configuration. */
export function repoGit(dir: string, args: string[]): string {
  const date = `${EPOCH + clock * 60} +0000`;
  const env = {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: IDENTITY.name,
    GIT_AUTHOR_EMAIL: IDENTITY.email,
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_NAME: IDENTITY.name,
    GIT_COMMITTER_EMAIL: IDENTITY.email,
    GIT_COMMITTER_DATE: date,
  };
  return execFileSync('git', ['-c', 'commit.gpgsign=false', '-c', 'init.defaultBranch=main', '-c', 'advice.detachedHead=false', '-C', dir, ...args], {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']}).trim();
}

function commit(dir: string, subject: string, index: number): string {
  clock = index;
  repoGit(dir, ['add', '-A']);
  repoGit(dir, ['commit', '--quiet', '--no-verify', '-m', subject]);
  return repoGit(dir, ['rev-parse', 'HEAD']);
}

/** The project's csrc/ sources, without csrc/build/ or any other build output. */
function copyCsrc(to: string): void {
  const from = join(ROOT, 'csrc');
  for (const file of listSourceFiles(from)) {
    mkdirSync(dirname(join(to, file)), {recursive: true});
    copyFileSync(join(from, file), join(to, file));
  }
}

function slowDown(csrc: string): void {
  const makefile = join(csrc, 'Makefile');
  const text = readFileSync(makefile, 'utf8');
  const fast = `,${FAST_OPT})`;
  if (!text.includes(fast)) throw new Error(`csrc/Makefile has no "${FAST_OPT}" release OPT to slow down`);
  writeFileSync(makefile, text.replace(fast, `,${SLOW_OPT})`));
}

/** A docs-only change: a line of README.md, or a new page under docs/, in turn. */
function touchDocs(dir: string, index: number): string {
  if (index % 2 === 1) {
    appendFileSync(join(dir, 'README.md'), `\nNote ${index}: nothing in csrc/ changes here.\n`);
    return `README: note ${index}`;
  }

  mkdirSync(join(dir, 'docs'), {recursive: true});
  writeFileSync(join(dir, 'docs', `page-${index}.md`), `# Page ${index}\n\nDocumentation only.\n`);
  return `docs: page ${index}`;
}

export function makeChangeRepo(options: ChangeRepoOptions = {}): ChangeRepo {
  const count = options.commits ?? 8;
  const slowAt = options.slowAt ?? 4;
  if (!Number.isInteger(slowAt) || slowAt < 1 || slowAt > count) throw new Error(`slowAt ${slowAt}: expected 1 to ${count}`);

  const dir = tempDir('hak-change-repo-');
  const csrc = join(dir, 'csrc');
  repoGit(dir, ['init', '--quiet']);
  writeFileSync(join(dir, 'README.md'), '# A change repository\n\nhakmem\'s csrc/, and a history with one slow commit in it.\n');
  const beforeCsrc = options.beforeCsrc ? commit(dir, 'README before the sources', 0) : null;

  copyCsrc(csrc);
  const base = commit(dir, 'BASE: hakmem as the project has it', 1);
  const commits: ChangeCommit[] = [];
  for (let index = 1; index <= count; index++) {
    const slow = index === slowAt;
    let subject: string;
    if (slow) {
      slowDown(csrc);
      subject = 'Makefile: build the library at -O0';
    } else {
      subject = touchDocs(dir, index);
      if (options.touchCsrc) appendFileSync(join(csrc, 'README.md'), `\nNote ${index}.\n`);
    }

    commits.push({sha: commit(dir, subject, index + 1), subject, slow});
  }

  return {dir, csrc, base, head: commits.at(-1)?.sha ?? base, commits, slowCommit: commits[slowAt - 1]!, beforeCsrc};
}

/** Checks out `sha` (detached) in the change repository: its work tree, not the project's. */
export function checkoutCommit(repo: Pick<ChangeRepo, 'dir'>, sha: string): void {
  repoGit(repo.dir, ['checkout', '--quiet', '--detach', sha]);
}

/** The short sha git prints for `sha`, as hak asks for it (the user's core.abbrev counts): hak's tag in `hakmem@<tag>`. */
export function shortSha(repo: Pick<ChangeRepo, 'dir'>, sha: string): string {
  return execFileSync('git', ['-C', repo.dir, 'rev-parse', '--short', sha], {encoding: 'utf8'}).trim();
}

/** The git tree sha of csrc/ at `sha`. */
export function csrcTree(repo: Pick<ChangeRepo, 'dir'>, sha: string): string {
  return repoGit(repo.dir, ['rev-parse', `${sha}:csrc`]);
}
