/**
 * Bounded waiting for the devnet: every wait has a deadline and fails with a message that says what
 * it was waiting for, and every wait ends at once when the devnet is stopping (Ctrl-C aborts the
 * run's signal).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** A failure to report as one line (`devnet: <message>`), exit 1. */
export class DevnetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DevnetError';
  }
}

/** The run was asked to stop (a signal): not a failure. */
export class StopRequested extends Error {
  constructor(readonly signal: string) {
    super(`stopping (${signal})`);
    this.name = 'StopRequested';
  }
}

/** Throws the signal's reason (a StopRequested) when the run is stopping. */
export function checkStopped(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new StopRequested('abort');
}

/** `1.2 s` */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Calls `attempt` every `intervalMs` until it returns something other than undefined; an error it
 * throws counts as "not yet", except a DevnetError, which ends the wait. Rejects with a DevnetError
 * naming `what` (and the last error `attempt` threw) after `timeoutMs`, or with the stop reason
 * when `signal` aborts.
 */
export async function poll<T>(
  what: string,
  timeoutMs: number,
  signal: AbortSignal,
  attempt: () => Promise<T | undefined>,
  intervalMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    checkStopped(signal);
    try {
      const result = await attempt();
      if (result !== undefined) return result;
    } catch (err) {
      if (err instanceof DevnetError || err instanceof StopRequested) throw err; // no point in trying again
      last = err;
    }
    checkStopped(signal);
    if (Date.now() >= until) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new DevnetError(`timed out after ${seconds(timeoutMs)} waiting for ${what}${why}`, { cause: last });
    }
    await sleep(Math.min(intervalMs, Math.max(0, until - Date.now())), undefined, { signal }).catch(() => undefined);
  }
}

/**
 * Settles with `promise`, or rejects with a DevnetError naming `what` after `timeoutMs`, or with the
 * stop reason when `signal` aborts (whichever comes first).
 */
export function within<T>(what: string, timeoutMs: number, signal: AbortSignal, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new StopRequested('abort'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      reject(new DevnetError(`timed out after ${seconds(timeoutMs)} waiting for ${what}`));
    }, timeoutMs);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Runs `fn` over `items` with at most `limit` at a time; rejects with the first failure (the rest still settle). */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.err;
  return results;
}
