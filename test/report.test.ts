/**
 * hak report and hak bench --report, looked at in a real browser (headless Chromium): the page
 * loads from disk with no console error, its tables show the figures of the results' JSON,
 * every chart has its marks, it reads with JavaScript off and prints without its navigation,
 * and a screenshot of it has the expected size and real content.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {type Browser, chromium, type Page} from 'playwright-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {formatRate} from '../src/bench/format.js';
import type {TargetResult} from '../src/bench/analysis.js';
import type {BenchJson} from '../src/commands/bench.js';
import type {ReportJson} from '../src/commands/report.js';
import {runHak, tempDir} from './helpers.js';
import {decodePng, inkShare} from './png.js';

const CHROMIUM = process.env.HAK_CHROMIUM ?? '/usr/bin/chromium';
const VIEWPORT = {width: 1280, height: 800};

/** Opens a file in a fresh page, collecting console errors and uncaught exceptions. */
async function open(browser: Browser, file: string, options: {javaScript?: boolean} = {}): Promise<{page: Page; errors: string[]}> {
  const context = await browser.newContext({viewport: VIEWPORT, javaScriptEnabled: options.javaScript ?? true});
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`));
  await page.goto(pathToFileURL(file).href, {waitUntil: 'load'});
  return {page, errors};
}

/** The speed table of a result's section: per target, its median cell's text, exact value and class. */
async function medianCells(page: Page, id: string): Promise<Record<string, {text: string; value: string | null; className: string}>> {
  return page.locator(`section[data-result="${id}"] table.speed tbody tr`).evaluateAll((rows) =>
    Object.fromEntries(
      rows.map((row) => {
        const cell = row.querySelector('[data-field="median"]')!;
        return [row.getAttribute('data-row'), {text: cell.textContent ?? '', value: cell.getAttribute('data-value'), className: cell.className}];
      }),
    ),
  );
}

/** The tables and charts of one result's section agree with that result's figures. */
async function expectSection(page: Page, id: string, results: readonly TargetResult[], baseline: string): Promise<void> {
  const cells = await medianCells(page, id);
  expect(Object.keys(cells).sort()).toEqual(results.map((result) => result.label).sort());
  for (const result of results) {
    const cell = cells[result.label]!;
    if (result.status === 'ok') {
      expect(Number(cell.value)).toBe(result.median);
      expect(cell.text).toBe(formatRate(result.median!));
    } else {
      expect(cell).toMatchObject({text: result.status.toUpperCase(), value: null, className: `status-${result.status}`});
    }
  }

  const section = page.locator(`section[data-result="${id}"]`);
  const compared = results.filter((result) => result.label !== baseline && result.vsBaseline !== null);
  const points = await section.locator('svg[data-chart="speed-ratio"] circle.ratio-point').evaluateAll((marks) => marks.map((mark) => [mark.getAttribute('data-target'), Number(mark.getAttribute('data-value'))]));
  expect(points).toEqual(compared.map((result) => [result.label, result.vsBaseline!.ratio]));
  expect(await section.locator('svg[data-chart="speed-ratio"] path.ratio-interval').count()).toBe(compared.length);
  expect(await section.locator('svg[data-chart="speed-ratio"] rect.noise-band').count()).toBe(1);
  expect(await section.locator('svg[data-chart="speed-ratio"] rect.ratio-missing').count()).toBe(results.filter((result) => result.status !== 'ok').length);
  expect(await section.locator('svg[data-chart="rss-ratio"] circle.ratio-point').count()).toBe(results.filter((result) => result.label !== baseline && result.rssVsBaseline !== null).length);
  const lines = await section.locator('svg[data-chart="rss"] polyline.rss-line').evaluateAll((marks) => marks.map((mark) => mark.getAttribute('data-target')));
  expect(lines).toEqual(results.filter((result) => result.status === 'ok').map((result) => result.label));
  for (const result of results.filter((candidate) => candidate.status === 'ok')) {
    // a line with a point per RSS sample of the median run
    const points = await section.locator(`svg[data-chart="rss"] polyline[data-target="${result.label}"]`).getAttribute('points');
    expect(points!.trim().split(/\s+/)).toHaveLength(result.rssTimeline.length);
  }
}

/** A full-page screenshot: as wide as the window, at least as tall, with real content in it. */
async function expectScreenshot(page: Page, file: string): Promise<void> {
  await page.screenshot({path: file, fullPage: true});
  const image = decodePng(readFileSync(file));
  expect(image.width).toBe(VIEWPORT.width);
  expect(image.height).toBeGreaterThanOrEqual(VIEWPORT.height);
  const {ink, colours} = inkShare(image);
  expect(ink).toBeGreaterThan(0.02);
  expect(colours).toBeGreaterThan(16);
}

describe('hak report in a browser', () => {
  const dir = tempDir('hak-report-');
  const env = {HAK_HOME: join(dir, 'home'), HAK_CSRC: undefined};
  let browser: Browser;
  let bench: BenchJson;
  let invalid: BenchJson;
  let invalidId: string;

  beforeAll(async () => {
    browser = await chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage']});
    // A perf run with a flame graph, and an earlier result of the profile in which hakmem is INVALID.
    const perf = await runHak(['perf', 'tiny-hot', '--top', '5', '--flamegraph', join(dir, 'flame.svg')], {env});
    expect(perf.exitCode, perf.stderr).toBe(0);
    const invalidRun = await runHak(['bench', 'tiny-hot', '--runs', '2', '--warmup', '0', '--no-wrap-tiny', '--allocators', 'hakmem,glibc', '--json'], {env});
    expect(invalidRun.exitCode, invalidRun.stderr).toBe(1);
    invalid = JSON.parse(invalidRun.stdout) as BenchJson;
    invalidId = invalid.id!;
    const run = await runHak(['bench', 'tiny-hot', '--runs', '3', '--report', join(dir, 'r.html'), '--json'], {env});
    expect(run.exitCode, run.stderr).toBe(0);
    bench = JSON.parse(run.stdout) as BenchJson;
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('hak bench --report: the run just made, its figures, charts and a screenshot', async () => {
    expect(bench.report).toBe(join(dir, 'r.html'));
    const {page, errors} = await open(browser, bench.report!);
    expect(await page.locator('section.result').count()).toBe(1);
    await expectSection(page, bench.id!, bench.results, bench.baseline);
    // who served: hakmem verified by the loader and its counters
    expect(await page.locator(`section[data-result="${bench.id}"] table.evidence tr[data-row="hakmem"] [data-field="served"]`).textContent()).toBe('verified');
    await expectScreenshot(page, join(dir, 'r.png'));
    expect(errors).toEqual([]);
  });

  it('hak report: the latest result of every profile, compared with the one before, and the perf run with its flame graph', async () => {
    const made = await runHak(['report', '-o', join(dir, 'all.html'), '--json'], {env});
    expect(made.exitCode, made.stderr).toBe(0);
    const summary = JSON.parse(made.stdout) as ReportJson;
    expect(summary.results.map((result) => result.id)).toEqual([bench.id]);
    expect(summary.comparisons).toEqual([{before: invalidId, after: bench.id}]);
    expect(summary.perfRuns).toHaveLength(1);

    const {page, errors} = await open(browser, summary.file);
    await expectSection(page, bench.id!, bench.results, bench.baseline);
    // the comparison: hakmem INVALID before, so not compared; glibc compared
    const comparison = page.locator('table.comparison');
    expect(await comparison.locator('tr[data-row="hakmem"] td').first().textContent()).toBe('INVALID');
    expect(await comparison.locator('tr[data-row="glibc"] [data-field="ratio"]').count()).toBe(1);
    // the flame graph, drawn inline, with a frame for the benchmark's loop
    const flame = page.locator('figure[data-chart="flamegraph"] svg');
    expect(await flame.locator('rect').count()).toBeGreaterThan(5);
    expect(await flame.locator('title', {hasText: 'bench_loop_tiny_hot'}).count()).toBeGreaterThan(0);
    expect(await page.locator('table.perf-hotspots tbody tr').count()).toBe(5);
    await expectScreenshot(page, join(dir, 'all.png'));
    expect(errors).toEqual([]);

    // printed on A4 portrait (718 CSS pixels between the margins): the print style sheet applies,
    // every block is open, and no table or chart is wider than the paper
    await page.setViewportSize({width: 718, height: 1000});
    await page.emulateMedia({media: 'print'});
    expect(await page.evaluate('getComputedStyle(document.body).fontSize')).toBe('11px');
    expect(await page.locator('details:not([open])').count()).toBe(0);
    const overflowing = await page.evaluate(`[...document.querySelectorAll('table, svg')].filter((element) => element.getBoundingClientRect().right > 718).length`);
    expect(overflowing).toBe(0);
    const pdf = await page.pdf({format: 'A4'});
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('previous and latest: a result hakmem did not serve shows INVALID instead of its figures; the page reads with JavaScript off', async () => {
    const made = await runHak(['report', 'previous', 'latest', '-o', join(dir, 'two.html'), '--json'], {env});
    expect(made.exitCode, made.stderr).toBe(0);
    expect((JSON.parse(made.stdout) as ReportJson).results.map((result) => result.id)).toEqual([invalidId, bench.id]);
    expect(invalid.results.find((result) => result.label === 'hakmem')!.status).toBe('invalid');

    const {page, errors} = await open(browser, join(dir, 'two.html'), {javaScript: false});
    expect(await page.locator('nav.contents a').count()).toBe(2);
    await expectSection(page, invalidId, invalid.results, invalid.baseline);
    await expectSection(page, bench.id!, bench.results, bench.baseline);
    expect(await page.locator(`section[data-result="${invalidId}"] svg[data-chart="speed-ratio"] rect.ratio-missing[data-target="hakmem"]`).count()).toBe(1);
    expect(errors).toEqual([]);
  });

  it('a server: its latency percentiles, the allocator the program links shown as what served it', async () => {
    const run = await runHak(['bench', 'redis', '--runs', '3', '--warmup', '0', '--allocators', 'hakmem,glibc', '--no-save', '--report', join(dir, 'redis.html'), '--json'], {env});
    expect(run.exitCode, run.stderr).toBe(0);
    const server = JSON.parse(run.stdout) as BenchJson;
    const {page, errors} = await open(browser, join(dir, 'redis.html'));
    const section = page.locator('section.result');
    expect(await section.count()).toBe(1);
    for (const result of server.results) {
      const row = section.locator(`table.speed tr[data-row="${result.label}"]`);
      expect(Number(await row.locator('[data-field="median"]').getAttribute('data-value'))).toBe(result.median);
      expect(await row.locator('th').textContent()).toBe(result.system ?? result.label);
      for (const percentile of ['p50', 'p99', 'max'] as const) {
        expect(Number(await section.locator(`table.latency tr[data-row="${result.label}"] [data-field="${percentile}"]`).getAttribute('data-value'))).toBe(result.latency![percentile].median);
      }
    }

    expect(await section.locator('svg[data-chart="rss"] polyline.rss-line').count()).toBe(server.results.length);
    expect(await section.locator('ul.warnings li', {hasText: 'MIXED ALLOCATORS'}).count()).toBe(1);
    expect(errors).toEqual([]);
  });

  it('names an unknown result, and a file that is not a result, in a line with exit code 2, writing nothing', async () => {
    const unknown = await runHak(['report', 'no-such-result', '-o', join(dir, 'unknown.html')], {env});
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/^Error: no saved result matches "no-such-result"\.\n {2}Most recent: \d{8}T/);
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{"kind": "bench"');
    const broken = await runHak(['report', file, '-o', join(dir, 'broken.html')], {env});
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toMatch(/^Error: .*broken\.json is not a hak bench result: .*\n$/);
    expect(existsSync(join(dir, 'unknown.html')) || existsSync(join(dir, 'broken.html'))).toBe(false);
  });
});

describe('hak report errors', () => {
  const home = tempDir('hak-report-home-');

  it('says there is nothing to report before any bench result is saved', async () => {
    const run = await runHak(['report', '-o', join(home, 'x.html')], {env: {HAK_HOME: home}});
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/^Error: no saved bench results in .*\n {2}Run hak bench first/);
  });

});
