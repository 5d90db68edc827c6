/**
 * Encryption at rest: the EncryptionHook (codec.ts) that seals every value the store writes, with
 * the store's 32-byte random data key (key-file.ts keeps it, wrapped by a passphrase or not).
 *
 * Sealed value, format 1 (`SEALED_FORMAT` = 0x81; the high bit set, so a sealed value never starts
 * like a plain codec value, whose first byte is FORMAT_VERSION < 0x80):
 *
 *   0x81 || salt (24 random bytes) || AES-256-GCM(k, n, plain, ad)       (plain length + 16-byte tag)
 *   k (32) || n (12) = HKDF-SHA256(ikm = data key, salt = salt, info = "sotto/store/value/v1", L = 44)
 *   ad = 0x81 || u8 len(concern) || concern || u16 len(key) || key          (concern and key ASCII)
 *
 * - The associated data binds a value to its concern and key (layout.ts) and to the format: a value
 *   copied or moved to another key, or to another concern, does not open; neither does a value
 *   with one bit changed, nor one sealed under another data key.
 * - A fresh key per write. AES-GCM with random 96-bit nonces under one key is limited to about 2^32
 *   messages (NIST SP 800-38D §8.3: nonce collision probability ≤ 2^-32), and a node's data key
 *   lives as long as its data dir (a passphrase change re-wraps it, never replaces it). Deriving
 *   each value's key and nonce from a random 192-bit salt moves the bound to a salt collision:
 *   after 2^64 writes the chance is about 2^-65. Each derived key encrypts exactly one value.
 * - Only provider calls (HKDF-SHA256, AES-256-GCM, random bytes): OpenSSL on Node, @noble in
 *   browsers. Cost per value: one HKDF (two HMAC-SHA256 blocks plus the extract) and one GCM; the
 *   measured figures are in the CHANGELOG entry for encryption at rest. The alternative,
 *   XChaCha20-Poly1305 from @noble/ciphers, would need no HKDF but runs in pure JS: slower on Node
 *   for values above a few hundred bytes (session snapshots are kilobytes), and a primitive outside
 *   the provider.
 * - Overhead: 41 bytes per value (1 + 24 + 16).
 *
 * What is encrypted: every value of every concern, the schema version included (only the store's
 * at-rest marker `meta/at-rest` is written raw; it holds the key id, a one-way function of the data
 * key). Keys are not encrypted: they are what LevelDB sorts and ranges over (layout.ts), so contact
 * identities, message timestamps and ids, and record identities stay visible on disk; names,
 * bodies, key material and sessions do not.
 */
import { toHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { AEAD_TAG_BYTES } from '../crypto/provider.js';
import type { EncryptionHook, ValueLocation } from './codec.js';
import { InvalidStoreArgumentError, SealedValueError } from './errors.js';

/** First byte of every sealed value: 0x80 | format version 1. Part of the associated data. */
export const SEALED_FORMAT = 0x81;
/** Random salt per sealed value (HKDF salt): 192 bits, as XChaCha20's nonce. */
export const VALUE_SALT_BYTES = 24;
/** The data key: 32 random bytes. */
export const DATA_KEY_BYTES = 32;
/** Bytes a sealed value adds to the plain one. */
export const SEALED_OVERHEAD = 1 + VALUE_SALT_BYTES + AEAD_TAG_BYTES;

const VALUE_KEY_INFO = new TextEncoder().encode('sotto/store/value/v1');
const KEY_ID_INFO = new TextEncoder().encode('sotto/store/key-id/v1');
/** AES-256 key + 96-bit GCM nonce. */
const DERIVED_BYTES = 32 + 12;

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
function associatedData(at: ValueLocation): Uint8Array {
  const concern = at.concern;
  const key = at.key;
  if (key.length > 0xffff) throw new InvalidStoreArgumentError('store keys must be shorter than 64 KiB');
  const ad = new Uint8Array(1 + 1 + concern.length + 2 + key.length);
  let o = 0;
  ad[o++] = SEALED_FORMAT;
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
  /** Where the value salts come from (default: the provider's CSPRNG). Tests inject a deterministic one. */
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
    this.#rng = options.rng ?? ((n) => provider.randomBytes(n));
  }

  #derive(salt: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
    if (this.#disposed) throw new InvalidStoreArgumentError('the at-rest hook was disposed (store closed)');
    const okm = this.#provider.hkdfSha256(this.#key, salt, VALUE_KEY_INFO, DERIVED_BYTES);
    return { key: okm.subarray(0, 32), nonce: okm.subarray(32) };
  }

  seal(plain: Uint8Array, at: ValueLocation): Uint8Array {
    const salt = this.#rng(VALUE_SALT_BYTES);
    if (!(salt instanceof Uint8Array) || salt.length !== VALUE_SALT_BYTES) {
      throw new InvalidStoreArgumentError('the RNG returned the wrong number of bytes');
    }
    const { key, nonce } = this.#derive(salt);
    try {
      const ct = this.#provider.aeadSeal('aes-256-gcm', key, nonce, plain, associatedData(at));
      const out = new Uint8Array(1 + VALUE_SALT_BYTES + ct.length);
      out[0] = SEALED_FORMAT;
      out.set(salt, 1);
      out.set(ct, 1 + VALUE_SALT_BYTES);
      return out;
    } finally {
      key.fill(0);
    }
  }

  open(sealed: Uint8Array, at: ValueLocation): Uint8Array {
    if (sealed.length < SEALED_OVERHEAD) throw new SealedValueError('sealed value is too short');
    if (sealed[0] !== SEALED_FORMAT) {
      throw new SealedValueError(`unknown sealed value format 0x${(sealed[0] as number).toString(16)}`);
    }
    const salt = sealed.subarray(1, 1 + VALUE_SALT_BYTES);
    const { key, nonce } = this.#derive(salt);
    try {
      const plain = this.#provider.aeadOpen(
        'aes-256-gcm',
        key,
        nonce,
        sealed.subarray(1 + VALUE_SALT_BYTES),
        associatedData(at),
      );
      if (plain === null) {
        throw new SealedValueError('sealed value does not authenticate at this location under this data key');
      }
      return plain;
    } finally {
      key.fill(0);
    }
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
