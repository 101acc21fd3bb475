/** The README and docs/ against the product: commands, flags, exit codes, files and pages they name. */
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {ExitCode} from '../src/errors.js';
import {COMMANDS} from '../src/hak.js';
import {parseCommandLine} from './command-lines.js';
import {ROOT} from './helpers.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The hak command lines of a markdown text: in sh blocks, every line; in output blocks, those after a $ prompt. */
function hakLines(text: string): string[] {
  return [...text.matchAll(/^```([a-z]*)\n([\s\S]*?)^```$/gm)].flatMap(([, language, body]) =>
    body!
      .split('\n')
      .filter((line) => (language === 'sh' ? line.startsWith('hak ') : line.startsWith('$ hak ')))
      .map((line) => line.replace(/^\$ /, '')),
  );
}

/** Every markdown file under docs/. */
function docsPages(dir = join(ROOT, 'docs')): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => (entry.isDirectory() ? docsPages(join(dir, entry.name)) : entry.name.endsWith('.md') ? [join(dir, entry.name)] : []));
}

describe('README', () => {
  it('is a front door: under 300 lines', () => {
    expect(readme.split('\n').length).toBeLessThan(300);
  });

  it('gives the test command that CI runs', () => {
    const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
    expect(ci).toContain('\nnpm test\n');
    expect(readme).toMatch(/^npm test\s+#/m);
  });

  it('names only commands that exist, and every hak line in its code blocks parses with that command\'s flags', async () => {
    const lines = hakLines(readme);
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      await expect(parseCommandLine(line), line).resolves.toMatchObject({id: line.split(' ')[1]});
    }
  });

  it('links only to files that exist', () => {
    for (const [, target] of readme.matchAll(/\]\(([^)#]+)[^)]*\)/g)) {
      if (/^https?:/.test(target!)) continue;
      expect(existsSync(join(ROOT, target!)), target).toBe(true);
    }
  });
});

describe('docs/', () => {
  const pages = docsPages();

  it('documents every exit code hak uses, and no other', () => {
    const text = readFileSync(join(ROOT, 'docs', 'README.md'), 'utf8');
    const section = text.slice(text.indexOf('## Exit codes'), text.indexOf('\n## ', text.indexOf('## Exit codes') + 1));
    const documented = [...section.matchAll(/^\| (\d+) \|/gm)].map((match) => Number(match[1]));
    expect(documented.sort((a, b) => a - b)).toEqual(Object.values(ExitCode).sort((a, b) => a - b));
  });

  it('has a page for every command (node scripts/docs-pages.mjs makes a missing one)', () => {
    for (const id of Object.keys(COMMANDS)) expect(existsSync(join(ROOT, 'docs', 'commands', `${id}.md`)), id).toBe(true);
  });

  it('names no absolute path of the machine that made it', () => {
    for (const page of pages) {
      const text = readFileSync(page, 'utf8');
      expect(text.includes(ROOT), page).toBe(false);
      expect(text, page).not.toMatch(/\/(work|home|root)\/[\w.-]+\//);
    }
  });

  it('shows real outputs: every run block holds its command line and what it printed', () => {
    let blocks = 0;
    for (const page of pages) {
      const text = readFileSync(page, 'utf8');
      for (const [, line, body] of text.matchAll(/<!-- hak-run: (.+?) -->\n([\s\S]*?)<!-- \/hak-run -->/g)) {
        blocks++;
        expect(body, `${page}: ${line}`).toMatch(new RegExp(`^\`\`\`\\n\\$ ${line!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n[\\s\\S]+\`\`\`\\n$`));
      }
    }

    expect(blocks).toBeGreaterThan(30);
  });

  it('links only to files that exist', () => {
    for (const page of pages) {
      for (const [, target] of readFileSync(page, 'utf8').matchAll(/\]\(([^)#]+)[^)]*\)/g)) {
        if (/^https?:/.test(target!)) continue;
        expect(existsSync(join(dirname(page), target!)), `${page}: ${target}`).toBe(true);
      }
    }
  });
});
