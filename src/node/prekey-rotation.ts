/**
 * Signed-prekey rotation: which signed X25519 prekey and which signed ML-KEM prekey the node
 * publishes, when they are replaced, and when a replaced one is deleted. Pure with respect to time
 * and timers: the caller passes `now` and schedules the next call with `nextCheckAt` (or
 * `nextRotationAt`); everything persistent lives in the store's rotation records (`prekeys/p/s`,
 * `prekeys/p/k`, see src/store/layout.ts).
 *
 * Lifecycle of a signed (or KEM) prekey:
 *
 *   generated, current ──SIGNED_PREKEY_ROTATION_MS──▶ retired (kept) ──RETIRED_PREKEY_GRACE_MS──▶ deleted
 *
 * A store written before rotation existed (`s/00000001`, `k/00000001`, no rotation record) reads
 * as "id 1 current, created at an unknown time": it is rotated on the first call.
 */
import type { CryptoEnv, IdentityKeyPair, KemPrekey, SignedPrekey } from '../crypto/index.js';
import { generateKemPrekey, generateSignedPrekey, MAX_PREKEY_ID } from '../crypto/keys.js';
import {
  checkUint,
  type PrekeyRotationEntry,
  type PrekeyRotationRecord,
  type PrekeyTypes,
  type RotatingPrekeyKind,
  type SottoStore,
} from '../store/index.js';
import { PrekeyIdsExhaustedError } from './errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Rule: a signed X25519 prekey is current (published in the identity record) for at most this
 * long, then a new one replaces it. Signal's X3DH/PQXDH guidance is to replace the signed prekey
 * periodically, weekly to monthly; a week bounds how much traffic a stolen prekey secret can open
 * (every handshake made to it, minus what one-time prekeys protect) at the cost of one record
 * republish a week.
 */
export const SIGNED_PREKEY_ROTATION_MS = 7 * DAY_MS;

/**
 * Rule: the signed ML-KEM-768 ("last resort") prekey rotates on the same schedule as the signed
 * X25519 prekey (PQXDH: the last-resort KEM prekey is replaced periodically like the signed
 * prekey), so the two prekeys of a published bundle always have the same age.
 */
export const KEM_PREKEY_ROTATION_MS = SIGNED_PREKEY_ROTATION_MS;

/**
 * Rule: a rotated-away signed or KEM prekey's private key is kept for this long after it stopped
 * being current (counted from `retiredAt`, not from its creation), then deleted. Deleting it is
 * what gives the prekey forward secrecy: after that, its handshakes cannot be opened from this
 * node's disk. Until then a handshake made against the old key still decrypts, which happens when
 * a peer uses an older identity record (cached, or still served by DHT nodes until it expires,
 * RECORD_LIFETIME_MS = 1 day) or when a handshake message built days ago is retried from a
 * sender's outbox or waits in a mailbox while we are offline. 30 days covers a peer or a node
 * being offline for weeks, and matches how long the ratchet keeps skipped message keys for late
 * messages (SKIPPED_KEY_MAX_AGE_MS, 30 days): a first message is given as long to arrive as any
 * other delayed message. With weekly rotation it means about five retired prekeys of each kind on
 * disk.
 */
export const RETIRED_PREKEY_GRACE_MS = 30 * DAY_MS;

/**
 * The id of the first signed and of the first KEM prekey of a new store: the fixed id the node
 * used before rotation existed, so a new store and an old one look alike. Later ids count up.
 */
export const FIRST_PREKEY_ID = 1;

export interface PrekeyRotationResult {
  /** True when a current prekey changed (created or rotated): publish a new identity record. */
  rotated: boolean;
  /** True when anything was written (a rotation, a first rotation record, a deletion). */
  changed: boolean;
  /** The current signed X25519 prekey (with its private key): the one to publish. */
  signed: SignedPrekey;
  /** The current signed ML-KEM prekey (with its secret key): the one to publish. */
  kem: KemPrekey;
  /** Ids of retired prekeys deleted by this call (their grace period had passed). */
  deleted: { signed: number[]; kem: number[] };
  /** When there is next something to do (`nextRotationAt` of the records now stored), in ms. */
  nextCheckAt: number;
}

/** Calls on the same store run one after another: each reads what the previous one wrote. */
const queues = new WeakMap<SottoStore, Promise<unknown>>();

/**
 * Makes the store hold a current signed prekey and a current KEM prekey no older than the rotation
 * period, signed by `identity`, and deletes retired ones past the grace period. In ONE atomic
 * batch: creates the two prekeys if missing; rotates a current prekey that is due (a new key with
 * the next never-used id becomes current; the old one is kept, retired at `now`); deletes retired
 * prekeys whose grace has passed (never a current one). One-time prekeys are not touched.
 *
 * Idempotent: a second call at the same `now` writes nothing. If anything fails (a corrupt value is
 * a StoreCorruptError naming concern and key; a bad `now` an InvalidStoreArgumentError; the write
 * is refused), nothing is written. Calls on the same store object are serialized.
 */
export async function ensureCurrentPrekeys(
  store: SottoStore,
  env: CryptoEnv,
  identity: IdentityKeyPair,
  now: number,
): Promise<PrekeyRotationResult> {
  checkUint('now', now);
  // The queue only ever holds settled-to-undefined promises, so a failed call does not block the next.
  const previous = queues.get(store) ?? Promise.resolve();
  const run = previous.then(() => rotate(store, env, identity, now));
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(store, settled);
  return run;
}

/**
 * The earliest time (ms) at which `ensureCurrentPrekeys` has something to do: a current prekey
 * reaching its rotation period, or a retired one reaching the end of its grace period. A missing
 * record, or a current prekey of unknown age (old layout), is due at once: 0. The result is at most
 * the rotation period after the newest current prekey's creation, so a timer for it stays within
 * setTimeout's 24.8-day limit.
 */
export function nextRotationAt(records: {
  signed: PrekeyRotationRecord | undefined;
  kem: PrekeyRotationRecord | undefined;
}): number {
  let next = Number.POSITIVE_INFINITY;
  for (const kind of ['signed', 'kem'] as const) {
    const record = records[kind];
    if (record === undefined) return 0;
    for (const e of record.prekeys) {
      if (e.id === record.currentId) {
        if (e.createdAt === undefined) return 0;
        next = Math.min(next, e.createdAt + ROTATION_MS[kind]);
      } else if (e.retiredAt !== undefined) {
        next = Math.min(next, e.retiredAt + RETIRED_PREKEY_GRACE_MS);
      }
    }
    if (!record.prekeys.some((e) => e.id === record.currentId)) return 0;
  }
  return next;
}

const ROTATION_MS: Record<RotatingPrekeyKind, number> = {
  signed: SIGNED_PREKEY_ROTATION_MS,
  kem: KEM_PREKEY_ROTATION_MS,
};

/** What one kind needs: the record to store, a new prekey to put, retired ids to delete. */
interface KindPlan<K extends RotatingPrekeyKind> {
  record: PrekeyRotationRecord;
  /** The record changed (compared with the stored one, or there was none). */
  recordChanged: boolean;
  current: PrekeyTypes[K];
  /** Set when `current` is new and must be written. */
  created: boolean;
  deleted: number[];
}

async function rotate(
  store: SottoStore,
  env: CryptoEnv,
  identity: IdentityKeyPair,
  now: number,
): Promise<PrekeyRotationResult> {
  // Everything is read and generated first; the one batch below is the only write.
  const signed = await plan(store, 'signed', now, (id) => generateSignedPrekey(env, identity, id));
  const kem = await plan(store, 'kem', now, (id) => generateKemPrekey(env, identity, id));

  const batch = store.batch();
  const write = <K extends RotatingPrekeyKind>(kind: K, p: KindPlan<K>): void => {
    if (p.created) batch.prekeys.put(kind, p.current);
    for (const id of p.deleted) batch.prekeys.remove(kind, id);
    if (p.recordChanged) batch.prekeys.setRotation(kind, p.record);
  };
  write('signed', signed);
  write('kem', kem);
  const changed = batch.size > 0;
  if (changed) await batch.commit();

  return {
    rotated: signed.created || kem.created,
    changed,
    signed: signed.current,
    kem: kem.current,
    deleted: { signed: signed.deleted, kem: kem.deleted },
    nextCheckAt: nextRotationAt({ signed: signed.record, kem: kem.record }),
  };
}

async function plan<K extends RotatingPrekeyKind>(
  store: SottoStore,
  kind: K,
  now: number,
  generate: (id: number) => PrekeyTypes[K],
): Promise<KindPlan<K>> {
  const stored = await store.prekeys.rotation(kind);
  const ids = await store.prekeys.ids(kind);
  const present = new Set(ids);
  const newestStored = ids.length > 0 ? (ids[ids.length - 1] as number) : undefined;

  // Start from the record, dropping entries whose key is gone; without one (the old layout), the
  // newest stored prekey is current and its age unknown.
  const entries = new Map<number, PrekeyRotationEntry>();
  let currentId: number | undefined;
  let highestId: number | undefined = newestStored;
  if (stored !== undefined) {
    for (const e of stored.prekeys) if (present.has(e.id)) entries.set(e.id, { ...e });
    if (present.has(stored.currentId)) currentId = stored.currentId;
    highestId = Math.max(stored.highestId, newestStored ?? 0);
  } else {
    currentId = newestStored;
  }
  // A stored prekey the record does not know (old layout, or a stray write) is adopted: the
  // current one with an unknown age, any other as retired now, so its grace starts today.
  for (const id of ids) {
    if (!entries.has(id)) entries.set(id, id === currentId ? { id } : { id, retiredAt: now });
  }

  const currentEntry = currentId === undefined ? undefined : entries.get(currentId);
  const due =
    currentEntry === undefined ||
    currentEntry.createdAt === undefined ||
    now - currentEntry.createdAt >= ROTATION_MS[kind];

  let current: PrekeyTypes[K] | undefined;
  if (due) {
    if (highestId === MAX_PREKEY_ID) throw new PrekeyIdsExhaustedError(kind);
    const id = highestId === undefined ? FIRST_PREKEY_ID : highestId + 1;
    current = generate(id);
    if (currentEntry !== undefined) currentEntry.retiredAt = now;
    entries.set(id, { id, createdAt: now });
    currentId = id;
    highestId = id;
  } else {
    current = await store.prekeys.get(kind, currentId as number);
    // Listed a moment ago; only a concurrent writer outside this module could remove it.
    if (current === undefined) throw new Error(`the current ${kind} prekey vanished during rotation`);
  }

  const deleted: number[] = [];
  for (const e of entries.values()) {
    if (e.id !== currentId && e.retiredAt !== undefined && now - e.retiredAt >= RETIRED_PREKEY_GRACE_MS) {
      deleted.push(e.id);
    }
  }
  for (const id of deleted) entries.delete(id);

  const record: PrekeyRotationRecord = {
    currentId: currentId as number,
    highestId: highestId as number,
    prekeys: [...entries.values()].sort((a, b) => a.id - b.id),
  };
  return {
    record,
    recordChanged: stored === undefined || !sameRecord(stored, record),
    current,
    created: due,
    deleted: deleted.sort((a, b) => a - b),
  };
}

function sameRecord(a: PrekeyRotationRecord, b: PrekeyRotationRecord): boolean {
  return (
    a.currentId === b.currentId &&
    a.highestId === b.highestId &&
    a.prekeys.length === b.prekeys.length &&
    a.prekeys.every((e, i) => {
      const f = b.prekeys[i];
      return f !== undefined && e.id === f.id && e.createdAt === f.createdAt && e.retiredAt === f.retiredAt;
    })
  );
}
