import {Flags} from '@oclif/core';

import {HakCommand} from '../base-command.js';
import {type BuiltVariant, type VariantRequest, buildVariant} from '../build/index.js';
import {describeFeatures, TOGGLES} from '../features.js';
import {featureOverrides, toolchainOverrides, variantFlags} from '../flags.js';
import {loadProfile, profileVariantRequests} from '../profiles/index.js';
import {renderTable} from '../ui/table.js';

/** `hak build --json` for one variant. */
export interface BuildJson {
  variant: string;
  /** The profile's name for this variant ("default" for a single-variant profile); absent without --profile. */
  name?: string;
  library: string;
  staticLibrary: string | null;
  features: BuiltVariant['features'];
  toolchain: BuiltVariant['toolchain'];
  compilerVersion: string;
  overridesMalloc: boolean;
  cached: boolean;
  dir: string;
  manifest: string;
  benchmarks: Record<string, string>;
}

/** `hak build --json` for a profile naming several variants. */
export interface BuildSweepJson {
  profile: string;
  variants: BuildJson[];
}

export default class Build extends HakCommand {
  static override summary = 'Build a hakmem variant (libhakmem.so and the benchmark programs).';

  static override description = [
    'Each combination of toggles, compiler and csrc sources is its own variant, built once into .hak/builds/<variant-id>/ (HAK_HOME moves .hak) with a manifest.json recording the toggles, the compiler and its flags, the git commit and the sha256 of every artifact.',
    'A later build of the same variant reuses it unless --force. Builds are made in a staging directory and renamed into place, so a failed or interrupted build leaves nothing behind.',
  ].join('\n\n');

  static override examples = [
    {description: 'The default variant (every toggle on, stats 0, gcc).', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'The quick-wins trap: the tiny pool switched off behind malloc, glibc serving small requests.', command: '<%= config.bin %> <%= command.id %> --no-wrap-tiny'},
    {description: 'Every variant of the phases sweep.', command: '<%= config.bin %> <%= command.id %> --profile phases'},
    {description: 'Per-tier counters with clang, as JSON.', command: '<%= config.bin %> <%= command.id %> --stats 1 --cc clang --json'},
  ];

  static override flags = {
    ...variantFlags,
    profile: Flags.string({
      summary: 'Build the variant(s) a profile names; toggle flags given as well override the profile\'s.',
      helpValue: 'NAME',
    }),
    force: Flags.boolean({summary: 'Rebuild even when a matching build exists.'}),
  };

  async run(): Promise<BuildJson | BuildSweepJson> {
    const {flags} = await this.parse(Build);
    const overrides = {features: featureOverrides(flags), toolchain: toolchainOverrides(flags)};
    const profile = flags.profile ? await loadProfile(flags.profile) : undefined;
    const requests: {name?: string; request: VariantRequest}[] = profile
      ? profileVariantRequests(profile, overrides)
      : [{request: overrides}];

    const results: BuildJson[] = [];
    for (const {name, request} of requests) {
      results.push({...(name === undefined ? {} : {name}), ...toJson(await this.buildOne(request, name, flags.force))});
    }

    if (profile && results.length > 1) {
      if (!this.jsonEnabled()) await this.renderSweep(profile.name, results);
      return {profile: profile.name, variants: results};
    }

    const [only] = results as [BuildJson];
    if (!this.jsonEnabled()) await this.renderOne(only);
    return only;
  }

  private async buildOne(request: VariantRequest, name: string | undefined, force: boolean): Promise<BuiltVariant> {
    const label = name ? `${name}: ` : '';
    const spinner = await this.spinner(`${label}checking for an existing build`);
    try {
      const built = await buildVariant(request, {force, onProgress: (text) => spinner.update(label + text)});
      spinner.stop();
      return built;
    } catch (error) {
      spinner.fail(`${label}build failed`);
      throw error;
    }
  }

  private async renderOne(built: BuildJson): Promise<void> {
    const how = built.cached ? 'Reused' : 'Built';
    this.log(`${how} ${built.variant}${built.cached ? ' (already built; --force rebuilds)' : ''}`);
    this.log(`  ${describeFeatures(built.features)}`);
    const compiler = /^\d/.test(built.compilerVersion) ? `${built.toolchain.cc} ${built.compilerVersion}` : built.compilerVersion;
    const options = [built.toolchain.sanitize ? `-fsanitize=${built.toolchain.sanitize}` : '', built.toolchain.debug ? 'debug' : ''];
    this.log(`  compiler  ${[compiler, ...options.filter(Boolean)].join(', ')}`);
    if (!built.overridesMalloc) this.log('  malloc    not replaced: a sanitizer build serves only the hak_* API');
    this.log(`  library   ${this.displayPath(built.library)}`);
    this.log(`  manifest  ${this.displayPath(built.manifest)}`);
    const programs = Object.keys(built.benchmarks);
    this.log(`  programs  ${programs.length > 0 ? programs.join(', ') : '(none)'}`);
  }

  private async renderSweep(profile: string, results: BuildJson[]): Promise<void> {
    const toggleColumns = TOGGLES.filter((toggle) => toggle.key !== 'stats');
    const rows = results.map((result) => [
      result.name ?? '',
      ...toggleColumns.map((toggle) => (result.features[toggle.key] ? 'on' : 'off')),
      result.variant,
      result.cached ? 'reused' : 'built',
    ]);
    this.log(`Variants of profile ${profile}:`);
    this.log(await renderTable(['variant', ...toggleColumns.map((toggle) => toggle.flag), 'id', 'build'], rows));
  }
}

function toJson(built: BuiltVariant): BuildJson {
  return {
    variant: built.variant,
    library: built.library,
    staticLibrary: built.staticLibrary,
    features: built.features,
    toolchain: built.toolchain,
    compilerVersion: built.compilerVersion,
    overridesMalloc: built.overridesMalloc,
    cached: built.cached,
    dir: built.dir,
    manifest: built.manifest,
    benchmarks: built.benchmarks,
  };
}
