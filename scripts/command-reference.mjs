// The command and flag reference, docs/reference.md, made from the commands themselves: every
// command of the bundle's command table (dist/hak.js, COMMANDS) with its summary and the text of
// `hak COMMAND --help` as oclif prints it to a pipe (80 columns, no colour). A command added to
// the table is covered by the next run. test/reference.test.ts fails when the file is out of date.
//   npm run build && node scripts/command-reference.mjs [--check]
import {execFileSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const REFERENCE_FILE = 'docs/reference.md';

/** The command table of the current bundle, id to command class, in name order. */
export async function commandTable() {
  const {COMMANDS} = await import(new URL('../dist/hak.js', import.meta.url).href);
  return Object.entries(COMMANDS).sort(([a], [b]) => a.localeCompare(b));
}

/** `hak ID --help` exactly as a user's pipe gets it. */
export function helpText(id) {
  const env = {...process.env, NO_COLOR: '1'};
  delete env.OCLIF_COLUMNS;
  delete env.FORCE_COLOR;
  return execFileSync(process.execPath, ['bin/run.js', ...id.split(' '), '--help'], {cwd: root, env, encoding: 'utf8'});
}

/** The whole reference page. */
export async function renderReference() {
  const commands = (await commandTable()).filter(([, command]) => !command.hidden);
  const lines = [
    '# Command reference',
    '',
    'Generated from the commands\' own definitions by `node scripts/command-reference.mjs` (after',
    '`npm run build`); each section is the command\'s `--help`. Worked examples with real output:',
    '[commands/](commands/). Every command takes `--json`.',
    '',
    '| command | what it does |',
    '|---|---|',
    ...commands.map(([id, command]) => `| [hak ${id}](#hak-${id.replaceAll(' ', '-')}) | ${(command.summary ?? '').replaceAll('|', '\\|')} |`),
    '',
  ];
  for (const [id] of commands) {
    lines.push(`## hak ${id}`, '', '```', helpText(id).trimEnd(), '```', '');
  }

  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await renderReference();
  const file = `${root}${REFERENCE_FILE}`;
  if (process.argv.includes('--check')) {
    const same = readFileSync(file, 'utf8') === text;
    console.log(same ? `${REFERENCE_FILE} is up to date.` : `${REFERENCE_FILE} is out of date: run node scripts/command-reference.mjs`);
    process.exitCode = same ? 0 : 1;
  } else {
    writeFileSync(file, text);
    console.log(`Wrote ${REFERENCE_FILE}.`);
  }
}
