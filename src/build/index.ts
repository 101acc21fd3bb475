/**
 * Building hakmem variants: the one entry point every command uses to get a variant's library
 * and benchmark programs.
 *
 *   const built = await buildVariant({features: {superslab: false}});
 *   built.library            // .../.hak/builds/dc1-dl1-ss0-wt1-s0-gcc-<hash>/libhakmem.so
 *   benchmarkPath(built, 'random_mixed')
 *
 * Each variant lives in `<HAK_HOME>/builds/<variant-id>/`, the id being readable toggles plus a
 * hash of the configuration, the compiler and the csrc sources. A build whose directory exists
 * with a manifest whose artifacts still match their sha256 is reused; otherwise it is built in a
 * staging directory and renamed into place, so a failed or interrupted build leaves nothing.
 */
import {createHash} from 'node:crypto';
import {existsSync, readdirSync, statSync} from 'node:fs';
import {basename, join} from 'node:path';

import {stageDir} from '../atomic-dir.js';
import {BuildError, UsageError} from '../errors.js';
import {execProgram, tailLines} from '../exec.js';
import {
  type Features,
  type Toolchain,
  type VariantSpec,
  makeVariables,
  resolveFeatures,
  resolveToolchain,
  variantLabel,
} from '../features.js';
import {buildsDir, csrcDir} from '../paths.js';
import {requireTool} from '../system.js';
import {type GitState, gitState} from './git.js';
import {configMismatches, firstCompilerErrors, printConfig, runMake} from './make.js';
import {type BuildManifest, type ManifestCheck, checkVariantDir, manifestPath, recordArtifact, writeManifest} from './manifest.js';
import type {Revision} from './revision.js';
import {fingerprintSources} from './sources.js';

export {firstCompilerErrors} from './make.js';
export type {ArtifactRecord, BuildManifest} from './manifest.js';
export {checkVariantDir, MANIFEST_FILE} from './manifest.js';

export const LIBRARY_FILE = 'libhakmem.so';
export const STATIC_LIBRARY_FILE = 'libhakmem.a';
export const BENCH_DIR = 'bench';

/** What a caller asks for: toggles and toolchain options left out take their defaults. */
export interface VariantRequest {
  features?: Partial<Features>;
  toolchain?: Partial<Toolchain>;
  /** Build from these sources (another revision's csrc/); the checkout's csrc/ when left out. */
  sources?: Revision;
}

export interface BuildOptions {
  /** Rebuild even when a matching build exists. */
  force?: boolean;
  /** Progress messages for a spinner: phases and the build's output lines. */
  onProgress?: (message: string) => void;
}

export interface BuiltVariant {
  /** e.g. `dc1-dl1-ss1-wt1-s0-gcc-3f2a9c0d1b7e`. */
  variant: string;
  dir: string;
  /** Absolute path of libhakmem.so, for LD_PRELOAD. */
  library: string;
  staticLibrary: string | null;
  features: Features;
  toolchain: Toolchain;
  compilerVersion: string;
  /**
   * Whether libhakmem.so replaces malloc when preloaded. Sanitizer builds do not (the sanitizer
   * runtime owns malloc); they serve only the hak_* API.
   */
  overridesMalloc: boolean;
  /** True when an existing build was reused. */
  cached: boolean;
  /** Absolute path of manifest.json. */
  manifest: string;
  /** Benchmark program name to absolute path. */
  benchmarks: Record<string, string>;
}

export function resolveVariantSpec(request: VariantRequest = {}): VariantSpec {
  return {features: resolveFeatures(request.features), toolchain: resolveToolchain(request.toolchain)};
}

/** The compiler's identity (`gcc --version`'s first line): a compiler upgrade is a new variant. */
async function compilerIdentity(cc: string): Promise<string> {
  requireTool(cc === 'clang' ? 'clang' : 'gcc');
  const result = await execProgram(cc, ['--version']);
  const first = result.stdout.split('\n')[0]?.trim();
  if (result.exitCode !== 0 || !first) throw new UsageError(`${cc} --version failed: ${tailLines(result.stderr, 3)}`);
  return first;
}

function checkSourceTree(csrc: string): void {
  if (!existsSync(join(csrc, 'Makefile'))) {
    throw new UsageError(`no hakmem sources at ${csrc}: it has no Makefile.`, {
      hint: 'Run hak from a checkout of the project, or point HAK_CSRC at a hakmem source tree.',
    });
  }
}

export interface VariantIdentity {
  spec: VariantSpec;
  /** The revision built, when not the checkout's csrc/. */
  sources: Revision | null;
  variant: string;
  dir: string;
  csrc: string;
  sourceHash: string;
  sourceFiles: number;
  compilerVersion: string;
}

/** Works out which variant a request names and where it lives, without building anything. */
export async function identifyVariant(request: VariantRequest = {}): Promise<VariantIdentity> {
  const spec = resolveVariantSpec(request);
  const csrc = request.sources?.csrc ?? csrcDir();
  checkSourceTree(csrc);
  const compilerVersion = await compilerIdentity(spec.toolchain.cc);
  const sources = fingerprintSources(csrc);
  const key = createHash('sha256')
    .update(JSON.stringify({features: spec.features, toolchain: spec.toolchain, compilerVersion, sources: sources.hash}))
    .digest('hex');
  const variant = `${variantLabel(spec)}-${key.slice(0, 12)}`;
  return {
    spec,
    sources: request.sources ?? null,
    variant,
    dir: join(buildsDir(), variant),
    csrc,
    sourceHash: sources.hash,
    sourceFiles: sources.files,
    compilerVersion,
  };
}

/** Builds the variant a request names, or reuses the existing build of it. */
export async function buildVariant(request: VariantRequest = {}, options: BuildOptions = {}): Promise<BuiltVariant> {
  const progress = options.onProgress ?? (() => {});
  requireTool('make');
  const identity = await identifyVariant(request);

  if (!options.force) {
    const existing = checkVariantDir(identity.dir);
    if (existing.ok) return describeBuild(identity.dir, existing.manifest, true);
    if (existsSync(identity.dir)) progress(`rebuilding ${identity.variant}: ${existing.problem}`);
  }

  const staging = stageDir(identity.dir, buildsDir());
  let manifest: BuildManifest;
  try {
    manifest = await buildInto(staging.path, identity, progress);
  } catch (error) {
    staging.discard();
    throw error;
  }

  const replace = Boolean(options.force) || existsSync(identity.dir);
  if (staging.publish({replace})) return describeBuild(identity.dir, manifest, false);

  // Another process published the same variant while this one was building: use theirs.
  const winner: ManifestCheck = checkVariantDir(identity.dir);
  if (!winner.ok) throw new BuildError(`could not publish ${identity.variant}: ${winner.problem}`, {variant: identity.variant, firstErrors: [], stderr: ''});
  return describeBuild(identity.dir, winner.manifest, true);
}

async function buildInto(dir: string, identity: VariantIdentity, progress: (message: string) => void): Promise<BuildManifest> {
  const started = performance.now();
  const variables = makeVariables(identity.spec);
  progress(`building ${identity.variant}`);
  const result = await runMake({
    csrc: identity.csrc,
    target: 'all',
    buildDir: dir,
    variables,
    onLine: (line, stream) => {
      const target = stream === 'stdout' ? buildStepTarget(line) : undefined;
      if (target) progress(`building ${identity.variant}: ${target}`);
    },
  });
  if (result.exitCode !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with ${result.exitCode}`;
    throw new BuildError(
      `building ${identity.variant} failed: make ${how}.`,
      {variant: identity.variant, firstErrors: firstCompilerErrors(result.stderr), stderr: result.stderr},
      `Fix the error above, or rerun make yourself: make -C ${identity.csrc} all BUILD=/tmp/hak-build ${variables.join(' ')}`,
    );
  }

  const config = await printConfig({csrc: identity.csrc, buildDir: dir, variables});
  if ('error' in config) {
    throw new BuildError(`make print-config failed for ${identity.variant}.`, {variant: identity.variant, firstErrors: [config.error], stderr: config.error});
  }

  const mismatches = configMismatches(config.raw, identity.spec);
  if (mismatches.length > 0) {
    throw new BuildError(
      `make print-config disagrees with variant ${identity.variant}: ${mismatches.join('; ')}.`,
      {variant: identity.variant, firstErrors: [], stderr: JSON.stringify(config.raw)},
      'The csrc Makefile does not honour a variable hak passes (csrc/README.md lists them).',
    );
  }

  if (!existsSync(join(dir, LIBRARY_FILE))) {
    throw new BuildError(`make all succeeded but produced no ${LIBRARY_FILE}.`, {variant: identity.variant, firstErrors: [], stderr: result.stderr});
  }

  const benchmarks = Object.fromEntries(
    listPrograms(join(dir, BENCH_DIR)).map((name) => [name, recordArtifact(dir, join(BENCH_DIR, name))]),
  );
  const manifest: BuildManifest = {
    format: 1,
    variant: identity.variant,
    features: identity.spec.features,
    toolchain: {...identity.spec.toolchain, compilerVersion: config.compilerVersion ?? identity.compilerVersion},
    flags: {make: ['-C', identity.csrc, 'all', ...variables], cflags: config.cflags, ldflags: config.ldflags},
    makeConfig: config.raw,
    sources: {dir: identity.csrc, hash: identity.sourceHash, files: identity.sourceFiles},
    git: await sourcesGitState(identity),
    artifacts: {
      library: recordArtifact(dir, LIBRARY_FILE),
      staticLibrary: existsSync(join(dir, STATIC_LIBRARY_FILE)) ? recordArtifact(dir, STATIC_LIBRARY_FILE) : null,
      benchmarks,
    },
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round(performance.now() - started) / 1000,
  };
  writeManifest(dir, manifest);
  return manifest;
}

/** The git state of what was built: a revision's commit as resolved, or the checkout's csrc/ as it is. */
async function sourcesGitState(identity: VariantIdentity): Promise<GitState> {
  const {sources} = identity;
  if (sources) return {commit: sources.commit, dirty: sources.dirty};
  return gitState(identity.csrc);
}

/** What a line of make's output is building (the file after -o, or an archive), for progress. */
export function buildStepTarget(line: string): string | undefined {
  const output = /\s-o\s+(\S+)/.exec(line)?.[1] ?? /\bar\s+\S+\s+(\S+)/.exec(line)?.[1];
  return output ? basename(output).replace(/\.tmp$/, '') : undefined;
}

/** Executable regular files directly in `dir`: the benchmark programs. */
function listPrograms(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, {withFileTypes: true})
    .filter((entry) => entry.isFile() && !/\.(o|d|a|so|c|h|tmp)$/.test(entry.name))
    .filter((entry) => (statSync(join(dir, entry.name)).mode & 0o111) !== 0)
    .map((entry) => entry.name)
    .sort();
}

function describeBuild(dir: string, manifest: BuildManifest, cached: boolean): BuiltVariant {
  const {compilerVersion, ...toolchain} = manifest.toolchain;
  return {
    variant: manifest.variant,
    dir,
    library: join(dir, manifest.artifacts.library.path),
    staticLibrary: manifest.artifacts.staticLibrary ? join(dir, manifest.artifacts.staticLibrary.path) : null,
    features: manifest.features,
    toolchain,
    compilerVersion,
    overridesMalloc: typeof manifest.makeConfig.override === 'boolean' ? manifest.makeConfig.override : toolchain.sanitize === null,
    cached,
    manifest: manifestPath(dir),
    benchmarks: Object.fromEntries(
      Object.entries(manifest.artifacts.benchmarks).map(([name, artifact]) => [name, join(dir, artifact.path)]),
    ),
  };
}

/** The path of one benchmark program of a built variant; a clear error when csrc does not build it. */
export function benchmarkPath(built: BuiltVariant, program: string): string {
  const path = built.benchmarks[program];
  if (path) return path;
  const known = Object.keys(built.benchmarks);
  throw new UsageError(
    `benchmark program "${program}" is not built by csrc (variant ${built.variant} has ${known.length > 0 ? known.join(', ') : 'none'}).`,
    {hint: 'Check the profile\'s benchmark.program, or add the program to csrc/bench.'},
  );
}

/** Every published variant with a manifest that still checks out. */
export function listBuiltVariants(): BuiltVariant[] {
  const root = buildsDir();
  if (!existsSync(root)) return [];
  const built: BuiltVariant[] = [];
  for (const entry of readdirSync(root, {withFileTypes: true})) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = join(root, entry.name);
    const check = checkVariantDir(dir);
    if (check.ok) built.push(describeBuild(dir, check.manifest, true));
  }

  return built;
}
