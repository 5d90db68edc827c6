/**
 * Pure-JS provider on @noble/curves, @noble/hashes and @noble/ciphers: runs in browsers and is
 * the reference implementation in differential tests.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { extract, hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { checkBytes } from './bytes.js';
import {
  type AeadAlgorithm,
  type CryptoProvider,
  ED25519_PUBLIC_BYTES,
  ED25519_SEED_BYTES,
  ED25519_SIGNATURE_BYTES,
  X25519_KEY_BYTES,
} from './provider.js';
import {
  checkAead,
  checkHkdfLength,
  checkSealed,
  ed25519PublicToX25519Noble,
  ed25519SeedToX25519Noble,
  hkdfExpand,
  mlkemDecapsulate,
  mlkemEncapsulate,
  mlkemKeygen,
  rejectAllZero,
} from './provider-common.js';

function aead(alg: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array) {
  if (alg === 'aes-256-gcm') return gcm(key, nonce, aad);
  return alg === 'xchacha20-poly1305' ? xchacha20poly1305(key, nonce, aad) : chacha20poly1305(key, nonce, aad);
}

export const nobleProvider: CryptoProvider = {
  name: 'noble',

  x25519PublicKey(privateKey) {
    checkBytes('X25519 private key', privateKey, X25519_KEY_BYTES);
    return x25519.getPublicKey(privateKey);
  },

  x25519(privateKey, publicKey) {
    checkBytes('X25519 private key', privateKey, X25519_KEY_BYTES);
    checkBytes('X25519 public key', publicKey, X25519_KEY_BYTES);
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(privateKey, publicKey);
    } catch {
      // With lengths checked above, noble throws only for low-order inputs (it rejects them before
      // the ladder, where an all-zero output would otherwise appear): same outcome as §6.1.
      return rejectAllZero(new Uint8Array(X25519_KEY_BYTES));
    }
    return rejectAllZero(shared);
  },

  ed25519PublicKey(seed) {
    checkBytes('Ed25519 seed', seed, ED25519_SEED_BYTES);
    return ed25519.getPublicKey(seed);
  },

  ed25519Sign(seed, message) {
    checkBytes('Ed25519 seed', seed, ED25519_SEED_BYTES);
    checkBytes('message', message);
    return ed25519.sign(message, seed);
  },

  ed25519Verify(publicKey, message, signature) {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_BYTES) return false;
    if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false;
    checkBytes('message', message);
    try {
      // zip215: false = RFC 8032 strict (canonical encodings), matching OpenSSL.
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },

  sha256(data) {
    checkBytes('data', data);
    return sha256(data);
  },

  hmacSha256(key, data) {
    checkBytes('HMAC key', key);
    checkBytes('data', data);
    return hmac(sha256, key, data);
  },

  hkdfSha256(ikm, salt, info, length) {
    checkBytes('HKDF ikm', ikm);
    checkBytes('HKDF salt', salt);
    checkBytes('HKDF info', info);
    checkHkdfLength(length);
    return hkdf(sha256, ikm, salt, info, length);
  },

  hkdfSha256Extract(salt, ikm) {
    checkBytes('HKDF salt', salt);
    checkBytes('HKDF ikm', ikm);
    return extract(sha256, ikm, salt);
  },

  hkdfSha256Expand: hkdfExpand,

  ed25519PublicToX25519: ed25519PublicToX25519Noble,

  ed25519SeedToX25519: ed25519SeedToX25519Noble,

  aeadSeal(alg, key, nonce, plaintext, aad) {
    checkAead(alg, key, nonce);
    checkBytes('plaintext', plaintext);
    checkBytes('associated data', aad);
    return aead(alg, key, nonce, aad).encrypt(plaintext);
  },

  aeadOpen(alg, key, nonce, sealed, aad) {
    checkAead(alg, key, nonce);
    checkBytes('ciphertext', sealed);
    checkBytes('associated data', aad);
    if (!checkSealed(sealed)) return null;
    try {
      return aead(alg, key, nonce, aad).decrypt(sealed);
    } catch {
      return null;
    }
  },

  mlkem768Keygen: mlkemKeygen,
  mlkem768Encapsulate: mlkemEncapsulate,
  mlkem768Decapsulate: mlkemDecapsulate,

  randomBytes(length) {
    return randomBytes(length);
  },
};
