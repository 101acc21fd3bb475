/** The generated command reference and every command's help examples, against the commands themselves. */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {COMMANDS} from '../src/hak.js';
import {REFERENCE_FILE, renderReference} from '../scripts/command-reference.mjs';
import {parseCommandLine} from './command-lines.js';
import {ROOT} from './helpers.js';

type Example = string | {command: string; description?: string};

const examples = Object.entries(COMMANDS).flatMap(([id, command]) =>
  ((command.examples ?? []) as Example[]).map((example) => {
    const text = (typeof example === 'string' ? example : example.command).replaceAll('<%= config.bin %>', 'hak').replaceAll('<%= command.id %>', id);
    return {id, text};
  }),
);

describe('command reference', () => {
  it(`${REFERENCE_FILE} is what the commands' --help says now (rerun node scripts/command-reference.mjs)`, async () => {
    const committed = readFileSync(join(ROOT, REFERENCE_FILE), 'utf8');
    const fresh = await renderReference();
    expect(fresh).toBe(committed);
    for (const id of Object.keys(COMMANDS)) expect(committed).toContain(`## hak ${id}\n`);
  });
});

describe('help examples', () => {
  it('every command has examples', () => {
    for (const [id, command] of Object.entries(COMMANDS)) expect(command.examples?.length ?? 0, id).toBeGreaterThan(0);
  });

  it.each(examples.map(({id, text}) => [text, id] as const))('%s parses with its command\'s flags', async (text, id) => {
    const parsed = await parseCommandLine(text);
    expect(parsed.id).toBe(id);
  });

  it('a misspelled flag in an example would fail', async () => {
    await expect(parseCommandLine('hak bench tiny-hot --export bmf --export-file bmf.json')).rejects.toThrow(/export/);
    await expect(parseCommandLine('hak bench tiny-hot --export-file bmf.json')).rejects.toThrow(/export-file/);
  });
});
