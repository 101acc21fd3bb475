/**
 * `hak report`: saved results as one self-contained HTML page, to look at rather than read.
 *
 *   const report = buildReport({references: ['latest']});
 *   writeReport('report.html', report.html);
 *
 * Each bench result gets its section (bench-section.ts) followed, where saved, by the comparison
 * with the result of its profile saved before it and that profile's latest perf run and bisect
 * (extras.ts). The page has its style sheet inline and its charts as inline SVG; it fetches
 * nothing and reads with JavaScript off.
 */
import {resolve} from 'node:path';

import {writeFileAtomic} from '../atomic-file.js';
import {analyzeRecord} from '../bench/analysis.js';
import {compareRecords} from '../bench/compare.js';
import type {BenchRecord} from '../bench/record.js';
import {UsageError} from '../errors.js';
import {benchSection, resultName, sectionId} from './bench-section.js';
import {bisectSection, comparisonSection, perfSection} from './extras.js';
import {renderPage} from './page.js';
import {latestBisects, latestPerfRuns, loadBench, previousResult, selectBenchFiles} from './sources.js';

export interface ReportOptions {
  /** Saved results by path, id or prefix, `latest` or `previous`; none: the latest of every profile. */
  references?: readonly string[];
}

/** What the report holds, for --json and the command's summary line. */
export interface ReportSummary {
  results: {id: string; profile: string; file: string | null}[];
  perfRuns: string[];
  bisects: string[];
  comparisons: {before: string; after: string}[];
}

export interface Report {
  html: string;
  summary: ReportSummary;
}

/** The comparison with the profile's previous result, or null when there is none or it ran another command line. */
function compareWithPrevious(record: BenchRecord): ReturnType<typeof compareRecords> | null {
  const previous = previousResult(record);
  if (!previous) return null;
  try {
    return compareRecords(previous, record);
  } catch (error) {
    if (error instanceof UsageError) return null;
    throw error;
  }
}

/** The report of the saved results named, or of the latest result of every profile. */
export function buildReport(options: ReportOptions = {}): Report {
  return reportOf(loadBench(selectBenchFiles(options.references ?? [])));
}

/** The report of results already loaded (`hak bench --report`: the records just made; file is null when not saved). */
export function reportOf(loaded: readonly {file: string | null; record: BenchRecord}[]): Report {
  const profiles = new Set(loaded.map(({record}) => record.profile.name));
  const perfRuns = latestPerfRuns(profiles);
  const bisects = latestBisects(profiles);
  const summary: ReportSummary = {results: [], perfRuns: perfRuns.map((perf) => perf.id), bisects: bisects.map((bisect) => bisect.id), comparisons: []};
  // A profile's perf run and bisect follow its last section only.
  const lastOfProfile = new Map(loaded.map(({record}) => [record.profile.name, record.id]));
  const sections = loaded.map(({file, record}) => {
    summary.results.push({id: record.id, profile: record.profile.name, file});
    const comparison = compareWithPrevious(record);
    if (comparison) summary.comparisons.push({before: comparison.a.id, after: comparison.b.id});
    const last = lastOfProfile.get(record.profile.name) === record.id;
    const extras = [
      comparison ? comparisonSection(comparison) : '',
      ...(last ? perfRuns.filter((perf) => perf.result.profile === record.profile.name).map((perf) => perfSection(perf)) : []),
      ...(last ? bisects.filter((bisect) => bisect.result.profile === record.profile.name).map((bisect) => bisectSection(bisect)) : []),
    ];
    return benchSection(record, analyzeRecord(record), extras.join('\n'));
  });

  const records = loaded.map(({record}) => record);
  const names = [...profiles].join(', ');
  const newest = records.map((record) => record.createdAt).sort().at(-1)!;
  const html = renderPage({
    title: records.length === 1 ? `hak bench ${names}` : `hak bench: ${records.length} results`,
    subtitle: `${records.length === 1 ? resultName(records[0]!) : names}; newest ${newest.slice(0, 16).replace('T', ' ')} UTC. Medians with 95% intervals; verdicts only beyond the noise band.`,
    contents: records.map((record) => [sectionId(record), `${record.profile.name} (${(record.id || 'not saved').slice(0, 15)})`]),
    body: sections.join('\n'),
  });
  return {html, summary};
}

/** Writes the page whole or not at all; a UsageError when the file cannot be written. */
export function writeReport(path: string, html: string): string {
  const file = resolve(path);
  try {
    writeFileAtomic(file, html);
  } catch (error) {
    throw new UsageError(`cannot write the report to ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'its directory does not exist' : (error as Error).message}.`);
  }

  return file;
}
