/**
 * The manifest written beside a variant's artifacts: what was enabled, how it was compiled, from
 * which sources, and the sha256 of every artifact, so a build can always say what it is.
 */
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

import type {Features, Toolchain} from '../features.js';
import type {GitState} from './git.js';
import {sha256File} from './sources.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 1;

export interface ArtifactRecord {
  /** Relative to the variant directory. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface BuildManifest {
  format: typeof MANIFEST_FORMAT;
  variant: string;
  features: Features;
  toolchain: Toolchain & {compilerVersion: string};
  flags: {
    /** The arguments given to make, apart from the temporary BUILD directory. */
    make: string[];
    cflags: string | null;
    ldflags: string | null;
  };
  /** `make print-config` as the Makefile printed it. */
  makeConfig: Record<string, unknown>;
  sources: {dir: string; hash: string; files: number};
  git: GitState;
  artifacts: {
    library: ArtifactRecord;
    staticLibrary: ArtifactRecord | null;
    benchmarks: Record<string, ArtifactRecord>;
  };
  builtAt: string;
  buildSeconds: number;
}

export function manifestPath(variantDir: string): string {
  return join(variantDir, MANIFEST_FILE);
}

export function recordArtifact(variantDir: string, relativePath: string): ArtifactRecord {
  const absolute = join(variantDir, relativePath);
  return {path: relativePath, sha256: sha256File(absolute), bytes: statSync(absolute).size};
}

export function writeManifest(variantDir: string, manifest: BuildManifest): string {
  const path = manifestPath(variantDir);
  writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return path;
}

export function allArtifacts(manifest: BuildManifest): ArtifactRecord[] {
  const {library, staticLibrary, benchmarks} = manifest.artifacts;
  return [library, ...(staticLibrary ? [staticLibrary] : []), ...Object.values(benchmarks)];
}

export type ManifestCheck = {ok: true; manifest: BuildManifest} | {ok: false; problem: string};

/**
 * Reads a variant's manifest and checks every artifact against its recorded sha256: a variant
 * that fails this check is not reused.
 */
export function checkVariantDir(variantDir: string): ManifestCheck {
  const path = manifestPath(variantDir);
  if (!existsSync(path)) return {ok: false, problem: `${path} does not exist`};
  let manifest: BuildManifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as BuildManifest;
  } catch (error) {
    return {ok: false, problem: `${path} is not valid JSON: ${(error as Error).message}`};
  }

  if (manifest?.format !== MANIFEST_FORMAT || typeof manifest.artifacts?.library?.path !== 'string') {
    return {ok: false, problem: `${path} is not a format ${MANIFEST_FORMAT} manifest`};
  }

  for (const artifact of allArtifacts(manifest)) {
    const absolute = join(variantDir, artifact.path);
    if (!existsSync(absolute)) return {ok: false, problem: `${artifact.path} is missing`};
    if (sha256File(absolute) !== artifact.sha256) return {ok: false, problem: `${artifact.path} changed since it was built`};
  }

  return {ok: true, manifest};
}
