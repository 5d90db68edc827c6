/**
 * Record helpers around kad-dht that fix two of its sharp edges (DESIGN.md, runtime facts):
 *
 * - `dht.put()` writes the record to the local datastore *without* validating it, and reports
 *   remote failures only as events. `putRecord` runs the namespace's validator first and counts
 *   which peers actually stored the record.
 * - `dht.get()` throws if correcting a stale peer fails, even when it found a good record, and
 *   never returns partial results on timeout. `getRecord` gathers every validated record it sees
 *   and picks the best with the namespace's selector itself.
 */
import type { PeerId } from '@libp2p/interface';
import type { KadDHT, QueryEvent } from '@libp2p/kad-dht';
import { DhtTimeoutError, NoValidatorError, RecordNotFoundError, RecordValidationError } from './errors.js';

/** Bound on a put: a lookup of the closest peers plus one PUT_VALUE round per peer. */
export const DEFAULT_PUT_TIMEOUT_MS = 30_000;
/** Bound on a get: the lookup usually ends in well under a second on a healthy network. */
export const DEFAULT_GET_TIMEOUT_MS = 30_000;

/** Anything with the kad-dht service under `services.dht` (a `SottoHost`, or a test double). */
export interface DhtNode {
  readonly services: { readonly dht: KadDHT };
}

export interface DhtCallOptions {
  readonly signal?: AbortSignal;
  /** Overall budget in ms (default `DEFAULT_PUT_TIMEOUT_MS` / `DEFAULT_GET_TIMEOUT_MS`). */
  readonly timeoutMs?: number;
}

export interface PutRecordResult {
  /** Peers that answered PUT_VALUE echoing our record: they stored it. */
  readonly accepted: number;
  /** Peers we sent PUT_VALUE to. `attempted - accepted` refused, failed or did not answer in time. */
  readonly attempted: number;
  readonly acceptedBy: readonly PeerId[];
  /** False when the timeout cut the put short (the counts are what had happened by then). */
  readonly complete: boolean;
}

export interface GetRecordResult {
  readonly value: Uint8Array;
  /** How many distinct valid records were considered. */
  readonly candidates: number;
  /** False when the timeout cut the query short and `value` is the best seen so far. */
  readonly complete: boolean;
}

const decoder = new TextDecoder();

/** The kad-dht namespace of a key, by kad-dht's own rule: `/ns/...` → `ns` (undefined if none). */
export function dhtNamespaceOf(key: Uint8Array): string | undefined {
  const parts = decoder.decode(key).split('/');
  if (parts.length < 3 || parts[0] !== '' || parts[1] === '') return undefined;
  return parts[1];
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function validate(dht: KadDHT, key: Uint8Array, value: Uint8Array, signal?: AbortSignal): Promise<void> {
  const ns = dhtNamespaceOf(key) ?? '';
  const validator = dht.validators[ns];
  if (validator == null) throw new NoValidatorError(ns);
  try {
    await validator(key, value, { signal });
  } catch (err) {
    if (signal?.aborted === true) throw err;
    throw new RecordValidationError({ cause: err });
  }
}

/** A signal that fires on the caller's abort or after `timeoutMs`; `dispose` clears the timer. */
function deadline(operation: 'get' | 'put', options: DhtCallOptions | undefined, defaultMs: number) {
  const timeoutMs = options?.timeoutMs ?? defaultMs;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DhtTimeoutError(operation, timeoutMs));
  }, timeoutMs);
  const onAbort = (): void => controller.abort(options?.signal?.reason);
  options?.signal?.addEventListener('abort', onAbort, { once: true });
  if (options?.signal?.aborted === true) onAbort();
  return {
    signal: controller.signal,
    timeoutMs,
    timedOut: () => timedOut,
    dispose: () => {
      clearTimeout(timer);
      options?.signal?.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * Validates the record, then stores it locally and on the closest peers. Throws
 * `NoValidatorError` / `RecordValidationError` before anything is stored. Returns how many peers
 * stored it; zero is a result, not an error (a lone node, or everyone refused).
 */
export async function putRecord(
  node: DhtNode,
  key: Uint8Array,
  value: Uint8Array,
  options?: DhtCallOptions,
): Promise<PutRecordResult> {
  const dht = node.services.dht;
  const d = deadline('put', options, DEFAULT_PUT_TIMEOUT_MS);
  const attempted = new Map<string, PeerId>();
  const accepted = new Map<string, PeerId>();
  try {
    await validate(dht, key, value, d.signal);
    try {
      for await (const event of dht.put(key, value, { signal: d.signal })) {
        countPutEvent(event, value, attempted, accepted);
      }
    } catch (err) {
      if (!d.timedOut()) throw err;
    }
    return {
      accepted: accepted.size,
      attempted: attempted.size,
      acceptedBy: [...accepted.values()],
      complete: !d.timedOut(),
    };
  } finally {
    d.dispose();
  }
}

function countPutEvent(
  event: QueryEvent,
  value: Uint8Array,
  attempted: Map<string, PeerId>,
  accepted: Map<string, PeerId>,
): void {
  if (event.name === 'SEND_QUERY' && event.messageName === 'PUT_VALUE') {
    attempted.set(event.to.toString(), event.to);
  } else if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') {
    // A peer that stored the record echoes it back; anything else is a refusal.
    if (event.record != null && equalBytes(event.record.value, value)) accepted.set(event.from.toString(), event.from);
  }
}

/**
 * Looks the key up (local store and network) and returns the best valid record by the
 * namespace's selector. Throws `RecordNotFoundError` when the query ends with no valid record,
 * `DhtTimeoutError` when the budget runs out before any record was seen.
 */
export async function getRecord(node: DhtNode, key: Uint8Array, options?: DhtCallOptions): Promise<GetRecordResult> {
  const dht = node.services.dht;
  const ns = dhtNamespaceOf(key) ?? '';
  const selector = dht.selectors[ns];
  if (dht.validators[ns] == null || selector == null) throw new NoValidatorError(ns);
  const d = deadline('get', options, DEFAULT_GET_TIMEOUT_MS);
  const seen: Uint8Array[] = [];
  const remember = (candidate: Uint8Array): void => {
    if (!seen.some((s) => equalBytes(s, candidate))) seen.push(candidate);
  };
  try {
    try {
      for await (const event of dht.get(key, { signal: d.signal })) {
        // kad-dht has already validated remote records; invalid ones arrive as QUERY_ERROR instead.
        if (event.name === 'VALUE') remember(event.value);
        else if (event.name === 'PEER_RESPONSE' && event.messageName === 'GET_VALUE' && event.record != null) {
          remember(event.record.value);
        }
      }
    } catch (err) {
      if (d.timedOut()) {
        if (seen.length === 0) throw new DhtTimeoutError('get', d.timeoutMs);
      } else if (options?.signal?.aborted === true || seen.length === 0) {
        // Anything else with records in hand is kad-dht failing to correct a stale peer: not our loss.
        throw err;
      }
    }
    // Defence in depth: validate again with the exact validator before choosing.
    const valid: Uint8Array[] = [];
    for (const candidate of seen) {
      try {
        await validate(dht, key, candidate);
        valid.push(candidate);
      } catch {
        // drop it
      }
    }
    if (valid.length === 0) throw new RecordNotFoundError();
    const index = valid.length === 1 ? 0 : await selector(key, valid);
    const value = valid[index];
    if (value == null) throw new RecordNotFoundError();
    return { value, candidates: valid.length, complete: !d.timedOut() };
  } finally {
    d.dispose();
  }
}
