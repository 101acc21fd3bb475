/** The shipped redis profile end to end: two benches at once on different ports, and the two allocator traps in the result. */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import type {BenchRecord} from '../src/bench/record.js';
import {buildVariant} from '../src/build/index.js';
import type {BenchJson} from '../src/commands/bench.js';
import {runHak, tempDir, withEnv} from './helpers.js';

describe('hak bench redis', () => {
  const home = tempDir('hak-home-');
  beforeAll(async () => {
    await withEnv({HAK_HOME: home, HAK_CSRC: undefined}, async () => buildVariant());
  });

  const bench = async (extraHome: string, extra: string[] = []) => {
    const run = await runHak(['bench', 'redis', '--runs', '3', '--warmup', '0', '--allocators', 'hakmem,glibc', '--json', ...extra], {env: {HAK_HOME: extraHome, HAK_CSRC: undefined}});
    return {...run, json: JSON.parse(run.stdout) as BenchJson};
  };

  it('two at the same time both succeed, on different ports; hakmem verified with a mixed-allocator warning, glibc labelled jemalloc', async () => {
    const out = tempDir('hak-out-');
    const [first, second] = await Promise.all([bench(home, ['--chart', join(out, 'redis.svg'), '--export', `bmf=${join(out, 'bmf.json')}`]), bench(home)]);
    for (const {exitCode, json, stderr} of [first, second]) {
      expect(exitCode, stderr).toBe(0);
      expect(json).toMatchObject({kind: 'server', unit: 'req/s', better: 'higher', complete: true});
      for (const result of json.results) {
        expect(result.status).toBe('ok');
        expect(result.median).toBeGreaterThan(0);
        expect(result.ci95).toHaveLength(2);
        expect(result.latency?.p99.median).toBeGreaterThan(0);
        expect(result.latency?.p99.ci95).toHaveLength(2);
        expect(result.rssTimeline.length).toBeGreaterThanOrEqual(5);
        expect(result.peakRssKb).toBeGreaterThan(1000);
        expect(result.idleRssKb).toBeGreaterThan(1000);
      }

      const [hakmem, glibc] = json.results;
      expect(hakmem).toMatchObject({label: 'hakmem', verified: true});
      expect(hakmem!.mixed?.symbols).toContain('mallctl');
      expect(hakmem!.latency?.p99.vsBaseline?.verdict).toMatch(/^(faster|slower|within noise)$/);
      expect(json.warnings.some((warning) => warning.startsWith('MIXED ALLOCATORS: hakmem') && warning.includes('mallctl'))).toBe(true);
      expect(glibc).toMatchObject({label: 'glibc', system: 'system (jemalloc, linked by redis-server)', servedBy: 'jemalloc', mixed: null});
    }

    const ports = [first, second].map(({json}) => {
      const record = JSON.parse(readFileSync(json.file!, 'utf8')) as BenchRecord;
      return new Set(record.targets.flatMap((target) => target.runs.map((run) => run.params.port)));
    });
    for (const port of ports[0]!) expect(ports[1]!.has(port)).toBe(false);

    // the latency percentiles reach the chart and the export, as latency measures in nanoseconds
    expect(readFileSync(join(out, 'redis.svg'), 'utf8')).toMatch(/p99 \d+\.\d\d/);
    const exported = JSON.parse(readFileSync(join(out, 'bmf.json'), 'utf8')) as Record<string, Record<string, {value: number}>>;
    const measures = Object.values(exported);
    expect(measures.length).toBeGreaterThan(0);
    for (const measure of measures) {
      expect(measure['latency-p99']?.value).toBeGreaterThan(1000);
      expect(measure['latency-p50']!.value).toBeLessThanOrEqual(measure['latency-max']!.value);
    }
  });
});
