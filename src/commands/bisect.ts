import {Args, Flags} from '@oclif/core';
import {join} from 'node:path';

import {HakCommand} from '../base-command.js';
import {saveNewResult} from '../bench/results.js';
import {BISECT_METRICS, type BisectMetric, bisect, type BisectResult, type BisectStep, DEFAULT_EXACT_TOLERANCE} from '../bisect/index.js';
import {ExitCode, UsageError} from '../errors.js';
import {featureOverrides, noiseFlag, percentFlag, runFlags, toolchainOverrides, variantFlags} from '../flags.js';
import {resultsDir} from '../paths.js';
import {loadProfile} from '../profiles/index.js';
import {renderTable} from '../ui/table.js';

/** `hak bisect --json`: the search's result and where it was saved. */
export interface BisectJson extends BisectResult {
  file: string;
}

const short = (commit: string): string => commit.slice(0, 10);

export default class Bisect extends HakCommand {
  static override summary = 'Find the first commit between a good and a bad one that moved a profile\'s figure.';

  static override description = [
    'Builds hakmem from the csrc/ of the commits between --good and --bad (never touching the work tree, index or HEAD) and searches them by halving. Commits that leave csrc/ as their parent had it cannot change hakmem and are not measured; a csrc/ tree measured once is reused without a build.',
    'Deterministic metrics (instructions, d1-misses: callgrind\'s counts per operation) bisect exactly: a commit is bad when its figure has left the good end\'s by more than --tolerance, towards the bad end\'s. Wall-clock metrics (throughput, peak-rss) run each candidate interleaved with both ends and judge it from the ratio intervals; an unclear step is rerun with twice the runs up to --max-runs, then skipped as git bisect skip does. The benchmark programs are the work tree\'s, so only the library differs.',
    'The result is saved under .hak/results/bisect/. Exit codes: 0 the first bad commit found; 1 the figure did not move between the ends, or skipped steps leave several candidates; 2 bad refs or flags.',
  ].join('\n\n');

  static override examples = [
    {description: 'The commit that made the tiny fast path cost more instructions: exact, a few builds.', command: '<%= config.bin %> <%= command.id %> tiny-hot --good v1.0 --bad HEAD --metric instructions'},
    {description: 'The same by wall-clock throughput, each step interleaved with both ends.', command: '<%= config.bin %> <%= command.id %> tiny-hot --good HEAD~8 --bad HEAD'},
    {description: 'The commit that grew the memory of a threaded profile.', command: '<%= config.bin %> <%= command.id %> larson-mid --good main --bad my-branch --metric peak-rss --json'},
  ];

  static override args = {
    profile: Args.string({description: 'The profile whose figure moved (hak profiles lists them).', required: true}),
  };

  static override flags = {
    good: Flags.string({helpValue: 'REF', required: true, summary: 'A commit where the figure was as it should be.'}),
    bad: Flags.string({helpValue: 'REF', required: true, summary: 'A later commit where it moved.'}),
    metric: Flags.string({options: [...BISECT_METRICS], default: 'throughput', summary: 'The figure: throughput (a command profile\'s figure), peak-rss, or the deterministic instructions and d1-misses per operation.'}),
    runs: Flags.integer({min: 3, max: 1000, helpValue: 'N', summary: 'Wall-clock metrics: measured runs per target in a step (default the profile\'s).'}),
    warmup: Flags.integer({min: 0, max: 100, helpValue: 'N', summary: 'Wall-clock metrics: warm-up rounds per step (default the profile\'s).'}),
    'max-runs': Flags.integer({min: 3, max: 1000, helpValue: 'N', summary: 'Wall-clock metrics: an unclear step is rerun with twice the runs up to N, then skipped (default 4 x runs).'}),
    noise: noiseFlag,
    tolerance: percentFlag(`Deterministic metrics: how far a figure must leave the good end's to count as moved (default ${DEFAULT_EXACT_TOLERANCE * 100}).`)(),
    ...variantFlags,
    ...runFlags,
  };

  async run(): Promise<BisectJson> {
    const {args, flags} = await this.parse(Bisect);
    const profile = await loadProfile(args.profile);
    if (profile.kind === 'server') throw new UsageError(`${profile.name} is a server profile: hak bench and hak verify run servers; hak bisect does not.`);
    const result = await this.withSpinner(`bisecting ${profile.name}`, 'bisect stopped', (onProgress) =>
      bisect({
        profile,
        good: flags.good,
        bad: flags.bad,
        metric: flags.metric as BisectMetric,
        threads: flags.threads,
        overrides: {features: featureOverrides(flags), toolchain: toolchainOverrides(flags)},
        runs: flags.runs,
        warmup: flags.warmup,
        maxRuns: flags['max-runs'],
        noise: flags.noise,
        tolerance: flags.tolerance,
        onProgress,
      }),
    );
    const file = saveBisect(result);
    const json: BisectJson = {...result, file};
    if (!this.jsonEnabled()) await this.render(json);
    if (result.firstBad) return json;
    if (this.jsonEnabled()) this.logJson(json);
    else process.stderr.write(`Error: skipped steps leave ${result.possibleFirstBad.length} commits that may be the first bad one.\nHint: Rerun with more runs (--runs, --max-runs) or a deterministic metric (--metric instructions).\n`);
    this.exit(ExitCode.VerdictFailed);
  }

  private async render(result: BisectJson): Promise<void> {
    const figure = (value: number | null): string => (value === null ? 'n/a' : formatFigure(value, result.unit));
    this.log(`hak bisect ${result.profile} by ${result.metric} (${result.unit}, ${result.better} is better): ${result.commits} commits after good, ${result.trees} distinct csrc/ trees`);
    const rows = result.steps.map((step: BisectStep, index) => [
      String(index + 1),
      short(step.commit),
      step.role,
      figure(step.figure),
      step.verdict,
      `${step.reason}${step.runs > 1 ? ` (${step.runs} runs)` : ''}`,
      step.subject,
    ]);
    this.log(await renderTable(['#', 'commit', 'role', result.unit, 'verdict', 'why', 'subject'], rows, {wrap: [5, 6]}));
    this.log('');
    if (result.firstBad) {
      const {firstBad} = result;
      const ratio = firstBad.figure !== null && firstBad.parent.figure ? ` (x${(firstBad.figure / firstBad.parent.figure).toFixed(3)})` : '';
      this.log(`First bad commit: ${short(firstBad.commit)} "${firstBad.subject}"`);
      this.log(`  ${figure(firstBad.figure)} ${result.unit}, against ${figure(firstBad.parent.figure)} at its parent ${short(firstBad.parent.commit)}${ratio}`);
    } else {
      this.log('The first bad commit is one of:');
      for (const candidate of result.possibleFirstBad) this.log(`  ${short(candidate.commit)} "${candidate.subject}"`);
    }

    this.log(`${result.builds} build${result.builds === 1 ? '' : 's'}, ${result.wallSeconds.toFixed(1)} s. Saved ${this.displayPath(result.file)}`);
  }
}

function formatFigure(value: number, unit: string): string {
  if (unit === 'ops/s') return value >= 1e6 ? `${(value / 1e6).toFixed(1)}M` : value.toFixed(0);
  if (unit === 'kB') return `${Math.round(value).toLocaleString('en-US')}`;
  return value >= 100 ? value.toFixed(1) : value >= 1 ? value.toFixed(3) : value.toPrecision(4);
}

/** `<results>/bisect/<UTC time>-<profile>.json`, written whole. */
function saveBisect(result: BisectResult): string {
  return saveNewResult(join(resultsDir(), 'bisect'), new Date().toISOString(), result.profile, () => result).file;
}
