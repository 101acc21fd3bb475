/**
 * Progress on stderr for long work (builds, benchmark runs).
 *
 * Shown only on an interactive terminal: never under --json, in CI, when stderr is not a TTY,
 * or on a terminal that reports zero columns (where ora would loop clearing lines). In all those
 * cases the returned spinner does nothing and ora is never loaded.
 */

export interface Spinner {
  update(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

const SILENT: Spinner = {update() {}, succeed() {}, fail() {}, stop() {}};

export function spinnerAllowed(options: {json: boolean}): boolean {
  const {stderr} = process;
  return !options.json && Boolean(stderr.isTTY) && (stderr.columns ?? 0) > 0 && !process.env.CI;
}

export async function startSpinner(text: string, options: {json: boolean}): Promise<Spinner> {
  if (!spinnerAllowed(options)) return SILENT;
  const {default: ora} = await import('ora');
  const spinner = ora({text, stream: process.stderr, isEnabled: true, isSilent: false, discardStdin: false}).start();
  return {
    update(next) {
      spinner.text = next;
    },
    succeed(final) {
      spinner.succeed(final);
    },
    fail(final) {
      spinner.fail(final);
    },
    stop() {
      spinner.stop();
    },
  };
}
