/**
 * The key layout of the store, in one place. Every concern is one LevelDB sublevel (level's
 * `db.sublevel(name)`, stored on disk with the prefix `!name!`); keys are ASCII strings built only
 * by the functions below, so string order equals byte order and fixed-width hex fields sort
 * numerically. Every value passes through codec.ts (a version byte, a kind tag, binary fields) and
 * then the encryption hook; the "value" column names the codec kind. The one exception is the
 * at-rest marker, written raw because it says how to open everything else (encrypted-store.ts).
 *
 * | sublevel    | key                                          | value (codec kind)   | meaning                                        |
 * |-------------|----------------------------------------------|----------------------|------------------------------------------------|
 * | `meta`      | `schema`                                     | `schema`             | schema version of the whole store (schema.ts)  |
 * | `meta`      | `at-rest`                                    | (raw, never sealed)  | 0x81 + key id: values are sealed (at-rest.ts)  |
 * | `identity`  | `<name>` (e.g. `default`; [a-z0-9_-]{1,64})  | `identity`           | one of our identity key pairs                  |
 * | `prekeys`   | `s/<id:8 hex>`                               | `signed-prekey`      | signed X25519 prekey with its private key      |
 * | `prekeys`   | `k/<id:8 hex>`                               | `kem-prekey`         | signed ML-KEM-768 prekey with its secret key   |
 * | `prekeys`   | `o/<id:8 hex>`                               | `one-time-prekey`    | unused one-time prekey (deleted once used)     |
 * | `prekeys`   | `c/<id:8 hex>`                               | `seen`               | one-time prekey handed out by a claim (time)   |
 * | `prekeys`   | `p/s` and `p/k`                              | `prekey-rotation`    | current signed / KEM prekey id, highest id     |
 * |             |                                              |                      | ever used, created-at and retired-at per id    |
 * | `prekeys`   | `n/o`                                        | `prekey-counter`     | next one-time prekey id to allocate (ids never |
 * |             |                                              |                      | repeat: above every id ever allocated)         |
 * | `sessions`  | `s/<remote:64 hex>`                          | `session`            | session snapshot + base key, per remote        |
 * | `sessions`  | `b/<baseKey:64 hex>`                         | `session-index`      | base key → remote identity (route a handshake) |
 * | `contacts`  | `<identity:64 hex>`                          | `contact`            | contact record                                 |
 * | `messages`  | `m/<contact:64 hex>/<ts:16 hex>/<id:32 hex>` | `message`            | history; sorts by contact, time, id            |
 * | `messages`  | `i/<contact:64 hex>/<id:32 hex>`             | `message-index`      | id → timestamp (find a message by id)          |
 * | `outbox`    | `<id:32 hex>`                                | `outbox`             | unacknowledged outgoing ciphertext             |
 * | `dedupe`    | `<sender:64 hex>/<id:32 hex>`                | `seen`               | when a sender's message id was delivered       |
 * | `directory` | `r/<identity:64 hex>`                        | `directory-record`   | last fetched identity record bytes + fetchedAt |
 * | `directory` | `q/<identity:64 hex>`                        | `directory-sequence` | highest record sequence seen (rollback guard)  |
 * | `mailbox`   | `e/<identity:64 hex>/<at:16 hex>/<id:32 hex>`| `mailbox-entry`      | an envelope held for an identity (mailbox role)|
 * | `mailbox`   | `i/<identity:64 hex>/<id:32 hex>`            | `seen`               | id → stored-at time (dedupe, delete by id)     |
 * | `mailbox`   | `u/<identity:64 hex>` and `t`                | `mailbox-usage`      | envelopes and bytes held per identity / in all |
 * | `mailbox`   | `p/<identity:64 hex>/<id:8 hex>`             | `mailbox-prekey`     | a one-time prekey uploaded by that identity    |
 * | `requests`  | `r/<identity:64 hex>`                        | `contact-request`    | a pending contact request (first message from  |
 * |             |                                              |                      | an identity the user has not accepted yet)     |
 * | `requests`  | `m/<identity:64 hex>/<seq:8 hex>`            | `held-message`       | a message held with that request, arrival order|
 * | `blocked`   | `<identity:64 hex>`                          | `blocked`            | an identity the user blocked (when, address)   |
 *
 * Identities are the lowercase hex of the 32-byte Ed25519 identity key, base keys the hex of the
 * 32-byte X25519 PQXDH base key, message ids the hex of 16 random bytes; ids and times are
 * zero-padded lowercase hex (prekey ids u32, times u64 ms). Inputs are checked here: a malformed id
 * is an InvalidStoreArgumentError, never a key that sorts in the wrong place.
 *
 * Prekey rotation: `p/s` (signed) and `p/k` (KEM) each hold one PrekeyRotationRecord (types.ts).
 * A store written before rotation existed has `s/00000001` and `k/00000001` and no `p/` keys; that
 * is read as "id 1 current, created at an unknown time" (due for rotation), so no migration is
 * needed and the schema version stays 1. The `p/` keys lie outside the `s/`, `k/`, `o/` and `c/`
 * ranges, so prekey counts and id listings never see them.
 *
 * One-time prekey ids (src/node/node.ts): `n/o` holds the next id to allocate, written in the batch
 * that stores the keys it allocated, so an id is never handed out twice even after the key that had
 * it was used and deleted (a late or replayed handshake naming it then finds no key, never a
 * different one). It holds at most MAX_PREKEY_ID + 1 (every id allocated). A store written before
 * the counter existed has no `n/o`; the node then allocates above its highest stored id and writes
 * the counter at its first prekey write, so no migration is needed and the schema version stays 1.
 * Like `p/`, `n/` lies outside the prekey ranges.
 *
 * Contact requests and the block list (src/node/node.ts, README "Message requests and blocking"):
 * `requests` and `blocked` were added after the first release without a schema change: a store
 * written before has neither sublevel, which reads as "no pending requests, nobody blocked", so no
 * migration is needed and the schema version stays 1. (An older sotto opening a newer store ignores
 * both: it would deliver a blocked identity's messages and not show held requests.) A request's
 * held messages sort by their arrival sequence under the request's identity, so a request and its
 * messages are deleted with one prefix.
 */
import { InvalidStoreArgumentError } from './errors.js';

/** The sublevels, one per concern. */
export const CONCERNS = [
  'meta',
  'identity',
  'prekeys',
  'sessions',
  'contacts',
  'messages',
  'outbox',
  'dedupe',
  'directory',
  'mailbox',
  'requests',
  'blocked',
] as const;
export type Concern = (typeof CONCERNS)[number];

/** A half-open key range [gte, lt) inside one sublevel. */
export interface KeyRange {
  gte?: string;
  lt?: string;
}

const IDENTITY_HEX = /^[0-9a-f]{64}$/;
const MESSAGE_ID_HEX = /^[0-9a-f]{32}$/;
const IDENTITY_NAME = /^[a-z0-9_-]{1,64}$/;

/** Checks a lowercase 64-hex identity (or base key) string. */
export function checkIdentityHex(what: string, value: string): string {
  if (typeof value !== 'string' || !IDENTITY_HEX.test(value)) {
    throw new InvalidStoreArgumentError(`${what} must be 64 lowercase hex characters`);
  }
  return value;
}

/** Checks a lowercase 32-hex message id. */
export function checkMessageId(value: string): string {
  if (typeof value !== 'string' || !MESSAGE_ID_HEX.test(value)) {
    throw new InvalidStoreArgumentError('message id must be 32 lowercase hex characters');
  }
  return value;
}

export function checkIdentityName(value: string): string {
  if (typeof value !== 'string' || !IDENTITY_NAME.test(value)) {
    throw new InvalidStoreArgumentError('identity name must match [a-z0-9_-]{1,64}');
  }
  return value;
}

/** A non-negative safe integer (timestamps in ms, counters, sequence numbers). */
export function checkUint(what: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidStoreArgumentError(`${what} must be a non-negative safe integer`);
  }
  return value;
}

function checkPrekeyId(id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new InvalidStoreArgumentError('prekey id must be an integer 0..4294967295');
  }
  return id;
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const hex16 = (n: number): string => n.toString(16).padStart(16, '0');

/** The range of every key that starts with `prefix` (keys are ASCII, so bumping the last char bounds it). */
export function prefixRange(prefix: string): KeyRange {
  if (prefix === '') return {};
  const last = prefix.charCodeAt(prefix.length - 1);
  return { gte: prefix, lt: prefix.slice(0, -1) + String.fromCharCode(last + 1) };
}

export const SCHEMA_KEY = 'schema';
/**
 * `meta/at-rest`: present when the store's values are sealed by the at-rest hook; holds 0x81 and the
 * 16-byte key id of its data key (encrypted-store.ts). Not data: an empty store may have it.
 */
export const AT_REST_MARKER_KEY = 'at-rest';

export const identityKey = (name: string): string => checkIdentityName(name);

export type PrekeyKind = 'signed' | 'kem' | 'one-time';
const PREKEY_TAG: Record<PrekeyKind, string> = { signed: 's/', kem: 'k/', 'one-time': 'o/' };
export const prekeyKey = (kind: PrekeyKind, id: number): string => PREKEY_TAG[kind] + hex8(checkPrekeyId(id));
export const prekeyPrefix = (kind: PrekeyKind): string => PREKEY_TAG[kind];
/** Marker of a one-time prekey handed out by the claim protocol (never handed out again). */
export const claimedPrekeyKey = (id: number): string => `c/${hex8(checkPrekeyId(id))}`;
/** The prekey kinds that rotate on a schedule (one-time prekeys are used up instead). */
export type RotatingPrekeyKind = 'signed' | 'kem';
const ROTATION_KEY: Record<RotatingPrekeyKind, string> = { signed: 'p/s', kem: 'p/k' };
/** The key of the rotation record of signed or KEM prekeys. */
export const prekeyRotationKey = (kind: RotatingPrekeyKind): string => {
  if (kind !== 'signed' && kind !== 'kem') {
    throw new InvalidStoreArgumentError('rotating prekey kind must be "signed" or "kem"');
  }
  return ROTATION_KEY[kind];
};
/** `prekeys/n/o`: the next one-time prekey id to allocate (codec kind `prekey-counter`). */
export const NEXT_ONE_TIME_PREKEY_ID_KEY = 'n/o';
/**
 * The first one-time prekey id never allocated: above the stored counter (`n/o`, undefined in a
 * store written before it) and above every stored one-time prekey id; 1 in an empty store.
 */
export function firstFreeOneTimeId(counter: number | undefined, storedIds: readonly number[]): number {
  return Math.max(counter ?? 1, storedIds.reduce((max, id) => Math.max(max, id), 0) + 1);
}
/** The prekey id of a `prekeyKey`. */
export const prekeyIdOf = (key: string): number => Number.parseInt(key.slice(2), 16);

export const sessionKey = (remote: string): string => `s/${checkIdentityHex('remote identity', remote)}`;
export const SESSION_PREFIX = 's/';
export const sessionBaseKeyKey = (baseKey: string): string => `b/${checkIdentityHex('base key', baseKey)}`;

export const contactKey = (identity: string): string => checkIdentityHex('contact identity', identity);

export const messageKey = (contact: string, timestamp: number, id: string): string =>
  `m/${checkIdentityHex('contact identity', contact)}/${hex16(checkUint('timestamp', timestamp))}/${checkMessageId(id)}`;
export const messagePrefix = (contact: string): string => `m/${checkIdentityHex('contact identity', contact)}/`;
export const messageIndexKey = (contact: string, id: string): string =>
  `i/${checkIdentityHex('contact identity', contact)}/${checkMessageId(id)}`;

export const outboxKey = (id: string): string => checkMessageId(id);

export const dedupeKey = (sender: string, id: string): string =>
  `${checkIdentityHex('sender identity', sender)}/${checkMessageId(id)}`;

export const directoryRecordKey = (identity: string): string => `r/${checkIdentityHex('identity', identity)}`;
export const directorySequenceKey = (identity: string): string => `q/${checkIdentityHex('identity', identity)}`;

export const mailboxEntryKey = (identity: string, storedAt: number, id: string): string =>
  `e/${checkIdentityHex('identity', identity)}/${hex16(checkUint('storedAt', storedAt))}/${checkMessageId(id)}`;
export const mailboxEntryPrefix = (identity: string): string => `e/${checkIdentityHex('identity', identity)}/`;
export const MAILBOX_ENTRY_PREFIX = 'e/';
export const mailboxIndexKey = (identity: string, id: string): string =>
  `i/${checkIdentityHex('identity', identity)}/${checkMessageId(id)}`;
export const mailboxUsageKey = (identity: string): string => `u/${checkIdentityHex('identity', identity)}`;
export const MAILBOX_TOTAL_KEY = 't';
export const mailboxPrekeyKey = (identity: string, id: number): string =>
  `p/${checkIdentityHex('identity', identity)}/${hex8(checkPrekeyId(id))}`;
export const mailboxPrekeyPrefix = (identity: string): string => `p/${checkIdentityHex('identity', identity)}/`;

export const contactRequestKey = (identity: string): string => `r/${checkIdentityHex('identity', identity)}`;
export const CONTACT_REQUEST_PREFIX = 'r/';
/** A held message of a contact request, by its arrival sequence (u32) within the request. */
export const heldMessageKey = (identity: string, seq: number): string =>
  `m/${checkIdentityHex('identity', identity)}/${hex8(checkPrekeyIdLike('held message sequence', seq))}`;
export const heldMessagePrefix = (identity: string): string => `m/${checkIdentityHex('identity', identity)}/`;
export const blockedKey = (identity: string): string => checkIdentityHex('blocked identity', identity);

function checkPrekeyIdLike(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new InvalidStoreArgumentError(`${what} must be an integer 0..4294967295`);
  }
  return n;
}
