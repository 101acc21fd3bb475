/**
 * Saved bench results: one JSON file per `hak bench` invocation in `<HAK_HOME>/results/bench/`,
 * named `<UTC timestamp>-<profile>.json` (for example `20251122T052143Z-tiny-hot.json`), so
 * names sort in time order. Files are written whole or not at all and never overwritten; two
 * results saved within the same second get `.2`, `.3`, ... after the timestamp.
 *
 * A saved result is referred to by its path, its id (the file name without .json) or a unique
 * prefix of it, or `latest` / `previous` (optionally among one profile's results).
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {basename, join, resolve} from 'node:path';

import {writeFileAtomic} from '../atomic-file.js';
import {UsageError} from '../errors.js';
import {resultsDir} from '../paths.js';
import {type BenchRecord, RECORD_FORMAT} from './record.js';

export function benchResultsDir(): string {
  return join(resultsDir(), 'bench');
}

/** `2025-11-22T05:21:43.123Z` -> `20251122T052143Z`. */
export function compactTimestamp(iso: string): string {
  return `${iso.slice(0, 19).replaceAll('-', '').replaceAll(':', '')}Z`;
}

/**
 * Writes a new result file `<dir>/<stamp>[.N]-<name>.json`, never over another (a second result
 * in the same second gets `.2`, `.3`, ...); `content` is given the id. Returns the id and file.
 */
export function saveNewResult(dir: string, createdAt: string, name: string, content: (id: string) => unknown): {id: string; file: string} {
  const stamp = compactTimestamp(createdAt);
  for (let attempt = 1; ; attempt++) {
    const id = `${stamp}${attempt === 1 ? '' : `.${attempt}`}-${name}`;
    const file = join(dir, `${id}.json`);
    if (writeFileAtomic(file, `${JSON.stringify(content(id), null, 2)}\n`, {exclusive: true})) return {id, file};
  }
}

/** Writes the record under a new id (set on the record) and returns the file's path. */
export function saveRecord(record: BenchRecord): string {
  const {id, file} = saveNewResult(benchResultsDir(), record.createdAt, record.profile.name, (id) => ({...record, id}));
  record.id = id;
  return file;
}

export interface SavedResult {
  id: string;
  file: string;
  /** The profile, from the file name. */
  profile: string;
}

const ID_PATTERN = /^(\d{8}T\d{6}Z(?:\.\d+)?)-([a-z0-9][a-z0-9-]*)$/;

/** Saved results, oldest first: bench results, or those of another command saved by saveNewResult in `dir`. */
export function listSavedResults(dir = benchResultsDir()): SavedResult[] {
  if (!existsSync(dir)) return [];
  const saved: SavedResult[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    const id = basename(name, '.json');
    const match = ID_PATTERN.exec(id);
    if (match) saved.push({id, file: join(dir, name), profile: match[2]!});
  }

  // The timestamp orders them; a same-second suffix (.2, .10) counts numerically.
  const order = (id: string): [string, number] => {
    const [stamp, suffix] = id.split('-')[0]!.split('.');
    return [stamp!, Number(suffix ?? 1)];
  };

  return saved.sort((a, b) => {
    const [stampA, suffixA] = order(a.id);
    const [stampB, suffixB] = order(b.id);
    return stampA === stampB ? suffixA - suffixB : stampA < stampB ? -1 : 1;
  });
}

function looksLikePath(reference: string): boolean {
  return reference.includes('/') || reference.endsWith('.json');
}

/** The file a reference names: a path, an id or unique id prefix, `latest` or `previous`. */
export function resolveResultReference(reference: string, options: {profile?: string} = {}): string {
  if (looksLikePath(reference)) {
    const file = resolve(reference);
    if (!existsSync(file)) throw new UsageError(`result file ${reference} does not exist.`);
    return file;
  }

  const saved = listSavedResults().filter((result) => options.profile === undefined || result.profile === options.profile);
  const among = options.profile === undefined ? '' : ` of profile ${options.profile}`;
  if (saved.length === 0) {
    throw new UsageError(`no saved bench results${among} in ${benchResultsDir()}.`, {hint: 'Run hak bench first; it saves every result unless --no-save.'});
  }

  if (reference === 'latest' || reference === 'previous') {
    const chosen = saved.at(reference === 'latest' ? -1 : -2);
    if (!chosen) throw new UsageError(`there is no previous result${among}: only ${saved[0]!.id} is saved.`);
    return chosen.file;
  }

  const exact = saved.find((result) => result.id === reference);
  if (exact) return exact.file;
  const matches = saved.filter((result) => result.id.startsWith(reference));
  if (matches.length === 1) return matches[0]!.file;
  const shown = (matches.length > 0 ? matches : saved.slice(-5)).map((result) => result.id).join(', ');
  throw new UsageError(
    matches.length > 1 ? `"${reference}" matches ${matches.length} saved results${among}.` : `no saved result${among} matches "${reference}".`,
    {hint: `${matches.length > 1 ? 'Matching' : 'Most recent'}: ${shown}.`},
  );
}

/** Reads a saved result; a UsageError when the file is not one. */
export function loadRecord(file: string): BenchRecord {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${file} is not a hak bench result: ${(error as Error).message.split('\n')[0]}.`);
  }

  const record = value as Partial<BenchRecord> | null;
  if (record?.kind !== 'bench' || !Array.isArray(record.targets) || typeof record.settings !== 'object') {
    throw new UsageError(`${file} is not a hak bench result (no "kind": "bench" with targets).`);
  }

  if (record.format !== RECORD_FORMAT) {
    throw new UsageError(`${file} has result format ${String(record.format)}; this hak reads format ${RECORD_FORMAT}.`);
  }

  return record as BenchRecord;
}
