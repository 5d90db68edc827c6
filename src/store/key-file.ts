/**
 * The store's key file, `<store dir>/keys.json`: the data key of encryption at rest (at-rest.ts),
 * wrapped by a passphrase-derived key, or in the clear when the operator set no passphrase.
 *
 *   { "format": "sotto-store-keys", "version": 1, "keyId": "<32 hex>",
 *     "protection": "passphrase",
 *     "kdf": { "algorithm": "argon2id", "version": 19, "memoryKiB": 47104, "iterations": 1,
 *              "parallelism": 1, "salt": "<base64, 16 bytes>" },
 *     "aead": "aes-256-gcm", "nonce": "<base64, 12 bytes>", "wrappedKey": "<base64, 32 + 16 bytes>" }
 *
 *   { "format": "sotto-store-keys", "version": 1, "keyId": "<32 hex>", "protection": "none",
 *     "key": "<base64, 32 bytes>" }
 *
 * Wrapping: KEK = Argon2id(passphrase, salt, params) (passphrase-kdf.ts); wrappedKey =
 * AES-256-GCM(KEK, random nonce, data key, associated data = the header line below). The header
 * binds format, version, key id, KDF and all its parameters, so editing any of them fails like a
 * wrong passphrase instead of silently deriving something else. Every wrap draws a new salt, so a
 * KEK encrypts exactly one data key. `keyId` (at-rest.ts `dataKeyId`) is checked against the
 * unwrapped key and against the store's marker: a key file from another store is refused.
 *
 * Why a file and not a store key: a passphrase change must replace the wrapped key. LevelDB never
 * overwrites in place: the old record (wrapped under the old passphrase) would stay readable in its
 * log and table files until some compaction. A file is replaced atomically (temp file, fsync,
 * rename, fsync of the directory), and the old one is gone from the file system at once. It lives
 * inside the store directory (LevelDB ignores files it did not name), so copying the store copies
 * its key.
 *
 * JSON, so an operator can see which KDF and parameters protect the data (`cat keys.json`). Mode
 * 0600; never logged.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CryptoProvider } from '../crypto/provider.js';
import { DATA_KEY_BYTES, dataKeyId, KEY_ID_BYTES } from './at-rest.js';
import {
  BadPassphraseError,
  InvalidStoreArgumentError,
  KeyFileInvalidError,
  PassphraseRequiredError,
} from './errors.js';
import {
  ARGON2_VERSION,
  DEFAULT_KDF_PARAMS,
  deriveKek,
  KDF_SALT_BYTES,
  type KdfParams,
  kdfParamsProblem,
} from './passphrase-kdf.js';

export const KEY_FILE_NAME = 'keys.json';
export const KEY_FILE_FORMAT = 'sotto-store-keys';
export const KEY_FILE_VERSION = 1;
/** Owner read/write only. */
export const KEY_FILE_MODE = 0o600;
/** Largest key file read (a real one is about 400 bytes); a larger file is refused unread. */
export const MAX_KEY_FILE_BYTES = 16 * 1024;
const GCM_NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;

export interface WrappedKdf extends KdfParams {
  readonly salt: Uint8Array;
}

export type KeyFile =
  | { readonly keyId: string; readonly protection: 'none'; readonly key: Uint8Array }
  | {
      readonly keyId: string;
      readonly protection: 'passphrase';
      readonly kdf: WrappedKdf;
      readonly nonce: Uint8Array;
      readonly wrappedKey: Uint8Array;
    };

export const keyFilePath = (storeDir: string): string => join(storeDir, KEY_FILE_NAME);

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const KEY_ID_HEX = new RegExp(`^[0-9a-f]{${KEY_ID_BYTES * 2}}$`);

function fromB64(path: string, what: string, value: unknown, length: number): Uint8Array {
  if (typeof value !== 'string' || !B64.test(value)) throw new KeyFileInvalidError(path, `${what} is not base64`);
  const bytes = new Uint8Array(Buffer.from(value, 'base64'));
  if (bytes.length !== length) throw new KeyFileInvalidError(path, `${what} must be ${length} bytes`);
  return bytes;
}

/** The associated data of a wrapped key: every header field, in a fixed order. */
function wrapHeader(keyId: string, kdf: WrappedKdf): Uint8Array {
  return new TextEncoder().encode(
    [
      KEY_FILE_FORMAT,
      KEY_FILE_VERSION,
      keyId,
      'argon2id',
      ARGON2_VERSION,
      kdf.memoryKiB,
      kdf.iterations,
      kdf.parallelism,
      b64(kdf.salt),
      'aes-256-gcm',
    ].join('|'),
  );
}

/** Parses a key file's text; throws KeyFileInvalidError naming what is wrong. */
export function parseKeyFile(path: string, text: string): KeyFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new KeyFileInvalidError(path, 'not JSON', { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new KeyFileInvalidError(path, 'not a JSON object');
  }
  const o = json as Record<string, unknown>;
  if (o.format !== KEY_FILE_FORMAT) throw new KeyFileInvalidError(path, `format is not "${KEY_FILE_FORMAT}"`);
  if (o.version !== KEY_FILE_VERSION) throw new KeyFileInvalidError(path, `unknown version ${String(o.version)}`);
  if (typeof o.keyId !== 'string' || !KEY_ID_HEX.test(o.keyId)) {
    throw new KeyFileInvalidError(path, `keyId must be ${KEY_ID_BYTES * 2} lowercase hex characters`);
  }
  const keyId = o.keyId;
  if (o.protection === 'none') {
    return { keyId, protection: 'none', key: fromB64(path, 'key', o.key, DATA_KEY_BYTES) };
  }
  if (o.protection !== 'passphrase') throw new KeyFileInvalidError(path, 'protection must be "none" or "passphrase"');
  const k = o.kdf;
  if (typeof k !== 'object' || k === null || Array.isArray(k)) throw new KeyFileInvalidError(path, 'kdf is missing');
  const kdfObj = k as Record<string, unknown>;
  if (kdfObj.algorithm !== 'argon2id') throw new KeyFileInvalidError(path, 'kdf.algorithm must be "argon2id"');
  if (kdfObj.version !== ARGON2_VERSION) throw new KeyFileInvalidError(path, `kdf.version must be ${ARGON2_VERSION}`);
  const params = {
    memoryKiB: kdfObj.memoryKiB as number,
    iterations: kdfObj.iterations as number,
    parallelism: kdfObj.parallelism as number,
  };
  const problem = kdfParamsProblem(params);
  if (problem !== undefined) throw new KeyFileInvalidError(path, problem);
  if (o.aead !== 'aes-256-gcm') throw new KeyFileInvalidError(path, 'aead must be "aes-256-gcm"');
  return {
    keyId,
    protection: 'passphrase',
    kdf: { ...params, salt: fromB64(path, 'kdf.salt', kdfObj.salt, KDF_SALT_BYTES) },
    nonce: fromB64(path, 'nonce', o.nonce, GCM_NONCE_BYTES),
    wrappedKey: fromB64(path, 'wrappedKey', o.wrappedKey, DATA_KEY_BYTES + GCM_TAG_BYTES),
  };
}

/** The key file's text (JSON, one field per line). */
export function serializeKeyFile(file: KeyFile): string {
  const head = { format: KEY_FILE_FORMAT, version: KEY_FILE_VERSION, keyId: file.keyId, protection: file.protection };
  const body =
    file.protection === 'none'
      ? { ...head, key: b64(file.key) }
      : {
          ...head,
          kdf: {
            algorithm: 'argon2id',
            version: ARGON2_VERSION,
            memoryKiB: file.kdf.memoryKiB,
            iterations: file.kdf.iterations,
            parallelism: file.kdf.parallelism,
            salt: b64(file.kdf.salt),
          },
          aead: 'aes-256-gcm',
          nonce: b64(file.nonce),
          wrappedKey: b64(file.wrappedKey),
        };
  return `${JSON.stringify(body, null, 2)}\n`;
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ENOENT';
}

/** The key file of the store in `storeDir`, or undefined when there is none. */
export async function readKeyFile(storeDir: string): Promise<KeyFile | undefined> {
  const path = keyFilePath(storeDir);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  if (bytes.length > MAX_KEY_FILE_BYTES) throw new KeyFileInvalidError(path, 'too large');
  return parseKeyFile(path, bytes.toString('utf8'));
}

/**
 * Writes the key file atomically: a temp file (0600, fsync'd) renamed over the old one, then the
 * directory fsync'd. A crash leaves the old file or the new one, never a mix; the old file's
 * contents are no longer reachable through the file system once the rename is done.
 */
export async function writeKeyFile(storeDir: string, file: KeyFile): Promise<void> {
  const path = keyFilePath(storeDir);
  const tmp = `${path}.tmp-${randomUUID()}`;
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, KEY_FILE_MODE);
  try {
    try {
      await handle.writeFile(serializeKeyFile(file));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(tmp, KEY_FILE_MODE); // O_CREAT's mode is masked by the umask; 0600 is what we want
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(storeDir);
}

/** fsync of a directory, so a rename in it is durable (not supported everywhere: best effort). */
async function syncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch {
    // some platforms cannot fsync a directory; the rename is still atomic
  } finally {
    await handle?.close();
  }
}

/** A key file holding `dataKey` in the clear (no passphrase). */
export function plainKeyFile(provider: CryptoProvider, dataKey: Uint8Array): KeyFile {
  return { keyId: dataKeyId(provider, dataKey), protection: 'none', key: dataKey.slice() };
}

/**
 * A key file holding `dataKey` wrapped under `passphrase` with a fresh salt and nonce. Takes the
 * KDF's time (DEFAULT_KDF_PARAMS: about a second here).
 */
export async function wrappedKeyFile(
  provider: CryptoProvider,
  dataKey: Uint8Array,
  passphrase: string | Uint8Array,
  params: KdfParams = DEFAULT_KDF_PARAMS,
): Promise<KeyFile> {
  const problem = kdfParamsProblem(params);
  if (problem !== undefined) throw new InvalidStoreArgumentError(problem);
  const keyId = dataKeyId(provider, dataKey);
  const kdf: WrappedKdf = {
    memoryKiB: params.memoryKiB,
    iterations: params.iterations,
    parallelism: params.parallelism,
    salt: provider.randomBytes(KDF_SALT_BYTES),
  };
  const kek = await deriveKek(passphrase, kdf.salt, kdf);
  try {
    const nonce = provider.randomBytes(GCM_NONCE_BYTES);
    const wrappedKey = provider.aeadSeal('aes-256-gcm', kek, nonce, dataKey, wrapHeader(keyId, kdf));
    return { keyId, protection: 'passphrase', kdf, nonce, wrappedKey };
  } finally {
    kek.fill(0);
  }
}

/**
 * The data key of a key file. A wrapped one needs the passphrase (PassphraseRequiredError without
 * one, BadPassphraseError for a wrong one); the key is checked against the file's key id
 * (KeyFileInvalidError). A passphrase given for an unwrapped file is the caller's question
 * (encrypted-store.ts refuses it). The caller wipes the result.
 */
export async function unwrapKeyFile(
  provider: CryptoProvider,
  file: KeyFile,
  passphrase: string | Uint8Array | undefined,
  path: string,
): Promise<Uint8Array> {
  let key: Uint8Array;
  if (file.protection === 'none') {
    key = file.key.slice();
  } else {
    if (passphrase === undefined) throw new PassphraseRequiredError();
    const kek = await deriveKek(passphrase, file.kdf.salt, file.kdf);
    try {
      const opened = provider.aeadOpen(
        'aes-256-gcm',
        kek,
        file.nonce,
        file.wrappedKey,
        wrapHeader(file.keyId, file.kdf),
      );
      if (opened === null) throw new BadPassphraseError('store');
      key = opened;
    } finally {
      kek.fill(0);
    }
  }
  if (dataKeyId(provider, key) !== file.keyId) {
    key.fill(0);
    throw new KeyFileInvalidError(path, 'the key does not match its key id');
  }
  return key;
}
