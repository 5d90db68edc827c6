/**
 * sotto's persistent state: one small async store per concern (types.ts), an atomic batch across
 * concerns (batch.ts), the key layout (layout.ts), the value codec with its encryption hook
 * (codec.ts) and the schema/migrations (schema.ts), over LevelDB or memory. Encryption at rest:
 * the hook (at-rest.ts), the key file (key-file.ts), opening and passphrase changes
 * (encrypted-store.ts), encrypted backups (backup.ts).
 */
export {
  AtRestHook,
  type AtRestHookOptions,
  DATA_KEY_BYTES,
  dataKeyId,
  SEALED_FORMAT,
  SEALED_FORMAT_V1,
  SEALED_OVERHEAD,
  VALUE_NONCE_BYTES,
} from './at-rest.js';
export { type KvBackend, MemoryBackend, type RangeOptions, type RawOp, type WriteOptions } from './backend.js';
export {
  BACKUP_MAGIC,
  BACKUP_VERSION,
  type BackupContents,
  type BackupOptions,
  exportBackup,
  type ImportBackupContentsOptions,
  type ImportBackupOptions,
  type ImportedBackup,
  importBackup,
  importBackupContents,
  openBackup,
  sealBackup,
} from './backup.js';
export { StoreBatch } from './batch.js';
export {
  binaryCodec,
  CodecError,
  type EncryptionHook,
  FORMAT_VERSION,
  KIND_TAGS,
  MAX_PREVIOUS_SESSIONS,
  plaintextHook,
  StoreCodec,
  type ValueCodec,
  type ValueKind,
  type ValueLocation,
  type ValueTypes,
} from './codec.js';
export {
  type ChangeStorePassphraseOptions,
  changeStorePassphrase,
  type KeyFileStatus,
  type KeyProtection,
  keyFileStatus,
  NoStoreError,
  type OpenEncryptedStoreOptions,
  type OpenedEncryptedStore,
  openEncryptedStore,
  type PassphraseAction,
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  restrictPermissions,
} from './encrypted-store.js';
export * from './errors.js';
export { KEY_FILE_NAME, type KeyFile, keyFilePath, parseKeyFile, readKeyFile } from './key-file.js';
export * from './layout.js';
export { LevelBackend } from './level-backend.js';
export { DEFAULT_KDF_PARAMS, KDF_LIMITS, KDF_SALT_BYTES, type KdfParams } from './passphrase-kdf.js';
export {
  DEFAULT_SCHEMA,
  MIGRATIONS,
  type Migration,
  type MigrationContext,
  SCHEMA_VERSION,
  type SchemaOptions,
} from './schema.js';
export {
  createMemoryStore,
  type MemoryStoreOptions,
  type OpenStoreOptions,
  openStore,
  type StoreOptions,
} from './store.js';
export { DEFAULT_MESSAGE_PAGE, MAX_MESSAGE_PAGE } from './stores.js';
export type * from './types.js';
