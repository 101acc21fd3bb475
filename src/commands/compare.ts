import {Args, Flags} from '@oclif/core';

import {HakCommand} from '../base-command.js';
import {compareRecords, type RecordComparison} from '../bench/compare.js';
import {compareTable, methodNote} from '../bench/render.js';
import {loadRecord, resolveResultReference} from '../bench/results.js';
import {describeRevision} from '../build/revision.js';
import {noiseFlag} from '../flags.js';

export default class Compare extends HakCommand {
  static override summary = 'Compare two saved bench results: B against A per target, with the same intervals and verdicts as hak bench.';

  static override description = [
    'A and B are saved results of hak bench: a path, an id (the file name without .json) or a unique prefix of it, latest or previous. Targets are matched by label (glibc, hakmem, hakmem:dual-lists, ...); for each present in both, the ratio of B\'s median to A\'s gets a 95% bootstrap interval and a verdict: faster or slower only when the whole interval lies beyond the noise band.',
    'A result that was INVALID or FAILED in either run is not compared. What differs between the two runs besides the numbers (commit, variant builds, library versions, machine) is listed under the table.',
  ].join('\n\n');

  static override examples = [
    {description: 'The last two saved results.', command: '<%= config.bin %> <%= command.id %> previous latest'},
    {description: 'The last two results of one profile.', command: '<%= config.bin %> <%= command.id %> previous latest --profile tiny-hot'},
    {description: 'Two results by id prefix, as JSON.', command: '<%= config.bin %> <%= command.id %> 20251122T0521 20251122T0604 --json'},
  ];

  static override args = {
    a: Args.string({description: 'The result compared against (before): a path, an id or prefix, latest or previous.', required: true}),
    b: Args.string({description: 'The result judged (after).', required: true}),
  };

  static override flags = {
    profile: Flags.string({helpValue: 'NAME', summary: 'Choose latest, previous and id prefixes among this profile\'s results only.'}),
    noise: noiseFlag,
  };

  async run(): Promise<RecordComparison> {
    const {args, flags} = await this.parse(Compare);
    const fileA = resolveResultReference(args.a, {profile: flags.profile});
    const fileB = resolveResultReference(args.b, {profile: flags.profile});
    const recordA = loadRecord(fileA);
    const recordB = loadRecord(fileB);
    const comparison = compareRecords(recordA, recordB, {noise: flags.noise});
    if (this.jsonEnabled()) return comparison;

    const {profile} = recordB;
    this.log(`${profile.name}: ${[profile.program, ...profile.args].join(' ')}`);
    this.log(`  A  ${comparison.a.id}  (${this.displayPath(fileA)})`);
    this.log(`  B  ${comparison.b.id}  (${this.displayPath(fileB)})`);
    for (const [side, record] of [['A', recordA], ['B', recordB]] as const) {
      for (const target of record.targets) if (target.revision) this.log(`  ${side}  ${target.label}: ${describeRevision(target.revision)}`);
    }

    this.log(await compareTable(comparison));
    this.log('');
    for (const target of comparison.targets) {
      for (const [side, result] of [['A', target.a], ['B', target.b]] as const) {
        if (result.status !== 'ok') this.log(`${target.label}: ${result.status.toUpperCase()} in ${side}: ${result.cause}`);
      }
    }

    if (comparison.onlyInA.length > 0) this.log(`Only in A: ${comparison.onlyInA.join(', ')}`);
    if (comparison.onlyInB.length > 0) this.log(`Only in B: ${comparison.onlyInB.join(', ')}`);
    this.log(comparison.differences.length > 0 ? 'What differs:' : 'Same machine, compiler, commit, builds and libraries.');
    for (const difference of comparison.differences) this.log(`  ${difference}`);
    for (const line of methodNote(Math.min(recordA.profile.runs, recordB.profile.runs), recordB.profile.warmup, comparison.noise)) this.log(line);
    for (const warning of comparison.warnings) process.stderr.write(`Warning: ${warning}\n`);
    return comparison;
  }
}
