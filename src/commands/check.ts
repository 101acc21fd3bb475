import {Args, Flags} from '@oclif/core';

import {HakCommand, formatError} from '../base-command.js';
import {METRIC_NAMES, type Finding} from '../check/baseline.js';
import {type CheckReport, checkBaseline, DEFAULT_ENTRIES} from '../check/index.js';
import {VerdictError} from '../errors.js';
import {percentFlag} from '../flags.js';
import {renderTable} from '../ui/table.js';


/** Instructions keep one decimal, misses three, as hak perf --cache shows them. */
const figure = (metric: Finding['metric'], value: number): string => value.toFixed(metric === 'instructions' ? 1 : 3);
const change = (ratio: number | null): string => (ratio === null ? '' : `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`);

export default class Check extends HakCommand {
  static override summary = 'Gate hakmem\'s exact per-operation cost against the baseline file: the same answer on every machine.';

  static override description = [
    `For each entry (default: the baseline's; a new baseline holds ${DEFAULT_ENTRIES.join(' and ')}) runs hak perf --cache once, with the fixed cache geometry, and sets hakmem's own instructions and simulated D1 misses per operation (its owner categories and glibc's malloc internals, the figures that do not depend on the host CPU) against check/baseline.json. The totals of the measured region, benchmark and libc included, are shown beside them but not gated: glibc picks its string functions by CPU.`,
    'A figure grown beyond the tolerance fails the check (exit 1), naming the entry, the figure, the old and new values and the functions that grew. A figure shrunk beyond it is reported, with a hint to --update. An entry is a profile, or PROFILE:TOGGLES (tiny-hot:harden) for another build.',
  ].join('\n\n');

  static override examples = [
    {description: 'Check the baseline\'s entries.', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Measure the baseline again, hardened builds included.', command: '<%= config.bin %> <%= command.id %> tiny-hot random-mixed tiny-hot:harden random-mixed:harden --update'},
    {description: 'One entry, with a tighter tolerance.', command: '<%= config.bin %> <%= command.id %> tiny-hot --tolerance 0.5'},
  ];

  static override strict = false;

  static override args = {
    profile: Args.string({description: 'Entries to check: PROFILE or PROFILE:TOGGLES (tiny-hot:harden); default the baseline\'s.'}),
  };

  static override flags = {
    tolerance: percentFlag('How far a gated figure may grow (or shrink) before it is called, in percent (default 2).')(),
    update: Flags.boolean({summary: 'Write the measured figures into the baseline file (other entries kept) instead of comparing.'}),
    file: Flags.string({helpValue: 'PATH', summary: 'The baseline file (default check/baseline.json in the project).'}),
  };

  async run(): Promise<CheckReport> {
    const {argv, flags} = await this.parse(Check);
    const entries = (argv as string[]).filter((entry) => entry !== '');
    const report = await this.withSpinner(flags.update ? 'measuring the baseline' : 'checking against the baseline', 'check failed', (onProgress) =>
      checkBaseline({entries, file: flags.file, tolerance: flags.tolerance, update: flags.update, onProgress}),
    );

    if (!this.jsonEnabled()) await this.render(report);
    if (report.regressions.length === 0) return report;
    const problem = new VerdictError(
      `${report.regressions.length} figure${report.regressions.length === 1 ? '' : 's'} grew beyond the tolerance of ${(report.tolerance * 100).toFixed(1)}%: ${report.regressions.map((r) => `${r.profile} ${METRIC_NAMES[r.metric]} ${change(r.ratio) || 'from 0'}`).join(', ')}.`,
      {regressions: report.regressions},
      'Find the commit: hak bisect PROFILE --good REF --bad HEAD --metric instructions; per function: hak perf PROFILE --instructions --base REF. If the cost is meant, accept it with hak check --update.',
    );
    if (this.jsonEnabled()) this.logJson(report);
    else process.stderr.write(formatError(problem));
    this.exit(problem.exitCode);
  }

  private async render(report: CheckReport): Promise<void> {
    const verb = report.updated ? 'measured into' : 'against';
    this.log(`hak check: ${report.entries.length} entr${report.entries.length === 1 ? 'y' : 'ies'} ${verb} ${this.displayPath(report.file)} (tolerance ${(report.tolerance * 100).toFixed(1)}%)`);
    this.log(`  gate      ${report.gate}`);
    this.log(`  caches    fixed geometry: ${report.cacheGeometry}`);
    const builds = new Map<string, string[]>();
    for (const entry of report.entries) builds.set(entry.measured.variant, [...(builds.get(entry.measured.variant) ?? []), entry.name]);
    this.log(`  builds    ${[...builds].map(([variant, names]) => `${variant} (${names.join(', ')})`).join(', ')}`);
    this.log(`  compiler  ${[...new Set(report.entries.map((entry) => entry.measured.toolchain.compilerVersion))].join(', ')}`);

    this.log('');
    const rows = report.entries.flatMap((entry) => {
      const metrics = entry.metrics.length > 0 ? entry.metrics : null;
      if (!metrics) {
        const {allocator, total} = entry.measured;
        return (['instructions', 'd1Misses'] as const).map((metric) => [entry.name, METRIC_NAMES[metric], '', figure(metric, allocator[metric]), '', `${figure(metric, total[metric])}`, 'new']);
      }

      return metrics.map((m) => [entry.name, METRIC_NAMES[m.metric], figure(m.metric, m.before), figure(m.metric, m.after), change(m.ratio), `${figure(m.metric, m.totalBefore)} -> ${figure(m.metric, m.totalAfter)}`, m.change]);
    });
    this.log(await renderTable(['entry', 'per op', 'baseline', 'now', 'change', 'total (not gated)', 'verdict'], rows));
    this.log('');
    for (const finding of report.regressions) this.log(`REGRESSION ${describeFinding(finding)}`);
    for (const finding of report.improvements) this.log(`improvement ${describeFinding(finding)}`);
    if (report.updated) this.log(`Wrote ${this.displayPath(report.file)}.`);
    else if (report.improvements.length > 0) this.log('Figures improved beyond the tolerance: keep them as the new baseline with hak check --update.');
    else if (report.regressions.length === 0) this.log('Every gated figure is within the tolerance.');
    for (const warning of report.warnings) this.logToStderr(`Warning: ${warning}`);
  }
}

/** `tiny-hot: hakmem instructions/op 20.2 -> 22.3 (+10.4%); grew: free (libhakmem.so) 12.0 -> 14.0` */
function describeFinding(finding: Finding): string {
  const grew = finding.functions.map((fn) => `${fn.symbol} (${fn.library}) ${figure(finding.metric, fn.before)} -> ${figure(finding.metric, fn.after)}`);
  return `${finding.profile}: hakmem ${METRIC_NAMES[finding.metric]}/op ${figure(finding.metric, finding.before)} -> ${figure(finding.metric, finding.after)} (${change(finding.ratio) || 'from 0'})${grew.length > 0 ? `; grew: ${grew.join(', ')}` : ''}`;
}
