/**
 * Typed errors of the store. Every failure has its own class with a stable `code`; callers match
 * on `code` (or `instanceof`), never on message text. Messages never carry values, key material or
 * message text; where a storage key matters (corruption) it is a field, not part of the message.
 */
import type { Concern } from './layout.js';

/** Stable error codes. Adding one is fine; renaming one is a breaking change. */
export type SottoStoreErrorCode =
  | 'INVALID_ARGUMENT'
  | 'STORE_CORRUPT'
  | 'STORE_CLOSED'
  | 'STORE_OPEN_FAILED'
  | 'STORE_WRITE_FAILED'
  | 'SCHEMA_TOO_NEW'
  | 'MIGRATION_MISSING'
  | 'MIGRATION_FAILED'
  | 'BATCH_ALREADY_USED';

export class SottoStoreError extends Error {
  readonly code: SottoStoreErrorCode;
  constructor(code: SottoStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'SottoStoreError';
  }
}

/** A caller passed a value the store cannot hold (bad hex id, negative timestamp, …): a bug at the caller. */
export class InvalidStoreArgumentError extends SottoStoreError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'InvalidStoreArgumentError';
  }
}

/**
 * A value on disk could not be read back: unknown format version, wrong kind, truncated, trailing
 * bytes, a field out of range, or the encryption hook refused it. Nothing is changed by the read.
 */
export class StoreCorruptError extends SottoStoreError {
  /** The sublevel the value lives in. */
  readonly concern: Concern;
  /** The storage key (see layout.ts). Kept out of `message` so logs of the message carry no identities. */
  readonly key: string;
  /** What was wrong, e.g. "truncated at body". */
  readonly reason: string;
  constructor(concern: Concern, key: string, reason: string, options?: { cause?: unknown }) {
    super('STORE_CORRUPT', `corrupt value in ${concern}: ${reason}`, options);
    this.name = 'StoreCorruptError';
    this.concern = concern;
    this.key = key;
    this.reason = reason;
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends SottoStoreError {
  constructor() {
    super('STORE_CLOSED', 'store is closed');
    this.name = 'StoreClosedError';
  }
}

/** The database could not be opened (e.g. another process holds its lock). `cause` has the details. */
export class StoreOpenError extends SottoStoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_OPEN_FAILED', message, options);
    this.name = 'StoreOpenError';
  }
}

/** The backend rejected a batch; by LevelDB's batch guarantee nothing of it was written. */
export class StoreWriteError extends SottoStoreError {
  constructor(options?: { cause?: unknown }) {
    super('STORE_WRITE_FAILED', 'the store rejected a write batch; nothing was written', options);
    this.name = 'StoreWriteError';
  }
}

/** The data was written by a newer sotto (schema version above what this code knows). Nothing was changed. */
export class SchemaTooNewError extends SottoStoreError {
  readonly stored: number;
  readonly supported: number;
  constructor(stored: number, supported: number) {
    super('SCHEMA_TOO_NEW', `store schema version ${stored} is newer than supported version ${supported}`);
    this.name = 'SchemaTooNewError';
    this.stored = stored;
    this.supported = supported;
  }
}

/** No migration is registered for a step between the stored and the current schema version. */
export class MigrationMissingError extends SottoStoreError {
  readonly from: number;
  constructor(from: number) {
    super('MIGRATION_MISSING', `no migration from schema version ${from} to ${from + 1}`);
    this.name = 'MigrationMissingError';
    this.from = from;
  }
}

/** A migration threw; its batch (and every other migration's) was not written. `cause` has the error. */
export class MigrationFailedError extends SottoStoreError {
  readonly from: number;
  constructor(from: number, options?: { cause?: unknown }) {
    super('MIGRATION_FAILED', `migration from schema version ${from} failed; nothing was changed`, options);
    this.name = 'MigrationFailedError';
    this.from = from;
  }
}

/** `commit()` was called on a batch that was already committed (or failed). */
export class BatchAlreadyUsedError extends SottoStoreError {
  constructor() {
    super('BATCH_ALREADY_USED', 'a store batch can be committed once');
    this.name = 'BatchAlreadyUsedError';
  }
}
