/**
 * Versioned binary snapshot of a session (protocols/session/SPEC.md §Snapshot). A snapshot is the
 * full state; `restore(snapshot(s))` re-encodes to the same bytes. Version 1 stays readable
 * forever (test/crypto/fixtures/session-v1.*).
 */
import { equalBytes, Reader, Writer } from './bytes.js';
import { MAX_PREVIOUS_RECEIVING_KEYS, MAX_SKIPPED_KEYS } from './constants.js';
import type { CryptoEnv } from './env.js';
import { SnapshotInvalidError, UnsupportedVersionError } from './errors.js';
import { AEAD_TAG_BYTES, ED25519_PUBLIC_BYTES, X25519_KEY_BYTES } from './provider.js';
import { parseMessage, RATCHET_HEADER_BYTES, RATCHET_TAG } from './ratchet/messages.js';
import { type SkippedKey, SkippedKeys } from './ratchet/skipped-keys.js';
import type { SessionState } from './session.js';

/** "SOTS": sotto session. */
export const SNAPSHOT_MAGIC = new Uint8Array([0x53, 0x4f, 0x54, 0x53]);
export const SNAPSHOT_VERSION = 1;

const ROLE_INITIATOR = 1;
const ROLE_RESPONDER = 2;
const HAS_DHR = 1 << 0;
const HAS_CKS = 1 << 1;
const HAS_CKR = 1 << 2;
const HAS_PENDING = 1 << 3;
const HAS_HANDSHAKE_DIGEST = 1 << 4;
const KNOWN_FLAGS = HAS_DHR | HAS_CKS | HAS_CKR | HAS_PENDING | HAS_HANDSHAKE_DIGEST;
const HANDSHAKE_DIGEST_BYTES = 32;

export function encodeSnapshot(state: SessionState): Uint8Array {
  const w = new Writer(512 + state.skipped.size * 80)
    .bytes(SNAPSHOT_MAGIC)
    .u8(SNAPSHOT_VERSION)
    .u8(state.role === 'initiator' ? ROLE_INITIATOR : ROLE_RESPONDER)
    .vec16(state.ad)
    .bytes(state.localIdentity)
    .bytes(state.remoteIdentity)
    .bytes(state.baseKey)
    .bytes(state.rootKey)
    .bytes(state.dhs.privateKey)
    .bytes(state.dhs.publicKey);
  const flags =
    (state.dhr ? HAS_DHR : 0) |
    (state.cks ? HAS_CKS : 0) |
    (state.ckr ? HAS_CKR : 0) |
    (state.pendingPrekey ? HAS_PENDING : 0) |
    (state.handshakeDigest ? HAS_HANDSHAKE_DIGEST : 0);
  w.u8(flags);
  if (state.dhr) w.bytes(state.dhr);
  if (state.cks) w.bytes(state.cks);
  if (state.ckr) w.bytes(state.ckr);
  w.u32(state.ns).u32(state.nr).u32(state.pn);
  if (state.pendingPrekey) w.vec16(state.pendingPrekey);
  if (state.handshakeDigest) w.bytes(state.handshakeDigest);
  w.u8(state.previousDhr.length);
  for (const k of state.previousDhr) w.bytes(k);
  const skipped = state.skipped.list();
  w.u32(skipped.length);
  for (const e of skipped) w.bytes(e.dh).u32(e.n).bytes(e.seed).u64(e.storedAt);
  return w.finish();
}

const invalid = (why: string) => new SnapshotInvalidError(`invalid session snapshot: ${why}`);

export function decodeSnapshot(env: CryptoEnv, bytes: Uint8Array): SessionState {
  if (!(bytes instanceof Uint8Array)) throw invalid('not bytes');
  const r = new Reader(bytes, invalid);
  const magic = r.bytes(4, 'magic');
  if (!equalBytes(magic, SNAPSHOT_MAGIC)) throw invalid('bad magic');
  const version = r.u8('version');
  if (version !== SNAPSHOT_VERSION) throw new UnsupportedVersionError('session snapshot', version);
  const roleByte = r.u8('role');
  if (roleByte !== ROLE_INITIATOR && roleByte !== ROLE_RESPONDER) throw invalid('unknown role');
  const ad = r.vec16('associated data');
  const localIdentity = r.bytes(ED25519_PUBLIC_BYTES, 'local identity');
  const remoteIdentity = r.bytes(ED25519_PUBLIC_BYTES, 'remote identity');
  const baseKey = r.bytes(X25519_KEY_BYTES, 'base key');
  const rootKey = r.bytes(32, 'root key');
  const dhsPrivate = r.bytes(X25519_KEY_BYTES, 'ratchet private key');
  const dhsPublic = r.bytes(X25519_KEY_BYTES, 'ratchet public key');
  const flags = r.u8('flags');
  if ((flags & ~KNOWN_FLAGS) !== 0) throw invalid('unknown flags');
  const dhr = flags & HAS_DHR ? r.bytes(X25519_KEY_BYTES, 'remote ratchet key') : null;
  const cks = flags & HAS_CKS ? r.bytes(32, 'sending chain key') : null;
  const ckr = flags & HAS_CKR ? r.bytes(32, 'receiving chain key') : null;
  const ns = r.u32('ns');
  const nr = r.u32('nr');
  const pn = r.u32('pn');
  const pendingPrekey = flags & HAS_PENDING ? r.vec16('pending handshake header') : null;
  const handshakeDigest = flags & HAS_HANDSHAKE_DIGEST ? r.bytes(HANDSHAKE_DIGEST_BYTES, 'handshake digest') : null;
  const prevCount = r.u8('previous receiving keys');
  if (prevCount > MAX_PREVIOUS_RECEIVING_KEYS) throw invalid('too many previous receiving keys');
  const previousDhr: Uint8Array[] = [];
  for (let i = 0; i < prevCount; i++) previousDhr.push(r.bytes(X25519_KEY_BYTES, 'previous receiving key'));
  const skippedCount = r.u32('skipped keys');
  if (skippedCount > MAX_SKIPPED_KEYS) throw invalid('more skipped keys than the limit');
  const skipped: SkippedKey[] = [];
  for (let i = 0; i < skippedCount; i++) {
    const dh = r.bytes(X25519_KEY_BYTES, 'skipped key ratchet key');
    const n = r.u32('skipped key number');
    const seed = r.bytes(32, 'skipped key');
    const storedAt = r.u64('skipped key time');
    skipped.push({ dh, n, seed, storedAt });
  }
  r.end('snapshot');

  const skippedKeys = new SkippedKeys(skipped);
  if (skippedKeys.size !== skipped.length) throw invalid('a skipped key is listed twice');
  const role = roleByte === ROLE_INITIATOR ? 'initiator' : 'responder';
  if (role === 'responder' && pendingPrekey !== null) throw invalid('responder with a pending handshake');
  if ((role === 'responder') !== (handshakeDigest !== null))
    throw invalid('handshake digest belongs to responders only');
  if (pendingPrekey !== null) {
    // The stored header must be a well-formed handshake header for this session's base key.
    let header: ReturnType<typeof parseMessage> | undefined;
    try {
      header = parseMessage(concatProbe(pendingPrekey));
    } catch {
      throw invalid('pending handshake header does not parse');
    }
    if (header.type !== 'prekey' || !equalBytes(header.prekey.baseKey, baseKey)) {
      throw invalid('pending handshake header does not match the base key');
    }
  }
  if (!equalBytes(env.provider.x25519PublicKey(dhsPrivate), dhsPublic)) {
    throw invalid('ratchet key pair does not match');
  }
  return {
    role,
    ad,
    localIdentity,
    remoteIdentity,
    baseKey,
    rootKey,
    dhs: { privateKey: dhsPrivate, publicKey: dhsPublic },
    dhr,
    cks,
    ckr,
    ns,
    nr,
    pn,
    pendingPrekey,
    handshakeDigest,
    previousDhr,
    skipped: skippedKeys,
  };
}

/** A prekey header followed by a minimal well-formed ratchet message, to reuse the strict parser. */
function concatProbe(prekeyHeader: Uint8Array): Uint8Array {
  const probe = new Uint8Array(prekeyHeader.length + RATCHET_HEADER_BYTES + AEAD_TAG_BYTES);
  probe.set(prekeyHeader, 0);
  probe[prekeyHeader.length] = RATCHET_TAG;
  return probe;
}
