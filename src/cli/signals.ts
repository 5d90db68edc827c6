/**
 * SIGINT/SIGTERM for the commands that run until stopped (`start`, `watch`): the first signal asks
 * for a graceful stop, a second one (while the first is still being handled) forces.
 */

export type StopSignal = 'SIGINT' | 'SIGTERM';
export const STOP_SIGNALS: readonly StopSignal[] = Object.freeze(['SIGINT', 'SIGTERM']);

export interface StopSignals {
  /** Resolves with the first signal. */
  readonly stopRequested: Promise<StopSignal>;
  /** Removes the handlers (the process gets Node's default behaviour back). */
  dispose(): void;
}

/**
 * Installs SIGINT/SIGTERM handlers: the first signal resolves `stopRequested`, every later one calls
 * `onAgain` (e.g. exit at once with code 130).
 */
export function stopSignals(onAgain: (signal: StopSignal) => void): StopSignals {
  let received = false;
  let resolve!: (signal: StopSignal) => void;
  const stopRequested = new Promise<StopSignal>((r) => {
    resolve = r;
  });
  const handler = (signal: StopSignal) => {
    if (received) {
      onAgain(signal);
      return;
    }
    received = true;
    resolve(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return {
    stopRequested,
    dispose: () => {
      for (const signal of STOP_SIGNALS) process.off(signal, handler);
    },
  };
}
