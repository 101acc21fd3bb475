/** hak command lines as the docs write them, split into words and parsed with the command's own flags. */
import {Flags, Parser} from '@oclif/core';

import {COMMANDS} from '../src/hak.js';

/** Splits a shell command line into words: single and double quotes, backslash escapes, # comments. */
export function shellWords(line: string): string[] {
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
    } else if (char === '#' && word === null) {
      break;
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

export type CommandId = keyof typeof COMMANDS;

/**
 * Parses `hak ID ...` with the command's flags and args as its run() does (a command line after
 * `--` is split off first, as base-command.ts does); rejects with oclif's error if a flag is
 * unknown or a value is refused.
 */
export async function parseCommandLine(line: string): Promise<{id: CommandId; flags: Record<string, unknown>}> {
  const words = shellWords(line);
  // hak's words end where the shell takes over: a pipe, a redirection, the next command.
  const end = words.findIndex((word) => ['|', '>', '>>', '&&', '||', ';'].includes(word));
  const own = end < 0 ? words : words.slice(0, end);
  if (own[0] !== 'hak') throw new Error(`not a hak command line: ${line}`);
  const id = own[1] as CommandId;
  const command = COMMANDS[id];
  if (!command) throw new Error(`no command ${own[1]}: ${line}`);
  const argv = own.slice(2);
  const flagsPart = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const flags = {...command.baseFlags, ...command.flags, ...(command.enableJsonFlag ? {json: Flags.boolean()} : {})};
  const options = {flags, args: command.args ?? {}, strict: command.strict ?? true, context: {}};
  const parsed = await Parser.parse(flagsPart, options as unknown as Parameters<typeof Parser.parse>[1]);
  return {id, flags: parsed.flags};
}
