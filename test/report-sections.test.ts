/** The report's blocks for saved bisects and perf runs, rendered from results of the shapes hak saves. */
import {describe, expect, it} from 'vitest';

import type {BisectResult, BisectStep} from '../src/bisect/index.js';
import type {InstructionsRun} from '../src/perf/index.js';
import {bisectSection, perfSection} from '../src/report/extras.js';

function step(commit: string, role: BisectStep['role'], figure: number | null, verdict: BisectStep['verdict']): BisectStep {
  return {commit, subject: `subject of ${commit.slice(0, 4)}`, csrcTree: commit, role, reused: false, figure, verdict, reason: `figure ${figure}`, vsGood: null, vsBad: null, runs: 1};
}

/** The rows of the table with this class: their data-row key and each cell's text. */
function rows(html: string, table: string): [string, string[]][] {
  const body = html.slice(html.indexOf(`<table class="${table}">`), html.indexOf('</table>', html.indexOf(`<table class="${table}">`)));
  return [...body.matchAll(/<tr data-row="([^"]*)">(.*?)<\/tr>/g)].map((match) => [match[1]!, [...match[2]!.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/g)].map((cell) => cell[1]!)]);
}

describe('report blocks', () => {
  it('a bisect: every step with its figure, verdict and why, and the first bad commit against its parent', () => {
    const good = 'a'.repeat(40);
    const bad = 'b'.repeat(40);
    const middle = 'c'.repeat(40);
    const result: BisectResult = {
      profile: 'tiny-hot',
      metric: 'instructions',
      unit: 'instructions/op',
      better: 'lower',
      good: {commit: good, subject: 'good', figure: 27},
      bad: {commit: bad, subject: 'bad', figure: 31},
      firstBad: {commit: middle, subject: 'subject of cccc', figure: 31, parent: {commit: good, subject: 'good', figure: 27}},
      possibleFirstBad: [],
      commits: 2,
      trees: 3,
      steps: [step(good, 'good end', 27, 'good'), step(bad, 'bad end', 31, 'bad'), step(middle, 'candidate', 31, 'bad')],
      builds: 3,
      wallSeconds: 12.5,
    };
    const html = bisectSection({id: '20261207T000000Z-tiny-hot', result});
    expect(rows(html, 'bisect')).toEqual([
      [good, ['1', good.slice(0, 12), 'good end', '27', 'good', 'figure 27', 'subject of aaaa']],
      [bad, ['2', bad.slice(0, 12), 'bad end', '31', 'bad', 'figure 31', 'subject of bbbb']],
      [middle, ['3', middle.slice(0, 12), 'candidate', '31', 'bad', 'figure 31', 'subject of cccc']],
    ]);
    expect(html).toContain(`First bad commit: ${middle.slice(0, 12)} &quot;subject of cccc&quot;: 31 instructions/op, against 27 at its parent.`);
  });

  it('a perf run without a flame graph: its owners and hotspots, and how to draw one', () => {
    const run: InstructionsRun = {
      mode: 'instructions',
      profile: 'tiny-hot',
      label: 'hakmem',
      allocator: 'hakmem',
      variant: 'v1',
      features: {directCache: true, dualLists: true, superslab: true, wrapTiny: true, stats: 0, harden: false},
      command: 'tiny_hot 64 100 1500',
      ops: 300_000,
      seconds: 0.5,
      event: 'instructions',
      eventDescription: 'instructions (callgrind, exact)',
      categories: {'hakmem tiny': 0.6, benchmark: 0.4},
      hotspots: [{symbol: 'malloc', library: 'libhakmem.so', category: 'hakmem tiny', share: 0.35, weight: 35}],
      attribution: 'how hakmem was split',
      warnings: ['a <warning>'],
      resultDir: 'dir',
      files: {},
      instructions: 8_100_000,
      instructionsPerOp: 27,
      categoryInstructionsPerOp: {},
    };
    const html = perfSection({id: 'perf-id', dir: 'dir', result: run, flameGraph: null});
    expect(rows(html, 'perf-categories')).toEqual([
      ['hakmem tiny', ['hakmem tiny', '60.0%']],
      ['benchmark', ['benchmark', '40.0%']],
    ]);
    expect(rows(html, 'perf-hotspots')).toEqual([['malloc', ['35.0%', 'malloc', 'libhakmem.so', 'hakmem tiny']]]);
    expect(html).toContain('<dt>instructions per operation</dt><dd>27.00</dd>');
    expect(html).toContain('hak perf PROFILE --flamegraph FILE draws one');
    expect(html).toContain('a &lt;warning&gt;');
    expect(html).not.toContain('data-chart="flamegraph"');
  });
});
