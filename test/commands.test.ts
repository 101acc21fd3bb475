/** Commands run in-process through oclif, as the later commands' tests will. */
import {runCommand} from '@oclif/test';
import {describe, expect, it} from 'vitest';

import {copyFixtureCsrc, ROOT, tempDir, withEnv} from './helpers.js';

describe('in-process commands', () => {
  it('hak features prints the toggle table', async () => {
    const {stdout, error} = await runCommand(['features'], {root: ROOT});
    expect(error).toBeUndefined();
    expect(stdout).toMatch(/^flag\s+default\s+make\s+meaning/);
    for (const flag of ['--[no-]direct-cache', '--[no-]dual-lists', '--[no-]superslab', '--[no-]wrap-tiny', '--stats 0|1|2']) {
      expect(stdout).toContain(flag);
    }
  });

  it('hak build returns the variant it built', async () => {
    await withEnv({HAK_CSRC: copyFixtureCsrc(), HAK_HOME: tempDir('hak-home-')}, async () => {
      const {result, error} = await runCommand<{variant: string; cached: boolean}>(['build', '--no-superslab', '--cc', 'clang'], {root: ROOT});
      expect(error).toBeUndefined();
      expect(result?.variant).toMatch(/^dc1-dl1-ss0-wt1-s0-clang-/);
      expect(result?.cached).toBe(false);
      const again = await runCommand<{variant: string; cached: boolean}>(['build', '--no-superslab', '--cc', 'clang', '--json'], {root: ROOT});
      expect(again.result).toMatchObject({variant: result?.variant, cached: true});
      expect(JSON.parse(again.stdout)).toMatchObject({variant: result?.variant, cached: true});
    });
  });

  it('a bad flag value fails with exit code 2 and one line', async () => {
    const {error, stderr} = await runCommand(['build', '--stats', '3'], {root: ROOT});
    expect(error?.oclif?.exit).toBe(2);
    expect(stderr).toBe('Error: Expected --stats=3 to be one of: 0, 1, 2\n  See the flags with --help.\n');
  });

  it('hak profiles validates and lists every profile', async () => {
    const {result, error} = await runCommand<{profiles: {name: string}[]}>(['profiles'], {root: ROOT});
    expect(error).toBeUndefined();
    expect(result?.profiles.map((profile) => profile.name)).toContain('larson-mid');
  });
});
