/**
 * Encryption at rest: the EncryptionHook (codec.ts) that seals every value the store writes, with
 * the store's 32-byte random data key (key-file.ts keeps it, wrapped by a passphrase or not).
 *
 * Sealed value, format 2 (`SEALED_FORMAT` = 0x82; the high bit set, so a sealed value never starts
 * like a plain codec value, whose first byte is FORMAT_VERSION < 0x80). Every write uses it:
 *
 *   0x82 || nonce (24 random bytes) || XChaCha20-Poly1305(data key, nonce, plain, ad)
 *   ad = 0x82 || u8 len(concern) || concern || u16 len(key) || key          (concern and key ASCII)
 *
 * Format 1 (`SEALED_FORMAT_V1` = 0x81), what sotto wrote before format 2 (CHANGELOG), is still read;
 * a value moves to format 2 the next time the store writes it:
 *
 *   0x81 || salt (24 random bytes) || AES-256-GCM(k, n, plain, ad)       (plain length + 16-byte tag)
 *   k (32) || n (12) = HKDF-SHA256(ikm = data key, salt = salt, info = "sotto/store/value/v1", L = 44)
 *   ad as above with 0x81 as its first byte
 *
 * - The associated data binds a value to its concern and key (layout.ts) and to its format: a value
 *   copied or moved to another key, or to another concern, does not open; neither does a value
 *   with one bit changed, nor one sealed under another data key, nor one whose format byte was
 *   changed (the other format's AD differs, and so does its cipher).
 * - Random nonces under one key for as long as the data dir lives (a passphrase change re-wraps
 *   the data key, never replaces it). A 96-bit random GCM nonce would limit a key to about 2^32
 *   values (NIST SP 800-38D §8.3); XChaCha20's 192-bit nonce (draft-irtf-cfrg-xchacha-03 §3.1:
 *   "random nonces … safe") moves the bound to a nonce collision: after 2^64 writes the chance is
 *   about 2^-65. XChaCha20 derives a subkey per nonce (HChaCha20), so no value shares a ChaCha20
 *   key with another unless their nonces' first 16 bytes collide. Format 1 got the same bound from
 *   a random HKDF salt per value, at the price of an HKDF per value.
 * - Why format 2: the store seals 5–8 values per message on each side; format 1's HKDF plus an
 *   OpenSSL cipher object cost ≈ 40–90 µs a value here, XChaCha20-Poly1305 on libsodium ≈ 3–10 µs
 *   (measured with scratch micro-benchmarks, figures in the CHANGELOG entry and BENCHMARKS.md).
 * - Only provider calls (AEAD, HKDF for format 1 and the key id, random bytes): libsodium or
 *   @noble/ciphers for XChaCha20-Poly1305 on Node (provider-node.ts), @noble in browsers.
 * - Overhead: 41 bytes per value in both formats (1 + 24 + 16).
 *
 * What is encrypted: every value of every concern, the schema version included (only the store's
 * at-rest marker `meta/at-rest` is written raw; it holds the key id, a one-way function of the data
 * key). Keys are not encrypted: they are what LevelDB sorts and ranges over (layout.ts), so contact
 * identities, message timestamps and ids, and record identities stay visible on disk; names,
 * bodies, key material and sessions do not.
 */
import { toHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { AEAD_TAG_BYTES, XAEAD_NONCE_BYTES } from '../crypto/provider.js';
import { pooledRandom } from '../crypto/random-pool.js';
import type { EncryptionHook, ValueLocation } from './codec.js';
import { InvalidStoreArgumentError, SealedValueError } from './errors.js';

/** First byte of every value sealed now: 0x80 | format version 2. Part of the associated data. */
export const SEALED_FORMAT = 0x82;
/** First byte of a format-1 value (AES-256-GCM under an HKDF-derived key): still opened, never written. */
export const SEALED_FORMAT_V1 = 0x81;
/**
 * Random bytes per sealed value: format 2's XChaCha20 nonce, format 1's HKDF salt. 192 bits, so
 * random values under one data key stay unique (a collision is ≈ 2^-65 likely after 2^64 writes).
 */
export const VALUE_NONCE_BYTES = XAEAD_NONCE_BYTES;
/** The data key: 32 random bytes. */
export const DATA_KEY_BYTES = 32;
/** Bytes a sealed value adds to the plain one (both formats). */
export const SEALED_OVERHEAD = 1 + VALUE_NONCE_BYTES + AEAD_TAG_BYTES;

const VALUE_KEY_INFO_V1 = new TextEncoder().encode('sotto/store/value/v1');
const KEY_ID_INFO = new TextEncoder().encode('sotto/store/key-id/v1');
/** Format 1: AES-256 key + 96-bit GCM nonce, from HKDF. */
const DERIVED_BYTES_V1 = 32 + 12;

/** Key ids are 16 bytes, as 32 lowercase hex characters. */
export const KEY_ID_BYTES = 16;

/**
 * The key id of a data key: HKDF-SHA256(data key, "", "sotto/store/key-id/v1", 16), hex. One-way,
 * so it can be stored in the clear (the store's marker, the key file) to tell which key file
 * belongs to which store, and to check an unwrapped key.
 */
export function dataKeyId(provider: CryptoProvider, dataKey: Uint8Array): string {
  checkDataKey(dataKey);
  return toHex(provider.hkdfSha256(dataKey, new Uint8Array(0), KEY_ID_INFO, KEY_ID_BYTES));
}

function checkDataKey(dataKey: Uint8Array): void {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_BYTES) {
    throw new InvalidStoreArgumentError(`the data key must be ${DATA_KEY_BYTES} bytes`);
  }
}

/** The associated data of a value at `at`: format byte, then concern and key, each length-prefixed. */
function associatedData(format: number, at: ValueLocation): Uint8Array {
  const concern = at.concern;
  const key = at.key;
  if (key.length > 0xffff) throw new InvalidStoreArgumentError('store keys must be shorter than 64 KiB');
  const ad = new Uint8Array(1 + 1 + concern.length + 2 + key.length);
  let o = 0;
  ad[o++] = format;
  ad[o++] = concern.length;
  for (let i = 0; i < concern.length; i++) ad[o++] = concern.charCodeAt(i);
  ad[o++] = key.length >>> 8;
  ad[o++] = key.length & 0xff;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    // layout.ts builds ASCII keys only; anything else is a bug, not a value to encode ambiguously
    if (c > 0x7f) throw new InvalidStoreArgumentError('store keys must be ASCII');
    ad[o++] = c;
  }
  return ad;
}

export interface AtRestHookOptions {
  /** Where the value nonces come from (default: the provider's CSPRNG, pooled). Tests inject a deterministic one. */
  rng?: (length: number) => Uint8Array;
}

/**
 * Seals and opens values with one data key. Holds a copy of the key in a private field (not shown
 * by `util.inspect` or `JSON.stringify`); `dispose()` wipes it (the store calls it on close).
 */
export class AtRestHook implements EncryptionHook {
  readonly #provider: CryptoProvider;
  readonly #key: Uint8Array;
  readonly #rng: (length: number) => Uint8Array;
  #disposed = false;

  constructor(provider: CryptoProvider, dataKey: Uint8Array, options: AtRestHookOptions = {}) {
    checkDataKey(dataKey);
    this.#provider = provider;
    this.#key = dataKey.slice();
    // nonces are public once written: served from a pooled block of CSPRNG output (random-pool.ts)
    this.#rng = options.rng ?? pooledRandom((n) => provider.randomBytes(n));
  }

  #checkLive(): void {
    if (this.#disposed) throw new InvalidStoreArgumentError('the at-rest hook was disposed (store closed)');
  }

  /** Format 1's per-value AES-256-GCM key and nonce (read path only). */
  #deriveV1(salt: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
    const okm = this.#provider.hkdfSha256(this.#key, salt, VALUE_KEY_INFO_V1, DERIVED_BYTES_V1);
    return { key: okm.subarray(0, 32), nonce: okm.subarray(32) };
  }

  seal(plain: Uint8Array, at: ValueLocation): Uint8Array {
    this.#checkLive();
    const nonce = this.#rng(VALUE_NONCE_BYTES);
    if (!(nonce instanceof Uint8Array) || nonce.length !== VALUE_NONCE_BYTES) {
      throw new InvalidStoreArgumentError('the RNG returned the wrong number of bytes');
    }
    const ct = this.#provider.aeadSeal(
      'xchacha20-poly1305',
      this.#key,
      nonce,
      plain,
      associatedData(SEALED_FORMAT, at),
    );
    const out = new Uint8Array(1 + VALUE_NONCE_BYTES + ct.length);
    out[0] = SEALED_FORMAT;
    out.set(nonce, 1);
    out.set(ct, 1 + VALUE_NONCE_BYTES);
    return out;
  }

  open(sealed: Uint8Array, at: ValueLocation): Uint8Array {
    this.#checkLive();
    if (sealed.length < SEALED_OVERHEAD) throw new SealedValueError('sealed value is too short');
    const format = sealed[0] as number;
    const nonce = sealed.subarray(1, 1 + VALUE_NONCE_BYTES);
    const body = sealed.subarray(1 + VALUE_NONCE_BYTES);
    let plain: Uint8Array | null;
    if (format === SEALED_FORMAT) {
      plain = this.#provider.aeadOpen('xchacha20-poly1305', this.#key, nonce, body, associatedData(format, at));
    } else if (format === SEALED_FORMAT_V1) {
      const { key, nonce: gcmNonce } = this.#deriveV1(nonce);
      try {
        plain = this.#provider.aeadOpen('aes-256-gcm', key, gcmNonce, body, associatedData(format, at));
      } finally {
        key.fill(0);
      }
    } else {
      throw new SealedValueError(`unknown sealed value format 0x${format.toString(16)}`);
    }
    if (plain === null) {
      throw new SealedValueError('sealed value does not authenticate at this location under this data key');
    }
    return plain;
  }

  /** Wipes the data key; later seals and opens throw. */
  dispose(): void {
    this.#disposed = true;
    this.#key.fill(0);
  }

  /** Never the key. */
  toJSON(): { type: string } {
    return { type: 'AtRestHook' };
  }
}
