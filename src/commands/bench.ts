import {Args, Flags} from '@oclif/core';
import {resolve} from 'node:path';

import {type AllocatorName, COMMAND_LINE_ALLOCATORS, parseAllocatorName} from '../allocators.js';
import {writeFileAtomic} from '../atomic-file.js';
import {formatError, HakCommand} from '../base-command.js';
import {analyzeRecord, type BenchAnalysis, recordUnits, type SweepStep, type TargetResult} from '../bench/analysis.js';
import {bencherMetrics, type ExportTarget, parseExportTarget} from '../bench/export.js';
import {renderChart} from '../bench/chart.js';
import {describeMachine} from '../bench/machine.js';
import type {BenchRecord, MachineInfo} from '../bench/record.js';
import {benchTable, latencyTable, memoryTable, methodNote, resultNotes, suiteTable, sweepTable} from '../bench/render.js';
import {saveRecord} from '../bench/results.js';
import {type BenchOptions, runBench} from '../bench/runner.js';
import {type SuiteSummary, summarizeSuite} from '../bench/summary.js';
import {describeRevision, resolveRevision, workTreeRevision} from '../build/revision.js';
import {RunError, UsageError, VerdictError} from '../errors.js';
import {commandFlags, commandOptions, figureFlags, featureOverrides, noiseFlag, runFlags, toolchainOverrides, variantFlags} from '../flags.js';
import {commandProfile, loadProfile, withHardenedTwins} from '../profiles/index.js';
import {shellQuote, shellVariablesNote} from '../run/index.js';

/** `hak bench --json` with several profiles: each profile's result, and one summary line per profile. */
export interface SuiteJson {
  profiles: BenchJson[];
  summary: SuiteSummary;
}

/** `hak bench --json`. */
export interface BenchJson {
  profile: string;
  /** The saved result's id and file; null under --no-save. */
  id: string | null;
  file: string | null;
  chart: string | null;
  /** The file --export wrote; null without it. */
  export: string | null;
  /** The HTML report --report wrote (of every profile of the call); null without it. */
  report: string | null;
  /** False when a run failed. */
  complete: boolean;
  benchmark: {program: string; args: string[]; threads: number; runs: number; warmup: number};
  /** `benchmark` or `command`; how to read each result's median. */
  kind: 'benchmark' | 'command' | 'server';
  unit: string;
  better: 'lower' | 'higher';
  /** HAKMEM_* variables of your shell that reached the runs. */
  shellEnv: Record<string, string>;
  baseline: string;
  noise: number;
  machine: MachineInfo;
  results: TargetResult[];
  /** A sweep's steps (phases); empty otherwise. */
  steps: SweepStep[];
  warnings: string[];
  wallSeconds: number;
}

function parseAllocatorList(text: string): AllocatorName[] {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) throw new UsageError(`--allocators needs at least one of ${COMMAND_LINE_ALLOCATORS.join(', ')}, or NAME=PATH.`);
  return [...new Set(names.map((name) => parseAllocatorName(name)))];
}

export default class Bench extends HakCommand {
  static override summary = 'Benchmark hakmem against glibc, mimalloc, jemalloc and tcmalloc on a profile, with intervals and noise-aware verdicts.';

  static override description = [
    'Builds the hakmem variant(s) the profile names (reusing earlier builds), then runs the benchmark under every allocator, interleaved round by round after the warm-up rounds, so drift hits all alike. Each target gets its median operations per second with a 95% interval, its range, peak RSS and outliers, and its ratio to the baseline with a verdict only when the whole ratio interval lies beyond the noise band: faster or slower, or for a command\'s figure less or more memory (a memory unit) or better or worse (any other unit).',
    'Every hakmem result carries the evidence of who served it (the loader\'s binding and hakmem\'s counters, judged as hak verify judges them); a result hakmem did not serve is INVALID and never compared. A run that crashes or times out fails its target; the others are still reported.',
    'The result is saved under .hak/results/bench/ (HAK_HOME moves .hak) with the machine, kernel, compiler, toggles, commit and every raw sample; hak compare compares two saved results.',
    'With --harden, each hakmem variant runs beside the same build with heap-misuse checks on (labelled harden), interleaved, the default build the baseline: the price of harden in time, peak RSS and CPU, with verdicts and, for several profiles, a geometric mean. Peers then run only when --allocators names them.',
    'Exit codes: 0 all results valid; 1 a result is INVALID (not served by its allocator, or other work done); 5 a run failed.',
  ].join('\n\n');

  static override examples = [
    {description: 'The tiny fast path under all five allocators.', command: '<%= config.bin %> <%= command.id %> tiny-hot'},
    {description: 'The roadmap sweep: each step\'s gain and the cumulative gain.', command: '<%= config.bin %> <%= command.id %> phases --chart phases.svg'},
    {description: 'Larson Mid on the two cores this machine has, against glibc and mimalloc only.', command: '<%= config.bin %> <%= command.id %> larson-mid --threads 2 --allocators hakmem,glibc,mimalloc'},
    {description: 'Any program: python3 under three allocators, its stdout checked alike, RSS over time charted.', command: '<%= config.bin %> <%= command.id %> --runs 3 --allocators hakmem,glibc,mimalloc --chart py.svg -- python3 -c "print(len([str(i) for i in range(10**6)]))"'},
    {description: 'Results for a continuous-benchmarking service (Bencher Metric Format).', command: '<%= config.bin %> <%= command.id %> tiny-hot --export bmf=bmf.json'},
    {description: 'Did my change make hakmem faster? The work tree against main, interleaved, on three profiles, with a geometric mean.', command: '<%= config.bin %> <%= command.id %> tiny-hot random-mixed larson-mid --base main'},
    {description: 'What harden costs on applications: each profile\'s default build against the same build hardened, interleaved, with a geometric mean (peers only when --allocators names them).', command: '<%= config.bin %> <%= command.id %> gcc-compile python-containers perl-words larson-tiny --harden'},
    {description: 'The quick-wins trap: the tiny pool off behind malloc makes the hakmem result INVALID.', command: '<%= config.bin %> <%= command.id %> tiny-hot --no-wrap-tiny --allocators hakmem,glibc'},
  ];

  /** Several profiles may follow one another (tiny-hot random-mixed larson-mid). */
  static override strict = false;

  static override args = {
    profile: Args.string({description: 'Profile names (hak profiles lists them) or paths of profile files, one or several; or, after --, any command line.'}),
  };

  static override flags = {
    ...variantFlags,
    ...runFlags,
    runs: Flags.integer({min: 1, max: 1000, helpValue: 'N', summary: 'Measured runs per target (default: the profile\'s, usually 5).'}),
    warmup: Flags.integer({min: 0, max: 100, helpValue: 'N', summary: 'Warm-up rounds, discarded (default: the profile\'s).'}),
    allocators: Flags.string({
      helpValue: 'LIST',
      summary: `Comma list of allocators to compare instead of the profile's: ${COMMAND_LINE_ALLOCATORS.join(', ')}, or NAME=PATH for any malloc library (its path and sha256 go in the result).`,
    }),
    baseline: Flags.string({
      helpValue: 'TARGET',
      summary: 'The target the others are compared with: an allocator, or a label such as hakmem:baseline (default mimalloc).',
    }),
    base: Flags.string({
      helpValue: 'REF',
      summary: 'Measure a change: hakmem built from REF (a commit, branch, HEAD~N, or a directory holding csrc/) against the work tree, interleaved; REF is the baseline. Peers run only when --allocators names them.',
    }),
    noise: noiseFlag,
    save: Flags.boolean({allowNo: true, default: true, summary: 'Save the result under .hak/results/bench/ (--no-save: do not).'}),
    chart: Flags.string({helpValue: 'FILE', summary: 'Write an SVG bar chart of the result (medians, 95% intervals) to FILE.'}),
    report: Flags.string({helpValue: 'FILE', summary: 'Write the results of this call as one HTML page to FILE, as hak report does for saved results.'}),
    'allow-missing': Flags.boolean({summary: 'Skip peer allocators whose library is not installed, with a warning, instead of failing.'}),
    'check-output': Flags.boolean({
      allowNo: true,
      default: true,
      summary: 'With -- CMD: every allocator\'s stdout must equal the first\'s, else the result is INVALID (--no-check-output where output legitimately varies).',
    }),
    export: Flags.custom<ExportTarget>({
      helpValue: 'bmf=FILE',
      summary: 'Also write the results to FILE for a continuous-benchmarking service, as FORMAT=FILE: bmf is Bencher Metric Format.',
      parse: async (input) => parseExportTarget(input),
    })(),
    ...commandFlags,
    ...figureFlags,
  };

  async run(): Promise<BenchJson | SuiteJson> {
    const {own, command} = this.splitCommandLine();
    const {args, flags, argv: words} = await this.parse(Bench, own);
    const exportFile = flags.export?.file ?? null;
    const names = profileNames(words);
    const asCommand = commandOptions(flags, command, args.profile);
    if (!asCommand && names.length === 0) throw new UsageError('give a profile, or a command after --.', {hint: 'hak bench tiny-hot, or hak bench -- python3 script.py (hak profiles lists the profiles).'});
    if (names.length > 1 && (flags.chart !== undefined || exportFile !== null)) {
      throw new UsageError('--chart and --export write one profile\'s result: give one profile with them.', {hint: `Run hak bench ${names[0]} --chart FILE for each profile you want charted.`});
    }

    // Every profile is read, and the base resolved, before anything is built or run.
    const loaded = asCommand ? [commandProfile(command!, {...asCommand, checkOutput: flags['check-output']})] : await Promise.all(names.map(async (name) => loadProfile(name)));
    // --harden prices the toggle: each hakmem variant beside its hardened twin, the first the baseline.
    const hardenPair = flags.harden === true;
    const profiles = hardenPair ? loaded.map((profile) => withHardenedTwins(profile)) : loaded;
    const revisions = flags.base === undefined ? undefined : [await resolveRevision(flags.base), await workTreeRevision()];
    const {harden: _harden, ...features} = featureOverrides(flags);
    const options: BenchOptions = {
      threads: flags.threads,
      runs: flags.runs,
      warmup: flags.warmup,
      allocators: flags.allocators === undefined ? (hardenPair ? ['hakmem'] : undefined) : parseAllocatorList(flags.allocators),
      allowMissing: flags['allow-missing'],
      overrides: {features: hardenPair ? features : featureOverrides(flags), toolchain: toolchainOverrides(flags)},
      baseline: flags.baseline,
      noise: flags.noise,
      revisions,
    };

    const outcomes: {json: BenchJson; record: BenchRecord; analysis: BenchAnalysis; problem: RunError | VerdictError | null}[] = [];
    for (const [index, profile] of profiles.entries()) {
      if (index > 0 && !this.jsonEnabled()) this.log('');
      const where = profiles.length > 1 ? ` (${index + 1} of ${profiles.length})` : '';
      const record = await this.withSpinner(`${profile.name}${where}: preparing`, `${profile.name}: stopped`, (onProgress) => runBench(profile, {...options, baseline: options.baseline ?? (hardenPair ? `hakmem:${profile.variants[0]!.name}` : undefined), onProgress}));
      const file = flags.save ? saveRecord(record) : null;
      const analysis = analyzeRecord(record);
      const chart = flags.chart ? this.writeChart(flags.chart, record, analysis) : null;
      const exported = exportFile ? this.writeExport(exportFile, record, analysis) : null;
      const json = benchJson(record, analysis, {file, chart, exported});
      if (!this.jsonEnabled()) await this.render(record, analysis, json);
      outcomes.push({json, record, analysis, problem: outcomeError(analysis)});
    }

    if (flags.report !== undefined) {
      // Loaded only when asked for, so that the page's code costs other commands no start-up time.
      const {reportOf, writeReport} = await import('../report/index.js');
      const report = writeReport(flags.report, reportOf(outcomes.map(({json, record}) => ({file: json.file, record}))).html);
      for (const outcome of outcomes) outcome.json.report = report;
      if (!this.jsonEnabled()) this.log(`Report: ${this.displayPath(report)}`);
    }

    const problem = outcomes.find((outcome) => outcome.problem)?.problem ?? null;
    let output: BenchJson | SuiteJson = outcomes[0]!.json;
    if (outcomes.length > 1) {
      const suite = summarizeSuite(outcomes.map(({json, analysis}) => ({profile: json.profile, analysis})));
      output = {profiles: outcomes.map(({json}) => json), summary: suite};
      if (!this.jsonEnabled()) await this.renderSuite(suite);
    }

    if (!problem) return output;
    // The results stand even when some target failed: print them, then exit with the failure's code.
    if (this.jsonEnabled()) this.logJson(output);
    else process.stderr.write(formatError(problem));
    this.exit(problem.exitCode);
  }

  private async renderSuite(suite: SuiteSummary): Promise<void> {
    this.log('');
    this.log('Summary: each profile\'s hakmem against its baseline, and the geometric mean of the ratios (times better):');
    this.log(await suiteTable(suite));
    const {faster, slower, withinNoise, notCompared} = suite.verdicts;
    this.log(`${faster} faster, ${slower} slower, ${withinNoise} within noise${notCompared > 0 ? `, ${notCompared} not compared` : ''}.`);
  }

  private writeExport(path: string, record: BenchRecord, analysis: BenchAnalysis): string {
    const file = resolve(path);
    try {
      writeFileAtomic(file, `${JSON.stringify(bencherMetrics(record, analysis), null, 2)}\n`);
    } catch (error) {
      throw new UsageError(`cannot write the export to ${path}: ${(error as Error).message}.`);
    }

    return file;
  }

  private writeChart(path: string, record: BenchRecord, analysis: BenchAnalysis): string {
    const file = resolve(path);
    try {
      writeFileAtomic(file, renderChart(record, analysis));
    } catch (error) {
      throw new UsageError(`cannot write the chart to ${path}: ${(error as Error).message}.`);
    }

    return file;
  }

  private async render(record: BenchRecord, analysis: BenchAnalysis, json: BenchJson): Promise<void> {
    const {profile} = record;
    const threads = `${profile.threads} thread${profile.threads === 1 ? '' : 's'}`;
    const what = profile.kind === 'command' || profile.kind === 'server' ? `${[profile.program, ...profile.args].map(shellQuote).join(' ')} (median ${json.unit}, ${json.better} is better)` : `${[profile.program, ...profile.args].join(' ')} (${threads})`;
    this.log(`${profile.name}: ${what} · ${describeMachine(record.machine)}`);
    const shell = shellVariablesNote(json.shellEnv);
    if (shell) this.log(`  ${shell} (passed to every run)`);
    for (const line of revisionLines(analysis)) this.log(`  ${line}`);
    this.log(await benchTable(analysis));
    if (analysis.results.some((result) => result.latency)) {
      this.log('');
      this.log('Latency of the clients\' requests (medians over the runs, the worst test of each run; lower is better) and the server\'s RSS idle after the load:');
      this.log(await latencyTable(analysis));
    }

    this.log('');
    this.log(`Memory of the ${profile.kind === 'command' ? 'whole process tree' : profile.kind === 'server' ? 'server' : 'program'}; faults and CPU seconds of the whole tree (medians):`);
    this.log(await memoryTable(analysis));
    if (analysis.steps.length > 0) {
      this.log('');
      this.log('Steps of the sweep: gain over the previous step, and cumulative gain over the first:');
      this.log(await sweepTable(analysis.steps));
    }

    this.log('');
    for (const line of [...resultNotes(record, analysis), ...methodNote(profile.runs, profile.warmup, analysis.noise)]) this.log(line);
    for (const warning of analysis.warnings) process.stderr.write(`Warning: ${warning}\n`);
    const where = json.file ? `Saved ${this.displayPath(json.file)}` : 'Not saved (--no-save)';
    const exported = json.export ? ` Exported: ${this.displayPath(json.export)}` : '';
    this.log(`${where}; ${record.wallSeconds.toFixed(1)} s.${json.chart ? ` Chart: ${this.displayPath(json.chart)}` : ''}${exported}`);
  }
}

/** Which sources each hakmem target was built from, when revisions were compared. */
function revisionLines(analysis: BenchAnalysis): string[] {
  return analysis.results.flatMap((result) => (result.revision ? [`${result.label}: ${describeRevision(result.revision)}`] : []));
}

/** The JSON of one profile's run, from its record and analysis. */
function benchJson(record: BenchRecord, analysis: BenchAnalysis, files: {file: string | null; chart: string | null; exported: string | null}): BenchJson {
  return {
    profile: record.profile.name,
    id: files.file ? record.id : null,
    file: files.file,
    chart: files.chart,
    export: files.exported,
    report: null,
    complete: record.complete,
    benchmark: {
      program: record.profile.program,
      args: record.profile.args,
      threads: record.profile.threads,
      runs: record.profile.runs,
      warmup: record.profile.warmup,
    },
    kind: record.profile.kind ?? 'benchmark',
    ...recordUnits(record),
    shellEnv: record.profile.shellEnv ?? {},
    baseline: analysis.baseline,
    noise: analysis.noise,
    machine: record.machine,
    results: analysis.results,
    steps: analysis.steps,
    warnings: analysis.warnings,
    wallSeconds: record.wallSeconds,
  };
}

/**
 * The profiles named. oclif's non-strict parse (several profiles) hands a mistyped flag over as a
 * word: it is refused here rather than taken for a profile.
 */
function profileNames(words: readonly unknown[]): string[] {
  const names = words.map(String);
  const flag = names.find((word) => word.startsWith('-'));
  if (flag) throw new UsageError(`unknown flag ${flag}.`, {hint: 'hak bench --help lists the flags.'});
  return names;
}

/** Failed runs come first (exit 5), then invalid results (exit 1); null when everything held. */
function outcomeError(analysis: BenchAnalysis): RunError | VerdictError | null {
  const failed = analysis.results.filter((result) => result.status === 'failed');
  if (failed.length > 0) {
    const first = failed[0]!.failure!;
    return new RunError(
      `${failed.length} of ${analysis.results.length} targets failed (${failed.map((result) => result.label).join(', ')}); the other results stand.`,
      {failure: first.failure, program: '', allocator: failed[0]!.allocator, runIndex: first.runIndex, stderrTail: ''},
      'Each failure is shown above with the end of its stderr and the command that reproduces it.',
    );
  }

  const invalid = analysis.results.filter((result) => result.status === 'invalid');
  if (invalid.length > 0) {
    return new VerdictError(
      `${invalid.map((result) => result.label).join(', ')}: INVALID, not a measurement of the allocator named (see above); not compared.`,
      {invalid: invalid.map((result) => ({label: result.label, cause: result.cause}))},
      'hak verify shows the evidence of who served each run.',
    );
  }

  return null;
}
