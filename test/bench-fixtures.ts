/** Profiles for the fixture's fake_bench, whose speed and faults a test sets per allocator. */
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';

import {tempDir} from './helpers.js';

/** glibc at 1M operations per second, mimalloc at 2M (each +-2%). */
export const RATES = {FAKE_RATE_GLIBC: '1000000', FAKE_RATE_MIMALLOC: '2000000'};

/** A profile for fake_bench under hakmem, glibc and mimalloc, with the given environment. */
export function fakeProfile(env: Record<string, string>, options: {timeout?: number; allocators?: string; dir?: string; args?: string} = {}): string {
  const file = join(options.dir ?? tempDir('hak-profiles-'), 'fake.yaml');
  const lines = Object.entries(env).map(([key, value]) => `  ${key}: "${value}"`);
  writeFileSync(
    file,
    [
      'name: fake',
      'description: a benchmark whose speed and faults the test sets',
      'benchmark:',
      '  program: fake_bench',
      `  args: [${options.args ?? '1000'}]`,
      `allocators: [${options.allocators ?? 'hakmem, glibc, mimalloc'}]`,
      'runs: 3',
      'warmup: 1',
      `timeout: ${options.timeout ?? 10}`,
      ...(lines.length > 0 ? ['env:', ...lines] : []),
      '',
    ].join('\n'),
  );
  return file;
}
