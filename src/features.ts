/**
 * hakmem's compile-time toggles and build options: one table that the build, the shared flags,
 * `hak features` and the profile loader all read, so a toggle is described in one place.
 */

/** The allocator's feature toggles (csrc/README.md, "Building"). */
export interface Features {
  directCache: boolean;
  dualLists: boolean;
  superslab: boolean;
  wrapTiny: boolean;
  stats: StatsLevel;
  harden: boolean;
}

export type StatsLevel = 0 | 1 | 2;
export const STATS_LEVELS: readonly StatsLevel[] = [0, 1, 2];

export type BooleanToggle = Exclude<keyof Features, 'stats'>;

export const COMPILERS = ['gcc', 'clang'] as const;
export type Compiler = (typeof COMPILERS)[number];

export const SANITIZERS = ['address', 'thread', 'undefined'] as const;
export type Sanitizer = (typeof SANITIZERS)[number];

/** How to compile a variant, apart from the toggles. */
export interface Toolchain {
  cc: Compiler;
  sanitize: Sanitizer | null;
  debug: boolean;
}

/** Everything that selects one build of hakmem. */
export interface VariantSpec {
  features: Features;
  toolchain: Toolchain;
}

export interface ToggleInfo {
  key: keyof Features;
  /** The command-line flag, without dashes. */
  flag: string;
  /** The csrc Makefile variable. */
  makeVariable: string;
  /** Letters used in variant ids, e.g. `dc` in `dc1-dl0-...`. */
  idPrefix: string;
  /** In the id only when on (`-h1`), so the ids of builds without it stay as they were. */
  idOnlyWhenOn?: boolean;
  meaning: string;
  /** The mechanism from the design notes that the toggle switches on or off. */
  mechanism: string;
}

export const TOGGLES: readonly ToggleInfo[] = [
  {
    key: 'directCache',
    flag: 'direct-cache',
    makeVariable: 'DIRECT_CACHE',
    idPrefix: 'dc',
    meaning: 'find the page for a size with one array index instead of a binary search of the class table',
    mechanism: 'direct page cache, pages_direct[(size+7)/8] (roadmap phase 1)',
  },
  {
    key: 'dualLists',
    flag: 'dual-lists',
    makeVariable: 'DUAL_LISTS',
    idPrefix: 'dl',
    meaning: 'per page an allocation list that also takes the owner\'s frees, without atomics, and an atomic list for other threads\' frees, instead of one atomic free list',
    mechanism: 'dual free lists: local frees without atomics, remote frees batched (roadmap phase 2)',
  },
  {
    key: 'superslab',
    flag: 'superslab',
    makeVariable: 'SUPERSLAB',
    idPrefix: 'ss',
    meaning: 'find a pointer\'s page by masking it into a 4 MiB aligned segment instead of a hash-table registry',
    mechanism: 'superslab segments with pointer-arithmetic page lookup (quick win 1, battle plan MF2)',
  },
  {
    key: 'wrapTiny',
    flag: 'wrap-tiny',
    makeVariable: 'WRAP_TINY',
    idPrefix: 'wt',
    meaning: 'malloc/free through the override serve requests <= 1 KiB from the tiny pool; off hands them to glibc',
    mechanism: 'the wrapper guard that silently sent every tiny request to glibc (quick-wins gap analysis)',
  },
  {
    key: 'stats',
    flag: 'stats',
    makeVariable: 'STATS',
    idPrefix: 's',
    meaning: '0: no counters on fast paths; 1: per-tier counters; 2: per-tier and per-size-class counters',
    mechanism: 'the compile-time stats toggle (quick win 2); slow-path counters are always kept',
  },
  {
    key: 'harden',
    flag: 'harden',
    makeVariable: 'HARDEN',
    idPrefix: 'h',
    idOnlyWhenOn: true,
    meaning: 'stop heap misuse (double free, invalid free, write after free, large-block overflow) with a one-line message and abort()',
    mechanism: 'free-list links checked against a per-page secret, double-free and block-start checks at free, large-block canaries (like mimalloc\'s secure mode); the tiny and mid caches are off',
  },
];

export const BOOLEAN_TOGGLES = TOGGLES.filter((toggle) => toggle.key !== 'stats') as readonly (ToggleInfo & {
  key: BooleanToggle;
})[];

export const DEFAULT_FEATURES: Readonly<Features> = Object.freeze({
  directCache: true,
  dualLists: true,
  superslab: true,
  wrapTiny: true,
  stats: 0,
  harden: false,
});

export const DEFAULT_TOOLCHAIN: Readonly<Toolchain> = Object.freeze({cc: 'gcc', sanitize: null, debug: false});

/** Toggles left out take their defaults; later sources win (defaults < profile < flags). */
export function resolveFeatures(...layers: (Partial<Features> | undefined)[]): Features {
  const features: Features = {...DEFAULT_FEATURES};
  for (const layer of layers) {
    if (!layer) continue;
    for (const toggle of TOGGLES) {
      const value = layer[toggle.key];
      if (value !== undefined) (features as unknown as Record<string, unknown>)[toggle.key] = value;
    }
  }
  return features;
}

export function resolveToolchain(...layers: (Partial<Toolchain> | undefined)[]): Toolchain {
  const toolchain: Toolchain = {...DEFAULT_TOOLCHAIN};
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.cc !== undefined) toolchain.cc = layer.cc;
    if (layer.sanitize !== undefined) toolchain.sanitize = layer.sanitize;
    if (layer.debug !== undefined) toolchain.debug = layer.debug;
  }
  return toolchain;
}

const SANITIZER_MARKS: Record<Sanitizer, string> = {address: 'asan', thread: 'tsan', undefined: 'ubsan'};

/** The readable part of a variant id: `dc1-dl1-ss1-wt1-s0-gcc`, plus `-h1` (harden), `-asan`/`-tsan`/`-ubsan` and `-debug`. */
export function variantLabel(spec: VariantSpec): string {
  const parts = TOGGLES.filter((toggle) => !toggle.idOnlyWhenOn || spec.features[toggle.key]).map(
    (toggle) => `${toggle.idPrefix}${Number(spec.features[toggle.key])}`,
  );
  parts.push(spec.toolchain.cc);
  if (spec.toolchain.sanitize) parts.push(SANITIZER_MARKS[spec.toolchain.sanitize]);
  if (spec.toolchain.debug) parts.push('debug');
  return parts.join('-');
}

/** The variables passed to `make -C csrc`, in a fixed order. */
export function makeVariables(spec: VariantSpec): string[] {
  const variables = TOGGLES.map((toggle) => `${toggle.makeVariable}=${Number(spec.features[toggle.key])}`);
  variables.push(`CC=${spec.toolchain.cc}`, `SANITIZE=${spec.toolchain.sanitize ?? ''}`, `DEBUG=${Number(spec.toolchain.debug)}`);
  return variables;
}

/** A short human description, e.g. "direct-cache on, dual-lists off, ..., stats 0". */
export function describeFeatures(features: Features): string {
  return TOGGLES.map((toggle) =>
    toggle.key === 'stats' ? `stats ${features.stats}` : `${toggle.flag} ${features[toggle.key] ? 'on' : 'off'}`,
  ).join(', ');
}
