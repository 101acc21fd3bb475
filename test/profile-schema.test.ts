/** The one profile schema: the JSON Schema file and the README's tables made from it, and a stock validator agreeing with hak. */
import {Ajv} from 'ajv';
import {readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {parse} from 'yaml';
import {describe, expect, it} from 'vitest';

import {ProfileError} from '../src/errors.js';
import {profileJsonSchema} from '../src/profiles/format.js';
import {loadProfile} from '../src/profiles/index.js';
import {currentSchema, README_FILE, SCHEMA_FILE, SCHEMA_LINE, schemaText, withFieldTables} from '../scripts/profile-schema.mjs';
import {ROOT, tempDir} from './helpers.js';

const committedSchema = JSON.parse(readFileSync(join(ROOT, SCHEMA_FILE), 'utf8')) as Record<string, unknown>;
const shipped = readdirSync(join(ROOT, 'profiles')).filter((file) => file.endsWith('.yaml'));
const validator = new Ajv({allErrors: true, strict: false}).compile(committedSchema);

describe('the profile schema', () => {
  it(`${SCHEMA_FILE} is the schema hak validates with (rerun node scripts/profile-schema.mjs)`, () => {
    expect(schemaText(profileJsonSchema())).toBe(readFileSync(join(ROOT, SCHEMA_FILE), 'utf8'));
  });

  it('hak profiles --schema prints it', () => {
    expect(currentSchema()).toEqual(committedSchema);
  });

  it(`the field tables of ${README_FILE} are made from it`, () => {
    const readme = readFileSync(join(ROOT, README_FILE), 'utf8');
    expect(readme.match(/<!-- fields: \w+ -->/g)).toEqual(['<!-- fields: benchmark -->', '<!-- fields: command -->', '<!-- fields: server -->']);
    expect(withFieldTables(readme, committedSchema)).toBe(readme);
    expect(readme).toContain('| `runs` | no | integer 1 to 1000 | measured runs per allocator (default `5`) |');
  });

  it.each(shipped)('%s names the schema for editors and validates against it with ajv', (file) => {
    const text = readFileSync(join(ROOT, 'profiles', file), 'utf8');
    expect(text.split('\n')[0]).toBe(SCHEMA_LINE);
    const valid = validator(parse(text));
    expect(validator.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('a misspelled field fails in hak and in ajv, both naming it', async () => {
    const text = readFileSync(join(ROOT, 'profiles', 'tiny-hot.yaml'), 'utf8').replace(/^runs:/m, 'runz:');
    expect(validator(parse(text))).toBe(false);
    // The benchmark branch names the field; the other kinds fail on their own required fields.
    expect(validator.errors!.some((error) => error.keyword === 'additionalProperties' && error.params.additionalProperty === 'runz')).toBe(true);

    const file = join(tempDir('hak-schema-'), 'tiny-hot.yaml');
    writeFileSync(file, text);
    const error = await loadProfile(file).then(
      () => undefined,
      (error_: unknown) => error_,
    );
    expect(error).toBeInstanceOf(ProfileError);
    expect((error as ProfileError).issues).toEqual([expect.objectContaining({field: 'runz', expected: expect.stringMatching(/^expected no such field; allowed: name, kind, description, benchmark/)})]);
  });

  it('a value out of range fails in ajv too', async () => {
    const text = readFileSync(join(ROOT, 'profiles', 'tiny-hot.yaml'), 'utf8').replace(/^warmup: .*$/m, 'warmup: -1');
    expect(validator(parse(text))).toBe(false);
    expect(validator.errors!.some((error) => error.instancePath === '/warmup' && error.keyword === 'minimum')).toBe(true);
  });
});
