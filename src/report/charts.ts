/**
 * The report's charts, drawn here as inline SVG so they show with JavaScript off and print as
 * drawn: each target's ratio to the baseline as a point on its interval, over the shaded noise
 * band inside which no verdict is given; and resident memory over time, drawn by the same panel
 * as `hak bench --chart`. The figures come from the bench analysis; nothing is recomputed here.
 */
import type {BenchAnalysis, TargetResult} from '../bench/analysis.js';
import {escapeXml, FONT, niceStep, rssPanel, text} from '../bench/chart.js';
import {displayLabel} from '../bench/render.js';
import {formatRatio} from '../bench/format.js';
import type {RatioEstimate} from '../statistics/ratio.js';

const WIDTH = 760;
const LABEL_RIGHT = 150;
const PLOT_LEFT = 160;
const PLOT_RIGHT = WIDTH - 190;
const TOP = 40;
const ROW = 30;

const VERDICT_COLOURS: Record<string, string> = {faster: '#2e7d32', lower: '#2e7d32', slower: '#b03a2e', higher: '#b03a2e', 'within noise': '#4e79a7'};

/** One row of a ratio chart: a target's estimate against the baseline, or why it has none. */
export interface RatioRow {
  label: string;
  estimate: (RatioEstimate & {verdict: string}) | null;
  /** `invalid` or `failed` rows get a marked band and no point. */
  status: TargetResult['status'];
  cause: string | null;
}

export interface RatioChartOptions {
  title: string;
  /** What a ratio above 1 means, and below: ['faster', 'slower']. */
  above: string;
  below: string;
  noise: number;
  /** What the chart shows, for data-chart. */
  kind: string;
}

function svgOpen(width: number, height: number, kind: string, title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${kind}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="12" role="img" aria-label="${escapeXml(title)}"><title>${escapeXml(title)}</title><rect width="${width}" height="${height}" fill="#ffffff"/>`;
}

/** The ratio axis: 1 and the noise band always in view, with some room around the intervals. */
function ratioAxis(rows: readonly RatioRow[], noise: number): {low: number; high: number; step: number} {
  const values = [1 - noise, 1 + noise, ...rows.flatMap((row) => (row.estimate ? [row.estimate.ratio, row.estimate.low ?? row.estimate.ratio, row.estimate.high ?? row.estimate.ratio] : []))];
  const span = Math.max(...values) - Math.min(...values);
  const step = niceStep(span * 1.2, 5);
  const low = Math.max(0, Math.floor((Math.min(...values) - span * 0.05) / step) * step);
  const high = Math.ceil((Math.max(...values) + span * 0.05) / step) * step;
  return {low, high: high > low ? high : low + step, step};
}

/** Each target's ratio to the baseline on its 95% interval, over the noise band. */
export function ratioChart(rows: readonly RatioRow[], options: RatioChartOptions): string {
  const plotBottom = TOP + Math.max(1, rows.length) * ROW;
  const height = plotBottom + 46;
  const {low, high, step} = ratioAxis(rows, options.noise);
  const x = (ratio: number): number => PLOT_LEFT + ((ratio - low) / (high - low)) * (PLOT_RIGHT - PLOT_LEFT);
  const parts = [svgOpen(WIDTH, height, options.kind, options.title), text(12, 20, options.title, 'font-size="14" font-weight="600"')];
  const bandLeft = x(1 - options.noise);
  parts.push(
    `<rect class="noise-band" x="${bandLeft.toFixed(1)}" y="${TOP - 6}" width="${(x(1 + options.noise) - bandLeft).toFixed(1)}" height="${plotBottom - TOP + 6}" fill="#e8ecf1"><title>noise band: ±${(options.noise * 100).toFixed(1)}%, no verdict inside it</title></rect>`,
  );
  for (let tick = low; tick <= high + step / 2; tick += step) {
    parts.push(
      `<line x1="${x(tick).toFixed(1)}" y1="${TOP - 6}" x2="${x(tick).toFixed(1)}" y2="${plotBottom}" stroke="#eeeeee"/>`,
      text(x(tick), plotBottom + 16, `×${Number(tick.toPrecision(6))}`, 'text-anchor="middle" fill="#555"'),
    );
  }

  parts.push(
    `<line x1="${x(1).toFixed(1)}" y1="${TOP - 6}" x2="${x(1).toFixed(1)}" y2="${plotBottom}" stroke="#555" stroke-dasharray="3 3"/>`,
    `<line x1="${PLOT_LEFT}" y1="${plotBottom}" x2="${PLOT_RIGHT}" y2="${plotBottom}" stroke="#888"/>`,
    text(PLOT_LEFT, plotBottom + 34, `← ${options.below}`, 'fill="#555"'),
    text(PLOT_RIGHT, plotBottom + 34, `${options.above} →`, 'text-anchor="end" fill="#555"'),
    text((PLOT_LEFT + PLOT_RIGHT) / 2, plotBottom + 34, `shaded: ±${(options.noise * 100).toFixed(1)}% noise band`, 'text-anchor="middle" fill="#555"'),
  );
  if (rows.length === 0) parts.push(text(PLOT_LEFT, TOP + ROW / 2, 'nothing to compare with the baseline', 'fill="#555"'));
  for (const [index, row] of rows.entries()) {
    const middle = TOP + index * ROW + ROW / 2;
    parts.push(text(LABEL_RIGHT, middle + 4, row.label, 'text-anchor="end" font-weight="600"'));
    if (!row.estimate) {
      const why = row.status === 'ok' ? 'no ratio' : `${row.status.toUpperCase()}: ${row.cause ?? 'no result'}`;
      parts.push(
        `<rect class="ratio-missing" data-target="${escapeXml(row.label)}" x="${PLOT_LEFT}" y="${middle - 9}" width="${PLOT_RIGHT - PLOT_LEFT}" height="18" fill="#fbeaea" stroke="#b03a2e"/>`,
        text(PLOT_LEFT + 6, middle + 4, why.length > 80 ? `${why.slice(0, 79)}…` : why, 'fill="#922b21" font-weight="600"'),
      );
      continue;
    }

    const {ratio, low: lowEnd, high: highEnd, verdict} = row.estimate;
    const colour = VERDICT_COLOURS[verdict] ?? '#4e79a7';
    const tip = `${row.label}: ${formatRatio(ratio)}${lowEnd === null || highEnd === null ? ', no interval (< 3 runs)' : `, 95% interval ${lowEnd.toFixed(3)}–${highEnd.toFixed(3)}`}, ${verdict}`;
    if (lowEnd !== null && highEnd !== null) {
      parts.push(
        `<path class="ratio-interval" data-target="${escapeXml(row.label)}" d="M${x(lowEnd).toFixed(1)} ${middle}H${x(highEnd).toFixed(1)}M${x(lowEnd).toFixed(1)} ${middle - 6}V${middle + 6}M${x(highEnd).toFixed(1)} ${middle - 6}V${middle + 6}" stroke="${colour}" stroke-width="2" fill="none"/>`,
      );
    }

    parts.push(
      `<circle class="ratio-point" data-target="${escapeXml(row.label)}" data-value="${ratio}" cx="${x(ratio).toFixed(1)}" cy="${middle}" r="5" fill="${colour}"><title>${escapeXml(tip)}</title></circle>`,
      text(PLOT_RIGHT + 10, middle + 4, `${formatRatio(ratio)} ${verdict}`, `fill="${colour}"`),
    );
  }

  parts.push('</svg>');
  return parts.join('');
}

/** Speed against the baseline: every target but the baseline itself. */
export function speedRatioRows(analysis: BenchAnalysis): RatioRow[] {
  return analysis.results
    .filter((result) => result.label !== analysis.baseline)
    .map((result) => ({label: displayLabel(result), estimate: result.vsBaseline, status: result.status, cause: result.cause}));
}

/** Peak RSS against the baseline's. */
export function memoryRatioRows(analysis: BenchAnalysis): RatioRow[] {
  return analysis.results
    .filter((result) => result.label !== analysis.baseline)
    .map((result) => ({label: displayLabel(result), estimate: result.rssVsBaseline, status: result.status, cause: result.cause}));
}

/** Resident memory over time, one line per valid target: `hak bench --chart`'s panel on its own. */
export function rssChart(analysis: BenchAnalysis): string {
  const drawn = analysis.results.filter((result) => result.status === 'ok' && result.rssTimeline.length > 0).length;
  const height = 250 + drawn * 16;
  const title = 'Resident memory over time';
  return `${svgOpen(WIDTH, height, 'rss', title)}${rssPanel(analysis.results, analysis.baseline, {left: 70, right: WIDTH - 24, top: 30, bottom: height - 10}).join('')}</svg>`;
}
