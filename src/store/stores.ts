/**
 * The concern stores, written once against StoreEngine (so the memory and LevelDB stores behave
 * the same). Every write is a one-op StoreBatch; every read decodes through the codec.
 */
import type { IdentityKeyPair, KemPrekey, OneTimePrekey, PrekeyLookup, SignedPrekey } from '../crypto/index.js';
import { StoreBatch } from './batch.js';
import type { StoreEngine } from './engine.js';
import { InvalidStoreArgumentError } from './errors.js';
import {
  blockedKey,
  CONTACT_REQUEST_PREFIX,
  checkIdentityHex,
  checkMessageId,
  checkUint,
  claimedPrekeyKey,
  contactKey,
  contactRequestKey,
  dedupeKey,
  directoryRecordKey,
  directorySequenceKey,
  heldMessagePrefix,
  identityKey,
  MAILBOX_ENTRY_PREFIX,
  MAILBOX_TOTAL_KEY,
  mailboxEntryKey,
  mailboxEntryPrefix,
  mailboxIndexKey,
  mailboxPrekeyKey,
  mailboxPrekeyPrefix,
  mailboxUsageKey,
  messageIndexKey,
  messageKey,
  messagePrefix,
  NEXT_ONE_TIME_PREKEY_ID_KEY,
  outboxKey,
  type PrekeyKind,
  prefixRange,
  prekeyIdOf,
  prekeyKey,
  prekeyPrefix,
  prekeyRotationKey,
  type RotatingPrekeyKind,
  SESSION_PREFIX,
  sessionBaseKeyKey,
  sessionKey,
} from './layout.js';
import type {
  BlockedRecord,
  BlockStore,
  ContactRecord,
  ContactRequestRecord,
  ContactStore,
  DedupeStore,
  DepositResult,
  DirectoryCache,
  DirectoryEntry,
  HeldMessage,
  IdentityStore,
  MailboxEntry,
  MailboxQuota,
  MailboxStore,
  MailboxUsage,
  MessageCursor,
  MessageRecord,
  MessageState,
  MessageStore,
  OutboxEntry,
  OutboxStore,
  PrekeyIds,
  PrekeyRotationRecord,
  PrekeyStore,
  PrekeyTypes,
  RequestStore,
  SessionRecord,
  SessionStore,
} from './types.js';

/** Default and largest page of `MessageStore.list`. */
export const DEFAULT_MESSAGE_PAGE = 50;
export const MAX_MESSAGE_PAGE = 1000;

abstract class ConcernStore {
  constructor(protected readonly engine: StoreEngine) {}
  protected async write(fn: (b: StoreBatch) => void): Promise<void> {
    const b = new StoreBatch(this.engine);
    fn(b);
    await b.commit();
  }
}

export class KvIdentityStore extends ConcernStore implements IdentityStore {
  async get(name = 'default'): Promise<IdentityKeyPair | undefined> {
    return this.engine.get('identity', identityKey(name), 'identity');
  }
  async put(keyPair: IdentityKeyPair, name = 'default'): Promise<void> {
    return this.write((b) => b.identity.put(keyPair, name));
  }
  async list(): Promise<string[]> {
    return this.engine.keys('identity');
  }
  async remove(name: string): Promise<void> {
    return this.write((b) => b.identity.remove(name));
  }
}

const PREKEY_VALUE_KIND = { signed: 'signed-prekey', kem: 'kem-prekey', 'one-time': 'one-time-prekey' } as const;

export class KvPrekeyStore extends ConcernStore implements PrekeyStore {
  async put<K extends PrekeyKind>(kind: K, key: PrekeyTypes[K]): Promise<void> {
    return this.write((b) => b.prekeys.put(kind, key));
  }
  async get<K extends PrekeyKind>(kind: K, id: number): Promise<PrekeyTypes[K] | undefined> {
    const value = await this.engine.get('prekeys', prekeyKey(kind, id), PREKEY_VALUE_KIND[kind]);
    return value as PrekeyTypes[K] | undefined;
  }
  async remove(kind: PrekeyKind, id: number): Promise<boolean> {
    const key = prekeyKey(kind, id);
    const existed = (await this.engine.raw.get('prekeys', key)) !== undefined;
    if (existed) await this.write((b) => b.prekeys.remove(kind, id));
    return existed;
  }
  async count(kind: PrekeyKind): Promise<number> {
    return (await this.engine.keys('prekeys', prefixRange(prekeyPrefix(kind)))).length;
  }
  async isClaimed(id: number): Promise<boolean> {
    return (await this.engine.get('prekeys', claimedPrekeyKey(id), 'seen')) !== undefined;
  }
  async markClaimed(id: number, at: number): Promise<void> {
    return this.write((b) => b.prekeys.markClaimed(id, at));
  }
  async ids(kind: PrekeyKind): Promise<number[]> {
    return (await this.engine.keys('prekeys', prefixRange(prekeyPrefix(kind)))).map(prekeyIdOf);
  }
  async rotation(kind: RotatingPrekeyKind): Promise<PrekeyRotationRecord | undefined> {
    return this.engine.get('prekeys', prekeyRotationKey(kind), 'prekey-rotation');
  }
  async current<K extends RotatingPrekeyKind>(kind: K): Promise<PrekeyTypes[K] | undefined> {
    const record = await this.rotation(kind);
    if (record !== undefined) return this.get(kind, record.currentId);
    // Written before rotation existed: the one prekey of the kind (id 1), or the newest if several.
    const ids = await this.ids(kind);
    const newest = ids[ids.length - 1];
    return newest === undefined ? undefined : this.get(kind, newest);
  }
  async nextOneTimeId(): Promise<number | undefined> {
    return this.engine.get('prekeys', NEXT_ONE_TIME_PREKEY_ID_KEY, 'prekey-counter');
  }
  async loadLookup(ids: Partial<PrekeyIds> = {}): Promise<PrekeyLookup> {
    const load = async <K extends PrekeyKind>(
      kind: K,
      id: number | undefined,
    ): Promise<Map<number, PrekeyTypes[K]>> => {
      const out = new Map<number, PrekeyTypes[K]>();
      if (id !== undefined) {
        const key = await this.get(kind, id);
        if (key !== undefined) out.set(id, key);
        return out;
      }
      const rows = await this.engine.entries('prekeys', PREKEY_VALUE_KIND[kind], prefixRange(prekeyPrefix(kind)));
      for (const { value } of rows) out.set(value.id, value as PrekeyTypes[K]);
      return out;
    };
    const signed = await load('signed', ids.signedPrekeyId);
    const kem = await load('kem', ids.kemPrekeyId);
    const oneTime = await load('one-time', ids.oneTimePrekeyId);
    return {
      signedPrekey: (id: number): SignedPrekey | undefined => signed.get(id),
      kemPrekey: (id: number): KemPrekey | undefined => kem.get(id),
      oneTimePrekey: (id: number): OneTimePrekey | undefined => oneTime.get(id),
    };
  }
}

export class KvSessionStore extends ConcernStore implements SessionStore {
  async get(remote: string): Promise<SessionRecord | undefined> {
    return this.engine.get('sessions', sessionKey(remote), 'session');
  }
  async put(remote: string, record: SessionRecord): Promise<void> {
    return this.write((b) => b.sessions.put(remote, record));
  }
  async remove(remote: string): Promise<void> {
    const current = await this.get(remote);
    if (current !== undefined) await this.write((b) => b.sessions.remove(remote, current.baseKey));
  }
  async findByBaseKey(baseKey: string): Promise<string | undefined> {
    const remote = await this.engine.get('sessions', sessionBaseKeyKey(baseKey), 'session-index');
    if (remote === undefined) return undefined;
    const current = await this.get(remote);
    return current?.baseKey === baseKey ? remote : undefined;
  }
  async list(): Promise<string[]> {
    const keys = await this.engine.keys('sessions', prefixRange(SESSION_PREFIX));
    return keys.map((k) => k.slice(SESSION_PREFIX.length));
  }
}

export class KvContactStore extends ConcernStore implements ContactStore {
  async get(identity: string): Promise<ContactRecord | undefined> {
    return this.engine.get('contacts', contactKey(identity), 'contact');
  }
  async put(record: ContactRecord): Promise<void> {
    return this.write((b) => b.contacts.put(record));
  }
  async remove(identity: string): Promise<void> {
    return this.write((b) => b.contacts.remove(identity));
  }
  async list(): Promise<ContactRecord[]> {
    return (await this.engine.entries('contacts', 'contact')).map((r) => r.value);
  }
}

export class KvMessageStore extends ConcernStore implements MessageStore {
  async put(message: MessageRecord): Promise<void> {
    return this.write((b) => b.messages.put(message));
  }
  async get(contact: string, id: string): Promise<MessageRecord | undefined> {
    const timestamp = await this.engine.get('messages', messageIndexKey(contact, id), 'message-index');
    if (timestamp === undefined) return undefined;
    return this.engine.get('messages', messageKey(contact, timestamp, id), 'message');
  }
  async list(
    contact: string,
    options: { before?: MessageCursor | undefined; limit?: number | undefined } = {},
  ): Promise<MessageRecord[]> {
    const limit = options.limit ?? DEFAULT_MESSAGE_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_MESSAGE_PAGE) {
      throw new InvalidStoreArgumentError(`limit must be an integer 1..${MAX_MESSAGE_PAGE}`);
    }
    const range = prefixRange(messagePrefix(contact));
    if (options.before !== undefined) range.lt = messageKey(contact, options.before.timestamp, options.before.id);
    const rows = await this.engine.entries('messages', 'message', { ...range, reverse: true, limit });
    return rows.map((r) => r.value);
  }
  async setState(contact: string, id: string, state: MessageState): Promise<boolean> {
    const message = await this.get(contact, id);
    if (message === undefined) return false;
    await this.write((b) => b.messages.put({ ...message, state }));
    return true;
  }
  async remove(contact: string, id: string): Promise<boolean> {
    const timestamp = await this.engine.get('messages', messageIndexKey(contact, id), 'message-index');
    if (timestamp === undefined) return false;
    await this.write((b) => b.messages.remove(contact, id, timestamp));
    return true;
  }
}

export class KvOutboxStore extends ConcernStore implements OutboxStore {
  async put(entry: OutboxEntry): Promise<void> {
    return this.write((b) => b.outbox.put(entry));
  }
  async get(id: string): Promise<OutboxEntry | undefined> {
    return this.engine.get('outbox', outboxKey(id), 'outbox');
  }
  async remove(id: string): Promise<void> {
    return this.write((b) => b.outbox.remove(id));
  }
  async list(): Promise<OutboxEntry[]> {
    const entries = (await this.engine.entries('outbox', 'outbox')).map((r) => r.value);
    return entries.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }
  async due(now: number, limit = Number.MAX_SAFE_INTEGER): Promise<OutboxEntry[]> {
    checkUint('now', now);
    const entries = (await this.engine.entries('outbox', 'outbox')).map((r) => r.value);
    return entries
      .filter((e) => e.state !== 'failed' && e.nextAttemptAt <= now)
      .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || (a.id < b.id ? -1 : 1))
      .slice(0, limit);
  }
}

export class KvDedupeStore extends ConcernStore implements DedupeStore {
  async has(sender: string, id: string): Promise<boolean> {
    return (await this.engine.get('dedupe', dedupeKey(sender, id), 'seen')) !== undefined;
  }
  async mark(sender: string, id: string, seenAt: number): Promise<void> {
    return this.write((b) => b.dedupe.mark(sender, id, seenAt));
  }
  async prune(before: number): Promise<number> {
    checkUint('before', before);
    const rows = await this.engine.entries('dedupe', 'seen');
    const old = rows.filter((r) => r.value < before);
    if (old.length > 0) {
      await this.write((b) => {
        for (const r of old) {
          const [sender, id] = r.key.split('/') as [string, string];
          b.dedupe.remove(sender, checkMessageId(id));
        }
      });
    }
    return old.length;
  }
}

export class KvDirectoryCache extends ConcernStore implements DirectoryCache {
  async get(identity: string): Promise<DirectoryEntry | undefined> {
    return this.engine.get('directory', directoryRecordKey(identity), 'directory-record');
  }
  async put(entry: DirectoryEntry): Promise<void> {
    return this.write((b) => b.directory.put(entry));
  }
  async remove(identity: string): Promise<void> {
    return this.write((b) => b.directory.remove(identity));
  }
  async highestSequence(identity: string): Promise<number | undefined> {
    return this.engine.get(
      'directory',
      directorySequenceKey(checkIdentityHex('identity', identity)),
      'directory-sequence',
    );
  }
  async noteSequence(identity: string, sequence: number): Promise<boolean> {
    checkUint('sequence', sequence);
    const highest = await this.highestSequence(identity);
    if (highest !== undefined && sequence < highest) return false;
    if (highest !== sequence) await this.write((b) => b.directory.setHighestSequence(identity, sequence));
    return true;
  }
}

const NO_USAGE: MailboxUsage = { count: 0, bytes: 0 };

/**
 * The mailbox role's envelopes. Usage counters (per identity and in all) are kept in the same batch
 * as the envelopes they count, so a quota check never scans; deposits, removals and expiry run one
 * at a time (each reads usage, then writes it).
 */
export class KvMailboxStore extends ConcernStore implements MailboxStore {
  private queue: Promise<unknown> = Promise.resolve();

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async usage(identity?: string): Promise<MailboxUsage> {
    const key = identity === undefined ? MAILBOX_TOTAL_KEY : mailboxUsageKey(identity);
    return (await this.engine.get('mailbox', key, 'mailbox-usage')) ?? NO_USAGE;
  }

  deposit(entry: MailboxEntry, quota: MailboxQuota): Promise<DepositResult> {
    checkIdentityHex('identity', entry.identity);
    checkMessageId(entry.id);
    checkUint('storedAt', entry.storedAt);
    if (!(entry.envelope instanceof Uint8Array) || entry.envelope.byteLength === 0) {
      throw new InvalidStoreArgumentError('envelope must be non-empty bytes');
    }
    return this.serial(async () => {
      if ((await this.engine.get('mailbox', mailboxIndexKey(entry.identity, entry.id), 'seen')) !== undefined) {
        return 'duplicate';
      }
      const size = entry.envelope.byteLength;
      const mine = await this.usage(entry.identity);
      const total = await this.usage();
      if (mine.count + 1 > quota.maxEnvelopesPerIdentity || mine.bytes + size > quota.maxBytesPerIdentity) {
        return 'over-quota';
      }
      if (total.bytes + size > quota.maxTotalBytes) return 'full';
      await this.write((b) => {
        b.mailbox.put(entry);
        b.mailbox.setUsage(entry.identity, { count: mine.count + 1, bytes: mine.bytes + size });
        b.mailbox.setUsage(undefined, { count: total.count + 1, bytes: total.bytes + size });
      });
      return 'stored';
    });
  }

  async list(identity: string, limit: number, maxBytes: number): Promise<MailboxEntry[]> {
    checkUint('limit', limit);
    checkUint('maxBytes', maxBytes);
    const rows = await this.engine.entries('mailbox', 'mailbox-entry', {
      ...prefixRange(mailboxEntryPrefix(identity)),
      limit,
    });
    const out: MailboxEntry[] = [];
    let bytes = 0;
    for (const { value } of rows) {
      if (out.length > 0 && bytes + value.envelope.byteLength > maxBytes) break;
      out.push(value);
      bytes += value.envelope.byteLength;
    }
    return out;
  }

  remove(identity: string, ids: readonly string[]): Promise<number> {
    checkIdentityHex('identity', identity);
    for (const id of ids) checkMessageId(id);
    return this.serial(async () => {
      const found: MailboxEntry[] = [];
      for (const id of new Set(ids)) {
        const storedAt = await this.engine.get('mailbox', mailboxIndexKey(identity, id), 'seen');
        if (storedAt === undefined) continue;
        const entry = await this.engine.get('mailbox', mailboxEntryKey(identity, storedAt, id), 'mailbox-entry');
        if (entry !== undefined) found.push(entry);
      }
      await this.drop(found);
      return found.length;
    });
  }

  expire(before: number): Promise<number> {
    checkUint('before', before);
    return this.serial(async () => {
      const rows = await this.engine.entries('mailbox', 'mailbox-entry', prefixRange(MAILBOX_ENTRY_PREFIX));
      const old = rows.map((r) => r.value).filter((e) => e.storedAt < before);
      await this.drop(old);
      return old.length;
    });
  }

  putPrekeys(
    identity: string,
    prekeys: ReadonlyArray<{ id: number; publicKey: Uint8Array }>,
    cap: number,
  ): Promise<number> {
    checkIdentityHex('identity', identity);
    checkUint('cap', cap);
    return this.serial(async () => {
      let held = await this.prekeyCount(identity);
      const fresh: Array<{ id: number; publicKey: Uint8Array }> = [];
      for (const p of prekeys) {
        if (held >= cap) break;
        if (fresh.some((f) => f.id === p.id)) continue;
        if ((await this.engine.get('mailbox', mailboxPrekeyKey(identity, p.id), 'mailbox-prekey')) !== undefined)
          continue;
        fresh.push({ id: p.id, publicKey: p.publicKey });
        held++;
      }
      if (fresh.length > 0) {
        await this.write((b) => {
          for (const p of fresh) b.mailbox.putPrekey(identity, p);
        });
      }
      return held;
    });
  }

  async prekeyCount(identity: string): Promise<number> {
    return (await this.engine.keys('mailbox', prefixRange(mailboxPrekeyPrefix(identity)))).length;
  }

  takePrekey(identity: string): Promise<{ id: number; publicKey: Uint8Array } | undefined> {
    checkIdentityHex('identity', identity);
    return this.serial(async () => {
      const [first] = await this.engine.entries('mailbox', 'mailbox-prekey', {
        ...prefixRange(mailboxPrekeyPrefix(identity)),
        limit: 1,
      });
      if (first === undefined) return undefined;
      await this.write((b) => b.mailbox.removePrekey(identity, first.value.id));
      return first.value;
    });
  }

  /** Deletes `entries` and lowers the usage counters, in one batch. */
  private async drop(entries: readonly MailboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const per = new Map<string, MailboxUsage>();
    for (const e of entries) {
      const u = per.get(e.identity) ?? { count: 0, bytes: 0 };
      per.set(e.identity, { count: u.count + 1, bytes: u.bytes + e.envelope.byteLength });
    }
    const usages = new Map<string, MailboxUsage>();
    for (const identity of per.keys()) usages.set(identity, await this.usage(identity));
    const total = await this.usage();
    await this.write((b) => {
      let count = total.count;
      let bytes = total.bytes;
      for (const e of entries) b.mailbox.remove(e.identity, e.id, e.storedAt);
      for (const [identity, gone] of per) {
        const u = usages.get(identity) ?? NO_USAGE;
        b.mailbox.setUsage(identity, {
          count: Math.max(0, u.count - gone.count),
          bytes: Math.max(0, u.bytes - gone.bytes),
        });
        count -= gone.count;
        bytes -= gone.bytes;
      }
      b.mailbox.setUsage(undefined, { count: Math.max(0, count), bytes: Math.max(0, bytes) });
    });
  }
}

export class KvRequestStore extends ConcernStore implements RequestStore {
  async get(identity: string): Promise<ContactRequestRecord | undefined> {
    return this.engine.get('requests', contactRequestKey(identity), 'contact-request');
  }
  async list(): Promise<ContactRequestRecord[]> {
    const rows = await this.engine.entries('requests', 'contact-request', prefixRange(CONTACT_REQUEST_PREFIX));
    return rows.map((r) => r.value);
  }
  async count(): Promise<number> {
    return (await this.engine.keys('requests', prefixRange(CONTACT_REQUEST_PREFIX))).length;
  }
  async messages(identity: string): Promise<HeldMessage[]> {
    const rows = await this.engine.entries('requests', 'held-message', prefixRange(heldMessagePrefix(identity)));
    return rows.map((r) => r.value);
  }
}

export class KvBlockStore extends ConcernStore implements BlockStore {
  async get(identity: string): Promise<BlockedRecord | undefined> {
    return this.engine.get('blocked', blockedKey(identity), 'blocked');
  }
  async list(): Promise<BlockedRecord[]> {
    return (await this.engine.entries('blocked', 'blocked')).map((r) => r.value);
  }
}
