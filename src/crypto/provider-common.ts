/** Input checks and ML-KEM calls shared by both providers. */
import { ed25519 } from '@noble/curves/ed25519.js';
import { expand } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { checkBytes, isAllZero } from './bytes.js';
import { InvalidArgumentError, KemError, LowOrderKeyError } from './errors.js';
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  type AeadAlgorithm,
  ED25519_PUBLIC_BYTES,
  ED25519_SEED_BYTES,
  HKDF_SHA256_MAX_OUTPUT,
  MLKEM768_CIPHERTEXT_BYTES,
  MLKEM768_ENCAPS_RANDOM_BYTES,
  MLKEM768_PUBLIC_BYTES,
  MLKEM768_SECRET_BYTES,
  MLKEM768_SEED_BYTES,
  type MlKemEncapsulation,
  type MlKemKeyPair,
  SHA256_BYTES,
  XAEAD_NONCE_BYTES,
} from './provider.js';

/** The nonce length of an AEAD: 24 bytes for XChaCha20-Poly1305, 12 for the others. */
export function aeadNonceBytes(alg: AeadAlgorithm): number {
  return alg === 'xchacha20-poly1305' ? XAEAD_NONCE_BYTES : AEAD_NONCE_BYTES;
}

export function checkAead(alg: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array): void {
  if (alg !== 'aes-256-gcm' && alg !== 'chacha20-poly1305' && alg !== 'xchacha20-poly1305') {
    throw new InvalidArgumentError('unknown AEAD');
  }
  checkBytes('AEAD key', key, AEAD_KEY_BYTES);
  checkBytes('AEAD nonce', nonce, aeadNonceBytes(alg));
}

export function checkSealed(sealed: Uint8Array): boolean {
  return sealed.length >= AEAD_TAG_BYTES;
}

export function checkHkdfLength(length: number): void {
  if (!Number.isInteger(length) || length < 1 || length > HKDF_SHA256_MAX_OUTPUT) {
    throw new InvalidArgumentError(`HKDF output length must be 1..${HKDF_SHA256_MAX_OUTPUT}`);
  }
}

/** RFC 7748 §6.1: "check whether the shared secret is the all-zero value and abort if so". */
export function rejectAllZero(shared: Uint8Array): Uint8Array {
  if (isAllZero(shared)) throw new LowOrderKeyError();
  return shared;
}

export function mlkemKeygen(seed: Uint8Array): MlKemKeyPair {
  checkBytes('ML-KEM seed', seed, MLKEM768_SEED_BYTES);
  const { publicKey, secretKey } = ml_kem768.keygen(seed);
  return { publicKey, secretKey };
}

export function checkMlKemPublicKey(publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== MLKEM768_PUBLIC_BYTES) {
    throw new KemError(`ML-KEM-768 encapsulation key must be ${MLKEM768_PUBLIC_BYTES} bytes`);
  }
}

/** @noble/post-quantum Encaps; `randomness` omitted → noble draws m from the platform CSPRNG. */
export function mlkemEncapsulate(publicKey: Uint8Array, randomness?: Uint8Array): MlKemEncapsulation {
  if (randomness !== undefined) checkBytes('ML-KEM encapsulation randomness', randomness, MLKEM768_ENCAPS_RANDOM_BYTES);
  checkMlKemPublicKey(publicKey);
  try {
    // FIPS 203 §7.2 input check (modulus check on ek) is done by noble before encapsulating.
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, randomness);
    return { ciphertext: cipherText, sharedSecret };
  } catch {
    throw new KemError('ML-KEM-768 encapsulation key failed the FIPS 203 input check');
  }
}

export function checkMlKemDecapsInputs(ciphertext: Uint8Array, secretKey: Uint8Array): void {
  if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== MLKEM768_CIPHERTEXT_BYTES) {
    throw new KemError(`ML-KEM-768 ciphertext must be ${MLKEM768_CIPHERTEXT_BYTES} bytes`);
  }
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== MLKEM768_SECRET_BYTES) {
    throw new KemError(`ML-KEM-768 decapsulation key must be ${MLKEM768_SECRET_BYTES} bytes`);
  }
}

export function mlkemDecapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array {
  checkMlKemDecapsInputs(ciphertext, secretKey);
  try {
    // FIPS 203 §7.3 hash check on dk is done by noble; it works on a decoded copy of the key.
    return ml_kem768.decapsulate(ciphertext, secretKey);
  } catch {
    throw new KemError('ML-KEM-768 decapsulation key failed the FIPS 203 input check');
  }
}

/** RFC 5869 §2.3 HKDF-Expand (@noble/hashes), shared by both providers: node:crypto has no expand-only call. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  checkBytes('HKDF prk', prk);
  checkBytes('HKDF info', info);
  // RFC 5869 §2.3: "PRK  a pseudorandom key of at least HashLen octets".
  if (prk.length < SHA256_BYTES) throw new InvalidArgumentError(`HKDF prk must be at least ${SHA256_BYTES} bytes`);
  checkHkdfLength(length);
  return expand(sha256, prk, info, length);
}

/** Ed25519 → X25519 public key with @noble/curves (rejects non-points and small-order points). */
export function ed25519PublicToX25519Noble(publicKey: Uint8Array): Uint8Array {
  checkBytes('Ed25519 public key', publicKey, ED25519_PUBLIC_BYTES);
  let point: ReturnType<typeof ed25519.Point.fromBytes>;
  try {
    point = ed25519.Point.fromBytes(publicKey);
  } catch {
    throw new InvalidArgumentError('Ed25519 public key is not a point on the curve');
  }
  if (point.isSmallOrder()) throw new InvalidArgumentError('Ed25519 public key has small order');
  return ed25519.utils.toMontgomery(publicKey);
}

/** Ed25519 seed → X25519 private key with @noble/curves (SHA-512, first half, clamped). */
export function ed25519SeedToX25519Noble(seed: Uint8Array): Uint8Array {
  checkBytes('Ed25519 seed', seed, ED25519_SEED_BYTES);
  return ed25519.utils.toMontgomerySecret(seed);
}
