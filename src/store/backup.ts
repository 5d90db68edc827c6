/**
 * Encrypted backups of an identity with its contacts: `exportBackup(store, passphrase)` → bytes,
 * `importBackup({ path, backup, backupPassphrase })` → a new store with that identity.
 *
 * What a backup holds: the identity key pairs (`identity/*`), the signed and ML-KEM prekeys with
 * their rotation records (`prekeys/s/*`, `k/*`, `p/s`, `p/k`: a handshake a contact starts from the
 * identity record it has cached still finds its prekey), and the contacts (names, addresses,
 * verified flags, previous keys). What it does not hold, on purpose:
 * - ratchet sessions: restoring a session snapshot puts its chain keys back to an earlier point,
 *   and the next message would be encrypted with message keys already used for other messages
 *   (key and nonce reuse, and the peer refuses them as duplicates). After an import the node has no
 *   sessions; its first message to each contact starts a new handshake, which replaces the
 *   contact's old session.
 * - one-time prekeys: each may serve one handshake. A backup can be restored more than once (or
 *   while the original node still runs), and every copy would hand out the same ones. Their id
 *   counter is kept (entry 6): the original may have uploaded keys to mailboxes under ids up to it,
 *   and a restored node that handed out those ids again would hold other private keys for them.
 * - history, outbox, dedupe marks, directory cache, mailbox contents: not the identity's, and
 *   large; the peer key: a restored node is a new device with a new peer id (its record says so).
 *
 * File format, version 1 (all integers big-endian):
 *
 *   header (50 bytes):  "SOTTOBAK" | u8 version = 1 | u8 kdf = 1 (Argon2id v0x13)
 *                       | u32 memoryKiB | u32 iterations | u32 parallelism | salt (16) | nonce (12)
 *   body:               AES-256-GCM(Argon2id(passphrase, salt, params), nonce, payload, ad = header)
 *   payload:            u8 payload version = 1 | u64 createdAt (ms)
 *                       | u32 count | count × (u8 type | u32 len | name | u32 len | codec bytes)
 *
 * Entry types: 1 identity (name = identity name), 2 signed prekey, 3 KEM prekey, 4 rotation record
 * (name "signed" or "kem"), 5 contact, 6 the next one-time prekey id (at most once; codec kind
 * `prekey-counter`: max(the store's counter, its highest one-time id + 1); absent in backups
 * written before it, and in one of a store that never had a one-time prekey); values are the store's codec bytes (codec.ts, versioned
 * themselves) and are decoded and checked on import. The header is the associated data: KDF
 * parameters cannot be changed without the file failing to open. Wrong passphrase →
 * BadPassphraseError('backup'); anything else wrong → BackupInvalidError; both before anything is
 * written.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Reader, Writer } from '../crypto/bytes.js';
import type { IdentityKeyPair, KemPrekey, SignedPrekey } from '../crypto/index.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { nodeProvider } from '../crypto/provider-node.js';
import { binaryCodec, type ValueKind, type ValueTypes } from './codec.js';
import { type KeyProtection, openEncryptedStore } from './encrypted-store.js';
import {
  BackupInvalidError,
  BadPassphraseError,
  ImportTargetNotEmptyError,
  InvalidStoreArgumentError,
} from './errors.js';
import { readKeyFile } from './key-file.js';
import { firstFreeOneTimeId } from './layout.js';
import { LevelBackend } from './level-backend.js';
import { DEFAULT_KDF_PARAMS, deriveKek, KDF_SALT_BYTES, type KdfParams, kdfParamsProblem } from './passphrase-kdf.js';
import { hasData } from './schema.js';
import type { ContactRecord, PrekeyRotationRecord, SottoStore } from './types.js';

export const BACKUP_MAGIC = 'SOTTOBAK';
export const BACKUP_VERSION = 1;
const KDF_ARGON2ID = 1;
const PAYLOAD_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const BACKUP_HEADER_BYTES = 8 + 1 + 1 + 4 + 4 + 4 + KDF_SALT_BYTES + NONCE_BYTES;
/** Largest backup read (an identity with ten thousand contacts is about 2 MiB). */
export const MAX_BACKUP_BYTES = 64 * 1024 * 1024;

const ENTRY = { identity: 1, signed: 2, kem: 3, rotation: 4, contact: 5, nextOneTimeId: 6 } as const;

/** What a backup holds (decoded and checked). */
export interface BackupContents {
  readonly createdAt: number;
  readonly identities: ReadonlyArray<{ readonly name: string; readonly keyPair: IdentityKeyPair }>;
  readonly signedPrekeys: readonly SignedPrekey[];
  readonly kemPrekeys: readonly KemPrekey[];
  readonly rotation: { readonly signed?: PrekeyRotationRecord; readonly kem?: PrekeyRotationRecord };
  readonly contacts: readonly ContactRecord[];
  /** The first one-time prekey id the restored node may allocate (none: from 1). */
  readonly nextOneTimeId?: number | undefined;
}

export interface BackupOptions {
  /** Default: `nodeProvider`. */
  provider?: CryptoProvider | undefined;
  /** KDF cost of the backup key (default DEFAULT_KDF_PARAMS). */
  kdf?: KdfParams | undefined;
  /** The time written into the backup (default `Date.now()`). */
  now?: number | undefined;
}

/** The identity, prekeys and contacts of an open store, as backup contents. */
export async function backupContents(store: SottoStore, now: number): Promise<BackupContents> {
  const identities: Array<{ name: string; keyPair: IdentityKeyPair }> = [];
  for (const name of await store.identity.list()) {
    const keyPair = await store.identity.get(name);
    if (keyPair !== undefined) identities.push({ name, keyPair });
  }
  const signedPrekeys: SignedPrekey[] = [];
  for (const id of await store.prekeys.ids('signed')) {
    const key = await store.prekeys.get('signed', id);
    if (key !== undefined) signedPrekeys.push(key);
  }
  const kemPrekeys: KemPrekey[] = [];
  for (const id of await store.prekeys.ids('kem')) {
    const key = await store.prekeys.get('kem', id);
    if (key !== undefined) kemPrekeys.push(key);
  }
  const signed = await store.prekeys.rotation('signed');
  const kem = await store.prekeys.rotation('kem');
  const rotation = { ...(signed === undefined ? {} : { signed }), ...(kem === undefined ? {} : { kem }) };
  const oneTimeIds = await store.prekeys.ids('one-time');
  const counter = await store.prekeys.nextOneTimeId();
  const nextOneTimeId =
    counter === undefined && oneTimeIds.length === 0 ? undefined : firstFreeOneTimeId(counter, oneTimeIds);
  return {
    createdAt: now,
    identities,
    signedPrekeys,
    kemPrekeys,
    rotation,
    contacts: await store.contacts.list(),
    ...(nextOneTimeId === undefined ? {} : { nextOneTimeId }),
  };
}

function encodePayload(contents: BackupContents): Uint8Array {
  const entries: Array<[number, string, Uint8Array]> = [];
  const add = <K extends ValueKind>(type: number, name: string, kind: K, value: ValueTypes[K]) =>
    entries.push([type, name, binaryCodec.encode(kind, value)]);
  for (const { name, keyPair } of contents.identities) add(ENTRY.identity, name, 'identity', keyPair);
  for (const key of contents.signedPrekeys) add(ENTRY.signed, '', 'signed-prekey', key);
  for (const key of contents.kemPrekeys) add(ENTRY.kem, '', 'kem-prekey', key);
  if (contents.rotation.signed) add(ENTRY.rotation, 'signed', 'prekey-rotation', contents.rotation.signed);
  if (contents.rotation.kem) add(ENTRY.rotation, 'kem', 'prekey-rotation', contents.rotation.kem);
  for (const contact of contents.contacts) add(ENTRY.contact, '', 'contact', contact);
  if (contents.nextOneTimeId !== undefined) add(ENTRY.nextOneTimeId, '', 'prekey-counter', contents.nextOneTimeId);
  const w = new Writer(4096).u8(PAYLOAD_VERSION).u64(contents.createdAt).u32(entries.length);
  const utf8 = new TextEncoder();
  for (const [type, name, value] of entries) {
    const n = utf8.encode(name);
    w.u8(type).u32(n.length).bytes(n).u32(value.length).bytes(value);
  }
  const out = w.finish();
  for (const [, , value] of entries) value.fill(0);
  return out;
}

function decodePayload(payload: Uint8Array): BackupContents {
  const fail = (why: string) => new BackupInvalidError(`backup contents: ${why}`);
  const r = new Reader(payload, fail);
  const version = r.u8('payload version');
  if (version !== PAYLOAD_VERSION) throw fail(`unknown payload version ${version}`);
  const createdAt = r.u64('createdAt');
  const count = r.u32('entry count');
  const identities: Array<{ name: string; keyPair: IdentityKeyPair }> = [];
  const signedPrekeys: SignedPrekey[] = [];
  const kemPrekeys: KemPrekey[] = [];
  const rotation: { signed?: PrekeyRotationRecord; kem?: PrekeyRotationRecord } = {};
  const contacts: ContactRecord[] = [];
  let nextOneTimeId: number | undefined;
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const decode = <K extends ValueKind>(kind: K, bytes: Uint8Array): ValueTypes[K] => {
    try {
      return binaryCodec.decode(kind, bytes);
    } catch (err) {
      throw new BackupInvalidError(`backup contents: a ${kind} entry does not decode`, { cause: err });
    }
  };
  for (let i = 0; i < count; i++) {
    const type = r.u8('entry type');
    let name: string;
    try {
      name = utf8.decode(r.bytes(r.u32('name length'), 'name'));
    } catch (err) {
      if (err instanceof BackupInvalidError) throw err;
      throw fail('an entry name is not UTF-8');
    }
    const value = r.bytes(r.u32('value length'), 'value');
    switch (type) {
      case ENTRY.identity:
        if (identities.some((e) => e.name === name)) throw fail(`identity ${JSON.stringify(name)} twice`);
        identities.push({ name, keyPair: decode('identity', value) });
        break;
      case ENTRY.signed:
        signedPrekeys.push(decode('signed-prekey', value));
        break;
      case ENTRY.kem:
        kemPrekeys.push(decode('kem-prekey', value));
        break;
      case ENTRY.rotation:
        if (name !== 'signed' && name !== 'kem') throw fail('a rotation record for an unknown prekey kind');
        if (rotation[name] !== undefined) throw fail(`two ${name} rotation records`);
        rotation[name] = decode('prekey-rotation', value);
        break;
      case ENTRY.contact:
        contacts.push(decode('contact', value));
        break;
      case ENTRY.nextOneTimeId:
        if (nextOneTimeId !== undefined) throw fail('two one-time prekey id counters');
        nextOneTimeId = decode('prekey-counter', value);
        break;
      default:
        throw fail(`unknown entry type ${type}`);
    }
    value.fill(0);
  }
  r.end('backup contents');
  if (!identities.some((e) => e.name === 'default')) throw fail('no default identity');
  for (const [kind, keys] of [
    ['signed', signedPrekeys],
    ['kem', kemPrekeys],
  ] as const) {
    const record = rotation[kind];
    if (record !== undefined && !keys.some((k) => k.id === record.currentId)) {
      throw fail(`the current ${kind} prekey is missing`);
    }
  }
  return {
    createdAt,
    identities,
    signedPrekeys,
    kemPrekeys,
    rotation,
    contacts,
    ...(nextOneTimeId === undefined ? {} : { nextOneTimeId }),
  };
}

function checkPassphrase(what: string, value: unknown): asserts value is string | Uint8Array {
  if (typeof value === 'string' ? value.length === 0 : !(value instanceof Uint8Array) || value.length === 0) {
    throw new InvalidStoreArgumentError(`${what} must be a non-empty string or Uint8Array`);
  }
}

/** Seals backup contents under `passphrase`: the bytes of a backup file. */
export async function sealBackup(
  contents: BackupContents,
  passphrase: string | Uint8Array,
  options: BackupOptions = {},
): Promise<Uint8Array> {
  checkPassphrase('the backup passphrase', passphrase);
  const provider = options.provider ?? nodeProvider;
  const params = options.kdf ?? DEFAULT_KDF_PARAMS;
  const problem = kdfParamsProblem(params);
  if (problem !== undefined) throw new InvalidStoreArgumentError(problem);
  const salt = provider.randomBytes(KDF_SALT_BYTES);
  const nonce = provider.randomBytes(NONCE_BYTES);
  const header = new Writer(BACKUP_HEADER_BYTES)
    .bytes(new TextEncoder().encode(BACKUP_MAGIC))
    .u8(BACKUP_VERSION)
    .u8(KDF_ARGON2ID)
    .u32(params.memoryKiB)
    .u32(params.iterations)
    .u32(params.parallelism)
    .bytes(salt)
    .bytes(nonce)
    .finish();
  const payload = encodePayload(contents);
  const key = await deriveKek(passphrase, salt, params);
  try {
    const body = provider.aeadSeal('aes-256-gcm', key, nonce, payload, header);
    const out = new Uint8Array(header.length + body.length);
    out.set(header);
    out.set(body, header.length);
    return out;
  } finally {
    key.fill(0);
    payload.fill(0);
  }
}

/** Opens a backup file's bytes. BadPassphraseError('backup') or BackupInvalidError; writes nothing. */
export async function openBackup(
  backup: Uint8Array,
  passphrase: string | Uint8Array,
  options: { provider?: CryptoProvider | undefined } = {},
): Promise<BackupContents> {
  checkPassphrase('the backup passphrase', passphrase);
  if (!(backup instanceof Uint8Array)) throw new InvalidStoreArgumentError('a backup must be a Uint8Array');
  if (backup.length > MAX_BACKUP_BYTES) throw new BackupInvalidError('the file is larger than any backup');
  const provider = options.provider ?? nodeProvider;
  const r = new Reader(backup, (why) => new BackupInvalidError(`not a sotto backup (${why})`));
  const magic = new TextDecoder().decode(r.bytes(8, 'magic'));
  if (magic !== BACKUP_MAGIC) throw new BackupInvalidError('not a sotto backup');
  const version = r.u8('version');
  if (version !== BACKUP_VERSION) throw new BackupInvalidError(`unsupported backup version ${version}`);
  const kdf = r.u8('kdf');
  if (kdf !== KDF_ARGON2ID) throw new BackupInvalidError(`unsupported backup KDF ${kdf}`);
  const params: KdfParams = {
    memoryKiB: r.u32('memoryKiB'),
    iterations: r.u32('iterations'),
    parallelism: r.u32('parallelism'),
  };
  const problem = kdfParamsProblem(params);
  if (problem !== undefined) throw new BackupInvalidError(`backup header: ${problem}`);
  const salt = r.bytes(KDF_SALT_BYTES, 'salt');
  const nonce = r.bytes(NONCE_BYTES, 'nonce');
  const body = r.rest();
  if (body.length < TAG_BYTES) throw new BackupInvalidError('not a sotto backup (truncated)');
  const header = backup.subarray(0, BACKUP_HEADER_BYTES);
  const key = await deriveKek(passphrase, salt, params);
  let payload: Uint8Array | null;
  try {
    payload = provider.aeadOpen('aes-256-gcm', key, nonce, body, header);
  } finally {
    key.fill(0);
  }
  // AES-GCM cannot tell a wrong passphrase from a tampered file: both fail the tag
  if (payload === null) throw new BadPassphraseError('backup');
  try {
    return decodePayload(payload);
  } finally {
    payload.fill(0);
  }
}

/** A backup of the identity, prekeys and contacts in `store`, sealed under `passphrase`. */
export async function exportBackup(
  store: SottoStore,
  passphrase: string | Uint8Array,
  options: BackupOptions = {},
): Promise<Uint8Array> {
  checkPassphrase('the backup passphrase', passphrase);
  const contents = await backupContents(store, options.now ?? Date.now());
  if (!contents.identities.some((e) => e.name === 'default')) {
    throw new InvalidStoreArgumentError('the store has no identity to back up');
  }
  return sealBackup(contents, passphrase, options);
}

export interface ImportBackupOptions {
  /** The store directory to create (`<data dir>/store`). Refused if it holds a store. */
  path: string;
  backup: Uint8Array;
  backupPassphrase: string | Uint8Array;
  /** The new store's passphrase (none: its data key is kept unwrapped). */
  passphrase?: string | Uint8Array | undefined;
  provider?: CryptoProvider | undefined;
  /** KDF cost of the new store's key file. */
  kdf?: KdfParams | undefined;
}

export interface ImportedBackup {
  readonly contents: BackupContents;
  readonly protection: KeyProtection;
}

/** Refuses a target that holds a store: a key file, or LevelDB data (takes the lock to look). */
async function checkEmptyTarget(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if ((await readKeyFile(path)) !== undefined) throw new ImportTargetNotEmptyError(path);
  const backend = await LevelBackend.open(path);
  try {
    if (await hasData(backend)) throw new ImportTargetNotEmptyError(path);
  } finally {
    await backend.close();
  }
}

/**
 * Creates the store at `path` from a backup: opens the backup first (a wrong passphrase or a bad
 * file changes nothing), then `importBackupContents`.
 */
export async function importBackup(options: ImportBackupOptions): Promise<ImportedBackup> {
  const contents = await openBackup(options.backup, options.backupPassphrase, { provider: options.provider });
  return importBackupContents({ ...options, contents });
}

export interface ImportBackupContentsOptions extends Omit<ImportBackupOptions, 'backup' | 'backupPassphrase'> {
  /** What `openBackup` returned. */
  contents: BackupContents;
}

/**
 * Creates the store at `path` holding `contents`. It is built in a sibling directory and renamed
 * into place, so a failure leaves no half-imported store. The target must not hold a store
 * (ImportTargetNotEmptyError); an empty LevelDB directory is replaced.
 */
export async function importBackupContents(options: ImportBackupContentsOptions): Promise<ImportedBackup> {
  const { path, contents } = options;
  await checkEmptyTarget(path);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const staging = `${path}.import-${randomUUID()}`;
  try {
    const opened = await openEncryptedStore({
      path: staging,
      passphrase: options.passphrase,
      provider: options.provider,
      kdf: options.kdf,
    });
    try {
      const batch = opened.store.batch();
      for (const { name, keyPair } of contents.identities) batch.identity.put(keyPair, name);
      for (const key of contents.signedPrekeys) batch.prekeys.put('signed', key);
      for (const key of contents.kemPrekeys) batch.prekeys.put('kem', key);
      if (contents.rotation.signed) batch.prekeys.setRotation('signed', contents.rotation.signed);
      if (contents.rotation.kem) batch.prekeys.setRotation('kem', contents.rotation.kem);
      for (const contact of contents.contacts) batch.contacts.put(contact);
      if (contents.nextOneTimeId !== undefined) batch.prekeys.setNextOneTimeId(contents.nextOneTimeId);
      await batch.commit();
    } finally {
      await opened.store.close();
    }
    await checkEmptyTarget(path); // still empty (nobody started a node here meanwhile)?
    if (existsSync(path)) await rm(path, { recursive: true, force: true });
    await rename(staging, path);
    return { contents, protection: opened.protection };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
