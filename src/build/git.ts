/** The git state of a source tree, for build manifests. */
import {execProgram, findOnPath} from '../exec.js';

export interface GitState {
  /** The commit checked out, or null when the tree is not in a git repository. */
  commit: string | null;
  /** Whether files under the tree differ from that commit (untracked, not ignored files count). */
  dirty: boolean | null;
}

export async function gitState(dir: string): Promise<GitState> {
  if (!findOnPath('git')) return {commit: null, dirty: null};
  const head = await execProgram('git', ['-C', dir, 'rev-parse', 'HEAD']);
  if (head.exitCode !== 0) return {commit: null, dirty: null};
  const status = await execProgram('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=normal', '--', '.']);
  return {
    commit: head.stdout.trim(),
    dirty: status.exitCode === 0 ? status.stdout.trim() !== '' : null,
  };
}
