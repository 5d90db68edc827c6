/**
 * Opening a store: `openStore({ path })` on LevelDB, `createMemoryStore()` in memory. Both check
 * the schema (and migrate) before returning, and release everything on failure.
 */
import { type KvBackend, MemoryBackend } from './backend.js';
import { StoreBatch } from './batch.js';
import { binaryCodec, type EncryptionHook, plaintextHook, StoreCodec, type ValueCodec } from './codec.js';
import { StoreEngine } from './engine.js';
import { StoreEncryptedError } from './errors.js';
import { readKeyFile } from './key-file.js';
import { AT_REST_MARKER_KEY } from './layout.js';
import { LevelBackend } from './level-backend.js';
import { applySchema, DEFAULT_SCHEMA, type SchemaOptions } from './schema.js';
import {
  KvBlockStore,
  KvContactStore,
  KvDedupeStore,
  KvDirectoryCache,
  KvIdentityStore,
  KvMailboxStore,
  KvMessageStore,
  KvOutboxStore,
  KvPrekeyStore,
  KvRequestStore,
  KvSessionStore,
} from './stores.js';
import type { SottoStore } from './types.js';

export interface StoreOptions {
  /**
   * How values are sealed (default: none, `plaintextHook`). The store owns it once opened: closing
   * the store calls its `dispose()`. For encryption at rest with a key file and a passphrase, use
   * `openEncryptedStore` (encrypted-store.ts) instead of passing a hook here.
   */
  hook?: EncryptionHook | undefined;
  /** The value codec (default `binaryCodec`); tests may wrap it. */
  codec?: ValueCodec | undefined;
  /** Target schema version and migrations (default: this code's SCHEMA_VERSION and MIGRATIONS). */
  schema?: SchemaOptions | undefined;
}

export interface OpenStoreOptions extends StoreOptions {
  /** Directory of the LevelDB database; created if missing. One process may hold it at a time. */
  path: string;
  /** Unlocks an existing store that is encrypted at rest with a passphrase (see `openStore`). */
  passphrase?: string | Uint8Array | undefined;
}

export interface MemoryStoreOptions extends StoreOptions {
  /** The data to open; pass the same backend again to "reopen" (default: a new, empty one). */
  backend?: MemoryBackend | undefined;
}

class KvStore implements SottoStore {
  readonly identity: KvIdentityStore;
  readonly prekeys: KvPrekeyStore;
  readonly sessions: KvSessionStore;
  readonly contacts: KvContactStore;
  readonly messages: KvMessageStore;
  readonly outbox: KvOutboxStore;
  readonly mailbox: KvMailboxStore;
  readonly dedupe: KvDedupeStore;
  readonly directory: KvDirectoryCache;
  readonly requests: KvRequestStore;
  readonly blocked: KvBlockStore;

  constructor(
    private readonly engine: StoreEngine,
    readonly schemaVersion: number,
  ) {
    this.identity = new KvIdentityStore(engine);
    this.prekeys = new KvPrekeyStore(engine);
    this.sessions = new KvSessionStore(engine);
    this.contacts = new KvContactStore(engine);
    this.messages = new KvMessageStore(engine);
    this.outbox = new KvOutboxStore(engine);
    this.mailbox = new KvMailboxStore(engine);
    this.dedupe = new KvDedupeStore(engine);
    this.directory = new KvDirectoryCache(engine);
    this.requests = new KvRequestStore(engine);
    this.blocked = new KvBlockStore(engine);
  }

  batch(): StoreBatch {
    this.engine.checkOpen();
    return new StoreBatch(this.engine);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}

/**
 * Opens the store on `backend` (closing the backend if that fails). Without a hook, a store whose
 * values are sealed at rest is refused (StoreEncryptedError) instead of failing on its first value.
 */
export async function openOn(backend: KvBackend, options: StoreOptions): Promise<SottoStore> {
  const engine = new StoreEngine(backend, new StoreCodec(options.codec ?? binaryCodec, options.hook ?? plaintextHook));
  try {
    if (options.hook === undefined && (await backend.get('meta', AT_REST_MARKER_KEY)) !== undefined) {
      throw new StoreEncryptedError();
    }
    const version = await applySchema(engine, options.schema ?? DEFAULT_SCHEMA);
    return new KvStore(engine, version);
  } catch (err) {
    await engine.close();
    throw err;
  }
}

/**
 * Opens (creating if needed) the LevelDB store in `options.path`. A new store keeps its values as
 * the hook writes them (default: plain codec bytes). An existing store that is encrypted at rest
 * (it has a key file, as every node's store has) is opened the way `openEncryptedStore` opens it,
 * with `options.passphrase` if its key is wrapped; a node's data dir can be read with this.
 */
export async function openStore(options: OpenStoreOptions): Promise<SottoStore> {
  if (options.hook === undefined && (await readKeyFile(options.path)) !== undefined) {
    // loaded here: encrypted-store.ts builds on this module
    const { openEncryptedStore } = await import('./encrypted-store.js');
    const { passphrase, path, codec, schema } = options;
    return (await openEncryptedStore({ path, passphrase, codec, schema })).store;
  }
  return openOn(await LevelBackend.open(options.path), options);
}

/** A store in memory, with the same codec, batch and schema behaviour as the LevelDB one. */
export async function createMemoryStore(options: MemoryStoreOptions = {}): Promise<SottoStore> {
  return openOn(options.backend ?? new MemoryBackend(), options);
}
