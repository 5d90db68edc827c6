/**
 * Sealed envelopes (SPEC §9): sender, timestamp and body, padded and sealed with HPKE to the
 * recipient's identity key, so that a mailbox stores nothing that names the sender.
 */
import { concat } from '../../crypto/bytes.js';
import { type CryptoProvider, hpkeOpen, hpkeSeal } from '../../crypto/index.js';
import { X25519_KEY_BYTES } from '../../crypto/provider.js';
import { SEAL_PAD_BLOCK, SEALED_INFO } from './constants.js';
import { MalformedFrameError, UnsealableEnvelopeError } from './errors.js';
import { SealedContent } from './pb/message.js';
import { type Envelope, type SealedEnvelope, validateEnvelope, validateSealedEnvelope } from './validate.js';

const INFO = new TextEncoder().encode(SEALED_INFO);
/** ISO/IEC 7816-4 padding marker (SPEC §9 "pad(x) = x ‖ 0x80 ‖ 0x00 …"). */
const PAD_MARKER = 0x80;

/** SPEC §9 "aad = id ‖ recipient": binds the blob to its id and identity. */
function aad(id: Uint8Array, recipient: Uint8Array): Uint8Array {
  return concat(id, recipient);
}

/** SPEC §9 pad(): `x ‖ 0x80 ‖ 0x00…` to the next multiple of SEAL_PAD_BLOCK. */
export function padSealed(content: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.ceil((content.length + 1) / SEAL_PAD_BLOCK) * SEAL_PAD_BLOCK);
  padded.set(content);
  padded[content.length] = PAD_MARKER;
  return padded;
}

/** SPEC §9 unpadding: trailing zeros, then exactly one 0x80; anything else is an error. */
export function unpadSealed(padded: Uint8Array): Uint8Array {
  let end = padded.length;
  while (end > 0 && padded[end - 1] === 0) end--;
  if (end === 0 || padded[end - 1] !== PAD_MARKER) throw new UnsealableEnvelopeError('sealed content has bad padding');
  return padded.subarray(0, end - 1);
}

/** What sealing needs: the provider and fresh randomness (the node's CryptoEnv fits). */
export interface SealEnv {
  readonly provider: CryptoProvider;
  readonly rng: (length: number) => Uint8Array;
}

/**
 * Seals a valid plain envelope for its recipient. Throws `InvalidArgumentError` (from the
 * provider) when the recipient key is not a point of large order, and the validation errors of
 * SPEC §4 for an invalid envelope.
 */
export function sealEnvelope(
  env: SealEnv,
  envelope: Envelope,
  /** `ed25519PublicToX25519(envelope.recipient)`, when the caller keeps it. */
  recipientX25519?: Uint8Array,
): SealedEnvelope {
  const e = validateEnvelope(envelope);
  const content = SealedContent.encode({
    sender: e.sender as Uint8Array<ArrayBuffer>,
    timestamp: BigInt(e.timestamp),
    body: e.body as Uint8Array<ArrayBuffer>,
  });
  const recipientKey = recipientX25519 ?? env.provider.ed25519PublicToX25519(e.recipient);
  const ephemeral = env.rng(X25519_KEY_BYTES);
  const sealed = hpkeSeal(env.provider, recipientKey, INFO, aad(e.id, e.recipient), padSealed(content), ephemeral);
  ephemeral.fill(0);
  return validateSealedEnvelope({ id: e.id, recipient: e.recipient, sealed });
}

/**
 * Opens a sealed envelope with the recipient's X25519 private key (`ed25519SeedToX25519` of the
 * identity seed) and returns the plain envelope it stands for, validated by SPEC §4. Throws
 * `UnsealableEnvelopeError` when it does not open, and the §4 validation errors when what it holds
 * breaks them.
 */
export function openSealedEnvelope(
  provider: CryptoProvider,
  recipientPrivateKey: Uint8Array,
  envelope: SealedEnvelope,
  /** The X25519 public key of `recipientPrivateKey`, when the caller keeps it. */
  recipientPublicKey?: Uint8Array,
): Envelope {
  const padded = hpkeOpen(
    provider,
    recipientPrivateKey,
    INFO,
    aad(envelope.id, envelope.recipient),
    envelope.sealed,
    recipientPublicKey ?? provider.x25519PublicKey(recipientPrivateKey),
  );
  if (padded === null) throw new UnsealableEnvelopeError('sealed envelope does not open with this identity key');
  let content: SealedContent;
  try {
    content = SealedContent.decode(unpadSealed(padded));
  } catch (err) {
    if (err instanceof UnsealableEnvelopeError) throw err;
    throw new MalformedFrameError('sealed content is not valid protobuf', { cause: err });
  }
  return validateEnvelope({
    id: envelope.id,
    sender: content.sender,
    recipient: envelope.recipient,
    timestamp: content.timestamp,
    body: content.body,
  });
}
