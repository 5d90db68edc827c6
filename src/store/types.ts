/**
 * The records the store holds and one small async interface per concern (the shape of libsignal's
 * `storage/traits.rs`). Identities, base keys and message ids are lowercase hex (see layout.ts).
 *
 * Every write method is a one-operation batch; to write several concerns atomically use
 * `SottoStore.batch()` (batch.ts). Reads see committed data only.
 */
import type { IdentityKeyPair, KemPrekey, OneTimePrekey, PrekeyLookup, SignedPrekey } from '../crypto/index.js';
import type { StoreBatch } from './batch.js';
import type { PrekeyKind, RotatingPrekeyKind } from './layout.js';

// ── Records ──────────────────────────────────────────────────────────────────────────────────

/** A session as stored: `Session.snapshot()` bytes plus its base key for routing. */
export interface SessionRecord {
  /** `session.snapshot()`: secret, versioned bytes; restore with `Session.restore(env, snapshot)`. */
  snapshot: Uint8Array;
  /** Hex of `session.baseKey` (the initiator's PQXDH ephemeral key). */
  baseKey: string;
  /**
   * Earlier sessions with the same remote, newest first (at most MAX_PREVIOUS_SESSIONS): kept when
   * a new handshake replaces the session, so messages still in flight on the old one decrypt, and
   * two nodes that handshook at the same time converge on one session. Absent = none.
   */
  previous?: PreviousSession[];
}

/** An archived session: its snapshot and base key. */
export interface PreviousSession {
  snapshot: Uint8Array;
  baseKey: string;
}

export interface ContactRecord {
  /** Hex of the contact's current Ed25519 identity key; the record's storage key. */
  identityKey: string;
  /** The name the user gave the contact (UTF-8). */
  name: string;
  /** The contact's address string as the user entered or scanned it. */
  address: string;
  /** True once the user compared safety numbers; reset by the caller on a key change. */
  verified: boolean;
  /** When the contact was added (ms since epoch). */
  addedAt: number;
  /** When the identity key last changed (ms since epoch), if it ever did. */
  keyChangedAt?: number | undefined;
  /** Earlier identity keys (hex), oldest first. */
  previousKeys: string[];
}

export type MessageDirection = 'in' | 'out';

/** Outgoing messages move queued → sent → stored-at-mailbox → delivered → read (or failed); incoming ones are received → read. */
export type MessageState = 'queued' | 'sent' | 'stored-at-mailbox' | 'delivered' | 'read' | 'received' | 'failed';

export interface MessageRecord {
  /** 16 random bytes, hex. Unique per conversation; the same id on the wire, in the outbox and in dedupe. */
  id: string;
  /** The remote identity (hex) of the conversation. */
  contact: string;
  direction: MessageDirection;
  /** Sort time (ms since epoch). Part of the key: do not change it after the first put. */
  timestamp: number;
  /** The message text (UTF-8). */
  body: string;
  state: MessageState;
}

/** Where to continue a newest-first listing: strictly before this (timestamp, id). */
export interface MessageCursor {
  timestamp: number;
  id: string;
}

export type OutboxState = 'queued' | 'sending' | 'failed';

export interface OutboxEntry {
  /** The message id (hex), as in MessageRecord. */
  id: string;
  /** The recipient identity (hex). */
  recipient: string;
  /** The exact envelope bytes to retransmit until acknowledged. */
  ciphertext: Uint8Array;
  state: OutboxState;
  /** Delivery attempts made so far. */
  attempts: number;
  /** Earliest time (ms) of the next attempt. */
  nextAttemptAt: number;
  createdAt: number;
}

/** An envelope a mailbox holds for one of the identities it serves (opaque bytes). */
export interface MailboxEntry {
  /** The recipient identity (hex). */
  identity: string;
  /** The envelope's message id (hex). */
  id: string;
  /** The encoded `/sotto/msg/1.0.0` Envelope, exactly as deposited. */
  envelope: Uint8Array;
  /** When the mailbox stored it (ms): orders a fetch and bounds the TTL. */
  storedAt: number;
}

/** Envelopes and bytes a mailbox holds (per identity, or in all). */
export interface MailboxUsage {
  count: number;
  bytes: number;
}

/** The operator's limits, checked at each deposit. */
export interface MailboxQuota {
  /** Most envelopes held per identity. */
  maxEnvelopesPerIdentity: number;
  /** Most envelope bytes held per identity. */
  maxBytesPerIdentity: number;
  /** Most envelope bytes held in all. */
  maxTotalBytes: number;
}

export type DepositResult = 'stored' | 'duplicate' | 'over-quota' | 'full';

/** Envelopes held for other identities (the mailbox role): deposit, fetch oldest first, delete on ack, expire. */
export interface MailboxStore {
  /** Stores an envelope unless its id is already held for `identity` or a quota would be exceeded. */
  deposit(entry: MailboxEntry, quota: MailboxQuota): Promise<DepositResult>;
  /** Oldest first, at most `limit` entries and `maxBytes` bytes of envelopes (always one if any). */
  list(identity: string, limit: number, maxBytes: number): Promise<MailboxEntry[]>;
  /** Deletes those of `ids` held for `identity`; returns how many. */
  remove(identity: string, ids: readonly string[]): Promise<number>;
  usage(identity?: string): Promise<MailboxUsage>;
  /** Deletes every envelope stored before `before` (TTL); returns how many. */
  expire(before: number): Promise<number>;
  /** Keeps uploaded one-time prekeys of `identity` up to `cap` held (an id already held is kept as is). */
  putPrekeys(
    identity: string,
    prekeys: ReadonlyArray<{ id: number; publicKey: Uint8Array }>,
    cap: number,
  ): Promise<number>;
  prekeyCount(identity: string): Promise<number>;
  /** Takes (deletes and returns) the lowest-id uploaded prekey of `identity`, or undefined. */
  takePrekey(identity: string): Promise<{ id: number; publicKey: Uint8Array } | undefined>;
}

export interface DirectoryEntry {
  /** The identity (hex) the record belongs to. */
  identity: string;
  /** The signed identity record as fetched (validated by the directory layer before it is stored). */
  record: Uint8Array;
  /** When it was fetched (ms). */
  fetchedAt: number;
}

/** Prekey records by kind, as the crypto core defines them (with their secrets). */
export interface PrekeyTypes {
  signed: SignedPrekey;
  kem: KemPrekey;
  'one-time': OneTimePrekey;
}

/** One stored signed (or KEM) prekey in a rotation record. */
export interface PrekeyRotationEntry {
  /** The prekey id (u32); its key is `s/<id>` or `k/<id>`. */
  id: number;
  /** When it was generated (ms). Undefined for a prekey written before rotation existed (unknown age). */
  createdAt?: number | undefined;
  /** When it stopped being current (ms); undefined exactly for the current prekey. */
  retiredAt?: number | undefined;
}

/**
 * Which signed (or KEM) prekey is current and the age of every stored one: one record per kind,
 * under `p/s` and `p/k` (layout.ts). Invariants (checked by the codec on write and on read):
 * entries sorted by id, ids unique; `currentId` is an entry and the only one without `retiredAt`;
 * `highestId` ≥ every entry's id. `highestId` is the highest id ever allocated for the kind, so a
 * deleted id is never handed out again.
 */
export interface PrekeyRotationRecord {
  currentId: number;
  highestId: number;
  prekeys: PrekeyRotationEntry[];
}

/**
 * A pending contact request: an identity that is neither a contact nor in any conversation wrote
 * to us while the node's policy is "ask" (src/node/node.ts). Its messages are held apart
 * (`HeldMessage`) until the user accepts, rejects or blocks it.
 */
export interface ContactRequestRecord {
  /** Hex of the requester's Ed25519 identity key; the record's storage key. */
  identity: string;
  /** The requester's canonical address. */
  address: string;
  /** When its first held message arrived (our clock, ms). */
  firstAt: number;
  /** When its latest held message arrived (our clock, ms). */
  lastAt: number;
  /** Messages held (at most the node's per-request cap). */
  held: number;
  /** The sequence number the next held message gets (u32): arrival order. */
  nextSeq: number;
}

/** A text received from a pending requester, held until the request is accepted or dropped. */
export interface HeldMessage {
  /** The requester (hex). */
  identity: string;
  /** Arrival order within the request (u32); part of the key. */
  seq: number;
  /** The message id (hex), as on the wire and in dedupe. */
  id: string;
  /** The sender's timestamp (ms): the message's place in the conversation once accepted. */
  timestamp: number;
  /** When it arrived (our clock, ms). */
  receivedAt: number;
  body: string;
  /** Fetched from one of our mailboxes: a delivery receipt is owed once (and only if) it is accepted. */
  viaMailbox: boolean;
}

/** An identity the user blocked: its envelopes are dropped before any decryption. */
export interface BlockedRecord {
  /** Hex of the blocked Ed25519 identity key; the record's storage key. */
  identity: string;
  /** Its canonical address. */
  address: string;
  /** When it was blocked (ms). */
  blockedAt: number;
}

/** The prekey ids a handshake names (the PQXDH header's ids). */
export interface PrekeyIds {
  signedPrekeyId: number;
  kemPrekeyId: number;
  oneTimePrekeyId?: number | undefined;
}

// ── Interfaces ───────────────────────────────────────────────────────────────────────────────

/** Our own identity key pairs, one per hosted identity; `"default"` is the node's main identity. */
export interface IdentityStore {
  /** The key pair stored under `name` (default `"default"`), or undefined if none was created yet. */
  get(name?: string): Promise<IdentityKeyPair | undefined>;
  /** Stores (or replaces) the key pair under `name`. Replacing an identity orphans its sessions: callers should not. */
  put(keyPair: IdentityKeyPair, name?: string): Promise<void>;
  /** Names of the stored identities, sorted. */
  list(): Promise<string[]>;
  /** Deletes the key pair under `name`; a no-op if absent. */
  remove(name: string): Promise<void>;
}

/**
 * Our secret prekeys. Signed and KEM prekeys are rotated (src/node/prekey-rotation.ts): a rotation
 * record per kind names the current one and when each was created and retired; rotation writes
 * the new prekey, the record and the deletion of expired ones in one batch. A one-time prekey must
 * be removed in the same batch that stores the session it created (`usedOneTimePrekeyId`).
 */
export interface PrekeyStore {
  /** Stores (or replaces) a prekey under its id. */
  put<K extends PrekeyKind>(kind: K, key: PrekeyTypes[K]): Promise<void>;
  get<K extends PrekeyKind>(kind: K, id: number): Promise<PrekeyTypes[K] | undefined>;
  /** Deletes a prekey; true if it was there. */
  remove(kind: PrekeyKind, id: number): Promise<boolean>;
  /** How many prekeys of this kind are stored (refill one-time prekeys when low). */
  count(kind: PrekeyKind): Promise<number>;
  /** Stored ids of this kind, ascending. */
  ids(kind: PrekeyKind): Promise<number[]>;
  /**
   * Loads prekeys into a synchronous `PrekeyLookup` for `respondToSession`, which cannot await.
   * With `ids` (the handshake's ids) only those are loaded; an omitted id field loads every key of
   * that kind. The lookup is a snapshot: it does not see later writes, and removing the used
   * one-time prekey is still the caller's job (in the batch that stores the session).
   */
  loadLookup(ids?: Partial<PrekeyIds>): Promise<PrekeyLookup>;
  /** Whether one-time prekey `id` was handed out by the claim protocol (it stays until used). */
  isClaimed(id: number): Promise<boolean>;
  /** Marks one-time prekey `id` as handed out; it is never handed out again. */
  markClaimed(id: number, at: number): Promise<void>;
  /**
   * The rotation record of signed or KEM prekeys, or undefined when none was written (a new store,
   * or one written before rotation existed). Written with `StoreBatch.prekeys.setRotation`.
   */
  rotation(kind: RotatingPrekeyKind): Promise<PrekeyRotationRecord | undefined>;
  /**
   * The current signed or KEM prekey: the one the rotation record names, else (no record: a store
   * written before rotation existed, where the only prekey of each kind has id 1) the one with the
   * highest stored id. Undefined if there is none.
   */
  current<K extends RotatingPrekeyKind>(kind: K): Promise<PrekeyTypes[K] | undefined>;
  /**
   * The next one-time prekey id to allocate (`prekeys/n/o`), or undefined when none was written (a
   * new store, or one written before the counter existed). Ids below it may have been handed out
   * already, even when no key with them is stored. Written with `StoreBatch.prekeys.setNextOneTimeId`
   * in the batch that stores the keys it allocated.
   */
  nextOneTimeId(): Promise<number | undefined>;
}

/** Our session with each remote identity (one session per remote), and base key → remote routing. */
export interface SessionStore {
  /** The current session with `remote`, or undefined. */
  get(remote: string): Promise<SessionRecord | undefined>;
  /** Stores the session with `remote` and indexes its base key. The previous session's base key stays indexed. */
  put(remote: string, record: SessionRecord): Promise<void>;
  /** Deletes the session with `remote` and its base-key index entry. */
  remove(remote: string): Promise<void>;
  /**
   * The remote identity whose *current* session has this base key, or undefined: lets a repeated
   * handshake message reach the session it created. Index entries of replaced sessions resolve to undefined.
   */
  findByBaseKey(baseKey: string): Promise<string | undefined>;
  /** Remote identities that have a session, sorted. */
  list(): Promise<string[]>;
}

export interface ContactStore {
  get(identity: string): Promise<ContactRecord | undefined>;
  /** Stores (or replaces) the record under `record.identityKey`. */
  put(record: ContactRecord): Promise<void>;
  remove(identity: string): Promise<void>;
  /** Every contact, by identity key order. */
  list(): Promise<ContactRecord[]>;
}

/** Conversation history per remote identity. */
export interface MessageStore {
  /** Stores (or replaces) a message in `message.contact`'s conversation. */
  put(message: MessageRecord): Promise<void>;
  get(contact: string, id: string): Promise<MessageRecord | undefined>;
  /** Newest first (by timestamp, then id), strictly before `before` if given; `limit` defaults to 50. */
  list(
    contact: string,
    options?: { before?: MessageCursor | undefined; limit?: number | undefined },
  ): Promise<MessageRecord[]>;
  /** Changes a message's state; false if there is no such message. */
  setState(contact: string, id: string, state: MessageState): Promise<boolean>;
  /** Deletes a message; false if there was none. */
  remove(contact: string, id: string): Promise<boolean>;
}

/** Outgoing envelopes not yet acknowledged; an entry is removed when its ack arrives. */
export interface OutboxStore {
  /** Stores (or replaces: reschedule, new state) an entry. */
  put(entry: OutboxEntry): Promise<void>;
  get(id: string): Promise<OutboxEntry | undefined>;
  /** Deletes the entry (the ack arrived, or the user cancelled); a no-op if absent. */
  remove(id: string): Promise<void>;
  /** Every entry, oldest `createdAt` first. */
  list(): Promise<OutboxEntry[]>;
  /** Entries not `failed` whose `nextAttemptAt <= now`, soonest first, at most `limit`. Scans the outbox. */
  due(now: number, limit?: number): Promise<OutboxEntry[]>;
}

/** Message ids already delivered to the app, per sender: the "exactly once" half of delivery. */
export interface DedupeStore {
  /** True if this sender's message id was marked. */
  has(sender: string, id: string): Promise<boolean>;
  /** Marks the id as delivered at `seenAt`. On the receive path do this in the message's batch. */
  mark(sender: string, id: string, seenAt: number): Promise<void>;
  /** Forgets marks older than `before`; returns how many. Scans the whole concern. */
  prune(before: number): Promise<number>;
}

/** Identity records fetched from the DHT, and the highest sequence ever seen per identity. */
export interface DirectoryCache {
  get(identity: string): Promise<DirectoryEntry | undefined>;
  put(entry: DirectoryEntry): Promise<void>;
  remove(identity: string): Promise<void>;
  /** Highest record sequence seen for the identity, or undefined. Survives `remove`. */
  highestSequence(identity: string): Promise<number | undefined>;
  /**
   * Rollback protection: true (and remembered) when `sequence` is at least the highest seen; false
   * when it is lower, i.e. an old record replayed. Read-then-write: one writer per identity at a time.
   */
  noteSequence(identity: string, sequence: number): Promise<boolean>;
}

/** Pending contact requests and their held messages (writes go through `StoreBatch.requests`). */
export interface RequestStore {
  get(identity: string): Promise<ContactRequestRecord | undefined>;
  /** Every pending request, by identity key order. */
  list(): Promise<ContactRequestRecord[]>;
  /** How many requests are pending. */
  count(): Promise<number>;
  /** The held messages of `identity`'s request, in arrival order. */
  messages(identity: string): Promise<HeldMessage[]>;
}

/** The block list (writes go through `StoreBatch.blocked`). */
export interface BlockStore {
  get(identity: string): Promise<BlockedRecord | undefined>;
  /** Every blocked identity, by identity key order. */
  list(): Promise<BlockedRecord[]>;
}

/** The node's whole persistent state. */
export interface SottoStore {
  readonly identity: IdentityStore;
  readonly prekeys: PrekeyStore;
  readonly sessions: SessionStore;
  readonly contacts: ContactStore;
  readonly messages: MessageStore;
  readonly outbox: OutboxStore;
  readonly mailbox: MailboxStore;
  readonly dedupe: DedupeStore;
  readonly directory: DirectoryCache;
  readonly requests: RequestStore;
  readonly blocked: BlockStore;
  /** The schema version the store is at (after migrations). */
  readonly schemaVersion: number;
  /** A new atomic batch across concerns; nothing is written until `commit()`. */
  batch(): StoreBatch;
  /** Releases the database (lock, file handles). Idempotent; later calls throw StoreClosedError. */
  close(): Promise<void>;
}
