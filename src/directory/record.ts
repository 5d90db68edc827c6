/**
 * Identity records: what a node publishes in the DHT under `/sotto/id/<hex identity key>` so that
 * others can start a session with its identity without ever having met it. protocols/directory/SPEC.md
 * is the normative description.
 *
 * A record carries the identity (Ed25519 key, X25519 DH key and their binding), the signed prekey,
 * the signed ML-KEM-768 prekey, device bindings (the peer ids of the nodes that host the identity),
 * mailbox peer ids, a sequence number and an expiry, and is signed as a whole by the identity key.
 * One-time prekeys are not in the record: the home node serves them over a claim protocol.
 */
import { equalBytes, Reader, toHex, utf8, Writer } from '../crypto/bytes.js';
import type { CryptoEnv } from '../crypto/env.js';
import { SottoCryptoError } from '../crypto/errors.js';
import {
  type IdentityKeyPair,
  identityDhSignedMessage,
  type KemPrekeyPublic,
  type PrekeyBundle,
  type PublicIdentity,
  type SignedPrekeyPublic,
  verifyBundle,
} from '../crypto/keys.js';
import {
  type CryptoProvider,
  ED25519_PUBLIC_BYTES,
  ED25519_SIGNATURE_BYTES,
  MLKEM768_PUBLIC_BYTES,
  X25519_KEY_BYTES,
} from '../crypto/provider.js';
import { type DeviceBinding, MAX_PEER_ID_BYTES, verifyDeviceBinding } from '../identity/device-binding.js';
import { DirectoryError } from './errors.js';

/** Record format version. */
export const RECORD_VERSION = 1;
/** DHT key prefix; the key is this followed by the hex of the identity key. */
export const RECORD_KEY_PREFIX = '/sotto/id/';
/** Domain label of the record signature. */
export const RECORD_SIGNATURE_LABEL = utf8('sotto/sig/identity-record/v1');
/** Largest record accepted: a version-1 record with the maximum devices and mailboxes is < 2.5 KiB. */
export const MAX_RECORD_BYTES = 4096;
/** Most device bindings in one record (nodes hosting the identity). */
export const MAX_DEVICES = 8;
/** Most mailbox peer ids in one record. */
export const MAX_MAILBOXES = 8;
/** Longest a record may claim to live: records are republished well before this. */
export const MAX_RECORD_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/** Clock skew tolerated when checking expiry and creation times. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface IdentityRecord {
  readonly version: number;
  readonly identity: PublicIdentity;
  readonly signedPrekey: SignedPrekeyPublic;
  readonly kemPrekey: KemPrekeyPublic;
  readonly devices: readonly DeviceBinding[];
  readonly mailboxes: readonly Uint8Array[];
  /** Strictly increasing per identity; the selector keeps the highest. */
  readonly sequence: number;
  /** Milliseconds since the epoch after which the record is invalid. */
  readonly expiresAt: number;
  readonly signature: Uint8Array;
}

export type UnsignedIdentityRecord = Omit<IdentityRecord, 'signature' | 'version' | 'identity'>;

export function recordKey(identityKey: Uint8Array): Uint8Array {
  return utf8(`${RECORD_KEY_PREFIX}${toHex(identityKey)}`);
}

function encodeBody(identity: PublicIdentity, r: UnsignedIdentityRecord): Uint8Array {
  if (r.devices.length > MAX_DEVICES) throw new DirectoryError('MALFORMED_RECORD', `at most ${MAX_DEVICES} devices`);
  if (r.mailboxes.length > MAX_MAILBOXES)
    throw new DirectoryError('MALFORMED_RECORD', `at most ${MAX_MAILBOXES} mailboxes`);
  const w = new Writer(2048)
    .u8(RECORD_VERSION)
    .bytes(identity.signingKey)
    .bytes(identity.dhKey)
    .bytes(identity.dhSignature)
    .u32(r.signedPrekey.id)
    .bytes(r.signedPrekey.publicKey)
    .bytes(r.signedPrekey.signature)
    .u32(r.kemPrekey.id)
    .bytes(r.kemPrekey.publicKey)
    .bytes(r.kemPrekey.signature)
    .u8(r.devices.length);
  for (const d of r.devices) w.u8(d.peerId.length).bytes(d.peerId).u64(d.createdAt).bytes(d.signature);
  w.u8(r.mailboxes.length);
  for (const m of r.mailboxes) w.u8(m.length).bytes(m);
  return w.u64(r.sequence).u64(r.expiresAt).finish();
}

function signedMessage(body: Uint8Array): Uint8Array {
  return new Writer(body.length + 64).bytes(RECORD_SIGNATURE_LABEL).bytes(body).finish();
}

/** Builds and signs a record for `identity`. */
export function createIdentityRecord(
  env: CryptoEnv,
  identity: IdentityKeyPair,
  fields: UnsignedIdentityRecord,
): IdentityRecord {
  const body = encodeBody(identity.public, fields);
  const signature = env.provider.ed25519Sign(identity.signingSeed, signedMessage(body));
  return { ...fields, version: RECORD_VERSION, identity: identity.public, signature };
}

export function encodeIdentityRecord(record: IdentityRecord): Uint8Array {
  const body = encodeBody(record.identity, record);
  return new Writer(body.length + ED25519_SIGNATURE_BYTES).bytes(body).bytes(record.signature).finish();
}

const malformed = (why: string) => new DirectoryError('MALFORMED_RECORD', `malformed identity record: ${why}`);

/** Parses a record strictly (sizes, counts, no trailing bytes). Does not check signatures. */
export function decodeIdentityRecord(bytes: Uint8Array): IdentityRecord {
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes');
  if (bytes.length > MAX_RECORD_BYTES) {
    throw new DirectoryError('RECORD_TOO_LARGE', `identity record larger than ${MAX_RECORD_BYTES} bytes`);
  }
  const r = new Reader(bytes, malformed);
  const version = r.u8('version');
  if (version !== RECORD_VERSION) {
    throw new DirectoryError('UNSUPPORTED_RECORD_VERSION', `unsupported identity record version ${version}`);
  }
  const identity: PublicIdentity = {
    signingKey: r.bytes(ED25519_PUBLIC_BYTES, 'identity key'),
    dhKey: r.bytes(X25519_KEY_BYTES, 'identity DH key'),
    dhSignature: r.bytes(ED25519_SIGNATURE_BYTES, 'identity DH signature'),
  };
  const signedPrekey: SignedPrekeyPublic = {
    id: r.u32('signed prekey id'),
    publicKey: r.bytes(X25519_KEY_BYTES, 'signed prekey'),
    signature: r.bytes(ED25519_SIGNATURE_BYTES, 'signed prekey signature'),
  };
  const kemPrekey: KemPrekeyPublic = {
    id: r.u32('KEM prekey id'),
    publicKey: r.bytes(MLKEM768_PUBLIC_BYTES, 'KEM prekey'),
    signature: r.bytes(ED25519_SIGNATURE_BYTES, 'KEM prekey signature'),
  };
  const deviceCount = r.u8('device count');
  if (deviceCount > MAX_DEVICES) throw malformed(`more than ${MAX_DEVICES} devices`);
  const devices: DeviceBinding[] = [];
  for (let i = 0; i < deviceCount; i++) {
    const len = r.u8('device peer id length');
    if (len === 0 || len > MAX_PEER_ID_BYTES) throw malformed('device peer id length');
    devices.push({
      peerId: r.bytes(len, 'device peer id'),
      createdAt: r.u64('device binding time'),
      signature: r.bytes(ED25519_SIGNATURE_BYTES, 'device binding signature'),
    });
  }
  const mailboxCount = r.u8('mailbox count');
  if (mailboxCount > MAX_MAILBOXES) throw malformed(`more than ${MAX_MAILBOXES} mailboxes`);
  const mailboxes: Uint8Array[] = [];
  for (let i = 0; i < mailboxCount; i++) {
    const len = r.u8('mailbox peer id length');
    if (len === 0 || len > MAX_PEER_ID_BYTES) throw malformed('mailbox peer id length');
    mailboxes.push(r.bytes(len, 'mailbox peer id'));
  }
  const sequence = r.u64('sequence');
  const expiresAt = r.u64('expiry');
  const signature = r.bytes(ED25519_SIGNATURE_BYTES, 'record signature');
  r.end('identity record');
  return { version, identity, signedPrekey, kemPrekey, devices, mailboxes, sequence, expiresAt, signature };
}

/**
 * Full validation: the record signature, the identity-DH binding, both prekey signatures, every
 * device binding, key sizes and validity, expiry (with `CLOCK_SKEW_MS`), and, when `key` is given,
 * that the DHT key names this record's identity. Throws DirectoryError.
 */
export function verifyIdentityRecord(
  provider: CryptoProvider,
  record: IdentityRecord,
  options: { now: number; key?: Uint8Array },
): void {
  const { identity } = record;
  if (options.key !== undefined && !equalBytes(options.key, recordKey(identity.signingKey))) {
    throw new DirectoryError('RECORD_KEY_MISMATCH', 'the DHT key names another identity than the record');
  }
  const body = encodeBody(identity, record);
  if (!provider.ed25519Verify(identity.signingKey, signedMessage(body), record.signature)) {
    throw new DirectoryError('BAD_RECORD_SIGNATURE', 'identity record signature does not verify');
  }
  if (!provider.ed25519Verify(identity.signingKey, identityDhSignedMessage(identity.dhKey), identity.dhSignature)) {
    throw new DirectoryError('BAD_RECORD_SIGNATURE', 'identity DH key binding does not verify');
  }
  try {
    verifyBundle(provider, bundleFromRecord(record));
  } catch (err) {
    if (err instanceof SottoCryptoError && err.code === 'BAD_SIGNATURE') {
      throw new DirectoryError('BAD_RECORD_SIGNATURE', `identity record: ${err.message}`);
    }
    throw malformed(err instanceof Error ? err.message : 'invalid key');
  }
  for (const d of record.devices) {
    try {
      verifyDeviceBinding(provider, identity.signingKey, d);
    } catch {
      throw new DirectoryError('BAD_RECORD_SIGNATURE', 'a device binding does not verify');
    }
  }
  if (record.expiresAt <= options.now - CLOCK_SKEW_MS) {
    throw new DirectoryError('RECORD_EXPIRED', 'identity record has expired');
  }
  if (record.expiresAt > options.now + MAX_RECORD_LIFETIME_MS + CLOCK_SKEW_MS) {
    throw malformed('expiry too far in the future');
  }
}

/** Decodes and fully validates DHT record bytes stored under `key`. */
export function validateRecordBytes(
  provider: CryptoProvider,
  key: Uint8Array,
  bytes: Uint8Array,
  now: number,
): IdentityRecord {
  const record = decodeIdentityRecord(bytes);
  verifyIdentityRecord(provider, record, { now, key });
  return record;
}

/**
 * The DHT selector: index of the best record — valid ones first, then the highest sequence, then
 * the later expiry, then the lexicographically greater bytes (deterministic on every node).
 */
export function selectIdentityRecord(
  provider: CryptoProvider,
  key: Uint8Array,
  records: Uint8Array[],
  now: number,
): number {
  let best = -1;
  let bestRecord: IdentityRecord | undefined;
  for (const [i, bytes] of records.entries()) {
    let record: IdentityRecord;
    try {
      record = validateRecordBytes(provider, key, bytes, now);
    } catch {
      continue;
    }
    if (bestRecord === undefined || compare(record, bytes, bestRecord, records[best] as Uint8Array) > 0) {
      best = i;
      bestRecord = record;
    }
  }
  return best === -1 ? 0 : best;
}

function compare(a: IdentityRecord, aBytes: Uint8Array, b: IdentityRecord, bBytes: Uint8Array): number {
  if (a.sequence !== b.sequence) return a.sequence - b.sequence;
  if (a.expiresAt !== b.expiresAt) return a.expiresAt - b.expiresAt;
  return toHex(aBytes) > toHex(bBytes) ? 1 : toHex(aBytes) < toHex(bBytes) ? -1 : 0;
}

/** The PQXDH bundle a record offers (plus a one-time prekey claimed separately, if any). */
export function bundleFromRecord(record: IdentityRecord, oneTimePrekey?: PrekeyBundle['oneTimePrekey']): PrekeyBundle {
  return {
    identity: { signingKey: record.identity.signingKey, dhKey: record.identity.dhKey },
    signedPrekey: record.signedPrekey,
    kemPrekey: record.kemPrekey,
    oneTimePrekey,
  };
}

/**
 * Rollback protection: a node remembers the highest sequence it has seen per identity and refuses
 * anything older. Returns the record if acceptable.
 */
export function checkNotRolledBack(record: IdentityRecord, highestSeen: number | undefined): IdentityRecord {
  if (highestSeen !== undefined && record.sequence < highestSeen) {
    throw new DirectoryError(
      'RECORD_ROLLBACK',
      `identity record sequence ${record.sequence} is older than ${highestSeen} already seen`,
    );
  }
  return record;
}
