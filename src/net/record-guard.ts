/**
 * Server-side rollback protection for DHT records.
 *
 * kad-dht 16's PUT_VALUE handler validates an incoming record and then overwrites whatever the
 * node held for that key, without asking the selector (go-libp2p-kad-dht does ask). Anyone could
 * therefore replay an old, validly signed record (sequence 1) over the current one (sequence 2) on
 * every closest peer. This guard wraps the datastore's `put` for kad-dht record keys: a record
 * replaces the stored one only if the namespace's selector prefers it (or the stored one no longer
 * validates). A refused put throws `StaleRecordError`, which the remote putter sees as a failed
 * PUT_VALUE and a local `putRecord` sees as a typed error.
 */
import type { Selectors, Validators } from '@libp2p/kad-dht';
import { reader } from 'protons-runtime';
import { MalformedDhtRecordError, StaleRecordError } from './errors.js';

/** kad-dht's default datastore prefix for records (`${datastorePrefix}/record/<base32 key>`). */
export const DHT_RECORD_DATASTORE_PREFIX = '/dht/record/';

/** The one method of a datastore the guard needs. */
export interface PutGetDatastore {
  put(key: { toString(): string }, value: Uint8Array, options?: unknown): unknown;
  get(key: { toString(): string }, options?: unknown): unknown;
}

interface DecodedRecord {
  key: Uint8Array;
  value: Uint8Array;
}

/**
 * Decodes libp2p's `Record { bytes key = 1; bytes value = 2; string timeReceived = 5; }`; throws
 * `MalformedDhtRecordError` for bytes that are not one (protons' reader throws plain RangeErrors).
 */
export function decodeDhtRecord(bytes: Uint8Array): DecodedRecord {
  try {
    return readDhtRecord(bytes);
  } catch (err) {
    throw new MalformedDhtRecordError(err);
  }
}

function readDhtRecord(bytes: Uint8Array): DecodedRecord {
  const r = reader(bytes);
  const out: DecodedRecord = { key: new Uint8Array(0), value: new Uint8Array(0) };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        out.key = r.bytes();
        break;
      case 2:
        out.value = r.bytes();
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function namespaceOf(key: Uint8Array): string | undefined {
  const parts = new TextDecoder().decode(key).split('/');
  return parts.length >= 3 && parts[0] === '' ? parts[1] : undefined;
}

/**
 * Replaces `datastore.put` with a selector-aware version for keys under
 * `DHT_RECORD_DATASTORE_PREFIX`. Other keys (peer store, providers) pass straight through.
 * Idempotent per datastore.
 */
export function guardDhtRecords(datastore: PutGetDatastore, validators: Validators, selectors: Selectors): void {
  const marked = datastore as PutGetDatastore & { [GUARDED]?: true };
  if (marked[GUARDED] === true) return;
  const put = datastore.put.bind(datastore);
  const get = datastore.get.bind(datastore);

  marked.put = async (key, value, options) => {
    if (key.toString().startsWith(DHT_RECORD_DATASTORE_PREFIX)) {
      await checkNotStale(get, key, value, validators, selectors, options);
    }
    return put(key, value, options);
  };
  marked[GUARDED] = true;
}

const GUARDED = Symbol.for('sotto.net.dhtRecordGuard');

async function checkNotStale(
  get: PutGetDatastore['get'],
  dsKey: { toString(): string },
  incomingBytes: Uint8Array,
  validators: Validators,
  selectors: Selectors,
  options: unknown,
): Promise<void> {
  let existingBytes: Uint8Array;
  try {
    existingBytes = (await get(dsKey, options)) as Uint8Array;
  } catch {
    return; // nothing stored yet
  }
  const incoming = decodeDhtRecord(incomingBytes); // malformed: refused, nothing stored
  let existing: DecodedRecord;
  try {
    existing = decodeDhtRecord(existingBytes);
  } catch {
    return; // what is stored is not a record any more: anything valid may replace it
  }
  if (equalBytes(incoming.value, existing.value)) return; // a republish of the same record
  const ns = namespaceOf(incoming.key);
  const validate = ns == null ? undefined : validators[ns];
  const select = ns == null ? undefined : selectors[ns];
  if (validate == null || select == null) return; // kad-dht's own validation decides
  try {
    await validate(existing.key, existing.value);
  } catch {
    return; // the stored record has gone bad (e.g. expired): anything valid may replace it
  }
  // Incoming first: on a tie the selector's first choice (the newcomer) wins, as in go-libp2p.
  const best = await select(incoming.key, [incoming.value, existing.value]);
  if (best !== 0) throw new StaleRecordError();
}
