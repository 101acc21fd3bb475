import {Args, Flags} from '@oclif/core';

import {HakCommand} from '../base-command.js';
import {UsageError} from '../errors.js';
import type {ReportSummary} from '../report/index.js';

/** `hak report --json`: the file written and what it covers. */
export interface ReportJson extends ReportSummary {
  file: string;
}

export default class Report extends HakCommand {
  static override summary = 'Write saved results as one self-contained HTML page: tables, ratio and memory charts, who served, hotspots.';

  static override description = [
    'RESULT is a saved bench result: a path, an id (the file name without .json) or a unique prefix of it, latest or previous, as for hak compare. Without RESULT the page covers the latest saved result of every profile.',
    'Each result gets its header (profile, machine, compiler, commit, toggles, shell variables), the table of medians with their intervals, ratios and verdicts (INVALID and FAILED marked), charts of each target\'s ratio interval against the noise band and of resident memory over time, the memory table with faults and CPU, the evidence of who served, and latency percentiles for servers. Where saved, it adds the comparison with the result of the profile saved before it, and the profile\'s latest hak perf run (hotspots and flame graph) and hak bisect.',
    'The page needs no network and no other file: its style and charts are inline, and it reads with JavaScript off. Exit codes: 0 written; 2 an unknown result, an unreadable file or a file that cannot be written.',
  ].join('\n\n');

  static override examples = [
    {description: 'The latest result of every profile.', command: '<%= config.bin %> <%= command.id %> -o report.html'},
    {description: 'The last two results, each compared with the one before it.', command: '<%= config.bin %> <%= command.id %> previous latest -o last-two.html'},
    {description: 'One result by id prefix.', command: '<%= config.bin %> <%= command.id %> 20251122T0521 -o tiny-hot.html'},
  ];

  /** Several results may follow one another. */
  static override strict = false;

  static override args = {
    result: Args.string({description: 'Saved bench results: paths, ids or prefixes, latest or previous (default: the latest of every profile).'}),
  };

  static override flags = {
    output: Flags.string({char: 'o', helpValue: 'FILE', default: 'hak-report.html', summary: 'The HTML file to write.'}),
  };

  async run(): Promise<ReportJson> {
    const {flags, argv} = await this.parse(Report);
    const references = argv.map(String);
    const flag = references.find((word) => word.startsWith('-'));
    if (flag) throw new UsageError(`unknown flag ${flag}.`, {hint: 'hak report --help lists the flags.'});
    // Loaded here rather than at start-up: hak --help and the other commands do not pay for it.
    const {buildReport, writeReport} = await import('../report/index.js');
    const report = buildReport({references});
    const file = writeReport(flags.output, report.html);
    const {results, perfRuns, bisects, comparisons} = report.summary;
    if (!this.jsonEnabled()) {
      const extras = [
        comparisons.length > 0 ? `${comparisons.length} comparison${comparisons.length === 1 ? '' : 's'} with the result before` : '',
        perfRuns.length > 0 ? `${perfRuns.length} perf run${perfRuns.length === 1 ? '' : 's'}` : '',
        bisects.length > 0 ? `${bisects.length} bisect${bisects.length === 1 ? '' : 's'}` : '',
      ].filter((part) => part !== '');
      this.log(`Wrote ${this.displayPath(file)}: ${results.map((result) => result.id).join(', ')}${extras.length > 0 ? `; with ${extras.join(', ')}` : ''}.`);
    }

    return {file, ...report.summary};
  }
}
