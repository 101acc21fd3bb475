/**
 * What to undo when hak is interrupted (Ctrl-C, SIGTERM, SIGHUP): first stop the programs it
 * started, then remove what they were writing. The signal listeners exist only while there is
 * something to undo; the process then exits with 128 + the signal number, as a shell reports.
 */

export type InterruptPhase = 'stop' | 'clean';

const cleanups: Record<InterruptPhase, Set<() => void>> = {stop: new Set(), clean: new Set()};
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNAL_EXIT: Record<string, number> = {SIGINT: 130, SIGTERM: 143, SIGHUP: 129};

function runAll(): void {
  for (const phase of ['stop', 'clean'] as const) {
    for (const cleanup of cleanups[phase]) {
      try {
        cleanup();
      } catch {
        // Keep undoing the rest.
      }
    }

    cleanups[phase].clear();
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  process.exit(SIGNAL_EXIT[signal] ?? 1);
}

function registered(): number {
  return cleanups.stop.size + cleanups.clean.size;
}

/**
 * Runs `cleanup` if the process is interrupted (or exits) before the returned function is
 * called. Register before creating what the cleanup removes: a signal arriving in between
 * would otherwise take its default action and leave it behind.
 */
export function onInterrupt(phase: InterruptPhase, cleanup: () => void): () => void {
  if (registered() === 0) {
    for (const signal of SIGNALS) process.on(signal, onSignal);
    process.on('exit', runAll);
  }

  cleanups[phase].add(cleanup);
  return () => {
    if (!cleanups[phase].delete(cleanup)) return;
    if (registered() === 0) {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      process.off('exit', runAll);
    }
  };
}
