/** The generated command reference and every command's help examples, against the commands themselves. */
import {Flags, Parser} from '@oclif/core';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {COMMANDS} from '../src/hak.js';
import {REFERENCE_FILE, renderReference} from '../scripts/command-reference.mjs';
import {ROOT} from './helpers.js';

/** Splits a shell command line into words: single and double quotes, backslash escapes. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: '"' | "'" | null = null;
  for (let index = 0; index < line.length; index++) {
    const char = line[index]!;
    if (quote) {
      if (char === quote) quote = null;
      else if (char === '\\' && quote === '"' && index + 1 < line.length) word += line[++index]!;
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (char === '\\' && index + 1 < line.length) {
      word = (word ?? '') + line[++index]!;
    } else if (/\s/.test(char)) {
      if (word !== null) words.push(word);
      word = null;
    } else {
      word = (word ?? '') + char;
    }
  }

  if (quote) throw new Error(`unclosed ${quote} in ${line}`);
  if (word !== null) words.push(word);
  return words;
}

type Example = string | {command: string; description?: string};

const examples = Object.entries(COMMANDS).flatMap(([id, command]) =>
  ((command.examples ?? []) as Example[]).map((example) => {
    const text = (typeof example === 'string' ? example : example.command).replaceAll('<%= config.bin %>', 'hak').replaceAll('<%= command.id %>', id);
    return {id, command, text};
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

  it.each(examples.map(({id, command, text}) => [text, id, command] as const))('%s parses with its command\'s flags', async (text, id, command) => {
    const words = shellWords(text);
    // A multi-line example or one piped into another program: only hak's own words count.
    const own = words.slice(0, words.includes('|') ? words.indexOf('|') : words.length);
    expect(own.slice(0, 1 + id.split(' ').length)).toEqual(['hak', ...id.split(' ')]);
    const argv = own.slice(1 + id.split(' ').length);
    // bench, verify and perf take a command line after --, split off before oclif parses (base-command.ts).
    const flagsPart = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
    const flags = {...command.baseFlags, ...command.flags, ...(command.enableJsonFlag ? {json: Flags.boolean()} : {})};
    const parsed = await Parser.parse(flagsPart, {flags, args: command.args ?? {}, strict: command.strict ?? true, context: {}} as unknown as Parameters<typeof Parser.parse>[1]);
    expect(parsed.flags).toBeTypeOf('object');
  });

  it('a misspelled flag in an example would fail', async () => {
    const {bench} = COMMANDS;
    await expect(Parser.parse(['tiny-hot', '--export-file', 'bmf.json'], {flags: bench.flags, args: bench.args, strict: false, context: {}} as unknown as Parameters<typeof Parser.parse>[1])).rejects.toThrow(/export-file/);
  });
});
