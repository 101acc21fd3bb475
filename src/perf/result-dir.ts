/**
 * Where a perf run is saved: `<results>/perf/<UTC time>-<profile>-<allocator or variant>/`,
 * staged while the measurer writes its raw material into it and published whole, with
 * result.json, once the run is measured (atomic-dir.ts: a failure or Ctrl-C leaves nothing).
 * A second run in the same second with the same name gets `-2`, `-3`, ...
 */
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';

import {type StagingDir, stageDir} from '../atomic-dir.js';
import {compactTimestamp} from '../bench/results.js';
import {resultsDir} from '../paths.js';
import type {SingleTarget} from '../run/index.js';


/** A staging directory for one run of `profile` started at `time`, named after the hakmem variant or the peer allocator. */
export function stageResult(profile: string, target: SingleTarget, time: Date): StagingDir {
  const parent = join(resultsDir(), 'perf');
  const what = target.allocator.name === 'hakmem' ? target.built.variant : target.allocator.name;
  return stageDir(join(parent, `${compactTimestamp(time.toISOString())}-${profile}-${what}`), parent);
}

/**
 * Writes result.json, the result `complete` makes of the directory's final name, and publishes
 * the directory under the first free name; returns the result.
 */
export function publishResult<T>(staging: StagingDir, complete: (resultDir: string) => T): T {
  let result: T | undefined;
  staging.publishFree((resultDir) => {
    result = complete(resultDir);
    writeFileSync(join(staging.path, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  });
  return result!;
}
