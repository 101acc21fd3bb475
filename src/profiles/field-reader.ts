/**
 * Reading an untyped YAML/JSON document field by field: each check that fails records an issue
 * naming the field's path, the line it is on (or its closest parent's) and what was expected, so
 * that a profile's every mistake is reported at once. The rules for a profile's fields are in
 * schema.ts.
 */
import type {ProfileIssue} from '../errors.js';

/** Finds the line of a value in the source document; undefined when unknown. */
export type LineOf = (path: readonly (string | number)[]) => number | undefined;

export type Path = (string | number)[];

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

function pathText(path: Path): string {
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : index === 0 ? part : `.${part}`)).join('');
}

/** Marks an issue that is about a field's presence or name, not its value. */
const NOTHING_SHOWN = Symbol('nothing shown');

/** Collects issues while reading fields of an untyped document. */
export class FieldReader {
  readonly issues: ProfileIssue[] = [];

  constructor(private readonly lineOf: LineOf) {}

  fail(path: Path, expected: string, got: unknown = NOTHING_SHOWN): void {
    // A missing field has no line of its own: point at the closest parent that has one.
    let line: number | undefined;
    for (let length = path.length; length >= 0 && line === undefined; length--) line = this.lineOf(path.slice(0, length));
    const suffix = got === NOTHING_SHOWN ? '' : `, got ${describe(got)}`;
    this.issues.push({field: pathText(path), expected: `expected ${expected}${suffix}`, ...(line === undefined ? {} : {line})});
  }

  string(value: unknown, path: Path, options: {pattern?: RegExp; patternText?: string} = {}): string | undefined {
    if (typeof value !== 'string' || value.trim() === '') {
      this.fail(path, options.patternText ?? 'a non-empty string', value);
      return undefined;
    }

    if (options.pattern && !options.pattern.test(value)) {
      this.fail(path, options.patternText ?? `a string matching ${options.pattern}`, value);
      return undefined;
    }

    return value;
  }

  integer(value: unknown, path: Path, min: number, max: number): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(path, `an integer from ${min} to ${max}`, value);
      return undefined;
    }

    return value;
  }

  positiveNumber(value: unknown, path: Path, max: number): number | undefined {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
      this.fail(path, `a number of seconds above 0 and at most ${max}`, value);
      return undefined;
    }

    return value;
  }

  boolean(value: unknown, path: Path): boolean | undefined {
    if (typeof value !== 'boolean') {
      this.fail(path, 'true or false', value);
      return undefined;
    }

    return value;
  }

  oneOf<T extends string>(value: unknown, path: Path, options: readonly T[]): T | undefined {
    if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
      this.fail(path, `one of ${options.join(', ')}`, value);
      return undefined;
    }

    return value as T;
  }

  /** A list of plain values (strings or numbers), as strings for a command line. */
  argumentList(value: unknown, path: Path): string[] | undefined {
    if (!Array.isArray(value)) {
      this.fail(path, 'a list of arguments', value);
      return undefined;
    }

    const args: string[] = [];
    for (const [index, item] of value.entries()) {
      if (typeof item === 'string' || (typeof item === 'number' && Number.isFinite(item))) args.push(String(item));
      else this.fail([...path, index], 'a string or a number', item);
    }

    return args;
  }

  mapping(value: unknown, path: Path, allowed: readonly string[]): Record<string, unknown> | undefined {
    if (!isRecord(value)) {
      this.fail(path, 'a mapping', value);
      return undefined;
    }

    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail([...path, key], `no such field; allowed: ${allowed.join(', ')}`);
    }

    return value;
  }
}
