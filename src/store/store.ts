/**
 * Opening a store: `openStore({ path })` on LevelDB, `createMemoryStore()` in memory. Both check
 * the schema (and migrate) before returning, and release everything on failure.
 */
import { type KvBackend, MemoryBackend } from './backend.js';
import { StoreBatch } from './batch.js';
import { binaryCodec, type EncryptionHook, plaintextHook, StoreCodec, type ValueCodec } from './codec.js';
import { StoreEngine } from './engine.js';
import { LevelBackend } from './level-backend.js';
import { applySchema, DEFAULT_SCHEMA, type SchemaOptions } from './schema.js';
import {
  KvContactStore,
  KvDedupeStore,
  KvDirectoryCache,
  KvIdentityStore,
  KvMailboxStore,
  KvMessageStore,
  KvOutboxStore,
  KvPrekeyStore,
  KvSessionStore,
} from './stores.js';
import type { SottoStore } from './types.js';

export interface StoreOptions {
  /** Encryption at rest (default: none, `plaintextHook`). */
  hook?: EncryptionHook | undefined;
  /** The value codec (default `binaryCodec`); tests may wrap it. */
  codec?: ValueCodec | undefined;
  /** Target schema version and migrations (default: this code's SCHEMA_VERSION and MIGRATIONS). */
  schema?: SchemaOptions | undefined;
}

export interface OpenStoreOptions extends StoreOptions {
  /** Directory of the LevelDB database; created if missing. One process may hold it at a time. */
  path: string;
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
  }

  batch(): StoreBatch {
    this.engine.checkOpen();
    return new StoreBatch(this.engine);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}

async function openOn(backend: KvBackend, options: StoreOptions): Promise<SottoStore> {
  const engine = new StoreEngine(backend, new StoreCodec(options.codec ?? binaryCodec, options.hook ?? plaintextHook));
  try {
    const version = await applySchema(engine, options.schema ?? DEFAULT_SCHEMA);
    return new KvStore(engine, version);
  } catch (err) {
    await engine.close();
    throw err;
  }
}

/** Opens (creating if needed) the LevelDB store in `options.path`. */
export async function openStore(options: OpenStoreOptions): Promise<SottoStore> {
  return openOn(await LevelBackend.open(options.path), options);
}

/** A store in memory, with the same codec, batch and schema behaviour as the LevelDB one. */
export async function createMemoryStore(options: MemoryStoreOptions = {}): Promise<SottoStore> {
  return openOn(options.backend ?? new MemoryBackend(), options);
}
