import {Args, Flags} from '@oclif/core';

import {HakCommand} from '../base-command.js';
import {UsageError} from '../errors.js';
import {commandFlags, commandOptions, runFlags, singleRunFlags, singleRunOptions, variantFlags} from '../flags.js';
import {DEFAULT_TOP, type PerfResult, profileRun} from '../perf/index.js';
import {perfText, perfWarnings} from '../perf/render.js';
import {resolveRevision} from '../build/revision.js';
import {commandProfile, loadProfile} from '../profiles/index.js';

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
    if (profile.kind === 'server') throw new UsageError(`${profile.name} is a server profile: hak bench and hak verify run servers; hak perf does not.`);
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
      this.log(await perfText(result, (path) => this.displayPath(path)));
      for (const warning of perfWarnings(result)) this.logToStderr(warning);
    }

    return result;
  }
}
