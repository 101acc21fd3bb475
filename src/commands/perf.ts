import {Args, Flags} from '@oclif/core';

import {HakCommand} from '../base-command.js';
import {describeFeatures} from '../features.js';
import {UsageError} from '../errors.js';
import {commandFlags, commandOptions, runFlags, singleRunFlags, singleRunOptions, variantFlags} from '../flags.js';
import {DEFAULT_TOP, type PerfResult, type PerfRun, type PerfStep, profileRun} from '../perf/index.js';
import type {CachePerOp} from '../perf/cache.js';
import type {Category} from '../perf/owners.js';
import {functionChangeTable} from '../perf/render.js';
import {resolveRevision} from '../build/revision.js';
import {commandProfile, loadProfile} from '../profiles/index.js';
import {renderTable} from '../ui/table.js';

const number = (value: number): string => value.toLocaleString('en-US');
const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;
/** Figures per operation keep their decimals; a command's whole-run counts are whole numbers. */
const count = (value: number, digits: number): string => (value >= 10_000 ? number(Math.round(value)) : value.toFixed(digits));
const perOp = (value: number | undefined): string => (value === undefined ? '' : count(value, 1));
const misses = (value: number | undefined): string => (value === undefined ? '' : count(value, 3));
/** Per operation: instructions, D1 misses (reads and writes), D1 read misses, LL misses, branch mispredicts. */
const CACHE_HEAD = ['instr', 'D1 miss', 'D1 read', 'LL miss', 'mispred'];
const cacheCells = (figures: CachePerOp | undefined): string[] =>
  figures
    ? [perOp(figures.instructions), misses(figures.d1Misses), misses(figures.d1ReadMisses), misses(figures.llMisses), misses(figures.branchMispredicts)]
    : ['', '', '', '', ''];

export default class Perf extends HakCommand {
  static override summary = 'Where a profile\'s run spends its time: hotspots by owner, exact instruction counts, simulated cache misses, flame graphs.';

  static override description = [
    'Runs the profile\'s benchmark under perf record (its perf event, frequency and call graphs; the event "auto" samples cycles where hardware counters exist and cpu-clock elsewhere) and reports the top symbols with their share of samples, library and owner category (hakmem tiny, mid, large or other; glibc malloc; a peer allocator; benchmark; kernel; other), with a summary per category. Where hardware counters exist it adds perf stat figures per operation.',
    '--instructions counts instructions with callgrind instead, over the measured region of the profile\'s short arguments: exact and repeatable, the figure to compare variants by on a noisy machine.',
    '--cache simulates the caches and the branch predictor over the same region (valgrind\'s simulator, cachegrind\'s, run through callgrind with --cache-sim=yes --branch-sim=yes) and reports per operation instructions, L1 data cache misses (reads and writes), last-level misses and branch mispredicts, per function and owner, for the cache geometry it names: a fixed one (D1 and I1 32 KiB 8-way, LL 8 MiB 16-way, 64 B lines), so that the figures compare across machines, or with --host-caches this machine\'s. Where hardware counters exist, perf stat\'s L1 load misses and branch misses go beside them. --steps runs every hakmem variant of a sweep profile (phases) in turn, each step against the one before.',
    'A hakmem run in which glibc\'s malloc internals take more than 5% draws a warning: glibc\'s allocator did the work. Every run is saved with its raw data under .hak/results/perf/ (HAK_HOME moves .hak).',
  ].join('\n\n');

  static override examples = [
    {description: 'Hotspots of the default variant.', command: '<%= config.bin %> <%= command.id %> tiny-hot'},
    {description: 'Instructions per operation, exactly.', command: '<%= config.bin %> <%= command.id %> tiny-hot --instructions'},
    {description: 'The quick-wins trap, with a flame graph.', command: '<%= config.bin %> <%= command.id %> tiny-hot --no-wrap-tiny --flamegraph trap.svg'},
    {description: 'Simulated cache misses per operation, against tcmalloc.', command: '<%= config.bin %> <%= command.id %> random-mixed --cache --diff tcmalloc'},
    {description: 'What each roadmap step does to simulated misses.', command: '<%= config.bin %> <%= command.id %> phases --cache --steps'},
    {description: 'hakmem against mimalloc, side by side.', command: '<%= config.bin %> <%= command.id %> random-mixed --instructions --diff mimalloc'},
    {description: 'Any command: where python3\'s time goes, by owner.', command: '<%= config.bin %> <%= command.id %> -- python3 -c "print(len({i: str(i) for i in range(10**6)}))"'},
    {description: 'What a change did: the work tree against main, instruction by instruction, with the functions that got more expensive.', command: '<%= config.bin %> <%= command.id %> tiny-hot --instructions --base main'},
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
      exclusive: ['flamegraph', 'cache'],
    }),
    cache: Flags.boolean({
      summary: 'Simulate caches and branches per operation (valgrind, the profile\'s short arguments) instead of sampling.',
      exclusive: ['flamegraph', 'instructions'],
    }),
    'host-caches': Flags.boolean({
      summary: 'With --cache: simulate this machine\'s caches (valgrind\'s default) instead of the fixed geometry (D1 and I1 32 KiB 8-way, LL 8 MiB 16-way).',
      dependsOn: ['cache'],
    }),
    flamegraph: Flags.string({helpValue: 'FILE', summary: 'Write an SVG flame graph of the samples to FILE.'}),
    steps: Flags.boolean({
      summary: 'With --cache or --instructions: every hakmem variant of a sweep profile (phases) in turn, each step against the one before.',
      exclusive: ['diff', 'variant', 'flamegraph'],
    }),
    diff: Flags.string({
      helpValue: 'ALLOCATOR|hakmem:VARIANT|hakmem:TOGGLES',
      summary: 'Compare with a second run: another allocator, another variant of the profile, or toggles changed (hakmem:no-wrap-tiny,stats=1).',
    }),
    base: Flags.string({
      helpValue: 'REF',
      summary: 'Compare with hakmem built from REF (a commit, branch, HEAD~N, or a directory holding csrc/): with --instructions or --cache, which functions got more expensive.',
      exclusive: ['diff', 'steps', 'allocator'],
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
    const base = flags.base === undefined ? undefined : await resolveRevision(flags.base);
    const result = await this.withSpinner(`profiling ${profile.name}`, 'profiling failed', (onProgress) =>
      profileRun({
        ...singleRunOptions(flags),
        profile,
        top: flags.top,
        instructions: flags.instructions,
        cache: flags.cache,
        hostCaches: flags['host-caches'],
        flamegraph: flags.flamegraph,
        diff: flags.diff,
        steps: flags.steps,
        base,
        onProgress,
      }),
    );

    if (!this.jsonEnabled()) {
      if (result.steps) await this.renderSteps(result, result.steps);
      else if (result.diff) await this.renderDiff(result, result.diff.against);
      else await this.renderOne(result);
      const runs = result.steps ? result.steps.map((step) => step.run) : result.diff ? [result, result.diff.against] : [result];
      for (const run of runs) {
        for (const warning of run.warnings) this.logToStderr(`Warning${runs.length > 1 ? ` (${run.label})` : ''}: ${warning}`);
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
    } else if (run.mode === 'cache') {
      const figures = run.cachePerOp;
      this.log(`  simulated ${run.eventDescription}: simulated figures, not hardware counts`);
      if (figures) {
        this.log(
          `  ${run.ops > 0 ? 'per op ' : 'per run'}   ${perOp(figures.instructions)} instructions, ${misses(figures.d1Misses)} D1 misses (${misses(figures.d1ReadMisses)} reads), ` +
            `${misses(figures.llMisses)} LL misses, ${misses(figures.branchMispredicts)} branch mispredicts${run.ops > 0 ? ` (${number(run.ops)} ops)` : ' (the whole command)'}`,
        );
      }

      const h = run.hardware;
      if (h) {
        const figure = (value: number | null): string => (value === null ? 'n/a' : misses(value));
        this.log(`  hardware  perf stat, whole process: ${figure(h.l1MissesPerOp)} L1-dcache load misses, ${figure(h.branchMissesPerOp)} branch misses per op`);
      } else if (run.hardwareNote) {
        this.log(`  hardware  ${run.hardwareNote}`);
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
    if (run.mode === 'cache') {
      await this.renderCache(run);
      return;
    }

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

  private async renderSteps(first: PerfRun, steps: PerfStep[]): Promise<void> {
    this.log(`hak perf ${first.profile}: ${steps.length} steps`);
    for (const step of steps) this.header(step.run);
    this.log('');
    const cache = first.mode === 'cache';
    const change = (value: number, before: number | undefined, format: (x: number) => string): string =>
      before === undefined ? '' : `${value - before >= 0 ? '+' : ''}${format(value - before)}`;
    const rows = steps.map((step, index) => {
      const figures = step.run.cachePerOp;
      const before = index > 0 ? steps[index - 1]!.run : undefined;
      const instructions = step.run.instructionsPerOp ?? 0;
      const cells = cache
        ? [...cacheCells(figures ?? undefined), change(figures?.d1Misses ?? 0, before?.cachePerOp?.d1Misses, misses)]
        : [perOp(instructions)];
      return [step.name, ...cells, change(instructions, before?.instructionsPerOp ?? undefined, perOp), step.expected ?? ''];
    });
    const head = cache ? [...CACHE_HEAD, 'D1 change'] : ['instr/op'];
    this.log(await renderTable(['step', ...head, 'instr change', 'expected'], rows));
    this.log('');
    this.log(`Figures per operation; each change is against the step before.${cache ? ' Simulated figures, not hardware counts.' : ''}`);
  }

  private async renderCache(run: PerfRun): Promise<void> {
    const hotspotRows = run.hotspots.map((hotspot) => [...cacheCells(hotspot.cachePerOp), percent(hotspot.share), hotspot.symbol, hotspot.library, hotspot.category]);
    this.log(await renderTable([...CACHE_HEAD, 'D1 %', 'function (self)', 'library', 'category'], hotspotRows, {wrap: [6]}));
    this.log('');
    const categories = Object.entries(run.categoryCachePerOp ?? {}) as [Category, CachePerOp][];
    const categoryRows = categories.map(([category, figures]) => [category, ...cacheCells(figures), percent(run.categories[category] ?? 0)]);
    categoryRows.push(['total', ...cacheCells(run.cachePerOp ?? undefined), '100.0%']);
    this.log(await renderTable(['category', ...CACHE_HEAD, 'D1 %'], categoryRows));
    this.log('');
    this.log(run.attribution);
  }

  private async renderCacheDiff(a: PerfResult, b: PerfRun): Promise<void> {
    const figureNames: Record<keyof CachePerOp, string> = {
      instructions: 'instructions',
      d1Misses: 'D1 misses',
      d1ReadMisses: 'D1 read misses',
      llMisses: 'LL misses',
      branchMispredicts: 'branch mispredicts',
    };
    const totals = (Object.keys(figureNames) as (keyof CachePerOp)[]).map((key) => {
      const x = a.cachePerOp?.[key] ?? 0;
      const y = b.cachePerOp?.[key] ?? 0;
      const format = key === 'instructions' ? perOp : misses;
      return [figureNames[key], format(x), format(y), y === 0 ? '' : `${(x / y).toFixed(2)}x`];
    });
    this.log(await renderTable(['per op', a.label, b.label, `${a.label} / ${b.label}`], totals));
    this.log('');
    const rows = (a.diff?.categories ?? []).map(({category}) => {
      const x = a.categoryCachePerOp?.[category];
      const y = b.categoryCachePerOp?.[category];
      return [category, perOp(x?.instructions ?? 0), misses(x?.d1Misses ?? 0), perOp(y?.instructions ?? 0), misses(y?.d1Misses ?? 0)];
    });
    this.log(await renderTable(['category', `${a.label} instr/op`, `${a.label} D1 miss/op`, `${b.label} instr/op`, `${b.label} D1 miss/op`], rows));
    this.log('');
    const cell = (run: PerfRun, index: number): string => {
      const hotspot = run.hotspots[index];
      return hotspot ? `${misses(hotspot.cachePerOp?.d1Misses)} D1/op ${hotspot.symbol} (${hotspot.library})` : '';
    };

    const ranks = Math.max(a.hotspots.length, b.hotspots.length);
    this.log(await renderTable(['#', a.label, b.label], Array.from({length: ranks}, (_, index) => [String(index + 1), cell(a, index), cell(b, index)]), {wrap: [1, 2]}));
    this.log('');
    await this.renderFunctionChanges(a);
    this.log(a.attribution);
  }

  private async renderDiff(a: PerfResult, b: PerfRun): Promise<void> {
    this.log(`hak perf ${a.profile}: ${a.label} against ${b.label}`);
    this.header(a);
    this.header(b);
    this.log('');
    if (a.mode === 'cache') {
      await this.renderCacheDiff(a, b);
      return;
    }

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
    await this.renderFunctionChanges(a);
    this.log(a.attribution);
  }

  private async renderFunctionChanges(result: PerfResult): Promise<void> {
    const functions = result.diff?.functions ?? [];
    if (!result.diff || result.mode === 'samples') return;
    const {against} = result.diff;
    if (functions.length === 0) {
      this.log(`No function's cost per operation changed between ${against.label} and ${result.label}.`);
    } else {
      this.log(`Functions whose cost per operation changed most, ${against.label} -> ${result.label} (${functions.length} changed; --json lists all):`);
      this.log(await functionChangeTable(functions, {a: result.label, b: against.label}));
    }

    this.log('');
  }
}
