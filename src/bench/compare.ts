/**
 * Two saved bench results side by side: each target present in both (matched by label: `glibc`,
 * `hakmem`, `hakmem:dual-lists`, ...) gets the ratio of B's median to A's with its interval and
 * verdict, computed by the same code `hak bench` uses, plus the differences between the two
 * runs that could explain a change (sources, variants, libraries, machine).
 */
import {describeRevision, type RevisionInfo} from '../build/revision.js';
import {UsageError} from '../errors.js';
import type {ComparisonVerdict} from '../statistics/ratio.js';
import {analyzeRecord, compareResults, type TargetResult, type TargetStatus} from './analysis.js';
import {describeMachine} from './machine.js';
import type {BenchRecord} from './record.js';

export interface ComparedTarget {
  label: string;
  a: TargetResult;
  b: TargetResult;
  /** B's median over A's, with its interval and verdict; null unless both are ok. */
  change: ComparisonVerdict | null;
  /** The worse of the two statuses. */
  status: TargetStatus;
}

export interface RecordComparison {
  a: {id: string; createdAt: string; profile: string};
  b: {id: string; createdAt: string; profile: string};
  noise: number;
  targets: ComparedTarget[];
  /** Targets in only one of the two. */
  onlyInA: string[];
  onlyInB: string[];
  /** What differs between the two runs besides the numbers. */
  differences: string[];
  warnings: string[];
}

const STATUS_RANK: Record<TargetStatus, number> = {ok: 0, invalid: 1, failed: 2};

function describeProgram(record: BenchRecord): string {
  return [record.profile.program, ...record.profile.args].join(' ');
}

/** A target's sources in a line, or undefined where the record does not say (no --base). */
function revisionText(revision: RevisionInfo | undefined): string | undefined {
  return revision ? describeRevision(revision) : undefined;
}

function differences(a: BenchRecord, b: BenchRecord): string[] {
  const found: string[] = [];
  const note = (what: string, before: unknown, after: unknown): void => {
    if (JSON.stringify(before) !== JSON.stringify(after)) found.push(`${what}: ${String(before)} -> ${String(after)}`);
  };

  note('machine', describeMachine(a.machine), describeMachine(b.machine));
  note('compiler', a.compiler, b.compiler);
  note('commit', `${a.source.commit?.slice(0, 12) ?? 'none'}${a.source.dirty ? ' (modified)' : ''}`, `${b.source.commit?.slice(0, 12) ?? 'none'}${b.source.dirty ? ' (modified)' : ''}`);
  note('runs', `${a.profile.runs} (+${a.profile.warmup} warm-up)`, `${b.profile.runs} (+${b.profile.warmup} warm-up)`);
  for (const targetA of a.targets) {
    const targetB = b.targets.find((target) => target.label === targetA.label);
    if (!targetB) continue;
    note(`${targetA.label} variant`, targetA.variant?.id, targetB.variant?.id);
    note(`${targetA.label} library`, targetA.library?.version ?? targetA.library?.realPath, targetB.library?.version ?? targetB.library?.realPath);
    note(`${targetA.label} sources`, revisionText(targetA.revision), revisionText(targetB.revision));
  }

  return found;
}

/** Compares saved results A (before) and B (after); both must have run the same program and arguments. */
export function compareRecords(a: BenchRecord, b: BenchRecord, options: {noise?: number} = {}): RecordComparison {
  if (describeProgram(a) !== describeProgram(b)) {
    throw new UsageError(`${a.id} ran "${describeProgram(a)}" and ${b.id} ran "${describeProgram(b)}": their numbers are not comparable.`, {
      hint: 'Compare two results of the same profile with the same arguments (and --threads).',
    });
  }

  const noise = options.noise ?? b.settings.noise;
  const analysisA = analyzeRecord(a);
  const analysisB = analyzeRecord(b);
  const targets: ComparedTarget[] = [];
  for (const resultA of analysisA.results) {
    const resultB = analysisB.results.find((result) => result.label === resultA.label);
    if (!resultB) continue;
    const status = STATUS_RANK[resultA.status] >= STATUS_RANK[resultB.status] ? resultA.status : resultB.status;
    targets.push({label: resultA.label, a: resultA, b: resultB, change: compareResults(resultB, resultA, noise), status});
  }

  const labelsB = new Set(analysisB.results.map((result) => result.label));
  const labelsA = new Set(analysisA.results.map((result) => result.label));
  const warnings = [...analysisA.warnings.map((text) => `A: ${text}`), ...analysisB.warnings.map((text) => `B: ${text}`)];
  const checksumA = analysisA.results.find((result) => result.status === 'ok')?.checksum;
  const checksumB = analysisB.results.find((result) => result.status === 'ok')?.checksum;
  if (checksumA && checksumB && checksumA !== checksumB) {
    warnings.push(`CHECKSUM MISMATCH: A's runs report checksum ${checksumA}, B's ${checksumB}: the program did different work.`);
  }

  return {
    a: {id: a.id, createdAt: a.createdAt, profile: a.profile.name},
    b: {id: b.id, createdAt: b.createdAt, profile: b.profile.name},
    noise,
    targets,
    onlyInA: [...labelsA].filter((label) => !labelsB.has(label)),
    onlyInB: [...labelsB].filter((label) => !labelsA.has(label)),
    differences: differences(a, b),
    warnings,
  };
}
