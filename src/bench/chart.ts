/**
 * A standalone SVG bar chart of a bench result, for a browser or a report: one horizontal bar
 * per target at its median, a whisker over the median's 95% interval, the ratio to the baseline
 * and its verdict beside it. A result that is not a valid measurement (INVALID: another
 * allocator served it; FAILED: a run crashed or timed out) gets no bar at all, only a hatched
 * band saying so, so no one reads a length off it.
 */
import {type BenchAnalysis, recordUnits, type TargetResult} from './analysis.js';
import {formatRate, formatRatio, formatRss, formatTick} from './format.js';
import {describeMachine} from './machine.js';
import type {BenchRecord} from './record.js';

const WIDTH = 880;
const LABEL_RIGHT = 170;
const PLOT_LEFT = 180;
const PLOT_RIGHT = WIDTH - 200;
const TOP = 76;
const ROW = 32;
const BAR = 18;
export const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

export function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&apos;');
}

/** Round tick spacing (1, 2 or 5 times a power of ten) giving about `count` ticks up to `max`. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const multiple = [1, 2, 5, 10].find((candidate) => candidate * power >= raw)!;
  return multiple * power;
}

export function text(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attributes ? ` ${attributes}` : ''}>${escapeXml(content)}</text>`;
}

function truncate(content: string, length: number): string {
  return content.length <= length ? content : `${content.slice(0, length - 1)}…`;
}

function barRow(result: TargetResult, y: number, scale: (value: number) => number, baseline: string): string[] {
  const middle = y + ROW / 2;
  const parts = [text(LABEL_RIGHT, middle + 4, result.label, 'text-anchor="end" font-weight="600"')];
  if (result.status !== 'ok' || result.median === null || result.ci95 === null) {
    const why = `${result.status.toUpperCase()}: ${result.cause ?? 'no result'}`;
    parts.push(
      `<rect x="${PLOT_LEFT}" y="${middle - BAR / 2}" width="${PLOT_RIGHT - PLOT_LEFT}" height="${BAR}" fill="url(#hatch)" stroke="#c0392b" stroke-width="1"/>`,
      text(PLOT_LEFT + 8, middle + 4, truncate(why, 96), 'fill="#922b21" font-weight="600"'),
    );
    return parts;
  }

  const isBaseline = result.label === baseline;
  const end = scale(result.median);
  const [low, high] = result.ci95.map(scale) as [number, number];
  parts.push(
    `<rect x="${PLOT_LEFT}" y="${middle - BAR / 2}" width="${(end - PLOT_LEFT).toFixed(1)}" height="${BAR}" fill="${isBaseline ? '#e15759' : '#4e79a7'}"/>`,
    `<path d="M${low.toFixed(1)} ${middle}H${high.toFixed(1)}M${low.toFixed(1)} ${middle - 6}V${middle + 6}M${high.toFixed(1)} ${middle - 6}V${middle + 6}" stroke="#222" stroke-width="1.5" fill="none"/>`,
  );
  const ratio = isBaseline ? ' · baseline' : result.vsBaseline ? ` · ${formatRatio(result.vsBaseline.ratio)}, ${result.vsBaseline.verdict}` : '';
  const {latency} = result;
  const tail = latency ? ` · p50 ${latency.p50.median.toFixed(2)} / p99 ${latency.p99.median.toFixed(2)} / max ${latency.max.median.toFixed(2)} ms` : '';
  parts.push(text(Math.max(end, high) + 8, middle + 4, `${formatRate(result.median)}${ratio}${tail}`));
  return parts;
}

const RSS_WIDTH = 560;
const RSS_LEFT = WIDTH + 60;
const RSS_RIGHT = WIDTH + RSS_WIDTH - 24;
const RSS_MIN_HEIGHT = 180;
const PALETTE = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b', '#b07aa1', '#76b7b2', '#edc948', '#9c755f'];

/** "×0.986 within noise" for the memory legend, "baseline" for the baseline. */
function memoryNote(result: TargetResult, baseline: string): string {
  if (result.label === baseline) return 'baseline';
  return result.rssVsBaseline ? `${formatRatio(result.rssVsBaseline.ratio)} ${result.rssVsBaseline.verdict}` : '';
}

/** Where a panel is drawn inside its SVG: the plot's left and right edges, its title's baseline below top, the legend's last line above bottom. */
export interface PanelBox {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/**
 * RSS over time beside the bars: one line per valid target, the resident memory of its median
 * run's process tree against seconds since its start, with its peak and the peak's verdict
 * against the baseline in the legend.
 */
export function rssPanel(results: readonly TargetResult[], baseline: string, box: PanelBox): string[] {
  const {left, right, top, bottom} = box;
  const drawn = results.filter((result) => result.status === 'ok' && result.rssTimeline.length > 0);
  const parts = [text(left, top - 10, 'Resident memory over time (median run, whole process tree)', 'font-weight="600"')];
  if (drawn.length === 0) return [...parts, text(left, top + 20, 'no RSS timeline recorded', 'fill="#555"')];
  const legendTop = bottom - drawn.length * 16;
  // Room under the plot for the tick labels and the axis title above the legend.
  const plotBottom = legendTop - 52;
  const maxMs = Math.max(1, ...drawn.flatMap((result) => result.rssTimeline.map(([ms]) => ms)));
  const maxKb = Math.max(1, ...drawn.flatMap((result) => result.rssTimeline.map(([, kb]) => kb)));
  const xStep = niceStep(maxMs / 1000);
  const xMax = Math.max(xStep, Math.ceil(maxMs / 1000 / xStep) * xStep);
  const yStep = niceStep(maxKb / 1024, 4);
  const yMax = Math.max(yStep, Math.ceil(maxKb / 1024 / yStep) * yStep);
  const x = (ms: number): number => left + (ms / 1000 / xMax) * (right - left);
  const y = (kb: number): number => plotBottom - (kb / 1024 / yMax) * (plotBottom - top);
  for (let tick = 0; tick <= yMax + yStep / 2; tick += yStep) {
    parts.push(
      `<line x1="${left}" y1="${y(tick * 1024).toFixed(1)}" x2="${right}" y2="${y(tick * 1024).toFixed(1)}" stroke="#e3e3e3"/>`,
      text(left - 6, y(tick * 1024) + 4, `${formatTick(tick)}`, 'text-anchor="end" fill="#555"'),
    );
  }

  for (let tick = 0; tick <= xMax + xStep / 2; tick += xStep) {
    parts.push(text(x(tick * 1000), plotBottom + 16, formatTick(tick), 'text-anchor="middle" fill="#555"'));
  }

  parts.push(
    `<line x1="${left}" y1="${plotBottom}" x2="${right}" y2="${plotBottom}" stroke="#888"/>`,
    text((left + right) / 2, plotBottom + 32, 'seconds since start; MiB resident', 'text-anchor="middle" fill="#555"'),
  );
  for (const [index, result] of drawn.entries()) {
    const colour = PALETTE[index % PALETTE.length]!;
    const points = result.rssTimeline.map(([ms, kb]) => `${x(ms).toFixed(1)},${y(kb).toFixed(1)}`).join(' ');
    parts.push(`<polyline class="rss-line" data-target="${escapeXml(result.label)}" points="${points}" fill="none" stroke="${colour}" stroke-width="1.8"><title>${escapeXml(`${result.label}: peak ${formatRss(result.peakRssKb ?? 0)}`)}</title></polyline>`);
    const row = legendTop + index * 16;
    parts.push(
      `<rect x="${left}" y="${row - 9}" width="14" height="4" fill="${colour}"/>`,
      text(left + 20, row - 3, `${result.label}: peak ${formatRss(result.peakRssKb ?? 0)}, mean ${formatRss(result.meanRssKb ?? 0)} ${memoryNote(result, baseline)}`.trim()),
    );
  }

  return parts;
}

export function renderChart(record: BenchRecord, analysis: BenchAnalysis): string {
  const results = analysis.results;
  const plotted = results.filter((result) => result.status === 'ok' && result.ci95 !== null);
  const max = Math.max(0, ...plotted.map((result) => result.ci95![1]));
  const step = niceStep(max);
  const axisMax = Math.max(step, Math.ceil(max / step) * step);
  const scale = (value: number): number => PLOT_LEFT + (value / axisMax) * (PLOT_RIGHT - PLOT_LEFT);
  const plotBottom = TOP + Math.max(results.length * ROW, RSS_MIN_HEIGHT + results.length * 16);
  const height = plotBottom + 78;
  const width = WIDTH + RSS_WIDTH;
  const {unit, better} = recordUnits(record);
  const figure = unit === 'ops/s' ? 'Operations per second' : `${unit === 's' ? 'Wall time in seconds' : `The figure in ${unit || 'its unit'}`} (${better} is better)`;

  const title = `${record.profile.name}: ${[record.profile.program, ...record.profile.args].join(' ')}`;
  const subtitle = `${describeMachine(record.machine)} · ${record.createdAt.slice(0, 16).replace('T', ' ')} UTC`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    '<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#fbeaea"/><line x1="0" y1="0" x2="0" y2="8" stroke="#e6a6a0" stroke-width="3"/></pattern></defs>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(16, 26, title, 'font-size="16" font-weight="700"'),
    text(16, 46, subtitle, 'fill="#555"'),
    text(16, 62, `${figure}: median of ${record.profile.runs} runs after ${record.profile.warmup} warm-up, interleaved; whiskers: 95% interval of the median.`, 'fill="#555"'),
  ];

  for (let tick = 0; tick <= axisMax + step / 2; tick += step) {
    const x = scale(tick);
    parts.push(
      `<line x1="${x.toFixed(1)}" y1="${TOP}" x2="${x.toFixed(1)}" y2="${plotBottom}" stroke="#e3e3e3"/>`,
      text(x, plotBottom + 16, formatTick(tick), 'text-anchor="middle" fill="#555"'),
    );
  }

  parts.push(`<line x1="${PLOT_LEFT}" y1="${plotBottom}" x2="${PLOT_RIGHT}" y2="${plotBottom}" stroke="#888"/>`);
  for (const [index, result] of results.entries()) parts.push(...barRow(result, TOP + index * ROW, scale, analysis.baseline));
  parts.push(...rssPanel(results, analysis.baseline, {left: RSS_LEFT, right: RSS_RIGHT, top: TOP, bottom: plotBottom}));
  parts.push(
    text((PLOT_LEFT + PLOT_RIGHT) / 2, plotBottom + 34, unit === 'ops/s' ? 'operations per second' : `median ${unit}`, 'text-anchor="middle" fill="#555"'),
    text(16, plotBottom + 60, `Red bar: the baseline (${analysis.baseline}). Hatched: not a valid measurement, no figure shown. Verdicts need the whole ratio interval beyond ±${(analysis.noise * 100).toFixed(1)}%.`, 'fill="#555"'),
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
