/**
 * PQXDH (Signal, revision 2) key agreement, feeding the Double Ratchet
 * (protocols/session/SPEC.md §Handshake).
 *
 *   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)  [DH4 = DH(EK_A, OPK_B)]
 *   (CT, SS) = ML-KEM-768.Encaps(PQSPK_B)
 *   SK = HKDF-SHA256(salt = 0^32, ikm = 0xFF^32 || DH1 || DH2 || DH3 [|| DH4] || SS, info, 32)
 *   AD = label || EncodeId(IK_A) || EncodeEC(IKdh_A) || EncodeId(IK_B) || EncodeEC(IKdh_B) || ctx_A || ctx_B
 *
 * IK here is the identity's X25519 DH key (signed by its Ed25519 key; see keys.ts). The ratchet
 * starts as Double Ratchet §3.3 says: Alice with DHr = SPK_B, Bob with DHs = (SPK_B).
 */
import { checkBytes, concat, utf8, Writer } from './bytes.js';
import {
  AD_LABEL,
  MAX_CONTEXT_BYTES,
  PQXDH_INFO,
  PQXDH_KDF_PREFIX,
  PQXDH_KDF_SALT,
  PQXDH_SECRET_BYTES,
} from './constants.js';
import type { CryptoEnv } from './env.js';
import { InvalidArgumentError, MalformedMessageError, PrekeyNotFoundError } from './errors.js';
import {
  checkX25519Public,
  encodeEd25519,
  encodeX25519,
  generateX25519KeyPair,
  type IdentityKeyPair,
  type IdentityKeys,
  type PrekeyBundle,
  type PrekeyLookup,
  type PublicIdentity,
  verifyBundle,
  verifyIdentity,
} from './keys.js';
import { MLKEM768_ENCAPS_RANDOM_BYTES } from './provider.js';
import { encodePrekeyHeader, type PrekeyHeader, parseMessage } from './ratchet/messages.js';
import { rootStep } from './ratchet/root-key.js';
import { SkippedKeys } from './ratchet/skipped-keys.js';
import { Session } from './session.js';

/**
 * Caller-supplied context bound into the associated data: the transport identities of the two
 * nodes (libp2p peer ids), so a session cannot be replayed between other node pairs.
 */
export interface HandshakeContext {
  initiator: string | Uint8Array;
  responder: string | Uint8Array;
}

function contextBytes(value: string | Uint8Array, which: string): Uint8Array {
  const bytes = typeof value === 'string' ? utf8(value) : value;
  checkBytes(`${which} context`, bytes);
  if (bytes.length > MAX_CONTEXT_BYTES) {
    throw new InvalidArgumentError(`${which} context longer than ${MAX_CONTEXT_BYTES} bytes`);
  }
  return bytes;
}

/** The session associated data (SPEC §Associated data). Same bytes on both sides. */
export function associatedData(
  initiator: IdentityKeys,
  responder: IdentityKeys,
  context: HandshakeContext,
): Uint8Array {
  return new Writer(256)
    .bytes(AD_LABEL)
    .bytes(encodeEd25519(initiator.signingKey))
    .bytes(encodeX25519(initiator.dhKey))
    .bytes(encodeEd25519(responder.signingKey))
    .bytes(encodeX25519(responder.dhKey))
    .vec16(contextBytes(context.initiator, 'initiator'))
    .vec16(contextBytes(context.responder, 'responder'))
    .finish();
}

/** PQXDH §2.2 KDF. */
function deriveSecret(env: CryptoEnv, dhs: Uint8Array[], kemSecret: Uint8Array): Uint8Array {
  const ikm = concat(PQXDH_KDF_PREFIX, ...dhs, kemSecret);
  try {
    return env.provider.hkdfSha256(ikm, PQXDH_KDF_SALT, PQXDH_INFO, PQXDH_SECRET_BYTES);
  } finally {
    ikm.fill(0);
    for (const d of dhs) d.fill(0);
    kemSecret.fill(0);
  }
}

export interface InitiateOptions {
  identity: IdentityKeyPair;
  bundle: PrekeyBundle;
  context: HandshakeContext;
}

/** Alice's side (PQXDH §3.3): verifies the bundle and returns a session ready to encrypt. */
export function initiateSession(env: CryptoEnv, options: InitiateOptions): Session {
  const { identity, bundle, context } = options;
  const { provider } = env;
  verifyBundle(provider, bundle);
  const ad = associatedData(identity.public, bundle.identity, context);

  const ek = generateX25519KeyPair(env);
  const kem = provider.mlkem768Encapsulate(
    bundle.kemPrekey.publicKey,
    env.rngInjected ? env.rng(MLKEM768_ENCAPS_RANDOM_BYTES) : undefined,
  );
  const dhs = [
    provider.x25519(identity.dhPrivateKey, bundle.signedPrekey.publicKey),
    provider.x25519(ek.privateKey, bundle.identity.dhKey),
    provider.x25519(ek.privateKey, bundle.signedPrekey.publicKey),
  ];
  if (bundle.oneTimePrekey) dhs.push(provider.x25519(ek.privateKey, bundle.oneTimePrekey.publicKey));
  ek.privateKey.fill(0); // PQXDH §3.3: Alice deletes her ephemeral private key.
  const sk = deriveSecret(env, dhs, kem.sharedSecret);

  // Double Ratchet §3.3 RatchetInitAlice.
  const ratchetKey = generateX25519KeyPair(env);
  const dhOut = provider.x25519(ratchetKey.privateKey, bundle.signedPrekey.publicKey);
  const { rootKey, chainKey } = rootStep(provider, sk, dhOut);
  dhOut.fill(0);
  sk.fill(0);

  const prekey: PrekeyHeader = {
    initiator: identity.public,
    baseKey: ek.publicKey,
    signedPrekeyId: bundle.signedPrekey.id,
    kemPrekeyId: bundle.kemPrekey.id,
    oneTimePrekeyId: bundle.oneTimePrekey?.id,
    kemCiphertext: kem.ciphertext,
  };
  return new Session(env, {
    role: 'initiator',
    ad,
    localIdentity: identity.signingKey.slice(),
    remoteIdentity: bundle.identity.signingKey.slice(),
    baseKey: ek.publicKey,
    rootKey,
    dhs: ratchetKey,
    dhr: bundle.signedPrekey.publicKey.slice(),
    cks: chainKey,
    ckr: null,
    ns: 0,
    nr: 0,
    pn: 0,
    pendingPrekey: encodePrekeyHeader(prekey),
    handshakeDigest: null,
    previousDhr: [],
    skipped: new SkippedKeys(),
  });
}

export interface RespondOptions {
  identity: IdentityKeyPair;
  prekeys: PrekeyLookup;
  /** The initiator's first message (a prekey message). */
  message: Uint8Array;
  context: HandshakeContext;
}

export interface RespondResult {
  session: Session;
  plaintext: Uint8Array;
  /** The initiator's identity, verified: the caller decides whether it trusts it. */
  initiator: PublicIdentity;
  /** The one-time prekey consumed; the caller must delete it in the same transaction as storing the session. */
  usedOneTimePrekeyId: number | undefined;
}

/**
 * Bob's side (PQXDH §3.4): derives the session from a prekey message and decrypts its payload.
 * Nothing is created and no prekey is consumed when any check fails.
 */
export function respondToSession(env: CryptoEnv, options: RespondOptions): RespondResult {
  const { identity, prekeys, message, context } = options;
  const { provider } = env;
  const parsed = parseMessage(message);
  if (parsed.type !== 'prekey') throw new MalformedMessageError('expected a handshake (prekey) message');
  const { prekey, inner } = parsed;

  verifyIdentity(provider, prekey.initiator);
  checkX25519Public(prekey.baseKey, 'base key');
  const spk = prekeys.signedPrekey(prekey.signedPrekeyId);
  if (!spk) throw new PrekeyNotFoundError('signed', prekey.signedPrekeyId);
  const kemKey = prekeys.kemPrekey(prekey.kemPrekeyId);
  if (!kemKey) throw new PrekeyNotFoundError('kem', prekey.kemPrekeyId);
  let opkPrivate: Uint8Array | undefined;
  if (prekey.oneTimePrekeyId !== undefined) {
    const opk = prekeys.oneTimePrekey(prekey.oneTimePrekeyId);
    if (!opk) throw new PrekeyNotFoundError('one-time', prekey.oneTimePrekeyId);
    opkPrivate = opk.privateKey;
  }

  const ad = associatedData(prekey.initiator, identity.public, context);
  const dhs = [
    provider.x25519(spk.privateKey, prekey.initiator.dhKey),
    provider.x25519(identity.dhPrivateKey, prekey.baseKey),
    provider.x25519(spk.privateKey, prekey.baseKey),
  ];
  if (opkPrivate) dhs.push(provider.x25519(opkPrivate, prekey.baseKey));
  const ss = provider.mlkem768Decapsulate(prekey.kemCiphertext, kemKey.secretKey);
  const sk = deriveSecret(env, dhs, ss);

  // Double Ratchet §3.3 RatchetInitBob: DHs = the signed prekey pair, RK = SK.
  const session = new Session(env, {
    role: 'responder',
    ad,
    localIdentity: identity.signingKey.slice(),
    remoteIdentity: prekey.initiator.signingKey.slice(),
    baseKey: prekey.baseKey,
    rootKey: sk,
    dhs: { publicKey: spk.publicKey.slice(), privateKey: spk.privateKey.slice() },
    dhr: null,
    cks: null,
    ckr: null,
    ns: 0,
    nr: 0,
    pn: 0,
    pendingPrekey: null,
    handshakeDigest: provider.sha256(parsed.prekeyBytes),
    previousDhr: [],
    skipped: new SkippedKeys(),
  });
  const plaintext = session.decryptRatchet(inner);
  return { session, plaintext, initiator: prekey.initiator, usedOneTimePrekeyId: prekey.oneTimePrekeyId };
}

/** What a message is, without decrypting it: lets a caller route a handshake and load its prekeys. */
export type MessageKind =
  | { type: 'ratchet' }
  | {
      type: 'prekey';
      baseKey: Uint8Array;
      initiator: PublicIdentity;
      signedPrekeyId: number;
      kemPrekeyId: number;
      oneTimePrekeyId: number | undefined;
    };

export function peekMessage(message: Uint8Array): MessageKind {
  const parsed = parseMessage(message);
  if (parsed.type === 'ratchet') return { type: 'ratchet' };
  const p = parsed.prekey;
  return {
    type: 'prekey',
    baseKey: p.baseKey,
    initiator: p.initiator,
    signedPrekeyId: p.signedPrekeyId,
    kemPrekeyId: p.kemPrekeyId,
    oneTimePrekeyId: p.oneTimePrekeyId,
  };
}
