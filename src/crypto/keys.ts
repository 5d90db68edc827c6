/**
 * Key types, their encodings and their signatures (protocols/session/SPEC.md §Keys).
 *
 * Decision: the identity is an Ed25519 key (the user's address) plus a separate X25519 identity
 * DH key signed by it, rather than one Ed25519 key converted for DH. PQXDH §2.1 allows either; a
 * separate key keeps signature and DH keys apart and needs no birational conversion, which
 * node:crypto does not offer.
 *
 * EncodeEC / EncodeKEM (PQXDH §2.1) put a type byte before the raw key, so the encodings of
 * X25519, Ed25519 and ML-KEM-768 keys are disjoint in both first byte and length.
 */
import { checkBytes, concat, equalBytes, toHex, Writer } from './bytes.js';
import { SIG_LABEL_IDENTITY_DH, SIG_LABEL_KEM_PREKEY, SIG_LABEL_SIGNED_PREKEY } from './constants.js';
import type { CryptoEnv } from './env.js';
import { BadSignatureError, InvalidArgumentError, InvalidKeyError } from './errors.js';
import {
  type CryptoProvider,
  ED25519_PUBLIC_BYTES,
  ED25519_SEED_BYTES,
  ED25519_SIGNATURE_BYTES,
  MLKEM768_PUBLIC_BYTES,
  MLKEM768_SEED_BYTES,
  X25519_KEY_BYTES,
} from './provider.js';

/** Type bytes of the key encodings. */
export const KEY_TYPE_X25519 = 0x01;
export const KEY_TYPE_ED25519 = 0x02;
export const KEY_TYPE_MLKEM768 = 0x03;

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Largest prekey id (ids are u32 on the wire). */
export const MAX_PREKEY_ID = 0xffffffff;

export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

export interface MlKemKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** The two public keys of an identity. */
export interface IdentityKeys {
  /** Ed25519 identity key: the user's address. */
  readonly signingKey: Uint8Array;
  /** X25519 identity DH key (PQXDH's IK for the DHs). */
  readonly dhKey: Uint8Array;
}

/** The public half of an identity as it travels on its own (in a handshake message): keys and binding. */
export interface PublicIdentity extends IdentityKeys {
  /** Ed25519(signingKey, SIG_LABEL_IDENTITY_DH || EncodeEC(dhKey)). */
  readonly dhSignature: Uint8Array;
}

/** An identity with its secrets. Never logged: `inspect` and `toJSON` print the public key only. */
export class IdentityKeyPair implements PublicIdentity {
  readonly signingKey: Uint8Array;
  readonly dhKey: Uint8Array;
  readonly dhSignature: Uint8Array;
  /** @internal */ readonly signingSeed: Uint8Array;
  /** @internal */ readonly dhPrivateKey: Uint8Array;

  constructor(fields: {
    signingKey: Uint8Array;
    signingSeed: Uint8Array;
    dhKey: Uint8Array;
    dhPrivateKey: Uint8Array;
    dhSignature: Uint8Array;
  }) {
    checkBytes('identity signing key', fields.signingKey, ED25519_PUBLIC_BYTES);
    checkBytes('identity signing seed', fields.signingSeed, ED25519_SEED_BYTES);
    checkBytes('identity DH key', fields.dhKey, X25519_KEY_BYTES);
    checkBytes('identity DH private key', fields.dhPrivateKey, X25519_KEY_BYTES);
    checkBytes('identity DH signature', fields.dhSignature, ED25519_SIGNATURE_BYTES);
    this.signingKey = fields.signingKey;
    this.signingSeed = fields.signingSeed;
    this.dhKey = fields.dhKey;
    this.dhPrivateKey = fields.dhPrivateKey;
    this.dhSignature = fields.dhSignature;
  }

  get public(): PublicIdentity {
    return { signingKey: this.signingKey, dhKey: this.dhKey, dhSignature: this.dhSignature };
  }

  toJSON(): { signingKey: string } {
    return { signingKey: toHex(this.signingKey) };
  }

  [INSPECT](): string {
    return `IdentityKeyPair { signingKey: ${toHex(this.signingKey)}, secrets: <redacted> }`;
  }
}

export interface SignedPrekeyPublic {
  readonly id: number;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

export interface KemPrekeyPublic {
  readonly id: number;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

export interface OneTimePrekeyPublic {
  readonly id: number;
  readonly publicKey: Uint8Array;
}

/**
 * What a responder publishes (PQXDH §3.2 "prekey bundle"). The identity DH key needs no signature
 * of its own here: the signed-prekey signature covers it (SPEC §2), so the initiator checks two
 * signatures, as in PQXDH.
 */
export interface PrekeyBundle {
  readonly identity: IdentityKeys;
  readonly signedPrekey: SignedPrekeyPublic;
  readonly kemPrekey: KemPrekeyPublic;
  readonly oneTimePrekey?: OneTimePrekeyPublic | undefined;
}

// ── Encodings ────────────────────────────────────────────────────────────────────────────────

/** X25519 field prime p = 2^255 − 19, little-endian, for the canonical-encoding check. */
const P_LE = (() => {
  const p = new Uint8Array(32).fill(0xff);
  p[0] = 0xed;
  p[31] = 0x7f;
  return p;
})();

/**
 * The canonical encodings (< p, top bit clear) of X25519 points of small order, as listed by
 * libsodium and cr.yp.to/ecdh.html#validate: 0, 1, two points of order 8, and p − 1.
 */
const LOW_ORDER_POINTS: readonly string[] = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];
const LOW_ORDER_SET = new Set(LOW_ORDER_POINTS);

/** True when the little-endian u is < p with the top bit clear (RFC 7748 canonical form). */
export function isCanonicalX25519(u: Uint8Array): boolean {
  if (u.length !== 32) return false;
  for (let i = 31; i >= 0; i--) {
    const a = u[i] as number;
    const b = P_LE[i] as number;
    if (a < b) return true;
    if (a > b) return false;
  }
  return false; // equal to p
}

/**
 * Validates a peer's X25519 public key: 32 bytes, canonical, not a small-order point. Runs on
 * every key that arrives from outside (bundles, handshake messages, ratchet headers).
 */
export function checkX25519Public(key: Uint8Array, what: string): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_BYTES) {
    throw new InvalidKeyError(`${what} must be a ${X25519_KEY_BYTES}-byte X25519 key`);
  }
  if (!isCanonicalX25519(key)) throw new InvalidKeyError(`${what} is not a canonical X25519 encoding`);
  if (LOW_ORDER_SET.has(toHex(key))) {
    throw new InvalidKeyError(`${what} is a small-order X25519 point`);
  }
  return key;
}

export function checkEd25519Public(key: Uint8Array, what: string): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== ED25519_PUBLIC_BYTES) {
    throw new InvalidKeyError(`${what} must be a ${ED25519_PUBLIC_BYTES}-byte Ed25519 key`);
  }
  return key;
}

export function checkMlKemPublic(key: Uint8Array, what: string): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== MLKEM768_PUBLIC_BYTES) {
    throw new InvalidKeyError(`${what} must be a ${MLKEM768_PUBLIC_BYTES}-byte ML-KEM-768 key`);
  }
  return key;
}

/** PQXDH EncodeEC for X25519: 0x01 || u (33 bytes). */
export function encodeX25519(key: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(KEY_TYPE_X25519), key);
}

/** Encoding of an Ed25519 identity key: 0x02 || A (33 bytes). */
export function encodeEd25519(key: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(KEY_TYPE_ED25519), key);
}

/** PQXDH EncodeKEM for ML-KEM-768: 0x03 || ek (1185 bytes). */
export function encodeMlKem768(key: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(KEY_TYPE_MLKEM768), key);
}

// ── Signatures ───────────────────────────────────────────────────────────────────────────────

function checkPrekeyId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_PREKEY_ID) {
    throw new InvalidArgumentError(`prekey id must be an integer 0..${MAX_PREKEY_ID}`);
  }
}

export function identityDhSignedMessage(dhKey: Uint8Array): Uint8Array {
  return concat(SIG_LABEL_IDENTITY_DH, encodeX25519(dhKey));
}

/** What the signed-prekey signature covers: the prekey, its id, and the identity DH key it serves with. */
export function signedPrekeyMessage(id: number, publicKey: Uint8Array, identityDhKey: Uint8Array): Uint8Array {
  checkPrekeyId(id);
  return new Writer(128)
    .bytes(SIG_LABEL_SIGNED_PREKEY)
    .u32(id)
    .bytes(encodeX25519(publicKey))
    .bytes(encodeX25519(identityDhKey))
    .finish();
}

export function kemPrekeyMessage(id: number, publicKey: Uint8Array): Uint8Array {
  checkPrekeyId(id);
  return new Writer(1280).bytes(SIG_LABEL_KEM_PREKEY).u32(id).bytes(encodeMlKem768(publicKey)).finish();
}

/** Checks that a public identity is well-formed and its DH key is signed by its signing key. */
export function verifyIdentity(provider: CryptoProvider, identity: PublicIdentity): void {
  checkEd25519Public(identity.signingKey, 'identity signing key');
  checkX25519Public(identity.dhKey, 'identity DH key');
  if (!provider.ed25519Verify(identity.signingKey, identityDhSignedMessage(identity.dhKey), identity.dhSignature)) {
    throw new BadSignatureError('identity DH key');
  }
}

/**
 * PQXDH §3.3: Alice verifies the prekey signatures and aborts if verification fails. The signed
 * prekey's signature also binds the identity DH key to the identity key.
 */
export function verifyBundle(provider: CryptoProvider, bundle: PrekeyBundle): void {
  const { signingKey, dhKey } = bundle.identity;
  checkEd25519Public(signingKey, 'identity signing key');
  checkX25519Public(dhKey, 'identity DH key');
  const spk = bundle.signedPrekey;
  checkX25519Public(spk.publicKey, 'signed prekey');
  if (!provider.ed25519Verify(signingKey, signedPrekeyMessage(spk.id, spk.publicKey, dhKey), spk.signature)) {
    throw new BadSignatureError('signed prekey');
  }
  const kem = bundle.kemPrekey;
  checkMlKemPublic(kem.publicKey, 'ML-KEM prekey');
  if (!provider.ed25519Verify(bundle.identity.signingKey, kemPrekeyMessage(kem.id, kem.publicKey), kem.signature)) {
    throw new BadSignatureError('ML-KEM prekey');
  }
  if (bundle.oneTimePrekey !== undefined) {
    checkPrekeyId(bundle.oneTimePrekey.id);
    checkX25519Public(bundle.oneTimePrekey.publicKey, 'one-time prekey');
  }
}

// ── Generation ───────────────────────────────────────────────────────────────────────────────

export function generateX25519KeyPair(env: CryptoEnv): X25519KeyPair {
  const privateKey = env.rng(X25519_KEY_BYTES);
  return { privateKey, publicKey: env.provider.x25519PublicKey(privateKey) };
}

export function generateIdentity(env: CryptoEnv): IdentityKeyPair {
  const signingSeed = env.rng(ED25519_SEED_BYTES);
  const signingKey = env.provider.ed25519PublicKey(signingSeed);
  const dh = generateX25519KeyPair(env);
  const dhSignature = env.provider.ed25519Sign(signingSeed, identityDhSignedMessage(dh.publicKey));
  return new IdentityKeyPair({
    signingKey,
    signingSeed,
    dhKey: dh.publicKey,
    dhPrivateKey: dh.privateKey,
    dhSignature,
  });
}

export interface SignedPrekey extends SignedPrekeyPublic {
  readonly privateKey: Uint8Array;
}

export interface KemPrekey extends KemPrekeyPublic {
  readonly secretKey: Uint8Array;
}

export interface OneTimePrekey extends OneTimePrekeyPublic {
  readonly privateKey: Uint8Array;
}

export function generateSignedPrekey(env: CryptoEnv, identity: IdentityKeyPair, id: number): SignedPrekey {
  const pair = generateX25519KeyPair(env);
  const signature = env.provider.ed25519Sign(
    identity.signingSeed,
    signedPrekeyMessage(id, pair.publicKey, identity.dhKey),
  );
  return { id, publicKey: pair.publicKey, privateKey: pair.privateKey, signature };
}

export function generateKemPrekey(env: CryptoEnv, identity: IdentityKeyPair, id: number): KemPrekey {
  const { publicKey, secretKey } = env.provider.mlkem768Keygen(env.rng(MLKEM768_SEED_BYTES));
  const signature = env.provider.ed25519Sign(identity.signingSeed, kemPrekeyMessage(id, publicKey));
  return { id, publicKey, secretKey, signature };
}

export function generateOneTimePrekey(env: CryptoEnv, id: number): OneTimePrekey {
  checkPrekeyId(id);
  const pair = generateX25519KeyPair(env);
  return { id, publicKey: pair.publicKey, privateKey: pair.privateKey };
}

/** Secret prekeys a responder looks up while answering a handshake. */
export interface PrekeyLookup {
  signedPrekey(id: number): SignedPrekey | undefined;
  kemPrekey(id: number): KemPrekey | undefined;
  /** A one-time prekey that has not been used yet. */
  oneTimePrekey(id: number): OneTimePrekey | undefined;
}

/**
 * In-memory prekey store. A one-time prekey is removed by `removeOneTimePrekey` once the session it
 * created has been stored (the caller does both in one transaction in a durable store).
 */
export class MemoryPrekeyStore implements PrekeyLookup {
  private readonly signed = new Map<number, SignedPrekey>();
  private readonly kem = new Map<number, KemPrekey>();
  private readonly oneTime = new Map<number, OneTimePrekey>();

  addSignedPrekey(key: SignedPrekey): void {
    this.signed.set(key.id, key);
  }
  addKemPrekey(key: KemPrekey): void {
    this.kem.set(key.id, key);
  }
  addOneTimePrekey(key: OneTimePrekey): void {
    this.oneTime.set(key.id, key);
  }
  removeOneTimePrekey(id: number): boolean {
    return this.oneTime.delete(id);
  }
  get oneTimeCount(): number {
    return this.oneTime.size;
  }
  signedPrekey(id: number): SignedPrekey | undefined {
    return this.signed.get(id);
  }
  kemPrekey(id: number): KemPrekey | undefined {
    return this.kem.get(id);
  }
  oneTimePrekey(id: number): OneTimePrekey | undefined {
    return this.oneTime.get(id);
  }
}

export interface GeneratePrekeysOptions {
  signedPrekeyId: number;
  kemPrekeyId: number;
  /** Ids of one-time prekeys to create; the bundle carries the first one, if any. */
  oneTimePrekeyIds?: number[];
}

/** Creates a signed prekey, a signed ML-KEM prekey and one-time prekeys; returns a bundle and a store. */
export function generatePrekeys(
  env: CryptoEnv,
  identity: IdentityKeyPair,
  options: GeneratePrekeysOptions,
): { bundle: PrekeyBundle; store: MemoryPrekeyStore } {
  const store = new MemoryPrekeyStore();
  const signedPrekey = generateSignedPrekey(env, identity, options.signedPrekeyId);
  const kemPrekey = generateKemPrekey(env, identity, options.kemPrekeyId);
  store.addSignedPrekey(signedPrekey);
  store.addKemPrekey(kemPrekey);
  const oneTime = (options.oneTimePrekeyIds ?? []).map((id) => generateOneTimePrekey(env, id));
  for (const k of oneTime) store.addOneTimePrekey(k);
  const first = oneTime[0];
  const bundle: PrekeyBundle = {
    identity: { signingKey: identity.signingKey, dhKey: identity.dhKey },
    signedPrekey: { id: signedPrekey.id, publicKey: signedPrekey.publicKey, signature: signedPrekey.signature },
    kemPrekey: { id: kemPrekey.id, publicKey: kemPrekey.publicKey, signature: kemPrekey.signature },
    oneTimePrekey: first ? { id: first.id, publicKey: first.publicKey } : undefined,
  };
  return { bundle, store };
}

export function samePublicIdentity(a: IdentityKeys, b: IdentityKeys): boolean {
  return equalBytes(a.signingKey, b.signingKey) && equalBytes(a.dhKey, b.dhKey);
}
