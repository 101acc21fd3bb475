import {Args, Flags} from '@oclif/core';

import {ALLOCATOR_NAMES} from '../allocators.js';
import {HakCommand} from '../base-command.js';
import {describeFeatures, resolveFeatures} from '../features.js';
import {benchmarkArgs, callgrindArgs, loadAllProfiles, loadProfile, perfArgs, type Profile} from '../profiles/index.js';
import {shellQuote} from '../run/index.js';
import {renderTable} from '../ui/table.js';

export default class Profiles extends HakCommand {
  static override summary = 'List the measurement profiles, or show one in full; every file is validated.';

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> larson-mid',
    '<%= config.bin %> <%= command.id %> ./my-profile.yaml --json',
    {description: 'The JSON Schema of a profile file, which editors use to check profiles as they are typed.', command: '<%= config.bin %> <%= command.id %> --schema > profile.schema.json'},
  ];

  static override flags = {
    schema: Flags.boolean({summary: 'Print the JSON Schema of a profile file (the one profiles/profile.schema.json holds) and nothing else.'}),
  };

  static override args = {
    profile: Args.string({description: 'A profile name or the path of a profile file.', required: false}),
  };

  async run(): Promise<{profiles: Profile[]} | Profile | Record<string, unknown>> {
    const {args, flags} = await this.parse(Profiles);
    if (flags.schema) {
      const {profileJsonSchema} = await import('../profiles/format.js');
      const schema = profileJsonSchema();
      if (!this.jsonEnabled()) this.log(JSON.stringify(schema, null, 2));
      return schema;
    }

    if (args.profile) {
      const profile = await loadProfile(args.profile);
      if (!this.jsonEnabled()) this.showProfile(profile);
      return profile;
    }

    const profiles = await loadAllProfiles();
    if (!this.jsonEnabled()) {
      const rows = profiles.map((profile) => [
        profile.name,
        commandText(profile, benchmarkArgs(profile)),
        `${profile.threads.count}${profile.threads.overridable ? ' (--threads)' : ''}`,
        profile.variants.map((variant) => variant.name).join(', '),
        profile.allocators.length === ALLOCATOR_NAMES.length ? 'all five' : profile.allocators.join(', '),
      ]);
      this.log(await renderTable(['profile', 'command', 'threads', 'hakmem variants', 'allocators'], rows, {wrap: [1, 3, 4]}));
    }

    return {profiles};
  }

  private showProfile(profile: Profile): void {
    this.log(`${profile.name}  (${this.displayPath(profile.file)})`);
    this.log(`  ${profile.description}`);
    this.log(`  run        ${commandText(profile, benchmarkArgs(profile))}`);
    if (profile.kind === 'command') {
      const {command} = profile;
      const figure = command.figure ? `/${command.figure.regex}/ in ${command.figure.unit || 'its unit'}, ${command.figure.better} is better` : 'wall time in seconds, lower is better';
      this.log(`  command    ${command.cwd ? `in ${this.displayPath(command.cwd)}, ` : ''}${command.stdin ? `stdin ${this.displayPath(command.stdin)}, ` : ''}figure: ${figure}; stdout ${command.checkOutput ? 'checked across allocators' : 'not checked'}`);
    }

    if (profile.kind === 'server') {
      const {server} = profile;
      const ready = server.ready.command ? `when ${server.ready.command.map(shellQuote).join(' ')} succeeds` : 'when its port accepts';
      this.log(`  server     ready ${ready} (${server.ready.timeoutSeconds} s at most); SIGTERM, SIGKILL after ${server.graceSeconds} s; idle ${server.idleSeconds} s; placement ${server.placement}`);
      for (const client of server.clients) this.log(`  client     ${client.argv.map(shellQuote).join(' ')} (${client.parser})`);
      for (const check of server.checks) this.log(`  check      ${check.argv.map(shellQuote).join(' ')} =~ /${check.expect}/`);
    }

    const threads = profile.threads;
    this.log(`  threads    ${threads.count}${threads.overridable ? `, --threads changes argument ${threads.arg ?? '(none)'}` : ', fixed'}`);
    for (const variant of profile.variants) {
      const expected = variant.expected ? `; expected ${variant.expected}` : '';
      this.log(`  hakmem     ${variant.name}: ${describeFeatures(resolveFeatures(variant.features))}${expected}`);
    }
    this.log(`  allocators ${profile.allocators.join(', ')}`);
    this.log(`  runs       ${profile.runs} (+${profile.warmup} warm-up), timeout ${profile.timeoutSeconds} s`);
    if (Object.keys(profile.env).length > 0) {
      this.log(`  env        ${Object.entries(profile.env).map(([key, value]) => `${key}=${value}`).join(' ')}`);
    }

    if (profile.kind === 'benchmark') this.log(`  callgrind  ${profile.benchmark.program} ${callgrindArgs(profile).join(' ')}`);
    if (profile.kind === 'server') return;
    const callGraph = profile.perf.callGraph === 'none' ? '' : ` --call-graph ${profile.perf.callGraph}`;
    this.log(`  perf       -e ${profile.perf.event} -F ${profile.perf.frequency}${callGraph} -- ${commandText(profile, perfArgs(profile))}`);
  }
}

/** The program and its arguments as a shell would take them. */
function commandText(profile: Profile, args: string[]): string {
  if (profile.kind === 'benchmark') return `${profile.benchmark.program} ${args.join(' ')}`.trim();
  return [profile.benchmark.program, ...args].map(shellQuote).join(' ');
}
