import {Args, Flags} from '@oclif/core';

import {HakCommand} from '../base-command.js';
import {describeFeatures} from '../features.js';
import {UsageError} from '../errors.js';
import {commandFlags, commandOptions, runFlags, singleRunFlags, singleRunOptions, variantFlags} from '../flags.js';
import {DEFAULT_TOP, type PerfResult, type PerfRun, profileRun} from '../perf/index.js';
import type {Category} from '../perf/owners.js';
import {commandProfile, loadProfile} from '../profiles/index.js';
import {renderTable} from '../ui/table.js';

const number = (value: number): string => value.toLocaleString('en-US');
const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;
const perOp = (value: number | undefined): string => (value === undefined ? '' : value.toFixed(1));

export default class Perf extends HakCommand {
  static override summary = 'Where a profile\'s run spends its time: hotspots by owner, exact instruction counts, flame graphs.';

  static override description = [
    'Runs the profile\'s benchmark under perf record (its perf event, frequency and call graphs; the event "auto" samples cycles where hardware counters exist and cpu-clock elsewhere) and reports the top symbols with their share of samples, library and owner category (hakmem tiny, mid, large or other; glibc malloc; a peer allocator; benchmark; kernel; other), with a summary per category. Where hardware counters exist it adds perf stat figures per operation.',
    '--instructions counts instructions with callgrind instead, over the measured region of the profile\'s short arguments: exact and repeatable, the figure to compare variants by on a noisy machine.',
    'A hakmem run in which glibc\'s malloc internals take more than 5% draws a warning: glibc\'s allocator did the work. Every run is saved with its raw data under .hak/results/perf/ (HAK_HOME moves .hak).',
  ].join('\n\n');

  static override examples = [
    {description: 'Hotspots of the default variant.', command: '<%= config.bin %> <%= command.id %> tiny-hot'},
    {description: 'Instructions per operation, exactly.', command: '<%= config.bin %> <%= command.id %> tiny-hot --instructions'},
    {description: 'The quick-wins trap, with a flame graph.', command: '<%= config.bin %> <%= command.id %> tiny-hot --no-wrap-tiny --flamegraph trap.svg'},
    {description: 'hakmem against mimalloc, side by side.', command: '<%= config.bin %> <%= command.id %> random-mixed --instructions --diff mimalloc'},
    {description: 'Any command: where python3\'s time goes, by owner.', command: '<%= config.bin %> <%= command.id %> -- python3 -c "print(len({i: str(i) for i in range(10**6)}))"'},
    {description: 'Two variants side by side.', command: '<%= config.bin %> <%= command.id %> random-mixed --diff hakmem:no-direct-cache'},
  ];

  static override args = {
    profile: Args.string({description: 'Profile name or file; or, after --, any command line.'}),
  };

  static override flags = {
    ...variantFlags,
    ...runFlags,
    ...singleRunFlags,
    top: Flags.integer({min: 1, max: 1000, default: DEFAULT_TOP, helpValue: 'N', summary: 'Symbols to list.'}),
    instructions: Flags.boolean({
      summary: 'Count instructions per operation exactly with callgrind (the profile\'s short arguments) instead of sampling.',
      exclusive: ['flamegraph'],
    }),
    flamegraph: Flags.string({helpValue: 'FILE', summary: 'Write an SVG flame graph of the samples to FILE.'}),
    diff: Flags.string({
      helpValue: 'ALLOCATOR|hakmem:VARIANT|hakmem:TOGGLES',
      summary: 'Compare with a second run: another allocator, another variant of the profile, or toggles changed (hakmem:no-wrap-tiny,stats=1).',
    }),
    ...commandFlags,
  };

  async run(): Promise<PerfResult> {
    const {own, command} = this.splitCommandLine();
    const {args, flags} = await this.parse(Perf, own);
    const asCommand = commandOptions(flags, command, args.profile);
    if (!asCommand && args.profile === undefined) throw new UsageError('give a profile, or a command after --.', {hint: 'hak perf tiny-hot, or hak perf -- python3 script.py (hak profiles lists the profiles).'});
    if (asCommand && flags.instructions) throw new UsageError('--instructions counts the benchmark programs\' measured loop; a command has none.', {hint: 'Sample the command instead: hak perf -- CMD.'});
    const profile = asCommand ? commandProfile(command!, asCommand) : await loadProfile(args.profile!);
    const result = await this.withSpinner(`profiling ${profile.name}`, 'profiling failed', (onProgress) =>
      profileRun({
        ...singleRunOptions(flags),
        profile,
        top: flags.top,
        instructions: flags.instructions,
        flamegraph: flags.flamegraph,
        diff: flags.diff,
        onProgress,
      }),
    );

    if (!this.jsonEnabled()) {
      if (result.diff) await this.renderDiff(result, result.diff.against);
      else await this.renderOne(result);
      const runs = result.diff ? [result, result.diff.against] : [result];
      for (const run of runs) {
        for (const warning of run.warnings) this.logToStderr(`Warning${result.diff ? ` (${run.label})` : ''}: ${warning}`);
      }
    }

    return result;
  }

  private header(run: PerfRun): void {
    const variant = run.allocator === 'hakmem' ? `, variant ${run.variant}` : ` (benchmark programs of ${run.variant})`;
    this.log(`${run.label}${variant}`);
    if (run.allocator === 'hakmem') this.log(`  toggles   ${describeFeatures(run.features)}`);
    this.log(`  run       ${run.command}`);
    if (run.mode === 'samples') {
      this.log(run.ops > 0 ? `  measured  ${number(run.ops)} ops in ${run.seconds.toFixed(3)} s` : `  measured  ${run.seconds.toFixed(3)} s of wall time (a command: the whole run)`);
      const callGraph = run.callGraph === 'none' ? 'no call graphs' : `call graphs ${run.callGraph}`;
      this.log(`  event     ${run.eventDescription}, ${run.frequency} Hz, ${callGraph}: ${number(run.samples ?? 0)} samples`);
      if (run.hardware) {
        const h = run.hardware;
        const figure = (value: number | null, format: (x: number) => string): string => (value === null ? 'n/a' : format(value));
        this.log(
          `  per op    ${figure(h.instructionsPerOp, (x) => x.toFixed(1))} instructions, ${figure(h.cyclesPerOp, (x) => x.toFixed(1))} cycles, IPC ${figure(h.ipc, (x) => x.toFixed(2))}, ` +
            `L1-dcache miss rate ${figure(h.l1MissRate, (x) => `${(x * 100).toFixed(2)}%`)}, branch miss rate ${figure(h.branchMissRate, (x) => `${(x * 100).toFixed(2)}%`)} (whole process)`,
        );
      } else if (run.hardwareNote) {
        this.log(`  per op    ${run.hardwareNote}`);
      }
    } else {
      this.log(`  counted   ${number(run.instructions ?? 0)} ${run.eventDescription}`);
      this.log(`  per op    ${(run.instructionsPerOp ?? 0).toFixed(1)} instructions per operation (${number(run.ops)} ops: malloc and free calls with the benchmark's own work)`);
    }

    this.log(`  saved     ${this.displayPath(run.resultDir)}/ (${Object.values(run.files).join(', ')})`);
    if (run.flamegraph) this.log(`  flame     ${this.displayPath(run.flamegraph)}`);
  }

  private async renderOne(run: PerfRun): Promise<void> {
    this.log(`hak perf ${run.profile}: ${run.label}`);
    this.header(run);
    this.log('');
    const instructions = run.mode === 'instructions';
    const hotspotHead = instructions ? ['instr/op', 'share', 'function (self)', 'library', 'category'] : ['share', 'symbol', 'library', 'category'];
    const hotspotRows = run.hotspots.map((hotspot) => [
      ...(instructions ? [perOp(hotspot.instructionsPerOp)] : []),
      percent(hotspot.share),
      hotspot.symbol,
      hotspot.library,
      hotspot.category,
    ]);
    this.log(await renderTable(hotspotHead, hotspotRows, {wrap: [instructions ? 2 : 1]}));
    this.log('');
    const categories = Object.entries(run.categories) as [Category, number][];
    const categoryRows = categories.map(([category, share]) => [category, ...(instructions ? [perOp(run.categoryInstructionsPerOp?.[category])] : []), percent(share)]);
    this.log(await renderTable(['category', ...(instructions ? ['instr/op'] : []), 'share'], categoryRows));
    this.log('');
    this.log(run.attribution);
  }

  private async renderDiff(a: PerfResult, b: PerfRun): Promise<void> {
    this.log(`hak perf ${a.profile}: ${a.label} against ${b.label}`);
    this.header(a);
    this.header(b);
    this.log('');
    const instructions = a.mode === 'instructions';
    const perOpOf = (run: PerfRun, category: Category): string[] => (instructions ? [perOp(run.categoryInstructionsPerOp?.[category] ?? 0)] : []);
    const rows = (a.diff?.categories ?? []).map((row) => [row.category, ...perOpOf(a, row.category), percent(row.a), ...perOpOf(b, row.category), percent(row.b)]);
    const unit = (label: string): string[] => (instructions ? [`${label} instr/op`, `${label} share`] : [label]);
    if (instructions) rows.push(['total', perOp(a.instructionsPerOp ?? 0), '100.0%', perOp(b.instructionsPerOp ?? 0), '100.0%']);
    this.log(await renderTable(['category', ...unit(a.label), ...unit(b.label)], rows));
    this.log('');
    const cell = (run: PerfRun, index: number): string => {
      const hotspot = run.hotspots[index];
      if (!hotspot) return '';
      const cost = instructions ? `${perOp(hotspot.instructionsPerOp)}/op ` : '';
      return `${cost}${percent(hotspot.share)} ${hotspot.symbol} (${hotspot.library})`;
    };

    const ranks = Math.max(a.hotspots.length, b.hotspots.length);
    const symbolRows = Array.from({length: ranks}, (_, index) => [String(index + 1), cell(a, index), cell(b, index)]);
    this.log(await renderTable(['#', a.label, b.label], symbolRows, {wrap: [1, 2]}));
    this.log('');
    this.log(a.attribution);
  }
}
