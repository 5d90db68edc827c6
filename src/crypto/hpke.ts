/**
 * HPKE (RFC 9180), base mode, single-shot, for exactly one cipher suite:
 * DHKEM(X25519, HKDF-SHA256) (0x0020), HKDF-SHA256 (0x0001), ChaCha20-Poly1305 (0x0003).
 *
 * Built only from provider calls (X25519, HKDF-Extract/Expand, the AEAD), step by step as the RFC
 * writes them (§4 labeled KDF, §4.1 DHKEM, §5.1 key schedule, §6.1 single-shot). Checked against
 * RFC 9180 Appendix A.2.1 with both providers and against an independent implementation
 * (@hpke/core) in test/crypto/hpke.test.ts. sotto uses it to seal the sender of a mailbox deposit
 * (protocols/message/SPEC.md §9); the single-shot form uses sequence number 0, so a context is
 * never reused for a second message.
 */
import { checkBytes, concat } from './bytes.js';
import { InvalidArgumentError } from './errors.js';
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, type CryptoProvider, X25519_KEY_BYTES } from './provider.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const i2osp2 = (n: number): Uint8Array => Uint8Array.of((n >> 8) & 0xff, n & 0xff);

/** RFC 9180 §7.1 / §7.2 / §7.3 identifiers of the one suite implemented here. */
export const HPKE_KEM_ID = 0x0020;
export const HPKE_KDF_ID = 0x0001;
export const HPKE_AEAD_ID = 0x0003;
/** RFC 9180 §7.1 Table 2: Nsecret, Nenc, Npk, Nsk of DHKEM(X25519, HKDF-SHA256). */
export const HPKE_NSECRET = 32;
export const HPKE_NENC = X25519_KEY_BYTES;
/** RFC 9180 §7.3 Table 5: Nk, Nn, Nt of ChaCha20Poly1305. */
export const HPKE_NK = 32;
export const HPKE_NN = AEAD_NONCE_BYTES;
export const HPKE_NT = AEAD_TAG_BYTES;

/** RFC 9180 §5: mode_base. */
const MODE_BASE = 0x00;
const HPKE_V1 = utf8('HPKE-v1');
/** §4.1: suite_id = concat("KEM", I2OSP(kem_id, 2)). */
const KEM_SUITE_ID = concat(utf8('KEM'), i2osp2(HPKE_KEM_ID));
/** §5.1: suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2), I2OSP(aead_id, 2)). */
const HPKE_SUITE_ID = concat(utf8('HPKE'), i2osp2(HPKE_KEM_ID), i2osp2(HPKE_KDF_ID), i2osp2(HPKE_AEAD_ID));
const EMPTY = new Uint8Array(0);

/** §4: LabeledExtract(salt, label, ikm) = Extract(salt, concat("HPKE-v1", suite_id, label, ikm)). */
function labeledExtract(p: CryptoProvider, suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array) {
  return p.hkdfSha256Extract(salt, concat(HPKE_V1, suite, utf8(label), ikm));
}

/** §4: LabeledExpand(prk, label, info, L) = Expand(prk, concat(I2OSP(L, 2), "HPKE-v1", suite_id, label, info), L). */
function labeledExpand(
  p: CryptoProvider,
  suite: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
) {
  return p.hkdfSha256Expand(prk, concat(i2osp2(length), HPKE_V1, suite, utf8(label), info), length);
}

/** §4.1: ExtractAndExpand(dh, kem_context). */
function extractAndExpand(p: CryptoProvider, dh: Uint8Array, kemContext: Uint8Array): Uint8Array {
  const eaePrk = labeledExtract(p, KEM_SUITE_ID, EMPTY, 'eae_prk', dh);
  return labeledExpand(p, KEM_SUITE_ID, eaePrk, 'shared_secret', kemContext, HPKE_NSECRET);
}

/**
 * Most key_schedule_context values kept (one per provider and info; sotto uses one info): the cache
 * is cleared when full, so it cannot grow with the inputs it sees.
 */
export const MAX_CACHED_CONTEXTS = 16;
const contexts = new Map<string, Uint8Array>();

/**
 * §5.1 key_schedule_context = mode ‖ psk_id_hash ‖ info_hash for mode_base: a function of `info`
 * alone (psk_id is empty), so it is computed once per info and provider and kept.
 */
function keyScheduleContext(p: CryptoProvider, info: Uint8Array): Uint8Array {
  const key = `${p.name}:${Buffer.from(info.buffer, info.byteOffset, info.byteLength).toString('hex')}`;
  const cached = contexts.get(key);
  if (cached !== undefined) return cached;
  const pskIdHash = labeledExtract(p, HPKE_SUITE_ID, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = labeledExtract(p, HPKE_SUITE_ID, EMPTY, 'info_hash', info);
  const context = concat(Uint8Array.of(MODE_BASE), pskIdHash, infoHash);
  if (contexts.size >= MAX_CACHED_CONTEXTS) contexts.clear();
  contexts.set(key, context);
  return context;
}

/** §5.1 KeySchedule for mode_base (psk and psk_id empty): the AEAD key and base nonce. */
function keySchedule(p: CryptoProvider, sharedSecret: Uint8Array, info: Uint8Array) {
  const context = keyScheduleContext(p, info);
  const secret = labeledExtract(p, HPKE_SUITE_ID, sharedSecret, 'secret', EMPTY);
  return {
    key: labeledExpand(p, HPKE_SUITE_ID, secret, 'key', context, HPKE_NK),
    // sequence number 0: the nonce is base_nonce itself (§5.2 ComputeNonce)
    nonce: labeledExpand(p, HPKE_SUITE_ID, secret, 'base_nonce', context, HPKE_NN),
  };
}

/**
 * §7.1.3 DeriveKeyPair for X25519: a key pair from input keying material. Used for the RFC's test
 * vectors (a fixed ephemeral key); senders draw the ephemeral private key at random instead (§4.1
 * GenerateKeyPair), which for X25519 is any 32 random bytes.
 */
export function hpkeDeriveKeyPair(
  p: CryptoProvider,
  ikm: Uint8Array,
): { privateKey: Uint8Array; publicKey: Uint8Array } {
  checkBytes('HPKE ikm', ikm);
  if (ikm.length < HPKE_NSECRET) throw new InvalidArgumentError(`HPKE ikm must be at least ${HPKE_NSECRET} bytes`);
  const dkpPrk = labeledExtract(p, KEM_SUITE_ID, EMPTY, 'dkp_prk', ikm);
  const privateKey = labeledExpand(p, KEM_SUITE_ID, dkpPrk, 'sk', EMPTY, X25519_KEY_BYTES);
  return { privateKey, publicKey: p.x25519PublicKey(privateKey) };
}

/**
 * §6.1 single-shot Seal in mode_base: returns `enc ‖ ciphertext` (32 + |plaintext| + 16 bytes).
 * `ephemeralPrivateKey` is 32 random bytes, fresh for every call (never reused). The provider's
 * X25519 throws `LowOrderKeyError` when the DH output is all zero (§7.1.4 ValidationError).
 */
export function hpkeSeal(
  p: CryptoProvider,
  recipientPublicKey: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  ephemeralPrivateKey: Uint8Array,
): Uint8Array {
  checkBytes('HPKE recipient public key', recipientPublicKey, X25519_KEY_BYTES);
  checkBytes('HPKE ephemeral private key', ephemeralPrivateKey, X25519_KEY_BYTES);
  // §4.1 Encap: dh = DH(skE, pkR); enc = SerializePublicKey(pkE); kem_context = enc ‖ pkRm
  const dh = p.x25519(ephemeralPrivateKey, recipientPublicKey);
  const enc = p.x25519PublicKey(ephemeralPrivateKey);
  const sharedSecret = extractAndExpand(p, dh, concat(enc, recipientPublicKey));
  const { key, nonce } = keySchedule(p, sharedSecret, info);
  return concat(enc, p.aeadSeal('chacha20-poly1305', key, nonce, plaintext, aad));
}

/**
 * §6.1 single-shot Open in mode_base of `enc ‖ ciphertext` with the recipient's X25519 private
 * key. Returns the plaintext, or `null` when it does not authenticate (wrong key, altered bytes,
 * other info/aad) or `enc` is a low-order point.
 */
export function hpkeOpen(
  p: CryptoProvider,
  recipientPrivateKey: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
  /** pk(skR), when the caller keeps it (saves a base-point multiplication); computed otherwise. */
  recipientPublicKey: Uint8Array = p.x25519PublicKey(recipientPrivateKey),
): Uint8Array | null {
  checkBytes('HPKE recipient private key', recipientPrivateKey, X25519_KEY_BYTES);
  checkBytes('HPKE sealed', sealed);
  if (sealed.length < HPKE_NENC + HPKE_NT) return null;
  const enc = sealed.subarray(0, HPKE_NENC);
  let dh: Uint8Array;
  try {
    // §4.1 Decap: dh = DH(skR, pkE); kem_context = enc ‖ SerializePublicKey(pk(skR))
    dh = p.x25519(recipientPrivateKey, enc);
  } catch {
    return null;
  }
  checkBytes('HPKE recipient public key', recipientPublicKey, X25519_KEY_BYTES);
  const kemContext = concat(enc, recipientPublicKey);
  const { key, nonce } = keySchedule(p, extractAndExpand(p, dh, kemContext), info);
  return p.aeadOpen('chacha20-poly1305', key, nonce, sealed.subarray(HPKE_NENC), aad);
}
