/**
 * An atomic write across concerns: the receive path's "new ratchet state + message + dedupe mark"
 * and the send path's "advanced session + outbox entry" each go in one StoreBatch.
 *
 *   const batch = store.batch();
 *   batch.sessions.put(remote, { snapshot: session.snapshot(), baseKey });
 *   batch.messages.put(message);
 *   batch.dedupe.mark(remote, message.id, now);
 *   await batch.commit();          // one LevelDB batch: all of it or none of it
 *
 * Semantics:
 * - A writer method validates and encodes its value immediately (so later changes to the object do
 *   not leak in). If it throws, the batch is *failed*: the error is rethrown to the caller and
 *   `commit()` rejects with the same error, writing nothing.
 * - `commit()` seals every value with the encryption hook, then hands all ops to the backend as one
 *   batch. Any failure (hook, backend) rejects and nothing is written.
 * - A batch commits once; reuse throws BatchAlreadyUsedError. Batches only write: read what you
 *   need first (reads see committed data only).
 */
import type { IdentityKeyPair } from '../crypto/index.js';
import type { RawOp } from './backend.js';
import type { ValueKind, ValueTypes } from './codec.js';
import type { StoreEngine, WriteReservation } from './engine.js';
import { BatchAlreadyUsedError } from './errors.js';
import {
  blockedKey,
  type Concern,
  checkIdentityHex,
  checkUint,
  claimedPrekeyKey,
  contactKey,
  contactRequestKey,
  dedupeKey,
  directoryRecordKey,
  directorySequenceKey,
  heldMessageKey,
  identityKey,
  MAILBOX_TOTAL_KEY,
  mailboxEntryKey,
  mailboxIndexKey,
  mailboxPrekeyKey,
  mailboxUsageKey,
  messageIndexKey,
  messageKey,
  NEXT_ONE_TIME_PREKEY_ID_KEY,
  outboxKey,
  type PrekeyKind,
  prekeyKey,
  prekeyRotationKey,
  type RotatingPrekeyKind,
  sessionBaseKeyKey,
  sessionKey,
} from './layout.js';
import type {
  BlockedRecord,
  ContactRecord,
  ContactRequestRecord,
  DirectoryEntry,
  HeldMessage,
  MailboxEntry,
  MailboxUsage,
  MessageRecord,
  OutboxEntry,
  PrekeyRotationRecord,
  PrekeyTypes,
  SessionRecord,
} from './types.js';

const PREKEY_VALUE_KIND = { signed: 'signed-prekey', kem: 'kem-prekey', 'one-time': 'one-time-prekey' } as const;

type Planned =
  | { type: 'put'; concern: Concern; key: string; plain: Uint8Array }
  | { type: 'del'; concern: Concern; key: string };

export class StoreBatch {
  private readonly planned: Planned[] = [];
  private failure: { error: unknown } | undefined;
  private used = false;

  readonly identity = {
    /** Stores our key pair under `name` (default "default"). */
    put: (keyPair: IdentityKeyPair, name = 'default'): void =>
      this.step(() => this.put('identity', identityKey(name), 'identity', keyPair)),
    remove: (name: string): void => this.step(() => this.del('identity', identityKey(name))),
  };

  readonly prekeys = {
    put: <K extends PrekeyKind>(kind: K, key: PrekeyTypes[K]): void =>
      this.step(() =>
        this.put(
          'prekeys',
          prekeyKey(kind, key.id),
          PREKEY_VALUE_KIND[kind],
          key as ValueTypes[(typeof PREKEY_VALUE_KIND)[K]],
        ),
      ),
    /** E.g. the one-time prekey a handshake used, in the batch that stores the new session. */
    remove: (kind: PrekeyKind, id: number): void => this.step(() => this.del('prekeys', prekeyKey(kind, id))),
    /** Records that one-time prekey `id` was handed out by a claim, so it is never handed out again. */
    markClaimed: (id: number, at: number): void =>
      this.step(() => this.put('prekeys', claimedPrekeyKey(id), 'seen', at)),
    /** Drops the claim marker (with the prekey itself, once a handshake used it). */
    unmarkClaimed: (id: number): void => this.step(() => this.del('prekeys', claimedPrekeyKey(id))),
    /**
     * Writes the rotation record of signed or KEM prekeys (which is current, created/retired times).
     * Put it in the batch that writes or deletes the prekeys it describes (prekey-rotation.ts).
     */
    setRotation: (kind: RotatingPrekeyKind, record: PrekeyRotationRecord): void =>
      this.step(() => this.put('prekeys', prekeyRotationKey(kind), 'prekey-rotation', record)),
    /** Deletes the rotation record (the store then reads as written before rotation existed). */
    removeRotation: (kind: RotatingPrekeyKind): void => this.step(() => this.del('prekeys', prekeyRotationKey(kind))),
    /**
     * Sets the next one-time prekey id to allocate (0 ..= MAX_NEXT_PREKEY_ID; no comparison here:
     * the allocator never lowers it). Put it in the batch that stores the keys it allocated.
     */
    setNextOneTimeId: (next: number): void =>
      this.step(() => this.put('prekeys', NEXT_ONE_TIME_PREKEY_ID_KEY, 'prekey-counter', next)),
  };

  readonly sessions = {
    /**
     * The session with `remote`, plus the index entry base key → remote. `index: false` leaves the
     * index entry out, for a caller that knows an earlier batch (committed, or queued ahead of this
     * one) already wrote it for this base key: a session's base key never changes, and rewriting
     * the same entry at every message was one put and one seal in five on the send path.
     */
    put: (remote: string, record: SessionRecord, options: { index?: boolean } = {}): void =>
      this.step(() => {
        this.put('sessions', sessionKey(remote), 'session', record);
        if (options.index !== false) this.put('sessions', sessionBaseKeyKey(record.baseKey), 'session-index', remote);
      }),
    /** Deletes the session with `remote`; pass its base key to delete the index entry too. */
    remove: (remote: string, baseKey?: string): void =>
      this.step(() => {
        this.del('sessions', sessionKey(remote));
        if (baseKey !== undefined) this.del('sessions', sessionBaseKeyKey(baseKey));
      }),
  };

  readonly contacts = {
    put: (record: ContactRecord): void =>
      this.step(() => this.put('contacts', contactKey(record.identityKey), 'contact', record)),
    remove: (identity: string): void => this.step(() => this.del('contacts', contactKey(identity))),
  };

  readonly messages = {
    /** The message and its id → timestamp index entry. */
    put: (message: MessageRecord): void =>
      this.step(() => {
        this.put('messages', messageKey(message.contact, message.timestamp, message.id), 'message', message);
        this.put('messages', messageIndexKey(message.contact, message.id), 'message-index', message.timestamp);
      }),
    /**
     * Rewrites a stored message whose contact, id and timestamp are unchanged (a new state): its
     * key and its index entry stay what they are, so only the message itself is written.
     */
    update: (message: MessageRecord): void =>
      this.step(() =>
        this.put('messages', messageKey(message.contact, message.timestamp, message.id), 'message', message),
      ),
    remove: (contact: string, id: string, timestamp: number): void =>
      this.step(() => {
        this.del('messages', messageKey(contact, timestamp, id));
        this.del('messages', messageIndexKey(contact, id));
      }),
  };

  readonly outbox = {
    put: (entry: OutboxEntry): void => this.step(() => this.put('outbox', outboxKey(entry.id), 'outbox', entry)),
    remove: (id: string): void => this.step(() => this.del('outbox', outboxKey(id))),
  };

  readonly dedupe = {
    /** Marks `sender`'s message `id` as delivered at `seenAt`. */
    mark: (sender: string, id: string, seenAt: number): void =>
      this.step(() => this.put('dedupe', dedupeKey(sender, id), 'seen', seenAt)),
    remove: (sender: string, id: string): void => this.step(() => this.del('dedupe', dedupeKey(sender, id))),
  };

  readonly mailbox = {
    /** The envelope and its id index entry (usage is written separately: see KvMailboxStore). */
    put: (entry: MailboxEntry): void =>
      this.step(() => {
        this.put('mailbox', mailboxEntryKey(entry.identity, entry.storedAt, entry.id), 'mailbox-entry', entry);
        this.put('mailbox', mailboxIndexKey(entry.identity, entry.id), 'seen', entry.storedAt);
      }),
    remove: (identity: string, id: string, storedAt: number): void =>
      this.step(() => {
        this.del('mailbox', mailboxEntryKey(identity, storedAt, id));
        this.del('mailbox', mailboxIndexKey(identity, id));
      }),
    /** A one-time prekey uploaded by `identity` (public half only). */
    putPrekey: (identity: string, prekey: { id: number; publicKey: Uint8Array }): void =>
      this.step(() => this.put('mailbox', mailboxPrekeyKey(identity, prekey.id), 'mailbox-prekey', prekey)),
    removePrekey: (identity: string, id: number): void =>
      this.step(() => this.del('mailbox', mailboxPrekeyKey(identity, id))),
    /** Usage of one identity, or (identity undefined) of the whole mailbox. */
    setUsage: (identity: string | undefined, usage: MailboxUsage): void =>
      this.step(() =>
        identity === undefined || usage.count > 0
          ? this.put(
              'mailbox',
              identity === undefined ? MAILBOX_TOTAL_KEY : mailboxUsageKey(identity),
              'mailbox-usage',
              usage,
            )
          : this.del('mailbox', mailboxUsageKey(identity)),
      ),
  };

  readonly directory = {
    put: (entry: DirectoryEntry): void =>
      this.step(() => this.put('directory', directoryRecordKey(entry.identity), 'directory-record', entry)),
    remove: (identity: string): void => this.step(() => this.del('directory', directoryRecordKey(identity))),
    /** Sets the highest sequence seen (no comparison here: see DirectoryCache.noteSequence). */
    setHighestSequence: (identity: string, sequence: number): void =>
      this.step(() =>
        this.put(
          'directory',
          directorySequenceKey(checkIdentityHex('identity', identity)),
          'directory-sequence',
          checkUint('sequence', sequence),
        ),
      ),
  };

  readonly requests = {
    /** Creates or updates a pending request (its counters change with every held message). */
    put: (record: ContactRequestRecord): void =>
      this.step(() => this.put('requests', contactRequestKey(record.identity), 'contact-request', record)),
    /** A message held with `message.identity`'s request, under its arrival sequence. */
    putMessage: (message: HeldMessage): void =>
      this.step(() => this.put('requests', heldMessageKey(message.identity, message.seq), 'held-message', message)),
    /** Deletes the request and the held messages with these sequence numbers (read them first). */
    remove: (identity: string, seqs: readonly number[]): void =>
      this.step(() => {
        this.del('requests', contactRequestKey(identity));
        for (const seq of seqs) this.del('requests', heldMessageKey(identity, seq));
      }),
  };

  readonly blocked = {
    put: (record: BlockedRecord): void =>
      this.step(() => this.put('blocked', blockedKey(record.identity), 'blocked', record)),
    remove: (identity: string): void => this.step(() => this.del('blocked', blockedKey(identity))),
  };

  constructor(private readonly engine: StoreEngine) {}

  /** Number of raw writes planned so far. */
  get size(): number {
    return this.planned.length;
  }

  /**
   * Writes everything planned in one backend batch, or nothing. Its place in the store's write
   * order is taken when `commit()` is called (synchronously), so batches committed one after the
   * other reach the disk in that order even while values are still being sealed.
   *
   * Durable by default: the promise resolves once the batch is on stable storage (fsync), which is
   * what an Ack promises (protocols/message/SPEC.md §7) and what the send path needs before a frame
   * leaves (a ratchet state lost in an OS crash would reuse message keys). `durable: false` is for
   * writes whose loss is harmless and that are re-derived after a crash (e.g. a "delivered" mark:
   * the retry is answered DUPLICATE); it still survives the process dying, and it stays in write order.
   */
  commit(options: { durable?: boolean } = {}): Promise<void> {
    if (this.used) return Promise.reject(new BatchAlreadyUsedError());
    this.used = true;
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    let reservation: WriteReservation;
    try {
      reservation = this.engine.reserve();
    } catch (err) {
      return Promise.reject(err);
    }
    let sealed: RawOp[] | Promise<RawOp[]>;
    try {
      sealed = this.seal();
    } catch (err) {
      reservation.cancel();
      return Promise.reject(err);
    }
    if (Array.isArray(sealed)) return reservation.fill(sealed, options);
    return sealed.then(
      (ops) => reservation.fill(ops, options),
      (err: unknown) => {
        reservation.cancel();
        throw err;
      },
    );
  }

  /**
   * Every planned value sealed by the encryption hook. Synchronous while the hook is (the at-rest
   * hook and the plaintext one are): the send and receive paths seal 3–4 values a batch, and an
   * await per value was a promise and a microtask turn each. An asynchronous hook's values are
   * awaited in order.
   */
  private seal(): RawOp[] | Promise<RawOp[]> {
    const ops: RawOp[] = [];
    const { hook } = this.engine.codec;
    for (let i = 0; i < this.planned.length; i++) {
      const p = this.planned[i] as Planned;
      if (p.type === 'del') {
        ops.push(p);
        continue;
      }
      const value = hook.seal(p.plain, { concern: p.concern, key: p.key });
      if (value instanceof Uint8Array) ops.push({ type: 'put', concern: p.concern, key: p.key, value });
      else return this.sealAsync(ops, i, value);
    }
    return ops;
  }

  private async sealAsync(ops: RawOp[], from: number, first: Promise<Uint8Array>): Promise<RawOp[]> {
    for (let i = from; i < this.planned.length; i++) {
      const p = this.planned[i] as Planned;
      if (p.type === 'del') ops.push(p);
      else {
        const value =
          i === from ? await first : await this.engine.codec.hook.seal(p.plain, { concern: p.concern, key: p.key });
        ops.push({ type: 'put', concern: p.concern, key: p.key, value });
      }
    }
    return ops;
  }

  /** Runs one writer step; its ops are kept only if the whole step succeeds, else the batch fails. */
  private step(fn: () => void): void {
    if (this.used) throw new BatchAlreadyUsedError();
    const mark = this.planned.length;
    try {
      fn();
    } catch (error) {
      this.planned.length = mark;
      this.failure ??= { error };
      throw error;
    }
  }

  private put<K extends ValueKind>(concern: Concern, key: string, kind: K, value: ValueTypes[K]): void {
    this.planned.push({ type: 'put', concern, key, plain: this.engine.codec.codec.encode(kind, value) });
  }

  private del(concern: Concern, key: string): void {
    this.planned.push({ type: 'del', concern, key });
  }
}
