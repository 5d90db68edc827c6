/**
 * Every label and limit of the session protocol, in one place. protocols/session/SPEC.md is the
 * normative description; a change here is a protocol change and must be made there too (and the
 * golden transcripts regenerated, which is a version bump, not a fix).
 */
import { utf8 } from './bytes.js';
import type { AeadAlgorithm } from './provider.js';

/** PQXDH §2.1 `info`: "an ASCII string identifying the application with a minimum length of 8 bytes". */
export const PQXDH_INFO = utf8('sotto_PQXDH_CURVE25519_SHA-256_ML-KEM-768');
/** PQXDH §2.2 KDF: F is 32 0xFF bytes for curve25519 (domain separation from XEdDSA). */
export const PQXDH_KDF_PREFIX = new Uint8Array(32).fill(0xff);
/** PQXDH §2.2 KDF: "HKDF salt = a zero-filled byte sequence with length equal to the hash output length". */
export const PQXDH_KDF_SALT = new Uint8Array(32);
/** PQXDH: SK is 32 bytes. */
export const PQXDH_SECRET_BYTES = 32;

/** Double Ratchet §5.2 KDF_RK info string (HKDF, salt = root key, ikm = DH output, 64 bytes). */
export const ROOT_KDF_INFO = utf8('sotto/ratchet/root/v1');
/** Double Ratchet §5.2 KDF_CK: message-key seed = HMAC(CK, 0x01). Signal uses the same byte. */
export const MESSAGE_KEY_SEED_BYTE = new Uint8Array([0x01]);
/** Double Ratchet §5.2 KDF_CK: next chain key = HMAC(CK, 0x02). Signal uses the same byte. */
export const CHAIN_KEY_SEED_BYTE = new Uint8Array([0x02]);
/** HKDF info turning a message-key seed into AEAD key || nonce (salt empty = 32 zero bytes). */
export const MESSAGE_KEYS_INFO = utf8('sotto/ratchet/message-keys/v1');

/** Signature domain labels: what a signature is over is never ambiguous between key types. */
export const SIG_LABEL_IDENTITY_DH = utf8('sotto/sig/identity-dh/v1');
export const SIG_LABEL_SIGNED_PREKEY = utf8('sotto/sig/signed-prekey/v1');
export const SIG_LABEL_KEM_PREKEY = utf8('sotto/sig/kem-prekey/v1');
/** Prefix of the session associated data (PQXDH §3.3 AD, extended with the transport context). */
export const AD_LABEL = utf8('sotto/ad/v1');
/** Safety-number domain label and iteration count (slows a search for colliding fingerprints). */
export const SAFETY_NUMBER_LABEL = utf8('sotto/safety-number/v1');
export const SAFETY_NUMBER_ITERATIONS = 5200;

/**
 * Per-message AEAD. AES-256-GCM was measured ≈1.3× faster than ChaCha20-Poly1305 for 1 KiB on
 * node:crypto with AES-NI (the default provider); see protocols/session/SPEC.md §AEAD.
 */
export const AEAD_ALGORITHM: AeadAlgorithm = 'aes-256-gcm';
/** AEAD key (32) || nonce (12) derived per message; every key is used for exactly one message. */
export const MESSAGE_KEY_MATERIAL_BYTES = 44;

/**
 * Double Ratchet §3.2 MAX_SKIP: the most message keys one received message may make us skip in a
 * single chain (libsignal's MAX_FORWARD_JUMPS plays this role). Checked before any KDF work.
 */
export const MAX_SKIP = 1000;
/**
 * Global cap on stored skipped message keys per session (libsignal MAX_MESSAGE_KEYS). When full,
 * the oldest key is dropped: its message becomes undecryptable, which is the spec's stated cost.
 */
export const MAX_SKIPPED_KEYS = 2000;
/** Skipped keys older than this are deleted (Double Ratchet §3.2: "should be deleted after some time"). */
export const SKIPPED_KEY_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;
/** Receiving ratchet keys remembered after they are replaced, to reject stale messages without DH work. */
export const MAX_PREVIOUS_RECEIVING_KEYS = 8;
/** Largest plaintext one message may carry (the transport frames are smaller still). */
export const MAX_PLAINTEXT_BYTES = 1 << 20;
/** Largest context string (peer id) bound into the associated data. */
export const MAX_CONTEXT_BYTES = 256;
