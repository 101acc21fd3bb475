import {Args, Flags} from '@oclif/core';

import {HakCommand} from '../base-command.js';
import {ExitCode} from '../errors.js';
import {describeFeatures} from '../features.js';
import {commandFlags, commandOptions, runFlags, singleRunFlags, singleRunOptions, variantFlags} from '../flags.js';
import {commandProfile, loadProfile} from '../profiles/index.js';
import {shellQuote, shellVariablesNote} from '../run/index.js';
import {renderTable} from '../ui/table.js';
import {type CounterEvidence, type ProcessVerdict, type SamplesEvidence, verifyProfile, type VerifyReport} from '../verify/index.js';
import {witnessRows} from '../verify/render.js';

export default class Verify extends HakCommand {
  static override summary = 'Prove that hakmem served a profile\'s allocations, or name what did.';

  static override description = [
    'Builds the profile\'s variant (toggle flags override the profile\'s), runs its benchmark with the allocator in place and judges from independent witnesses: hakmem\'s own counters (for a stats-0 variant, also the exact counters of its stats-1 twin), the dynamic loader\'s binding of the program\'s malloc, and perf samples grouped by library and symbol.',
    'Passes when they agree that hakmem served: at least 99% of the requests of every tier the benchmark\'s sizes fall into, malloc bound to libhakmem.so, and glibc\'s malloc internals under 5% of the samples. Otherwise fails with the cause in words. Exit 0 on pass, 1 on fail.',
    'A server profile (redis, memcached) is judged on its server process: started on a free loopback port as hak bench starts it, loaded by its clients, stopped with SIGTERM; perf is attached to it during the load. A server that does not start or dies is INVALID with its log\'s last lines (exit 1). A command that runs until stopped needs --duration SECONDS: its tree then gets SIGTERM and is judged.',
    'A process served by hakmem that also binds another allocator\'s own API (mallctl, nallocx, mi_*, tc_*) is named with a MIXED ALLOCATORS warning: its own memory reports describe the other allocator. With --allocator glibc, a program that links an allocator library itself is served by it: "system (jemalloc, linked by redis-server)".',
  ].join('\n\n');

  static override examples = [
    {description: 'The default profile (tiny-hot) and variant.', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'The quick-wins trap: fails naming wrap-tiny.', command: '<%= config.bin %> <%= command.id %> --no-wrap-tiny'},
    {description: 'The same build with the tiny pool switched on at run time: passes.', command: '<%= config.bin %> <%= command.id %> --no-wrap-tiny --env HAKMEM_WRAP_TINY=1'},
    {description: 'Any command: every process of its tree judged (here sh and python3).', command: '<%= config.bin %> <%= command.id %> -- sh -c "python3 -c \'print(sum(range(10**6)))\'"'},
    {description: 'Another allocator in place: fails naming it.', command: '<%= config.bin %> <%= command.id %> random-mixed --allocator mimalloc --json'},
    {description: 'A server profile: redis-server loaded by redis-benchmark, judged on the server process.', command: '<%= config.bin %> <%= command.id %> redis'},
    {description: 'A server as a command: stopped with SIGTERM after 2 s, then judged.', command: '<%= config.bin %> <%= command.id %> --duration 2 -- redis-server --port 6390 --save \'\''},
  ];

  static override args = {
    profile: Args.string({description: 'Profile name or file (default tiny-hot); or, after --, any command line.'}),
  };

  static override flags = {
    ...variantFlags,
    ...runFlags,
    ...singleRunFlags,
    'stats-twin': Flags.boolean({
      allowNo: true,
      default: true,
      summary: 'For a stats-0 variant, also count exactly with its stats-1 twin (--no-stats-twin: the slow-path counters alone).',
    }),
    samples: Flags.boolean({allowNo: true, default: true, summary: 'Take the perf sample witness (--no-samples skips it).'}),
    duration: Flags.integer({
      min: 1,
      max: 86_400,
      helpValue: 'SECONDS',
      summary: 'With -- CMD: a command that runs until stopped (a server): SIGTERM to its processes after SECONDS, then judge them.',
    }),
    ...commandFlags,
  };

  async run(): Promise<VerifyReport> {
    const {own, command} = this.splitCommandLine();
    const {args, flags} = await this.parse(Verify, own);
    const asCommand = commandOptions(flags, command, args.profile);
    const profile = asCommand ? commandProfile(command!, asCommand) : await loadProfile(args.profile ?? 'tiny-hot');
    const report = await this.withSpinner(`verifying ${profile.name}`, 'verify failed', (onProgress) =>
      verifyProfile({...singleRunOptions(flags), profile, statsTwin: flags['stats-twin'], samples: flags.samples, durationSeconds: flags.duration, onProgress}),
    );

    if (this.jsonEnabled()) {
      if (report.verdict === 'fail') {
        this.logJson(report);
        this.exit(ExitCode.VerdictFailed);
      }

      return report;
    }

    await this.render(report, profile.variants.length);
    if (report.verdict === 'fail') this.exit(ExitCode.VerdictFailed);
    return report;
  }

  private async render(report: VerifyReport, variantCount: number): Promise<void> {
    const head = report.verdict === 'pass' ? 'PASS: hakmem served the allocations' : `FAIL: ${report.cause}`;
    this.log(`hak verify ${report.profile}: ${head}`);
    const which = variantCount > 1 ? ` (variant ${report.variantName} of ${variantCount}; --variant picks another)` : '';
    this.log(`  variant    ${report.variant}${which}`);
    this.log(`             ${describeFeatures(report.features)}`);
    const env = Object.entries(report.env).map(([key, value]) => `${key}=${value}`);
    this.log(`  allocator  ${report.allocator}${report.system ? `: ${report.system}` : ''}${env.length > 0 ? `, env ${env.join(' ')}` : ''}`);
    const shell = shellVariablesNote(report.shellEnv);
    if (shell) this.log(`  env        ${shell} (passed through to the runs)`);
    if (report.command) this.log(`  command    ${report.command.map(shellQuote).join(' ')}`);
    if (report.sizes) this.log(`  requests   ${sizeText(report.sizes)} (${report.tiers.join(' and ')} tier)`);
    this.log('');
    if (report.kind === 'server') this.log(`The server process, ${report.command?.[0] ?? report.profile}, loaded by its clients:`);
    if (report.kind === 'command') this.log(`The started process, ${report.processes.find((process) => process.pid !== 0)?.program ?? report.command?.[0]}:`);
    this.log(await renderTable(['witness', 'says', 'figures'], witnessRows(report), {wrap: [0, 2]}));
    this.log('');
    if (report.processes.length > 0) {
      this.log(`Every process of the tree (${report.processes.length}):`);
      this.log(await renderTable(['pid', 'program', 'loader binding', 'hakmem counters', 'samples', 'verdict'], processRows(report.processes)));
      for (const process of report.processes) {
        const said = process.cause ?? process.note;
        if (said) this.log(`  ${process.pid > 0 ? `${process.pid} ` : ''}${process.program}: ${said}`);
      }

      this.log('');
    }

    for (const warning of report.warnings) this.log(`${warning}\n`);
    this.log(`Verified in ${report.seconds.toFixed(1)} s.${countersNote(report.witnesses.counters, report.witnesses.variantCounters)}${samplesNote(report.witnesses.samples)}`);
  }
}

function processRows(processes: ProcessVerdict[]): string[][] {
  return processes.map((process) => {
    const bound = process.binding?.mallocLibrary?.split('/').pop() ?? (process.binding ? 'not logged' : process.counters.loaded ? "its parent's (fork)" : 'no loader log');
    const counters = process.counters.loaded
      ? process.counters.tiers.filter((tier) => tier.share !== null).map((tier) => `${tier.tier} ${Math.floor(tier.share! * 1000) / 10}%`).join(', ') || 'loaded, no requests'
      : 'not loaded';
    const samples = process.samples ? `${process.samples.samples} (glibc malloc ${(process.samples.glibcMallocShare * 100).toFixed(1)}%)` : '—';
    const verdict = process.verdict === 'pass' ? (process.note ? 'pass (see below)' : 'pass') : 'FAIL (see below)';
    return [process.pid > 0 ? String(process.pid) : 'unseen', process.program, bound, counters, samples, verdict];
  });
}

function sizeText(sizes: {min: number; max: number}): string {
  return sizes.min === sizes.max ? `${sizes.min} B` : `${sizes.min}-${sizes.max} B`;
}

function countersNote(counters: CounterEvidence, variantCounters: CounterEvidence | null): string {
  if (!variantCounters) return '';
  return ` Counts are exact from the stats-1 twin ${counters.variant}; the tested build's slow-path counters had to agree.`;
}

function samplesNote(samples: SamplesEvidence): string {
  return samples.status === 'skipped' ? ` The sample witness was skipped: ${samples.reason.replace(/[^.]$/, '$&.')}` : '';
}
