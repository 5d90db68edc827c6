/**
 * node:crypto (OpenSSL) provider: the default on Node. Raw keys are imported through JWK, which
 * measured ≈10–40 µs here against 150–600 µs for DER/PKCS#8 (shared/DESIGN.md). X25519, Ed25519
 * verification, (X)ChaCha20-Poly1305 and SHA-256 use libsodium when its addon loads (see `sodium`
 * below).
 *
 * ML-KEM-768 (Node 20's OpenSSL 3.0 has none): decapsulation, and encapsulation when the caller
 * supplies no randomness, run on liboqs compiled to WebAssembly (mlkem-wasm.ts; ≈10× faster than
 * pure JS here, same Wycheproof vectors). Key generation from a seed and encapsulation with
 * explicit randomness (deterministic tests and transcripts) use @noble/post-quantum, as does
 * everything until the WASM module has loaded (`nodeProviderReady`) or if it cannot load. The
 * results are the same bytes either way; only the speed differs.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
  randomFillSync,
  sign,
  verify,
} from 'node:crypto';
import { createRequire } from 'node:module';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { checkBytes, equalBytes } from './bytes.js';
import { InvalidArgumentError, InvalidKeyError } from './errors.js';
import { loadWasmMlKem768, type WasmMlKem768 } from './mlkem-wasm.js';
import {
  AEAD_TAG_BYTES,
  type AeadAlgorithm,
  type CryptoProvider,
  ED25519_PUBLIC_BYTES,
  ED25519_SEED_BYTES,
  ED25519_SIGNATURE_BYTES,
  SHA256_BYTES,
  X25519_KEY_BYTES,
} from './provider.js';
import {
  checkAead,
  checkHkdfLength,
  checkMlKemDecapsInputs,
  checkMlKemPublicKey,
  checkSealed,
  ed25519PublicToX25519Noble,
  ed25519SeedToX25519Noble,
  hkdfExpand,
  mlkemDecapsulate,
  mlkemEncapsulate,
  mlkemKeygen,
  rejectAllZero,
} from './provider-common.js';

const b64url = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');
const fromB64url = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64url'));
/**
 * Node's JWK import wants an `x` for private OKP keys but derives the public key from `d` (checked
 * in test/crypto/provider.test.ts); a placeholder of the right length is passed.
 */
const PLACEHOLDER_X = b64url(new Uint8Array(32));

/**
 * KeyObject caches. Importing a raw X25519 private key costs ≈40 µs, about as much as the DH
 * itself, and the ratchet uses each private key two or three times (its own DH ratchet key, the
 * signed prekey, the identity key). Entries are keyed by the array object and hold a copy of its
 * bytes; a hit requires equal bytes, so a wiped or reused array is never matched to a stale key.
 * WeakMaps: an entry lives exactly as long as the caller's key array.
 */
interface CachedKey {
  bytes: Uint8Array;
  key: KeyObject;
}
const privateKeyCache = new WeakMap<Uint8Array, CachedKey>();
const publicKeyCache = new WeakMap<Uint8Array, CachedKey>();

function cached(cache: WeakMap<Uint8Array, CachedKey>, raw: Uint8Array, make: () => KeyObject): KeyObject {
  const hit = cache.get(raw);
  if (hit !== undefined && equalBytes(hit.bytes, raw)) return hit.key;
  const key = make();
  cache.set(raw, { bytes: raw.slice(), key });
  return key;
}

function x25519Private(privateKey: Uint8Array): KeyObject {
  checkBytes('X25519 private key', privateKey, X25519_KEY_BYTES);
  return cached(privateKeyCache, privateKey, () =>
    createPrivateKey({
      key: { kty: 'OKP', crv: 'X25519', d: b64url(privateKey), x: PLACEHOLDER_X },
      format: 'jwk',
    }),
  );
}

function x25519Public(publicKey: Uint8Array): KeyObject {
  checkBytes('X25519 public key', publicKey, X25519_KEY_BYTES);
  return cached(publicKeyCache, publicKey, () => {
    try {
      return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(publicKey) }, format: 'jwk' });
    } catch {
      throw new InvalidKeyError('X25519 public key rejected');
    }
  });
}

function ed25519Private(seed: Uint8Array): KeyObject {
  checkBytes('Ed25519 seed', seed, ED25519_SEED_BYTES);
  return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(seed), x: PLACEHOLDER_X }, format: 'jwk' });
}

/** libsodium's combined-mode AEAD encryption: `out` receives ciphertext ‖ tag. */
type SodiumAeadEncrypt = (
  out: Uint8Array,
  message: Uint8Array,
  ad: Uint8Array | null,
  nsec: null,
  nonce: Uint8Array,
  key: Uint8Array,
) => number;

/** libsodium's combined-mode AEAD decryption. Throws when the tag does not authenticate. */
type SodiumAeadDecrypt = (
  out: Uint8Array,
  nsec: null,
  sealed: Uint8Array,
  ad: Uint8Array | null,
  nonce: Uint8Array,
  key: Uint8Array,
) => number;

/** The libsodium calls this provider makes (sodium-native ships no type declarations). */
interface Sodium {
  crypto_sign_ed25519_pk_to_curve25519(out: Uint8Array, publicKey: Uint8Array): void;
  crypto_sign_ed25519_sk_to_curve25519(out: Uint8Array, secretKey: Uint8Array): void;
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  crypto_scalarmult(out: Uint8Array, privateKey: Uint8Array, publicKey: Uint8Array): void;
  crypto_scalarmult_base(out: Uint8Array, privateKey: Uint8Array): void;
  crypto_aead_xchacha20poly1305_ietf_encrypt: SodiumAeadEncrypt;
  crypto_aead_xchacha20poly1305_ietf_decrypt: SodiumAeadDecrypt;
  crypto_aead_chacha20poly1305_ietf_encrypt: SodiumAeadEncrypt;
  crypto_aead_chacha20poly1305_ietf_decrypt: SodiumAeadDecrypt;
  crypto_hash_sha256(out: Uint8Array, data: Uint8Array): void;
  /** Fills `out` from the operating system's CSPRNG (getrandom(2) on Linux). */
  randombytes_buf(out: Uint8Array): void;
}

/**
 * X25519, Ed25519 verification and XChaCha20-Poly1305 run on libsodium (sodium-native, prebuilt
 * for the common platforms) when its addon loads, with the same Wycheproof results as OpenSSL. Measured here:
 * Ed25519 verify ≈90 µs against ≈160 µs for OpenSSL 3.0; an X25519 key pair ≈26 µs against ≈57 µs;
 * X25519 ≈62 µs with no key import against 40–114 µs for OpenSSL with its KeyObject import; a
 * ping-pong round trip ≈420 µs against ≈620 µs. If the addon cannot load, OpenSSL does the curves and
 * @noble/ciphers XChaCha20-Poly1305.
 */
const sodium: Sodium | undefined = (() => {
  try {
    const loaded = createRequire(import.meta.url)('sodium-native') as Partial<Sodium>;
    return typeof loaded.crypto_sign_verify_detached === 'function' &&
      typeof loaded.crypto_aead_xchacha20poly1305_ietf_encrypt === 'function' &&
      typeof loaded.crypto_aead_chacha20poly1305_ietf_encrypt === 'function' &&
      typeof loaded.crypto_hash_sha256 === 'function' &&
      typeof loaded.randombytes_buf === 'function'
      ? (loaded as Sodium)
      : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * XChaCha20-Poly1305 (OpenSSL 3.0 has none): libsodium when its addon loads (≈ 3–10 µs for the
 * store's values here, against ≈ 20–110 µs for @noble/ciphers in JS), else @noble/ciphers. Both
 * give the same bytes (test/crypto/provider.test.ts checks the draft's vector and random inputs).
 */
function xchachaSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  if (sodium === undefined) return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
  const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, plaintext, aad.length > 0 ? aad : null, null, nonce, key);
  return out;
}

function xchachaOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  try {
    if (sodium === undefined) return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
    const out = new Uint8Array(sealed.length - AEAD_TAG_BYTES);
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed, aad.length > 0 ? aad : null, nonce, key);
    return out;
  } catch {
    return null;
  }
}

/**
 * ChaCha20-Poly1305 (RFC 8439) on libsodium, when its addon loads; callers fall back to OpenSSL.
 * One native call with no cipher object: measured here (2,400-byte frames, 20,000 each) ≈ 4.6 µs
 * to seal and ≈ 3.9 µs to open, against ≈ 12 µs each for OpenSSL through `createCipheriv`. Noise
 * seals and opens every transport frame with it (noise-crypto.ts), HPKE its payloads.
 */
function chachaSealSodium(
  s: Sodium,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
  s.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, aad.length > 0 ? aad : null, null, nonce, key);
  return out;
}

function chachaOpenSodium(
  s: Sodium,
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  const out = new Uint8Array(sealed.length - AEAD_TAG_BYTES);
  try {
    // libsodium checks the tag before it decrypts: on failure nothing is written to `out`
    s.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, sealed, aad.length > 0 ? aad : null, nonce, key);
    return out;
  } catch {
    return null;
  }
}

/**
 * AES-256-GCM always, and ChaCha20-Poly1305 when libsodium is absent: OpenSSL through a cipher
 * object. Inputs already checked by the caller (aeadSeal); exported so the vector tests cover the
 * ChaCha20-Poly1305 fallback too.
 */
export function aeadSealOpenSsl(
  alg: 'aes-256-gcm' | 'chacha20-poly1305',
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const cipher =
    alg === 'aes-256-gcm'
      ? createCipheriv(alg, key, nonce, { authTagLength: AEAD_TAG_BYTES })
      : createCipheriv(alg, key, nonce, { authTagLength: AEAD_TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
  const body = cipher.update(plaintext);
  out.set(body, 0);
  const fin = cipher.final();
  out.set(fin, body.length);
  out.set(cipher.getAuthTag(), plaintext.length);
  return out;
}

/** The opening half of aeadSealOpenSsl: the plaintext, or null when the tag does not authenticate. */
export function aeadOpenOpenSsl(
  alg: 'aes-256-gcm' | 'chacha20-poly1305',
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  const split = sealed.length - AEAD_TAG_BYTES;
  const decipher =
    alg === 'aes-256-gcm'
      ? createDecipheriv(alg, key, nonce, { authTagLength: AEAD_TAG_BYTES })
      : createDecipheriv(alg, key, nonce, { authTagLength: AEAD_TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(split));
  decipher.setAAD(aad, { plaintextLength: split });
  const body = decipher.update(sealed.subarray(0, split));
  try {
    const fin = decipher.final();
    if (fin.length === 0) return u8(body);
    return u8(Buffer.concat([body, fin]));
  } catch {
    body.fill(0);
    return null;
  }
}

/** OpenSSL's SHA-256: the fallback when libsodium is absent, exported so the tests compare the two. */
export function sha256OpenSsl(data: Uint8Array): Uint8Array {
  return u8(createHash('sha256').update(data).digest());
}

/** Which library does X25519 and Ed25519 verification (for status pages and benchmarks). */
export function nodeCurveBackend(): 'libsodium' | 'openssl' {
  return sodium ? 'libsodium' : 'openssl';
}

/** OpenSSL's X25519 base-point multiplication: the fallback, exported so the vector tests cover it too. */
export function x25519PublicKeyOpenSsl(privateKey: Uint8Array): Uint8Array {
  const jwk = createPublicKey(x25519Private(privateKey)).export({ format: 'jwk' });
  return fromB64url(jwk.x as string);
}

/** OpenSSL's X25519: the fallback, exported so the vector tests cover it too. */
export function x25519OpenSsl(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const pub = x25519Public(publicKey);
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: x25519Private(privateKey), publicKey: pub });
  } catch {
    // OpenSSL refuses to return an all-zero X25519 output; report it as RFC 7748 §6.1 says.
    return rejectAllZero(new Uint8Array(X25519_KEY_BYTES));
  }
  return rejectAllZero(u8(shared));
}

/** OpenSSL's Ed25519 verification: the fallback, exported so the vector tests cover it too. */
export function ed25519VerifyOpenSsl(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(publicKey) }, format: 'jwk' });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

let wasmKem: WasmMlKem768 | undefined;

/**
 * Settles once the WASM ML-KEM has loaded, or has failed to (then @noble/post-quantum serves every
 * call). Loading starts when this module is imported and takes ≈20 ms; awaiting it is optional.
 */
export const nodeProviderReady: Promise<void> = loadWasmMlKem768().then(
  (kem) => {
    wasmKem = kem;
  },
  () => undefined,
);

/** Which ML-KEM implementation serves decapsulation right now (for status pages and benchmarks). */
export function nodeMlKemBackend(): 'liboqs-wasm' | 'noble' {
  return wasmKem ? 'liboqs-wasm' : 'noble';
}

const u8 = (b: Buffer | ArrayBuffer): Uint8Array =>
  b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export const nodeProvider: CryptoProvider = {
  name: 'node',

  x25519PublicKey(privateKey) {
    if (sodium !== undefined) {
      checkBytes('X25519 private key', privateKey, X25519_KEY_BYTES);
      const out = new Uint8Array(X25519_KEY_BYTES);
      sodium.crypto_scalarmult_base(out, privateKey);
      return out;
    }
    return x25519PublicKeyOpenSsl(privateKey);
  },

  x25519(privateKey, publicKey) {
    if (sodium !== undefined) {
      checkBytes('X25519 private key', privateKey, X25519_KEY_BYTES);
      checkBytes('X25519 public key', publicKey, X25519_KEY_BYTES);
      const out = new Uint8Array(X25519_KEY_BYTES);
      try {
        // libsodium returns an error (-1 → throw) for small-order inputs and all-zero outputs.
        sodium.crypto_scalarmult(out, privateKey, publicKey);
      } catch {
        return rejectAllZero(new Uint8Array(X25519_KEY_BYTES));
      }
      return rejectAllZero(out);
    }
    return x25519OpenSsl(privateKey, publicKey);
  },

  ed25519PublicKey(seed) {
    const jwk = createPublicKey(ed25519Private(seed)).export({ format: 'jwk' });
    return fromB64url(jwk.x as string);
  },

  ed25519Sign(seed, message) {
    checkBytes('message', message);
    return u8(sign(null, message, ed25519Private(seed)));
  },

  ed25519Verify(publicKey, message, signature) {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_BYTES) return false;
    if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false;
    checkBytes('message', message);
    if (sodium !== undefined) return sodium.crypto_sign_verify_detached(signature, message, publicKey);
    return ed25519VerifyOpenSsl(publicKey, message, signature);
  },

  sha256(data) {
    checkBytes('data', data);
    // libsodium: one native call. In the node (hrtime around each call, 5 pairs) 11.6–12.7 µs for
    // the PQXDH header against 22.8–24.7 µs for OpenSSL's Hash object (sha256OpenSsl)
    if (sodium !== undefined) {
      const out = new Uint8Array(SHA256_BYTES);
      sodium.crypto_hash_sha256(out, data);
      return out;
    }
    return sha256OpenSsl(data);
  },

  hmacSha256(key, data) {
    checkBytes('HMAC key', key);
    checkBytes('data', data);
    return u8(createHmac('sha256', key).update(data).digest());
  },

  hkdfSha256(ikm, salt, info, length) {
    checkBytes('HKDF ikm', ikm);
    checkBytes('HKDF salt', salt);
    checkBytes('HKDF info', info);
    checkHkdfLength(length);
    return u8(hkdfSync('sha256', ikm, salt, info, length));
  },

  hkdfSha256Extract(salt, ikm) {
    checkBytes('HKDF salt', salt);
    checkBytes('HKDF ikm', ikm);
    // RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM); an empty HMAC key is zero-padded, as HashLen zeros are.
    return u8(createHmac('sha256', salt).update(ikm).digest());
  },

  hkdfSha256Expand: hkdfExpand,

  ed25519PublicToX25519(publicKey) {
    if (sodium === undefined) return ed25519PublicToX25519Noble(publicKey);
    checkBytes('Ed25519 public key', publicKey, ED25519_PUBLIC_BYTES);
    const out = new Uint8Array(X25519_KEY_BYTES);
    try {
      // libsodium fails (-1 → throw) for a non-point and for a point of small order.
      sodium.crypto_sign_ed25519_pk_to_curve25519(out, publicKey);
    } catch {
      throw new InvalidArgumentError('Ed25519 public key is not a point of large order');
    }
    return out;
  },

  ed25519SeedToX25519(seed) {
    if (sodium === undefined) return ed25519SeedToX25519Noble(seed);
    checkBytes('Ed25519 seed', seed, ED25519_SEED_BYTES);
    const out = new Uint8Array(X25519_KEY_BYTES);
    // libsodium takes the 64-byte secret key (seed ‖ public key) and reads only the seed half.
    const secretKey = new Uint8Array(64);
    secretKey.set(seed);
    sodium.crypto_sign_ed25519_sk_to_curve25519(out, secretKey);
    secretKey.fill(0);
    return out;
  },

  aeadSeal(alg: AeadAlgorithm, key, nonce, plaintext, aad) {
    checkAead(alg, key, nonce);
    checkBytes('plaintext', plaintext);
    checkBytes('associated data', aad);
    if (alg === 'xchacha20-poly1305') return xchachaSeal(key, nonce, plaintext, aad);
    if (alg === 'chacha20-poly1305' && sodium !== undefined)
      return chachaSealSodium(sodium, key, nonce, plaintext, aad);
    return aeadSealOpenSsl(alg, key, nonce, plaintext, aad);
  },

  aeadOpen(alg: AeadAlgorithm, key, nonce, sealed, aad) {
    checkAead(alg, key, nonce);
    checkBytes('ciphertext', sealed);
    checkBytes('associated data', aad);
    if (!checkSealed(sealed)) return null;
    if (alg === 'xchacha20-poly1305') return xchachaOpen(key, nonce, sealed, aad);
    if (alg === 'chacha20-poly1305' && sodium !== undefined) return chachaOpenSodium(sodium, key, nonce, sealed, aad);
    return aeadOpenOpenSsl(alg, key, nonce, sealed, aad);
  },

  mlkem768Keygen: mlkemKeygen,

  mlkem768Encapsulate(publicKey, randomness) {
    if (randomness !== undefined || wasmKem === undefined) return mlkemEncapsulate(publicKey, randomness);
    checkMlKemPublicKey(publicKey);
    return wasmKem.encapsulate(publicKey);
  },

  mlkem768Decapsulate(ciphertext, secretKey) {
    if (wasmKem === undefined) return mlkemDecapsulate(ciphertext, secretKey);
    checkMlKemDecapsInputs(ciphertext, secretKey);
    return wasmKem.decapsulate(ciphertext, secretKey);
  },

  // libsodium's randombytes_buf reads the OS CSPRNG as randomFillSync does (OpenSSL's DRBG, seeded
  // from it) but costs ≈1.5 µs for 24 bytes against ≈4 µs: encryption at rest draws a nonce per value.
  randomBytes(length) {
    const out = new Uint8Array(length);
    if (sodium !== undefined) sodium.randombytes_buf(out);
    else randomFillSync(out);
    return out;
  },
};
