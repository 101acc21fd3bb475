// Refreshes the real outputs in docs/: every block of a page between
//   <!-- hak-run: COMMAND LINE -->  and  <!-- /hak-run -->
// is replaced by the command line run now (bash, from the repository root, with `hak` meaning
// this checkout's bin/run.js) and what it printed, stdout and stderr together, and its exit
// status when not 0. Paths under the repository are made relative, so no page names the machine
// it was made on. Every command of the command table has a page, docs/commands/<id>.md; a
// command without one gets one, made from its description and its --help, on the next run.
//   npm run build && node scripts/docs-pages.mjs [PAGE ...]     (default: every page)
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {basename, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {commandTable} from './command-reference.mjs';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const docs = join(root, 'docs');
const pagesDir = join(docs, 'commands');
const BLOCK = /<!-- hak-run: (.+?) -->\n[\s\S]*?<!-- \/hak-run -->/g;

/** Absolute paths of this checkout, and the home directory, as a reader would write them. */
export function relativePaths(text, base = root) {
  const home = process.env.HOME;
  let out = text.replaceAll(`${base}/`, '').replaceAll(base, '.');
  if (home && home !== '/') out = out.replaceAll(`${home}/`, '~/');
  return out;
}

/** One command line, run as a reader would type it. */
function runLine(line) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('HAKMEM_') && name !== 'LD_PRELOAD' && name !== 'HAK_DEBUG'));
  const script = `hak() { node "${root}/bin/run.js" "$@"; }\n${line}`;
  const started = Date.now();
  const result = spawnSync('bash', ['-c', `exec 2>&1\n${script}`], {cwd: root, env: {...env, NO_COLOR: '1'}, encoding: 'utf8', maxBuffer: 64 << 20});
  process.stderr.write(`  ${line.split('\n')[0]}  (exit ${result.status}, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  const output = relativePaths(result.stdout.replace(/\s+$/, ''));
  const status = result.status === 0 ? '' : `\n$ echo $?\n${result.status}`;
  return `<!-- hak-run: ${line} -->\n\`\`\`\n$ ${line}\n${output}${status}\n\`\`\`\n<!-- /hak-run -->`;
}

/** A first page for a command that has none: what it does, and its --help, run. */
function newPage(id, command) {
  return [
    `# hak ${id}`,
    '',
    command.summary ?? '',
    '',
    ...(command.description ? [command.description, ''] : []),
    `<!-- hak-run: hak ${id} --help -->`,
    '<!-- /hak-run -->',
    '',
    `Every flag: [the reference](../reference.md#hak-${id.replaceAll(' ', '-')}).`,
    '',
  ].join('\n');
}

export async function ensurePages() {
  mkdirSync(pagesDir, {recursive: true});
  for (const [id, command] of await commandTable()) {
    if (command.hidden) continue;
    const file = join(pagesDir, `${id.replaceAll(' ', '-')}.md`);
    if (!existsSync(file)) {
      writeFileSync(file, newPage(id, command));
      process.stderr.write(`new page ${basename(file)}\n`);
    }
  }
}

/** Every page of docs/ that has runs in it. */
export function pages() {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, {withFileTypes: true})) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.md')) files.push(join(dir, entry.name));
    }
  };
  walk(docs);
  return files.sort();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await ensurePages();
  const only = process.argv.slice(2);
  for (const file of pages()) {
    if (only.length > 0 && !only.some((name) => file.endsWith(name))) continue;
    const text = readFileSync(file, 'utf8');
    if (!BLOCK.test(text)) continue;
    BLOCK.lastIndex = 0;
    process.stderr.write(`${file.slice(root.length + 1)}\n`);
    writeFileSync(file, text.replace(BLOCK, (_, line) => runLine(line)));
  }
}
