/**
 * Message keys: a message-key seed from the chain expands with HKDF-SHA256 (empty salt) into the
 * material the AEAD needs. sotto takes 44 bytes (AES-256-GCM key || 96-bit nonce); Signal's labels
 * and 80 bytes give libsignal's cipherKey || macKey || iv.
 */
import { AEAD_ALGORITHM, MESSAGE_KEY_MATERIAL_BYTES, MESSAGE_KEYS_INFO } from '../constants.js';
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, type CryptoProvider } from '../provider.js';

const EMPTY = new Uint8Array(0);

export function expandMessageKeys(
  provider: CryptoProvider,
  messageKeySeed: Uint8Array,
  info: Uint8Array = MESSAGE_KEYS_INFO,
  length: number = MESSAGE_KEY_MATERIAL_BYTES,
): Uint8Array {
  return provider.hkdfSha256(messageKeySeed, EMPTY, info, length);
}

/** Expands a message-key seed, hands the AEAD key and nonce to `use`, then wipes them. */
function withMessageKey<T>(
  provider: CryptoProvider,
  messageKeySeed: Uint8Array,
  use: (key: Uint8Array, nonce: Uint8Array) => T,
): T {
  const material = expandMessageKeys(provider, messageKeySeed);
  try {
    return use(
      material.subarray(0, AEAD_KEY_BYTES),
      material.subarray(AEAD_KEY_BYTES, AEAD_KEY_BYTES + AEAD_NONCE_BYTES),
    );
  } finally {
    material.fill(0);
  }
}

/** AEAD-encrypts one message under the key material of its message-key seed. */
export function sealWithMessageKey(
  provider: CryptoProvider,
  messageKeySeed: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  return withMessageKey(provider, messageKeySeed, (key, nonce) =>
    provider.aeadSeal(AEAD_ALGORITHM, key, nonce, plaintext, aad),
  );
}

/** Opens one message; `null` when authentication fails. */
export function openWithMessageKey(
  provider: CryptoProvider,
  messageKeySeed: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  return withMessageKey(provider, messageKeySeed, (key, nonce) =>
    provider.aeadOpen(AEAD_ALGORITHM, key, nonce, sealed, aad),
  );
}
