/**
 * The base of every hak command: --json on all of them, one error path that turns any failure
 * into a short message (or an `{"error": ...}` object under --json) and a documented exit code,
 * and helpers for progress and paths.
 */
import {Command, Errors} from '@oclif/core';
import {relative} from 'node:path';

import {type HakError, InternalError, toHakError} from './errors.js';
import {type Spinner, startSpinner} from './ui/spinner.js';

export abstract class HakCommand extends Command {
  static override enableJsonFlag = true;

  /** A spinner on stderr that stays silent under --json, CI or without a terminal. */
  protected async spinner(text: string): Promise<Spinner> {
    return startSpinner(text, {json: this.jsonEnabled()});
  }

  /**
   * Runs long work under a spinner that shows its progress messages, and marks it failed (with
   * `failure`) if the work throws.
   */
  protected async withSpinner<T>(text: string, failure: string, work: (progress: (text: string) => void) => Promise<T>): Promise<T> {
    const spinner = await this.spinner(text);
    try {
      const result = await work((next) => spinner.update(next));
      spinner.stop();
      return result;
    } catch (error) {
      spinner.fail(failure);
      throw error;
    }
  }

  /**
   * The command line after `--` (`hak bench [flags] -- CMD [ARGS...]`), split off before oclif
   * parses hak's own flags; null when there is no `--`.
   */
  protected splitCommandLine(): {own: string[]; command: string[] | null} {
    const index = this.argv.indexOf('--');
    if (index < 0) return {own: this.argv, command: null};
    return {own: this.argv.slice(0, index), command: this.argv.slice(index + 1)};
  }

  /** A path as the user would type it: relative to the working directory when below it. */
  protected displayPath(path: string): string {
    const rel = relative(process.cwd(), path);
    return rel === '' || rel.startsWith('..') ? path : rel;
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    // this.exit() and deliberate exits pass through untouched.
    if (error instanceof Errors.ExitError) throw error;
    const hakError = toHakError(error);
    if (this.jsonEnabled()) {
      this.logJson({error: hakError.toJSON()});
    } else {
      process.stderr.write(formatError(hakError));
    }

    if (hakError instanceof InternalError && process.env.HAK_DEBUG) process.stderr.write(`${String(error.stack)}\n`);
    throw new Errors.ExitError(hakError.exitCode);
  }
}

/** `Error: <message>` and, when there is one, the hint on the next line. */
export function formatError(error: HakError): string {
  const hint = error.hint ? `\n  ${error.hint}` : '';
  return `Error: ${error.message}${hint}\n`;
}
