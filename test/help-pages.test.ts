/** Help pages kept as text: which requests they answer, what keys them, and that they equal oclif's rendering. */
import {spawnSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {helpTopic, helpWidth, storePage, storedPage, type HelpSurface} from '../src/help-pages.js';
import {ROOT, tempDir} from './helpers.js';

describe('helpTopic', () => {
  it('names the page of the forms oclif answers with a page alone', () => {
    expect(helpTopic([])).toBe('');
    expect(helpTopic(['--help'])).toBe('');
    expect(helpTopic(['help'])).toBe('');
    expect(helpTopic(['bench', '--help'])).toBe('bench');
    expect(helpTopic(['help', 'bench'])).toBe('bench');
  });

  it('leaves every other command line to oclif', () => {
    expect(helpTopic(['bench'])).toBeUndefined();
    expect(helpTopic(['bench', 'tiny-hot', '--help'])).toBeUndefined();
    expect(helpTopic(['--version'])).toBeUndefined();
    expect(helpTopic(['--json', '--help'])).toBeUndefined();
    expect(helpTopic(['help', '--help'])).toBeUndefined();
    expect(helpTopic(['../x', '--help'])).toBeUndefined();
  });
});

describe('helpWidth', () => {
  it('is 80 for a pipe, the terminal width on a terminal (at least 40), OCLIF_COLUMNS above both', () => {
    expect(helpWidth({}, {isTTY: false})).toBe(80);
    expect(helpWidth({}, {isTTY: true, columns: 132})).toBe(132);
    expect(helpWidth({}, {isTTY: true, columns: 20})).toBe(40);
    expect(helpWidth({}, {isTTY: true, columns: 0})).toBe(80);
    expect(helpWidth({OCLIF_COLUMNS: '100'}, {isTTY: false})).toBe(100);
  });
});

describe('stored pages', () => {
  const surface: HelpSurface = {runtime: 'v20.0.0 linux-x64', width: 80, color: false};

  it('are kept per topic, width and colour, and forgotten under another runtime', () => {
    const file = join(tempDir(), 'help-pages.json');
    expect(storedPage(file, 'bench', surface)).toBeUndefined();
    storePage(file, 'bench', surface, 'bench page\n');
    storePage(file, '', surface, 'root page\n');
    expect(storedPage(file, 'bench', surface)).toBe('bench page\n');
    expect(storedPage(file, '', surface)).toBe('root page\n');
    expect(storedPage(file, 'bench', {...surface, width: 100})).toBeUndefined();
    expect(storedPage(file, 'bench', {...surface, color: true})).toBeUndefined();
    expect(storedPage(file, 'bench', {...surface, runtime: 'v22.0.0 linux-x64'})).toBeUndefined();
  });

  it('read from a damaged file are none, and the next page stored replaces it', () => {
    const file = join(tempDir(), 'help-pages.json');
    writeFileSync(file, '{"runtime": "v20');
    expect(storedPage(file, 'bench', surface)).toBeUndefined();
    storePage(file, 'bench', surface, 'page\n');
    expect(storedPage(file, 'bench', surface)).toBe('page\n');
  });
});

describe('hak --help from the build', () => {
  /** The page as oclif renders it now, through dist/cli.js and not the stored pages. */
  function oclifPage(args: string[]): string {
    const script = `const cli = await import(${JSON.stringify(join(ROOT, 'dist', 'cli.js'))}); cli.settings.enableAutoTranspile = false;
      await cli.execute({args: ${JSON.stringify(args)}, loadOptions: {root: ${JSON.stringify(ROOT)}, userPlugins: false, devPlugins: false}});`;
    return spawnSync(process.execPath, ['--input-type=module', '-e', script], {cwd: ROOT, encoding: 'utf8'}).stdout;
  }

  it('has every command\'s page stored by the build, each equal to what oclif renders', () => {
    const stored = JSON.parse(readFileSync(join(ROOT, 'dist', 'help-pages.json'), 'utf8')) as {pages: Record<string, string>};
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>};
    for (const id of Object.keys(manifest.commands)) expect(Object.keys(stored.pages), id).toContain(`${id} 80 plain`);
    for (const args of [['--help'], ['bench', '--help'], ['help', 'verify']]) {
      const {stdout, status} = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {cwd: ROOT, encoding: 'utf8', env: {...process.env, FORCE_COLOR: undefined, OCLIF_COLUMNS: undefined}});
      expect(status, args.join(' ')).toBe(0);
      expect(stdout, args.join(' ')).toBe(oclifPage(args));
      expect(stdout).toMatch(/USAGE/);
    }
  });
});
