/**
 * Opening a LevelDB store with encryption at rest: the key file (key-file.ts), the at-rest hook
 * (at-rest.ts), the marker `meta/at-rest`, file permissions, and the one-time encryption of a
 * store written before encryption at rest existed.
 *
 * `openEncryptedStore({ path, passphrase })`, by what it finds (LevelDB's lock is held throughout):
 *
 * | key file | marker   | data | what happens                                                      |
 * |----------|----------|------|-------------------------------------------------------------------|
 * | none     | none     | no   | new store: a random data key, its key file (wrapped if a          |
 * |          |          |      | passphrase is given), then the marker                             |
 * | none     | none     | yes  | a store from before encryption at rest: checked to be plain, a    |
 * |          |          |      | key file as above, then every value sealed and the marker put in  |
 * |          |          |      | ONE batch (a crash leaves it plain, with a key file: next case)   |
 * | present  | none     | any  | the same, with the data key of the existing key file (a first     |
 * |          |          |      | open or an encryption that was interrupted)                       |
 * | present  | key id   | any  | unlock: the key file's key id must equal the marker's             |
 * | none     | key id   | any  | KeyFileMissingError                                               |
 *
 * A wrapped key needs the passphrase (PassphraseRequiredError; a wrong one: BadPassphraseError);
 * a passphrase given for a store without one is refused (PassphraseNotSetError: set it with
 * `changeStorePassphrase`). Every refusal happens before anything is written; those about the
 * passphrase before LevelDB is even opened.
 *
 * Permissions: the store directory is made 0700 and every file in it 0600 at each open (existing
 * files are tightened). LevelDB creates later files with the process umask; the directory's mode
 * keeps other users out of them (the `sotto` command sets umask 077).
 *
 * `changeStorePassphrase` re-wraps the data key (no value is rewritten): `set` (none → passphrase),
 * `change`, `remove` (passphrase → none). It checks the current passphrase first, then holds the
 * LevelDB lock while it replaces the key file (atomically), so it refuses while a node runs on the
 * store (StoreOpenError).
 *
 * Every refusal for a passphrase reason (missing, wrong, not set) happens before LevelDB is
 * opened: LevelDB rewrites some of its own files on each open, and "nothing changed" means every
 * byte of every file.
 */
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromHex, toHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { nodeProvider } from '../crypto/provider-node.js';
import { AtRestHook, KEY_ID_BYTES } from './at-rest.js';
import type { KvBackend, RawOp } from './backend.js';
import { binaryCodec } from './codec.js';
import {
  InvalidStoreArgumentError,
  KeyFileInvalidError,
  KeyFileMissingError,
  PassphraseAlreadySetError,
  PassphraseNotSetError,
  PassphraseRequiredError,
  StoreCorruptError,
} from './errors.js';
import {
  type KeyFile,
  keyFilePath,
  plainKeyFile,
  readKeyFile,
  unwrapKeyFile,
  wrappedKeyFile,
  writeKeyFile,
} from './key-file.js';
import { AT_REST_MARKER_KEY, CONCERNS, SCHEMA_KEY } from './layout.js';
import { LevelBackend } from './level-backend.js';
import { DEFAULT_KDF_PARAMS, type KdfParams } from './passphrase-kdf.js';
import { hasData } from './schema.js';
import { openOn, type StoreOptions } from './store.js';
import type { SottoStore } from './types.js';

/** Directories that hold keys: owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Files that hold keys or data: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;

/** How the data key is kept: wrapped by a passphrase, or in the clear (file permissions only). */
export type KeyProtection = 'none' | 'passphrase';

export interface OpenEncryptedStoreOptions extends Omit<StoreOptions, 'hook'> {
  /** Directory of the LevelDB database (and its key file); created 0700 if missing. */
  path: string;
  /**
   * Unlocks a store whose data key is wrapped, and wraps the key of a new (or newly encrypted)
   * store. Never stored, never logged. Without one a new store's key is kept unwrapped.
   */
  passphrase?: string | Uint8Array | undefined;
  /** Default: `nodeProvider`. */
  provider?: CryptoProvider | undefined;
  /** KDF cost for a key file this call creates (default DEFAULT_KDF_PARAMS); an existing file keeps its own. */
  kdf?: KdfParams | undefined;
  /** Salts of sealed values (default: the provider's CSPRNG). */
  rng?: ((length: number) => Uint8Array) | undefined;
}

export interface OpenedEncryptedStore {
  readonly store: SottoStore;
  readonly protection: KeyProtection;
  /** The store was empty: a new data key was made. */
  readonly created: boolean;
  /** The store held plain values from before encryption at rest; they are sealed now. */
  readonly migrated: boolean;
  /** How many values that encryption sealed (0 unless `migrated`). */
  readonly migratedValues: number;
}

/** What `keyFileStatus` tells without taking the lock or a passphrase. */
export interface KeyFileStatus {
  /** The store directory exists. */
  readonly exists: boolean;
  /** How its key is kept, or undefined when it has no key file (new, or from before encryption at rest). */
  readonly protection: KeyProtection | undefined;
}

/** Whether `path` has a store and how its key is protected: lets a CLI ask for a passphrase only when needed. */
export async function keyFileStatus(path: string): Promise<KeyFileStatus> {
  if (!existsSync(path)) return { exists: false, protection: undefined };
  const file = await readKeyFile(path);
  return { exists: true, protection: file?.protection };
}

/**
 * Makes `dir` 0700 and every regular file directly in it 0600, or only the files named in `only`
 * (a data dir may be a directory the user also keeps other things in). Symbolic links are left
 * alone: a chmod would follow them out of the directory. Returns how many modes it changed.
 */
export async function restrictPermissions(dir: string, options: { only?: readonly string[] } = {}): Promise<number> {
  let changed = 0;
  const st = await lstat(dir);
  if (st.isDirectory() && (st.mode & 0o777) !== PRIVATE_DIR_MODE) {
    await chmod(dir, PRIVATE_DIR_MODE);
    changed++;
  }
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    if (options.only !== undefined && !options.only.includes(entry.name)) continue;
    const file = join(dir, entry.name);
    try {
      const fst = await lstat(file);
      if ((fst.mode & 0o777) !== PRIVATE_FILE_MODE) {
        await chmod(file, PRIVATE_FILE_MODE);
        changed++;
      }
    } catch (err) {
      // a file LevelDB removed meanwhile (an old log after a compaction)
      if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    }
  }
  return changed;
}

/** First byte of the raw `meta/at-rest` marker (format 1's byte; the marker is never sealed, so it keeps it). */
export const AT_REST_MARKER_FORMAT = 0x81;
const MARKER_BYTES = 1 + KEY_ID_BYTES;

async function readMarker(backend: KvBackend): Promise<string | undefined> {
  const raw = await backend.get('meta', AT_REST_MARKER_KEY);
  if (raw === undefined) return undefined;
  if (raw.length !== MARKER_BYTES || raw[0] !== AT_REST_MARKER_FORMAT) {
    throw new StoreCorruptError('meta', AT_REST_MARKER_KEY, 'the at-rest marker is malformed');
  }
  return toHex(raw.subarray(1));
}

function markerOp(keyId: string): RawOp {
  const value = new Uint8Array(MARKER_BYTES);
  value[0] = AT_REST_MARKER_FORMAT;
  value.set(fromHex(keyId), 1);
  return { type: 'put', concern: 'meta', key: AT_REST_MARKER_KEY, value };
}

/**
 * A store with data but no key file must be one from before encryption at rest: its schema value
 * decodes as plain codec bytes and no value looks sealed. Otherwise its key file was lost (or
 * this is not a sotto store), and sealing its values again would bury them: refuse.
 */
async function checkPlainStore(backend: KvBackend): Promise<void> {
  const schema = await backend.get('meta', SCHEMA_KEY);
  try {
    if (schema === undefined) throw new Error('no schema version');
    binaryCodec.decode('schema', schema);
  } catch (err) {
    throw new StoreCorruptError(
      'meta',
      SCHEMA_KEY,
      'the store has data and no key file, and its schema version is not a plain value (was its key file lost?)',
      { cause: err },
    );
  }
  for (const concern of CONCERNS) {
    for (const [key, value] of await backend.entries(concern)) {
      if (value.length === 0 || (value[0] as number) >= 0x80) {
        throw new StoreCorruptError(concern, key, 'a value looks sealed but the store has no key file');
      }
    }
  }
}

/**
 * Seals every plain value of the store and puts the marker: ONE batch, all or nothing. Then
 * compacts, so the plain values leave LevelDB's files (what the file system keeps of deleted
 * blocks is beyond our reach: see README, "Encryption at rest").
 */
async function sealEverything(backend: LevelBackend, hook: AtRestHook, keyId: string): Promise<number> {
  const ops: RawOp[] = [];
  for (const concern of CONCERNS) {
    for (const [key, value] of await backend.entries(concern)) {
      if (concern === 'meta' && key === AT_REST_MARKER_KEY) continue;
      ops.push({ type: 'put', concern, key, value: hook.seal(value, { concern, key }) });
    }
  }
  ops.push(markerOp(keyId));
  await backend.batch(ops, { sync: true });
  await backend.compactAll();
  return ops.length - 1;
}

function checkPassphraseArg(what: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value === 'string' ? value.length === 0 : !(value instanceof Uint8Array) || value.length === 0) {
    throw new InvalidStoreArgumentError(`${what} must be a non-empty string or Uint8Array`);
  }
}

/** The key file changed between reading it and taking the store's lock (a concurrent passphrase change). */
function checkSameKeyFile(path: string, before: KeyFile | undefined, after: KeyFile | undefined): void {
  if (before?.keyId !== after?.keyId) {
    throw new KeyFileInvalidError(keyFilePath(path), 'it changed while the store was being opened; try again');
  }
}

/**
 * Opens (creating or encrypting if needed) the store in `options.path` with encryption at rest.
 * An existing key file is unwrapped before LevelDB is opened (LevelDB rewrites some of its own
 * files on every open), so a missing or wrong passphrase leaves every file as it was.
 */
export async function openEncryptedStore(options: OpenEncryptedStoreOptions): Promise<OpenedEncryptedStore> {
  checkPassphraseArg('passphrase', options.passphrase);
  const provider = options.provider ?? nodeProvider;
  const path = options.path;
  const existing = await readKeyFile(path);
  let dataKey: Uint8Array | undefined;
  if (existing !== undefined) {
    if (existing.protection === 'none' && options.passphrase !== undefined) throw new PassphraseNotSetError();
    dataKey = await unwrapKeyFile(provider, existing, options.passphrase, keyFilePath(path));
  }
  let backend: LevelBackend | undefined;
  let handedOver = false;
  try {
    await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
    backend = await LevelBackend.open(path);
    checkSameKeyFile(path, existing, await readKeyFile(path));
    await restrictPermissions(path);
    const marker = await readMarker(backend);
    const data = await hasData(backend);
    let file: KeyFile;
    if (existing === undefined) {
      if (marker !== undefined) throw new KeyFileMissingError(keyFilePath(path));
      if (data) await checkPlainStore(backend);
      dataKey = provider.randomBytes(32);
      file =
        options.passphrase === undefined
          ? plainKeyFile(provider, dataKey)
          : await wrappedKeyFile(provider, dataKey, options.passphrase, options.kdf ?? DEFAULT_KDF_PARAMS);
      await writeKeyFile(path, file);
    } else {
      file = existing;
      if (marker !== undefined && marker !== file.keyId) {
        throw new KeyFileInvalidError(keyFilePath(path), 'it belongs to another store (its key id differs)');
      }
      if (marker === undefined && data) await checkPlainStore(backend);
    }
    const hook = new AtRestHook(provider, dataKey as Uint8Array, options.rng === undefined ? {} : { rng: options.rng });
    let migratedValues = 0;
    if (marker === undefined) {
      if (data) migratedValues = await sealEverything(backend, hook, file.keyId);
      else await backend.batch([markerOp(file.keyId)], { sync: true });
    }
    await restrictPermissions(path);
    handedOver = true; // openOn closes the backend itself if it fails
    const store = await openOn(backend, { codec: options.codec, schema: options.schema, hook });
    return {
      store,
      protection: file.protection,
      created: marker === undefined && !data,
      migrated: marker === undefined && data,
      migratedValues,
    };
  } catch (err) {
    if (!handedOver) await backend?.close();
    throw err;
  } finally {
    dataKey?.fill(0);
  }
}

/** What `changeStorePassphrase` does to the key file. */
export type PassphraseAction = 'set' | 'change' | 'remove';

export interface ChangeStorePassphraseOptions {
  path: string;
  action: PassphraseAction;
  /** The current passphrase (`change`, `remove`). */
  passphrase?: string | Uint8Array | undefined;
  /** The new passphrase (`set`, `change`). */
  newPassphrase?: string | Uint8Array | undefined;
  provider?: CryptoProvider | undefined;
  /** KDF cost of the new wrap (default DEFAULT_KDF_PARAMS). */
  kdf?: KdfParams | undefined;
}

/** The store at `path` does not exist (a passphrase change never creates one). */
export class NoStoreError extends InvalidStoreArgumentError {
  constructor() {
    super('there is no store here');
    this.name = 'NoStoreError';
  }
}

/**
 * Re-wraps the data key of the store at `path` (no value is rewritten) and replaces its key file
 * atomically. `set` on a store from before encryption at rest encrypts it first (as
 * `openEncryptedStore` would). Errors leave the key file as it was: BadPassphraseError (wrong
 * current passphrase), PassphraseRequiredError (none given), PassphraseNotSetError (`change` or
 * `remove` on a store without one), PassphraseAlreadySetError (`set` on a store with one),
 * StoreOpenError (a node holds the store), NoStoreError.
 */
export async function changeStorePassphrase(options: ChangeStorePassphraseOptions): Promise<{ keyId: string }> {
  const { path, action } = options;
  if (action !== 'set' && action !== 'change' && action !== 'remove') {
    throw new InvalidStoreArgumentError('action must be "set", "change" or "remove"');
  }
  checkPassphraseArg('passphrase', options.passphrase);
  checkPassphraseArg('newPassphrase', options.newPassphrase);
  if (action !== 'remove' && options.newPassphrase === undefined) {
    throw new InvalidStoreArgumentError(`${action} needs the new passphrase`);
  }
  if (action === 'remove' && options.newPassphrase !== undefined) {
    throw new InvalidStoreArgumentError('remove takes no new passphrase');
  }
  if (action !== 'set' && options.passphrase === undefined) throw new PassphraseRequiredError();
  const provider = options.provider ?? nodeProvider;
  if (!existsSync(path)) throw new NoStoreError();
  // Everything that can refuse, before the lock is taken (opening LevelDB rewrites some of its files).
  const file = await readKeyFile(path);
  let dataKey: Uint8Array | undefined;
  if (file !== undefined) {
    if (action === 'set' && file.protection === 'passphrase') throw new PassphraseAlreadySetError();
    if (action !== 'set' && file.protection === 'none') throw new PassphraseNotSetError();
    dataKey = await unwrapKeyFile(provider, file, action === 'set' ? undefined : options.passphrase, keyFilePath(path));
  } else if (action !== 'set') {
    throw new PassphraseNotSetError();
  }
  try {
    const backend = await LevelBackend.open(path); // the lock: no node may run on the store meanwhile
    try {
      checkSameKeyFile(path, file, await readKeyFile(path));
      const marker = await readMarker(backend);
      if (file === undefined) {
        if (marker !== undefined) throw new KeyFileMissingError(keyFilePath(path));
        if (!(await hasData(backend))) throw new NoStoreError();
        // a store from before encryption at rest: encrypted below, with the new passphrase
      } else {
        if (marker !== undefined && marker !== file.keyId) {
          throw new KeyFileInvalidError(keyFilePath(path), 'it belongs to another store (its key id differs)');
        }
        const next =
          options.newPassphrase === undefined
            ? plainKeyFile(provider, dataKey as Uint8Array)
            : await wrappedKeyFile(
                provider,
                dataKey as Uint8Array,
                options.newPassphrase,
                options.kdf ?? DEFAULT_KDF_PARAMS,
              );
        await writeKeyFile(path, next);
        if (next.protection === 'none') next.key.fill(0);
        return { keyId: next.keyId };
      }
    } finally {
      await backend.close();
    }
  } finally {
    dataKey?.fill(0);
  }
  const opened = await openEncryptedStore({ path, passphrase: options.newPassphrase, provider, kdf: options.kdf });
  await opened.store.close();
  return { keyId: ((await readKeyFile(path)) as KeyFile).keyId };
}
