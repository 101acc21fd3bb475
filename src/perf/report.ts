/**
 * Reading `perf report --stdio` output: the header (event, sample count) and one row per
 * symbol. hak asks for a tab-separated flat report (REPORT_ARGS), but the parser also reads
 * the space-aligned layout, reports with a Children column, call-graph lines and reports cut
 * by --percent-limit, so a report saved by hand can be read too.
 */
import type {WeightedSymbol} from './owners.js';

/** The flat report hak asks perf for: self time per (library, symbol), tab-separated, every row. */
export const REPORT_ARGS = ['--stdio', '--no-children', '-g', 'none', '--sort', 'dso,sym', '-F', 'overhead,sample,dso,sym', '-t', '\t'];

export interface PerfReportRow {
  /** Self share of all samples, 0..1. */
  share: number;
  /** Share including callees, 0..1, when the report has a Children column. */
  children?: number;
  /** Samples in this row: from the Samples column, else estimated from the share. */
  samples: number;
  library: string;
  symbol: string;
  /** perf marked the symbol [k]: kernel code. */
  kernel: boolean;
}

export interface PerfReport {
  /** The sampled event of the first section, e.g. `cpu-clock` or `cycles:u`; null if not stated. */
  event: string | null;
  /** Every event the report has a section for. */
  events: string[];
  /** Total samples of the first section ("187K" is read as 187000). */
  samples: number;
  /** Whether `samples` was printed exactly rather than abbreviated (K, M). */
  samplesExact: boolean;
  lostSamples: number;
  rows: PerfReportRow[];
}

interface Columns {
  names: string[];
  /** [start, end) of each column for the space-aligned layout; the last runs to the line's end. */
  spans: [number, number][] | null;
}

const SUFFIX: Record<string, number> = {'': 1, K: 1e3, M: 1e6, G: 1e9};

function count(text: string): {value: number; exact: boolean} {
  const match = /^([\d.]+)\s*([KMG]?)$/.exec(text.trim());
  if (!match) return {value: 0, exact: false};
  return {value: Math.round(Number(match[1]) * SUFFIX[match[2] ?? '']!), exact: match[2] === ''};
}

function percent(text: string | undefined): number | undefined {
  const match = /^\s*(-?[\d.]+)%\s*$/.exec(text ?? '');
  // Parsed as a decimal ("0.17e-2"), not divided: 0.17 / 100 is not exactly 0.0017.
  return match ? Number(`${match[1]}e-2`) : undefined;
}

/** Column spans from the dotted rule under an aligned header ("# ........  ......"). */
function spansFromRule(rule: string): [number, number][] {
  const spans: [number, number][] = [];
  for (const match of rule.matchAll(/\.+/g)) spans.push([match.index!, match.index! + match[0].length]);
  return spans;
}

function headerColumns(line: string, separator: boolean): Columns {
  const body = line.replace(/^#/, '');
  const names = separator ? body.split('\t').map((name) => name.trim()) : body.trim().split(/\s{2,}/);
  return {names, spans: null};
}

function cells(line: string, columns: Columns): string[] {
  if (line.includes('\t')) return line.split('\t').map((cell) => cell.trim());
  if (columns.spans) {
    return columns.spans.map(([start, end], index) =>
      (index === columns.spans!.length - 1 ? line.slice(start) : line.slice(start, end)).trim(),
    );
  }

  // Aligned without a rule: every column but the last is one word (a number or a name without spaces).
  const words = line.trim().split(/\s+/);
  const fixed = columns.names.length - 1;
  return [...words.slice(0, fixed), words.slice(fixed).join(' ')];
}

function parseRow(line: string, columns: Columns, totalSamples: number): PerfReportRow | null {
  const values = cells(line, columns);
  const field = (...names: string[]): string | undefined => {
    const index = columns.names.findIndex((name) => names.includes(name));
    return index === -1 ? undefined : values[index];
  };

  const children = percent(field('Children'));
  const share = percent(field('Overhead', 'Self'));
  const rawSymbol = field('Symbol');
  if (share === undefined || rawSymbol === undefined) return null;
  const marker = /^\[([.kgu])\]\s+/.exec(rawSymbol);
  const symbol = marker ? rawSymbol.slice(marker[0].length) : rawSymbol;
  const samplesText = field('Samples');
  const samples = samplesText === undefined ? Math.round(share * totalSamples) : count(samplesText).value;
  return {
    share,
    ...(children === undefined ? {} : {children}),
    samples,
    library: field('Shared Object') ?? '[unknown]',
    symbol,
    kernel: marker?.[1] === 'k',
  };
}

export function parsePerfReport(text: string): PerfReport {
  const report: PerfReport = {event: null, events: [], samples: 0, samplesExact: false, lostSamples: 0, rows: []};
  let columns: Columns | null = null;
  let samplesColumn = false;
  let section = 0;
  for (const line of text.split('\n')) {
    const samples = /^# Samples: (\S+)\s+of event '([^']+)'/.exec(line);
    if (samples) {
      section++;
      report.events.push(samples[2]!);
      if (section === 1) {
        const parsed = count(samples[1]!);
        report.event = samples[2]!;
        report.samples = parsed.value;
        report.samplesExact = parsed.exact;
      }

      columns = null;
      continue;
    }

    const lost = /^# Total Lost Samples: (\d+)/.exec(line);
    if (lost) report.lostSamples = Number(lost[1]);
    if (section > 1) continue;
    if (/^#\s*(Overhead|Children)\b/.test(line)) {
      columns = headerColumns(line, line.includes('\t'));
      samplesColumn = columns.names.includes('Samples');
      continue;
    }

    if (columns && /^#\s*\.+/.test(line)) {
      columns.spans = spansFromRule(line);
      continue;
    }

    // Rows start with a percentage; call-graph lines start with "|", "---" or a name.
    if (!columns || !/^\s*-?[\d.]+%/.test(line)) continue;
    const row = parseRow(line, columns, report.samples);
    if (row) report.rows.push(row);
  }

  // perf abbreviates large totals ("3K"); a complete report's rows give the exact count.
  const shares = report.rows.reduce((sum, row) => sum + row.share, 0);
  if (!report.samplesExact && shares > 0.999 && samplesColumn) {
    report.samples = report.rows.reduce((sum, row) => sum + row.samples, 0);
    report.samplesExact = true;
  }

  return report;
}

/** The rows as weighted symbols for attribution (owners.ts), weighted by samples. */
export function reportSymbols(report: PerfReport): WeightedSymbol[] {
  return report.rows.map((row) => ({symbol: row.symbol, library: row.library, weight: row.samples, kernel: row.kernel}));
}
