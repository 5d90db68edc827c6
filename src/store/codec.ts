/**
 * The one codec every stored value passes through, twice:
 *
 *   value ──ValueCodec.encode(kind)──▶ plain bytes ──EncryptionHook.seal(at)──▶ bytes on disk
 *
 * Plain bytes are `FORMAT_VERSION (u8) || kind tag (u8) || fields`, fields big-endian: u8/u32/u64
 * integers, byte strings and UTF-8 strings with a u32 length prefix, hex ids as their raw bytes
 * (length-prefixed). Decoding checks the version, the kind tag, every length and that nothing
 * trails; any failure is a CodecError, which the store reports as StoreCorruptError with the
 * concern and key.
 *
 * The EncryptionHook is where encryption at rest slots in: it sees every value (the schema
 * version too) with its location, so an AEAD can bind each value to its key (associated data) and
 * values cannot be swapped between keys. `plaintextHook` is the identity; `AtRestHook` (at-rest.ts)
 * is the AEAD that `openEncryptedStore` (encrypted-store.ts) uses.
 */

import { Reader, Writer } from '../crypto/bytes.js';
import {
  fromHex,
  IdentityKeyPair,
  type KemPrekey,
  type OneTimePrekey,
  type SignedPrekey,
  toHex,
} from '../crypto/index.js';
import { MAX_PREKEY_ID } from '../crypto/keys.js';
import { InvalidStoreArgumentError, StoreCorruptError } from './errors.js';
import { type Concern, checkIdentityHex, checkMessageId, checkUint } from './layout.js';
import type {
  BlockedRecord,
  ContactRecord,
  ContactRequestRecord,
  DirectoryEntry,
  HeldMessage,
  MailboxEntry,
  MailboxUsage,
  MessageDirection,
  MessageRecord,
  MessageState,
  OutboxEntry,
  OutboxState,
  PrekeyRotationEntry,
  PrekeyRotationRecord,
  PreviousSession,
  SessionRecord,
} from './types.js';

/**
 * Earlier sessions kept per remote (Signal keeps 40 archived states). Each is one more trial
 * decryption for a message the current session cannot open, so an authenticated peer can make a
 * message cost at most 1 + this many attempts.
 */
export const MAX_PREVIOUS_SESSIONS = 5;

/**
 * Largest value of a prekey id counter (`prekey-counter`): one past MAX_PREKEY_ID, the largest id
 * (prekey ids are u32 on the wire). A counter at this value means every id was allocated; ids are
 * never reused, so no further one is handed out.
 */
export const MAX_NEXT_PREKEY_ID = MAX_PREKEY_ID + 1;

/** Version byte of the plain value format. Bump it (and keep decoding the old one) when a layout changes. */
export const FORMAT_VERSION = 1;

/** Every kind of value and its TypeScript type. */
export interface ValueTypes {
  schema: number;
  identity: IdentityKeyPair;
  'signed-prekey': SignedPrekey;
  'kem-prekey': KemPrekey;
  'one-time-prekey': OneTimePrekey;
  session: SessionRecord;
  /** Remote identity hex. */
  'session-index': string;
  contact: ContactRecord;
  message: MessageRecord;
  /** The message's timestamp. */
  'message-index': number;
  outbox: OutboxEntry;
  /** When the id was seen. */
  seen: number;
  'directory-record': DirectoryEntry;
  'directory-sequence': number;
  /** Current signed/KEM prekey id and the age of each stored one (`prekeys/p/s`, `prekeys/p/k`). */
  'prekey-rotation': PrekeyRotationRecord;
  /** The next one-time prekey id to allocate, 0 ..= MAX_NEXT_PREKEY_ID (`prekeys/n/o`). */
  'prekey-counter': number;
  'mailbox-entry': MailboxEntry;
  'mailbox-usage': MailboxUsage;
  /** A one-time prekey an identity uploaded to this mailbox (public half only). */
  'mailbox-prekey': { id: number; publicKey: Uint8Array };
  /** A pending contact request (`requests/r/…`). */
  'contact-request': ContactRequestRecord;
  /** A message held with a contact request (`requests/m/…`). */
  'held-message': HeldMessage;
  /** A blocked identity (`blocked/…`). */
  blocked: BlockedRecord;
}
export type ValueKind = keyof ValueTypes;

/** Kind tags (second byte of every value): stable, never reused. */
export const KIND_TAGS: { readonly [K in ValueKind]: number } = {
  schema: 0x01,
  identity: 0x02,
  'signed-prekey': 0x03,
  'kem-prekey': 0x04,
  'one-time-prekey': 0x05,
  // 0x06: the session layout before previous sessions (read only, OLD_LAYOUTS)
  session: 0x20,
  'session-index': 0x07,
  contact: 0x08,
  message: 0x09,
  'message-index': 0x0a,
  outbox: 0x0b,
  seen: 0x0c,
  'directory-record': 0x0d,
  'directory-sequence': 0x0e,
  'prekey-rotation': 0x0f,
  'mailbox-entry': 0x10,
  'mailbox-usage': 0x11,
  'mailbox-prekey': 0x12,
  'contact-request': 0x13,
  'held-message': 0x14,
  blocked: 0x15,
  'prekey-counter': 0x16,
};

/** A value's bytes did not decode (the store turns this into StoreCorruptError). */
export class CodecError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CodecError';
  }
}

/** Turns typed values into plain bytes and back. */
export interface ValueCodec {
  encode<K extends ValueKind>(kind: K, value: ValueTypes[K]): Uint8Array;
  /** Throws CodecError on anything malformed. */
  decode<K extends ValueKind>(kind: K, bytes: Uint8Array): ValueTypes[K];
}

/** Where a value is stored. */
export interface ValueLocation {
  readonly concern: Concern;
  readonly key: string;
}

/**
 * Wraps plain value bytes before they reach the disk and unwraps them after. May be async (e.g.
 * WebCrypto). `open` throws on anything it cannot unwrap; the store reports that as StoreCorruptError.
 */
export interface EncryptionHook {
  seal(plain: Uint8Array, at: ValueLocation): Uint8Array | Promise<Uint8Array>;
  open(sealed: Uint8Array, at: ValueLocation): Uint8Array | Promise<Uint8Array>;
  /** Called once when the store closes: wipe key material (at-rest.ts). */
  dispose?(): void;
}

/** No encryption at rest: values are stored as the codec writes them. */
export const plaintextHook: EncryptionHook = Object.freeze({
  seal: (plain: Uint8Array) => plain,
  open: (sealed: Uint8Array) => sealed,
});

// ── Field writer / reader ────────────────────────────────────────────────────────────────────

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** The store's field encoding, on the crypto core's big-endian Writer: byte strings carry a u32 length. */
class FieldWriter {
  private readonly w = new Writer(128);
  u8(v: number): this {
    this.w.u8(v);
    return this;
  }
  u32(v: number): this {
    this.w.u32(v);
    return this;
  }
  u64(what: string, v: number): this {
    checkUint(what, v);
    this.w.u64(v);
    return this;
  }
  bytes(what: string, v: Uint8Array): this {
    if (!(v instanceof Uint8Array)) throw new InvalidStoreArgumentError(`${what} must be a Uint8Array`);
    this.w.u32(v.length).bytes(v);
    return this;
  }
  text(what: string, v: string): this {
    if (typeof v !== 'string') throw new InvalidStoreArgumentError(`${what} must be a string`);
    return this.bytes(what, utf8Encoder.encode(v));
  }
  /** A lowercase hex id stored as its raw bytes. */
  hex(v: string): this {
    return this.bytes('hex id', fromHex(v));
  }
  finish(): Uint8Array {
    return this.w.finish();
  }
}

/** Reads what FieldWriter wrote, on the crypto core's bounds-checked Reader (failures are CodecError). */
class FieldReader {
  private readonly r: Reader;
  constructor(buf: Uint8Array) {
    this.r = new Reader(buf, (why) => new CodecError(why));
  }
  u8(what: string): number {
    return this.r.u8(what);
  }
  u32(what: string): number {
    return this.r.u32(what);
  }
  u64(what: string): number {
    return this.r.u64(what);
  }
  bytes(what: string): Uint8Array {
    return this.r.bytes(this.r.u32(what), what);
  }
  text(what: string): string {
    try {
      return utf8Decoder.decode(this.bytes(what));
    } catch (err) {
      if (err instanceof CodecError) throw err;
      throw new CodecError(`${what} is not UTF-8`);
    }
  }
  hex(what: string, length: number): string {
    const b = this.bytes(what);
    if (b.length !== length) throw new CodecError(`${what} must be ${length} bytes`);
    return toHex(b);
  }
  end(): void {
    this.r.end('value');
  }
}

function enumCodec<T extends string>(what: string, values: readonly T[]) {
  return {
    write: (w: FieldWriter, v: T) => {
      const i = values.indexOf(v);
      if (i < 0) throw new InvalidStoreArgumentError(`unknown ${what} ${JSON.stringify(v)}`);
      w.u8(i);
    },
    read: (r: FieldReader): T => {
      const i = r.u8(what);
      const v = values[i];
      if (v === undefined) throw new CodecError(`unknown ${what} ${i}`);
      return v;
    },
  };
}

/** Enum tables: append only, order is the wire value. */
const DIRECTIONS = enumCodec<MessageDirection>('direction', ['in', 'out']);
const MESSAGE_STATES = enumCodec<MessageState>('message state', [
  'queued',
  'sent',
  'stored-at-mailbox',
  'delivered',
  'read',
  'received',
  'failed',
]);
const OUTBOX_STATES = enumCodec<OutboxState>('outbox state', ['queued', 'sending', 'failed']);

function checkBool(what: string, v: boolean): boolean {
  if (typeof v !== 'boolean') throw new InvalidStoreArgumentError(`${what} must be a boolean`);
  return v;
}

function readBool(r: FieldReader, what: string): boolean {
  const v = r.u8(what);
  if (v > 1) throw new CodecError(`${what} is not a boolean`);
  return v === 1;
}

function checkU32(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidStoreArgumentError(`${what} must be a u32`);
  return v;
}

/**
 * Why a prekey rotation record breaks its invariants (types.ts PrekeyRotationRecord), or undefined
 * if it keeps them. Checked on encode (InvalidStoreArgumentError) and on decode (CodecError).
 */
function rotationRecordProblem(v: PrekeyRotationRecord): string | undefined {
  const u32 = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff;
  const time = (n: unknown): boolean => n === undefined || (Number.isSafeInteger(n) && (n as number) >= 0);
  if (!u32(v.currentId) || !u32(v.highestId)) return 'prekey ids must be u32';
  if (!Array.isArray(v.prekeys)) return 'prekeys must be an array';
  let previous = -1;
  let current = 0;
  for (const e of v.prekeys) {
    if (e === null || typeof e !== 'object' || !u32(e.id)) return 'prekey ids must be u32';
    if (e.id <= previous) return 'prekey ids must be unique and ascending';
    previous = e.id;
    if (!time(e.createdAt) || !time(e.retiredAt)) return 'prekey times must be non-negative safe integers';
    if (e.id === v.currentId) {
      current++;
      if (e.retiredAt !== undefined) return 'the current prekey cannot be retired';
    } else if (e.retiredAt === undefined) {
      return 'a prekey other than the current one has no retiredAt';
    }
  }
  if (current !== 1) return 'the current prekey id is not among the prekeys';
  if (v.highestId < previous) return 'highestId is below a stored prekey id';
  return undefined;
}

function writeOptionalTime(w: FieldWriter, what: string, v: number | undefined): void {
  if (v === undefined) w.u8(0);
  else w.u8(1).u64(what, v);
}

function readOptionalTime(r: FieldReader, what: string): number | undefined {
  return readBool(r, `${what} flag`) ? r.u64(what) : undefined;
}

// ── Per-kind field layouts ───────────────────────────────────────────────────────────────────

type Fields<T> = { write(w: FieldWriter, v: T): void; read(r: FieldReader): T };

const uint = (what: string): Fields<number> => ({ write: (w, v) => w.u64(what, v), read: (r) => r.u64(what) });

const FIELDS: { [K in ValueKind]: Fields<ValueTypes[K]> } = {
  schema: { write: (w, v) => w.u32(checkU32('schema version', v)), read: (r) => r.u32('schema version') },
  identity: {
    write: (w, v) =>
      w
        .bytes('signingKey', v.signingKey)
        .bytes('signingSeed', v.signingSeed)
        .bytes('dhKey', v.dhKey)
        .bytes('dhPrivateKey', v.dhPrivateKey)
        .bytes('dhSignature', v.dhSignature),
    read: (r) => {
      const fields = {
        signingKey: r.bytes('signingKey'),
        signingSeed: r.bytes('signingSeed'),
        dhKey: r.bytes('dhKey'),
        dhPrivateKey: r.bytes('dhPrivateKey'),
        dhSignature: r.bytes('dhSignature'),
      };
      try {
        return new IdentityKeyPair(fields);
      } catch (err) {
        throw new CodecError('identity key sizes are wrong', { cause: err });
      }
    },
  },
  'signed-prekey': {
    write: (w, v) =>
      w
        .u32(checkU32('prekey id', v.id))
        .bytes('publicKey', v.publicKey)
        .bytes('privateKey', v.privateKey)
        .bytes('signature', v.signature),
    read: (r) => ({
      id: r.u32('id'),
      publicKey: r.bytes('publicKey'),
      privateKey: r.bytes('privateKey'),
      signature: r.bytes('signature'),
    }),
  },
  'kem-prekey': {
    write: (w, v) =>
      w
        .u32(checkU32('prekey id', v.id))
        .bytes('publicKey', v.publicKey)
        .bytes('secretKey', v.secretKey)
        .bytes('signature', v.signature),
    read: (r) => ({
      id: r.u32('id'),
      publicKey: r.bytes('publicKey'),
      secretKey: r.bytes('secretKey'),
      signature: r.bytes('signature'),
    }),
  },
  'one-time-prekey': {
    write: (w, v) =>
      w.u32(checkU32('prekey id', v.id)).bytes('publicKey', v.publicKey).bytes('privateKey', v.privateKey),
    read: (r) => ({ id: r.u32('id'), publicKey: r.bytes('publicKey'), privateKey: r.bytes('privateKey') }),
  },
  session: {
    // Since tag 0x20: snapshot, base key, then the previous sessions as u8 count + (snapshot, base key) each.
    write: (w, v) => {
      w.bytes('snapshot', v.snapshot).hex(checkIdentityHex('base key', v.baseKey));
      const previous = v.previous ?? [];
      if (!Array.isArray(previous) || previous.length > MAX_PREVIOUS_SESSIONS) {
        throw new InvalidStoreArgumentError(`previous must be an array of at most ${MAX_PREVIOUS_SESSIONS}`);
      }
      w.u8(previous.length);
      for (const p of previous) w.bytes('previous snapshot', p.snapshot).hex(checkIdentityHex('base key', p.baseKey));
    },
    read: (r) => {
      const snapshot = r.bytes('snapshot');
      const baseKey = r.hex('base key', 32);
      const count = r.u8('previous count');
      if (count > MAX_PREVIOUS_SESSIONS) throw new CodecError(`previous count ${count} > ${MAX_PREVIOUS_SESSIONS}`);
      if (count === 0) return { snapshot, baseKey };
      const previous: PreviousSession[] = [];
      for (let i = 0; i < count; i++) {
        previous.push({ snapshot: r.bytes('previous snapshot'), baseKey: r.hex('base key', 32) });
      }
      return { snapshot, baseKey, previous };
    },
  },
  'session-index': {
    write: (w, v) => w.hex(checkIdentityHex('remote identity', v)),
    read: (r) => r.hex('remote identity', 32),
  },
  contact: {
    write: (w, v) => {
      w.hex(checkIdentityHex('identity key', v.identityKey))
        .text('name', v.name)
        .text('address', v.address)
        .u8(checkBool('verified', v.verified) ? 1 : 0)
        .u64('addedAt', v.addedAt);
      if (v.keyChangedAt === undefined) w.u8(0);
      else w.u8(1).u64('keyChangedAt', v.keyChangedAt);
      if (!Array.isArray(v.previousKeys)) throw new InvalidStoreArgumentError('previousKeys must be an array');
      w.u32(v.previousKeys.length);
      for (const k of v.previousKeys) w.hex(checkIdentityHex('previous key', k));
    },
    read: (r) => {
      const identityKey = r.hex('identity key', 32);
      const name = r.text('name');
      const address = r.text('address');
      const verified = readBool(r, 'verified');
      const addedAt = r.u64('addedAt');
      const keyChangedAt = readBool(r, 'keyChangedAt flag') ? r.u64('keyChangedAt') : undefined;
      const count = r.u32('previousKeys count');
      const previousKeys: string[] = [];
      for (let i = 0; i < count; i++) previousKeys.push(r.hex('previous key', 32));
      const record: ContactRecord = { identityKey, name, address, verified, addedAt, previousKeys };
      if (keyChangedAt !== undefined) record.keyChangedAt = keyChangedAt;
      return record;
    },
  },
  message: {
    write: (w, v) => {
      w.hex(checkMessageId(v.id)).hex(checkIdentityHex('contact identity', v.contact));
      DIRECTIONS.write(w, v.direction);
      w.u64('timestamp', v.timestamp).text('body', v.body);
      MESSAGE_STATES.write(w, v.state);
    },
    read: (r) => ({
      id: r.hex('id', 16),
      contact: r.hex('contact', 32),
      direction: DIRECTIONS.read(r),
      timestamp: r.u64('timestamp'),
      body: r.text('body'),
      state: MESSAGE_STATES.read(r),
    }),
  },
  'message-index': uint('timestamp'),
  outbox: {
    write: (w, v) => {
      w.hex(checkMessageId(v.id)).hex(checkIdentityHex('recipient', v.recipient)).bytes('ciphertext', v.ciphertext);
      OUTBOX_STATES.write(w, v.state);
      w.u32(checkU32('attempts', v.attempts)).u64('nextAttemptAt', v.nextAttemptAt).u64('createdAt', v.createdAt);
    },
    read: (r) => ({
      id: r.hex('id', 16),
      recipient: r.hex('recipient', 32),
      ciphertext: r.bytes('ciphertext'),
      state: OUTBOX_STATES.read(r),
      attempts: r.u32('attempts'),
      nextAttemptAt: r.u64('nextAttemptAt'),
      createdAt: r.u64('createdAt'),
    }),
  },
  seen: uint('seenAt'),
  'directory-record': {
    write: (w, v) =>
      w.hex(checkIdentityHex('identity', v.identity)).bytes('record', v.record).u64('fetchedAt', v.fetchedAt),
    read: (r) => ({ identity: r.hex('identity', 32), record: r.bytes('record'), fetchedAt: r.u64('fetchedAt') }),
  },
  'directory-sequence': uint('sequence'),
  'mailbox-entry': {
    write: (w, v) =>
      w
        .hex(checkIdentityHex('identity', v.identity))
        .hex(checkMessageId(v.id))
        .bytes('envelope', v.envelope)
        .u64('storedAt', v.storedAt),
    read: (r) => ({
      identity: r.hex('identity', 32),
      id: r.hex('id', 16),
      envelope: r.bytes('envelope'),
      storedAt: r.u64('storedAt'),
    }),
  },
  'mailbox-usage': {
    write: (w, v) => w.u32(checkU32('count', v.count)).u64('bytes', v.bytes),
    read: (r) => ({ count: r.u32('count'), bytes: r.u64('bytes') }),
  },
  'mailbox-prekey': {
    write: (w, v) => w.u32(checkU32('prekey id', v.id)).bytes('publicKey', v.publicKey),
    read: (r) => ({ id: r.u32('id'), publicKey: r.bytes('publicKey') }),
  },
  'contact-request': {
    write: (w, v) =>
      w
        .hex(checkIdentityHex('identity', v.identity))
        .text('address', v.address)
        .u64('firstAt', v.firstAt)
        .u64('lastAt', v.lastAt)
        .u32(checkU32('held', v.held))
        .u32(checkU32('nextSeq', v.nextSeq)),
    read: (r) => ({
      identity: r.hex('identity', 32),
      address: r.text('address'),
      firstAt: r.u64('firstAt'),
      lastAt: r.u64('lastAt'),
      held: r.u32('held'),
      nextSeq: r.u32('nextSeq'),
    }),
  },
  'held-message': {
    write: (w, v) =>
      w
        .hex(checkIdentityHex('identity', v.identity))
        .u32(checkU32('seq', v.seq))
        .hex(checkMessageId(v.id))
        .u64('timestamp', v.timestamp)
        .u64('receivedAt', v.receivedAt)
        .text('body', v.body)
        .u8(checkBool('viaMailbox', v.viaMailbox) ? 1 : 0),
    read: (r) => ({
      identity: r.hex('identity', 32),
      seq: r.u32('seq'),
      id: r.hex('id', 16),
      timestamp: r.u64('timestamp'),
      receivedAt: r.u64('receivedAt'),
      body: r.text('body'),
      viaMailbox: readBool(r, 'viaMailbox'),
    }),
  },
  blocked: {
    write: (w, v) =>
      w.hex(checkIdentityHex('identity', v.identity)).text('address', v.address).u64('blockedAt', v.blockedAt),
    read: (r) => ({ identity: r.hex('identity', 32), address: r.text('address'), blockedAt: r.u64('blockedAt') }),
  },
  'prekey-counter': {
    // u64, as the counter may be one past the largest u32 id
    write: (w, v) => {
      if (!Number.isInteger(v) || v < 0 || v > MAX_NEXT_PREKEY_ID) {
        throw new InvalidStoreArgumentError(`prekey id counter must be an integer 0..${MAX_NEXT_PREKEY_ID}`);
      }
      w.u64('prekey id counter', v);
    },
    read: (r) => {
      const v = r.u64('prekey id counter');
      if (v > MAX_NEXT_PREKEY_ID) throw new CodecError(`prekey id counter ${v} > ${MAX_NEXT_PREKEY_ID}`);
      return v;
    },
  },
  'prekey-rotation': {
    write: (w, v) => {
      const problem = rotationRecordProblem(v);
      if (problem !== undefined) throw new InvalidStoreArgumentError(`prekey rotation record: ${problem}`);
      w.u32(v.currentId).u32(v.highestId).u32(v.prekeys.length);
      for (const e of v.prekeys) {
        w.u32(e.id);
        writeOptionalTime(w, 'createdAt', e.createdAt);
        writeOptionalTime(w, 'retiredAt', e.retiredAt);
      }
    },
    read: (r) => {
      const currentId = r.u32('currentId');
      const highestId = r.u32('highestId');
      const count = r.u32('prekeys count');
      const prekeys: PrekeyRotationEntry[] = [];
      for (let i = 0; i < count; i++) {
        const entry: PrekeyRotationEntry = { id: r.u32('prekey id') };
        const createdAt = readOptionalTime(r, 'createdAt');
        const retiredAt = readOptionalTime(r, 'retiredAt');
        if (createdAt !== undefined) entry.createdAt = createdAt;
        if (retiredAt !== undefined) entry.retiredAt = retiredAt;
        prekeys.push(entry);
      }
      const record: PrekeyRotationRecord = { currentId, highestId, prekeys };
      const problem = rotationRecordProblem(record);
      if (problem !== undefined) throw new CodecError(`prekey rotation record: ${problem}`);
      return record;
    },
  },
};

/**
 * Layouts a kind had before its current one, still read: a kind whose layout changes gets a new
 * tag, and its old tag keeps decoding the old layout (values are rewritten in the new one on the
 * next write).
 */
const OLD_LAYOUTS: { readonly [K in ValueKind]?: { readonly tag: number; read(r: FieldReader): ValueTypes[K] } } = {
  // 0x06: a session before previous sessions were kept
  session: { tag: 0x06, read: (r) => ({ snapshot: r.bytes('snapshot'), baseKey: r.hex('base key', 32) }) },
};

/** The binary codec of this file (format version 1). */
export const binaryCodec: ValueCodec = {
  encode<K extends ValueKind>(kind: K, value: ValueTypes[K]): Uint8Array {
    if (value === null || value === undefined) throw new InvalidStoreArgumentError(`missing ${kind} value`);
    const w = new FieldWriter().u8(FORMAT_VERSION).u8(KIND_TAGS[kind]);
    (FIELDS[kind] as Fields<ValueTypes[K]>).write(w, value);
    return w.finish();
  },
  decode<K extends ValueKind>(kind: K, bytes: Uint8Array): ValueTypes[K] {
    const r = new FieldReader(bytes);
    const version = r.u8('format version');
    if (version !== FORMAT_VERSION) throw new CodecError(`unknown value format version ${version}`);
    const tag = r.u8('kind tag');
    const old = OLD_LAYOUTS[kind];
    let value: ValueTypes[K];
    if (tag === KIND_TAGS[kind]) value = (FIELDS[kind] as Fields<ValueTypes[K]>).read(r);
    else if (old !== undefined && tag === old.tag) value = old.read(r) as ValueTypes[K];
    else throw new CodecError(`expected a ${kind} value, found kind tag ${tag}`);
    r.end();
    return value;
  },
};

/** The codec and the hook together: what the store uses for every value it writes or reads. */
export class StoreCodec {
  constructor(
    readonly codec: ValueCodec = binaryCodec,
    readonly hook: EncryptionHook = plaintextHook,
  ) {}

  /** Encodes and seals. Errors (bad input, a failing hook) propagate unchanged. */
  async toDisk<K extends ValueKind>(at: ValueLocation, kind: K, value: ValueTypes[K]): Promise<Uint8Array> {
    return this.hook.seal(this.codec.encode(kind, value), at);
  }

  /** Opens and decodes; any failure becomes StoreCorruptError naming the concern and key. */
  async fromDisk<K extends ValueKind>(at: ValueLocation, kind: K, bytes: Uint8Array): Promise<ValueTypes[K]> {
    let plain: Uint8Array;
    try {
      plain = await this.hook.open(bytes, at);
    } catch (err) {
      throw new StoreCorruptError(at.concern, at.key, 'the encryption hook could not open the value', { cause: err });
    }
    try {
      return this.codec.decode(kind, plain);
    } catch (err) {
      const reason = err instanceof CodecError ? err.message : 'undecodable value';
      throw new StoreCorruptError(at.concern, at.key, reason, { cause: err });
    }
  }
}
