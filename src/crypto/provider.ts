/**
 * The crypto provider: the only place primitives are called. Two implementations exist,
 * `nodeProvider` (OpenSSL through node:crypto; the default on Node) and `nobleProvider`
 * (@noble/*; pure JS, for browsers and as the reference in differential tests). ML-KEM-768 comes
 * from @noble/post-quantum in both.
 *
 * Providers are deterministic functions of their inputs: randomness enters only through an
 * explicit argument (key seeds, KEM encapsulation randomness) or `randomBytes`, which the engine
 * reaches only through the injectable `CryptoEnv.rng`.
 */

/**
 * The AEADs a provider offers. The ratchet uses `AEAD_ALGORITHM` (constants.ts), HPKE
 * ChaCha20-Poly1305 (RFC 8439), the store at rest XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03:
 * HChaCha20 subkey from the first 16 nonce bytes, then RFC 8439 AEAD), whose 24-byte nonce can be
 * drawn at random for every value under one key.
 */
export type AeadAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305' | 'xchacha20-poly1305';

/** Sizes fixed by the primitives (RFC 7748, RFC 8032, FIPS 203, RFC 5116 usage). */
export const X25519_KEY_BYTES = 32;
export const ED25519_SEED_BYTES = 32;
export const ED25519_PUBLIC_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
/** XChaCha20-Poly1305's nonce (draft-irtf-cfrg-xchacha-03 §2): 192 bits. */
export const XAEAD_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;
export const MLKEM768_SEED_BYTES = 64;
export const MLKEM768_PUBLIC_BYTES = 1184;
export const MLKEM768_SECRET_BYTES = 2400;
export const MLKEM768_CIPHERTEXT_BYTES = 1088;
export const MLKEM768_ENCAPS_RANDOM_BYTES = 32;
export const MLKEM_SHARED_SECRET_BYTES = 32;
export const SHA256_BYTES = 32;
/** RFC 5869 §2.3: L <= 255 * HashLen. */
export const HKDF_SHA256_MAX_OUTPUT = 255 * SHA256_BYTES;

export interface MlKemKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export interface MlKemEncapsulation {
  ciphertext: Uint8Array;
  sharedSecret: Uint8Array;
}

export interface CryptoProvider {
  readonly name: string;

  /** RFC 7748 X25519 base-point multiplication of a 32-byte scalar (clamped per the RFC). */
  x25519PublicKey(privateKey: Uint8Array): Uint8Array;
  /**
   * RFC 7748 X25519. Follows the RFC for the u-coordinate (masks the top bit, accepts values >= p);
   * throws `LowOrderKeyError` when the result is all zero (RFC 7748 §6.1 check).
   */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;

  /** RFC 8032 Ed25519 public key of a 32-byte seed. */
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  /** RFC 8032 Ed25519 signature (deterministic). */
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  /** RFC 8032 verification with canonical encodings (S < L, canonical A and R); never throws on bad input. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;

  sha256(data: Uint8Array): Uint8Array;
  /** RFC 2104 HMAC-SHA256. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** RFC 5869 HKDF-SHA256 (extract then expand). An empty salt means HashLen zero bytes. */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /** RFC 5869 §2.2 HKDF-Extract with SHA-256: PRK = HMAC(salt, ikm); an empty salt means HashLen zero bytes. */
  hkdfSha256Extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  /** RFC 5869 §2.3 HKDF-Expand with SHA-256 (`prk` at least 32 bytes, `length` 1 ..= 255·32). */
  hkdfSha256Expand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;

  /**
   * The X25519 public key of an Ed25519 public key: the birational map of RFC 7748 §4.1 (the
   * conversion libsodium calls `crypto_sign_ed25519_pk_to_curve25519`). Throws
   * `InvalidArgumentError` for an encoding that is not a point, or a point of small order.
   */
  ed25519PublicToX25519(publicKey: Uint8Array): Uint8Array;
  /**
   * The X25519 private key matching `ed25519PublicToX25519(ed25519PublicKey(seed))`: the first 32
   * bytes of SHA-512(seed), clamped (RFC 8032 §5.1.5, RFC 7748 §5; libsodium's
   * `crypto_sign_ed25519_sk_to_curve25519`).
   */
  ed25519SeedToX25519(seed: Uint8Array): Uint8Array;

  /** Seal: returns ciphertext || 16-byte tag. Key 32 bytes; nonce 12 bytes (24 for XChaCha20-Poly1305). */
  aeadSeal(alg: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Open: returns the plaintext, or `null` when authentication fails. Key and nonce as for `aeadSeal`. */
  aeadOpen(
    alg: AeadAlgorithm,
    key: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array | null;

  /** FIPS 203 ML-KEM-768 KeyGen from the 64-byte seed d || z. */
  mlkem768Keygen(seed: Uint8Array): MlKemKeyPair;
  /**
   * FIPS 203 Encaps; throws `KemError` on an invalid key (§7.2 modulus check). With `randomness`
   * (32 bytes, the m of FIPS 203) the result is deterministic; without it the provider draws m
   * from its own CSPRNG, which lets a provider use an implementation without a derandomized API.
   */
  mlkem768Encapsulate(publicKey: Uint8Array, randomness?: Uint8Array): MlKemEncapsulation;
  /** FIPS 203 Decaps (implicit rejection: a bad ciphertext yields a pseudorandom secret). */
  mlkem768Decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array;

  /** Cryptographically secure random bytes from the platform. */
  randomBytes(length: number): Uint8Array;
}
