/**
 * sotto's persistent state: one small async store per concern (types.ts), an atomic batch across
 * concerns (batch.ts), the key layout (layout.ts), the value codec with its encryption hook
 * (codec.ts) and the schema/migrations (schema.ts), over LevelDB or memory.
 */
export { type KvBackend, MemoryBackend, type RangeOptions, type RawOp, type WriteOptions } from './backend.js';
export { StoreBatch } from './batch.js';
export {
  binaryCodec,
  CodecError,
  type EncryptionHook,
  FORMAT_VERSION,
  KIND_TAGS,
  plaintextHook,
  StoreCodec,
  type ValueCodec,
  type ValueKind,
  type ValueLocation,
  type ValueTypes,
} from './codec.js';
export * from './errors.js';
export * from './layout.js';
export { LevelBackend } from './level-backend.js';
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
