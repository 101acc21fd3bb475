/**
 * Flags shared by every command that builds or runs hakmem (build, verify, bench, perf):
 * defined once here from the toggle table in features.ts.
 *
 * Toggle flags have no oclif default: a flag left out is `undefined`, so a profile's toggles
 * apply unless the command line says otherwise (defaults < profile < flags).
 */
import {Flags} from '@oclif/core';

import {parseAllocatorName} from './allocators.js';
import {UsageError} from './errors.js';
import type {CommandProfileOptions, FigureSetting} from './profiles/index.js';
import type {SingleRunOptions} from './run/index.js';
import {
  BOOLEAN_TOGGLES,
  COMPILERS,
  DEFAULT_FEATURES,
  type Features,
  SANITIZERS,
  type StatsLevel,
  TOGGLES,
  type Toolchain,
} from './features.js';

const TOGGLE_GROUP = 'HAKMEM TOGGLE';
const TOOLCHAIN_GROUP = 'TOOLCHAIN';

function toggleDescription(key: keyof Features): string {
  const toggle = TOGGLES.find((candidate) => candidate.key === key)!;
  return `${toggle.meaning} [make ${toggle.makeVariable}]`;
}

export const toggleFlags = {
  'direct-cache': Flags.boolean({
    allowNo: true,
    helpGroup: TOGGLE_GROUP,
    summary: `Direct page cache (default on): ${toggleDescription('directCache')}.`,
  }),
  'dual-lists': Flags.boolean({
    allowNo: true,
    helpGroup: TOGGLE_GROUP,
    summary: `Dual free lists (default on): ${toggleDescription('dualLists')}.`,
  }),
  superslab: Flags.boolean({
    allowNo: true,
    helpGroup: TOGGLE_GROUP,
    summary: `Superslab segments (default on): ${toggleDescription('superslab')}.`,
  }),
  'wrap-tiny': Flags.boolean({
    allowNo: true,
    helpGroup: TOGGLE_GROUP,
    summary: `Tiny pool behind malloc (default on): ${toggleDescription('wrapTiny')}.`,
  }),
  stats: Flags.string({
    options: ['0', '1', '2'],
    helpGroup: TOGGLE_GROUP,
    summary: `Stats level (default ${DEFAULT_FEATURES.stats}): ${toggleDescription('stats')}.`,
  }),
  harden: Flags.boolean({
    allowNo: true,
    helpGroup: TOGGLE_GROUP,
    summary: `Heap-misuse checks (default off): ${toggleDescription('harden')}.`,
  }),
};

export const toolchainFlags = {
  cc: Flags.string({options: [...COMPILERS], helpGroup: TOOLCHAIN_GROUP, summary: 'Compiler (default gcc).'}),
  sanitize: Flags.string({
    options: [...SANITIZERS],
    helpGroup: TOOLCHAIN_GROUP,
    summary: 'Build with a sanitizer; such a build serves the hak_* API, not malloc.',
  }),
  debug: Flags.boolean({helpGroup: TOOLCHAIN_GROUP, summary: 'Build with -O0 -g and internal assertions.'}),
};

/** Flags of the commands that run benchmarks (bench, verify, perf). */
export const runFlags = {
  threads: Flags.integer({
    min: 1,
    max: 1024,
    helpValue: 'N',
    summary: 'Threads to run with, for profiles that allow it (larson-mid runs 4 by default; this machine may have fewer cores).',
  }),
};

/** A flag given in percent (0 to below 100) and returned as a fraction: 2 becomes 0.02. */
export function percentFlag(summary: string): ReturnType<typeof Flags.custom<number>> {
  return Flags.custom<number>({
    helpValue: 'PERCENT',
    summary,
    async parse(input) {
      const value = Number(input);
      if (input.trim() === '' || !Number.isFinite(value) || value < 0 || value >= 100) {
        throw new Error(`expected a percentage from 0 to below 100, got ${input}`);
      }

      return value / 100;
    },
  });
}

/** The noise band of bench and compare verdicts. */
export const noiseFlag = percentFlag('Noise band in percent: a difference is called only when the whole ratio interval lies beyond it (default 2).')();

/** The variant-selecting flags: toggles and toolchain. */
export const variantFlags = {...toggleFlags, ...toolchainFlags};

type ToggleFlagValues = {[K in keyof typeof toggleFlags]?: K extends 'stats' ? string : boolean};
type ToolchainFlagValues = {cc?: string; sanitize?: string; debug?: boolean};

/** The toggles given on the command line, and only those. */
export function featureOverrides(flags: ToggleFlagValues): Partial<Features> {
  const overrides: Partial<Features> = {};
  for (const toggle of BOOLEAN_TOGGLES) {
    const value = flags[toggle.flag as keyof ToggleFlagValues];
    if (typeof value === 'boolean') overrides[toggle.key] = value;
  }

  if (flags.stats !== undefined) overrides.stats = Number(flags.stats) as StatsLevel;
  return overrides;
}

/** The toolchain options given on the command line, and only those. */
export function toolchainOverrides(flags: ToolchainFlagValues): Partial<Toolchain> {
  const overrides: Partial<Toolchain> = {};
  if (flags.cc !== undefined) overrides.cc = flags.cc as Toolchain['cc'];
  if (flags.sanitize !== undefined) overrides.sanitize = flags.sanitize as Toolchain['sanitize'];
  // --debug is a plain switch: only its presence says anything.
  if (flags.debug) overrides.debug = true;
  return overrides;
}

/** Flags of the commands that examine one run of a profile (verify, perf). */
export const singleRunFlags = {
  variant: Flags.string({
    helpValue: 'NAME',
    summary: 'Which of the profile\'s variants to use when it names several (phases); default the first.',
  }),
  allocator: Flags.string({
    default: 'hakmem',
    helpValue: 'NAME',
    summary: 'The allocator in place for the run: hakmem (the variant built), or glibc (no preload), mimalloc, jemalloc, tcmalloc, scudo, or NAME=PATH for any malloc library.',
  }),
  env: Flags.string({
    multiple: true,
    helpValue: 'NAME=VALUE',
    summary: 'Set a variable for the benchmark, on top of the profile\'s env (e.g. HAKMEM_WRAP_TINY=1); repeatable.',
  }),
};

/** Variables hak sets itself: the preload belongs to --allocator, the stats file to hak. */
const RESERVED_VARIABLES = new Set(['LD_PRELOAD', 'HAKMEM_STATS']);

/** `--env NAME=VALUE` flags as a mapping; a UsageError for a malformed or reserved one. */
export function envAssignments(values: readonly string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const value of values ?? []) {
    const match = /^([A-Za-z_]\w*)=(.*)$/s.exec(value);
    if (!match) throw new UsageError(`--env ${value}: expected NAME=VALUE.`);
    const [, name, setting] = match as unknown as [string, string, string];
    if (RESERVED_VARIABLES.has(name)) {
      throw new UsageError(`--env ${name} is set by hak itself.`, {hint: name === 'LD_PRELOAD' ? 'Choose the allocator with --allocator.' : 'hak collects the stats file when it needs one.'});
    }

    env[name] = setting;
  }

  return env;
}

type SingleRunFlagValues = ToggleFlagValues & ToolchainFlagValues & {variant?: string; allocator: string; env?: string[]; threads?: number};

/** The run that verify's and perf's flags describe: variant, toggles, allocator, env, threads. */
export function singleRunOptions(flags: SingleRunFlagValues): Omit<SingleRunOptions, 'profile' | 'onProgress'> {
  return {
    variant: flags.variant,
    overrides: {features: featureOverrides(flags), toolchain: toolchainOverrides(flags)},
    allocator: parseAllocatorName(flags.allocator),
    env: envAssignments(flags.env),
    threads: flags.threads,
  };
}

/** Flags of the commands that run any command line after `--` (bench, verify, perf). */
export const commandFlags = {
  timeout: Flags.integer({min: 1, max: 86_400, helpValue: 'SECONDS', summary: 'With -- CMD: seconds one run may take before it is killed (default 600).'}),
};

/** How bench reads a command's figure. */
export const figureFlags = {
  figure: Flags.string({
    helpValue: 'REGEX',
    summary: 'With -- CMD: read the figure from stdout, the first group of REGEX\'s last match (default: wall time in seconds, lower is better).',
  }),
  unit: Flags.string({helpValue: 'UNIT', dependsOn: ['figure'], summary: 'The unit of --figure\'s number (default: none).'}),
  better: Flags.string({options: ['lower', 'higher'], dependsOn: ['figure'], summary: 'Whether a lower or a higher --figure is better (default higher).'}),
};

type CommandFlagValues = {timeout?: number; figure?: string; unit?: string; better?: string};

/** The profile-less run a command line after `--` asks for, or a UsageError for a profile and a command both, or neither. */
export function commandOptions(flags: CommandFlagValues, command: string[] | null, profile: string | undefined): CommandProfileOptions | null {
  if (command === null) {
    if (flags.figure !== undefined || flags.timeout !== undefined) throw new UsageError('--figure and --timeout apply to a command given after --.');
    return null;
  }

  if (profile !== undefined) throw new UsageError(`give a profile (${profile}) or a command after --, not both.`);
  let figure: FigureSetting | null = null;
  if (flags.figure !== undefined) {
    try {
      new RegExp(flags.figure); // eslint-disable-line no-new
    } catch (error) {
      throw new UsageError(`--figure ${flags.figure}: not a regular expression (${(error as Error).message}).`);
    }

    figure = {regex: flags.figure, unit: flags.unit ?? '', better: flags.better === 'lower' ? 'lower' : 'higher'};
  }

  return {figure, timeoutSeconds: flags.timeout};
}
