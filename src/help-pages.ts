/**
 * Help pages kept as text. Rendering `hak --help` means loading oclif's core, its config and its
 * help plugin, more than hak's whole start-up should cost; the pages change only when hak is
 * built again. So bin/run.js asks here first: a page already rendered by oclif for the same
 * build, Node, terminal width and colour support is written as it is, and only a page not seen
 * yet goes through oclif, which renders it while this module keeps a copy.
 *
 * The pages live in dist/help-pages.json, which the build removes with the rest of dist/ and
 * fills for plain output at 80 columns (what a pipe or a file gets). Nothing here imports
 * anything but Node's own modules: this file is loaded before oclif.
 */
import {readFileSync, renameSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';

/** What a page's text depends on besides hak's build: the runtime, the width and colour. */
export interface HelpSurface {
  runtime: string;
  width: number;
  color: boolean;
}

export interface HelpPagesFile {
  runtime: string;
  pages: Record<string, string>;
}

/**
 * The command whose help argv asks for ('' for the root), or undefined when argv asks for
 * something else. Only the forms oclif answers with the page alone: `hak`, `hak --help`,
 * `hak help`, `hak CMD --help` and `hak help CMD`.
 */
export function helpTopic(argv: readonly string[]): string | undefined {
  if (argv.length === 0) return '';
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === 'help')) return '';
  if (argv.length !== 2) return undefined;
  const [first, second] = argv as [string, string];
  if (first === 'help' && /^[a-z][a-z-]*$/.test(second)) return second;
  if (second === '--help' && /^[a-z][a-z-]*$/.test(first) && first !== 'help') return first;
  return undefined;
}

/** The width oclif wraps help to, as its screen module works it out. */
export function helpWidth(env: NodeJS.ProcessEnv, stdout: {isTTY?: boolean; columns?: number}): number {
  const fixed = Number.parseInt(env.OCLIF_COLUMNS ?? '', 10);
  if (fixed) return fixed;
  if (!stdout.isTTY) return 80;
  const columns = stdout.columns ?? 0;
  if (columns < 1) return 80;
  return Math.max(columns, 40);
}

/** Whether oclif's colour library will colour this process's output (it reads env, argv and the TTY itself). */
function colorSupported(): boolean {
  const ansis = createRequire(import.meta.url)('ansis') as {isSupported(): boolean};
  return ansis.isSupported();
}

export function currentSurface(): HelpSurface {
  return {
    runtime: `${process.version} ${process.platform}-${process.arch}`,
    width: helpWidth(process.env, process.stdout),
    color: colorSupported(),
  };
}

export function pageKey(topic: string, surface: HelpSurface): string {
  return `${topic || '.'} ${surface.width} ${surface.color ? 'color' : 'plain'}`;
}

function readPages(file: string, runtime: string): Record<string, string> {
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as HelpPagesFile;
    return stored.runtime === runtime ? stored.pages : {};
  } catch {
    return {};
  }
}

export function storedPage(file: string, topic: string, surface: HelpSurface): string | undefined {
  return readPages(file, surface.runtime)[pageKey(topic, surface)];
}

/**
 * Adds a page. Another hak process may add one at the same time: each writes a whole file and
 * renames it into place, so a reader sees one or the other, and a page lost that way is only
 * rendered again next time. A read-only install keeps no pages and loses nothing else.
 */
export function storePage(file: string, topic: string, surface: HelpSurface, text: string): void {
  const pages = {...readPages(file, surface.runtime), [pageKey(topic, surface)]: text};
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, JSON.stringify({runtime: surface.runtime, pages} satisfies HelpPagesFile));
    renameSync(temporary, file);
  } catch {
    // Not writable: the page is rendered by oclif each time, as without this file.
  }
}

/**
 * Runs `render` (oclif answering a help request) while keeping what it writes to stdout, and
 * stores it as the page when rendering ended normally with something written.
 */
export async function renderAndKeep(file: string, topic: string, surface: HelpSurface, render: () => Promise<void>): Promise<void> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    await render();
  } finally {
    process.stdout.write = write;
  }
  if (chunks.length > 0 && !process.exitCode) storePage(file, topic, surface, chunks.join(''));
}
