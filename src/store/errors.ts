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
  | 'BATCH_ALREADY_USED'
  | 'SEALED_VALUE_INVALID'
  | 'BAD_PASSPHRASE'
  | 'PASSPHRASE_REQUIRED'
  | 'PASSPHRASE_NOT_SET'
  | 'PASSPHRASE_ALREADY_SET'
  | 'KEY_FILE_MISSING'
  | 'KEY_FILE_INVALID'
  | 'STORE_ENCRYPTED'
  | 'BACKUP_INVALID'
  | 'IMPORT_TARGET_NOT_EMPTY';

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

/**
 * The at-rest hook could not open a value: its authentication tag does not verify under this
 * store's data key with this location (concern + key) as associated data — a value moved to another
 * key, tampered bytes, or a value sealed under another data key — or its framing is wrong. The
 * store reports it as the `cause` of a StoreCorruptError naming the concern and key.
 */
export class SealedValueError extends SottoStoreError {
  constructor(message: string) {
    super('SEALED_VALUE_INVALID', message);
    this.name = 'SealedValueError';
  }
}

/** What a passphrase was meant to open: the store's key file or a backup file. */
export type PassphraseSubject = 'store' | 'backup';

/**
 * The passphrase does not unwrap the key (the AEAD tag over the wrapped key does not verify).
 * Nothing on disk was changed.
 */
export class BadPassphraseError extends SottoStoreError {
  readonly subject: PassphraseSubject;
  constructor(subject: PassphraseSubject) {
    super(
      'BAD_PASSPHRASE',
      subject === 'store' ? 'wrong passphrase for this store' : 'wrong passphrase for this backup',
    );
    this.name = 'BadPassphraseError';
    this.subject = subject;
  }
}

/** The store's data key is wrapped with a passphrase and none was given. Nothing was changed. */
export class PassphraseRequiredError extends SottoStoreError {
  constructor() {
    super('PASSPHRASE_REQUIRED', 'this store is protected by a passphrase and none was given');
    this.name = 'PassphraseRequiredError';
  }
}

/**
 * A passphrase was given for a store that has none (its data key is stored unwrapped), or a
 * passphrase change/removal was asked of such a store. Nothing was changed.
 */
export class PassphraseNotSetError extends SottoStoreError {
  constructor() {
    super('PASSPHRASE_NOT_SET', 'this store has no passphrase');
    this.name = 'PassphraseNotSetError';
  }
}

/** `passphrase set` on a store that already has one (use a change instead). Nothing was changed. */
export class PassphraseAlreadySetError extends SottoStoreError {
  constructor() {
    super('PASSPHRASE_ALREADY_SET', 'this store already has a passphrase');
    this.name = 'PassphraseAlreadySetError';
  }
}

/** The store's values are encrypted (its marker says so) but its key file is gone. Nothing was changed. */
export class KeyFileMissingError extends SottoStoreError {
  readonly path: string;
  constructor(path: string) {
    super('KEY_FILE_MISSING', 'the store is encrypted but its key file is missing');
    this.name = 'KeyFileMissingError';
    this.path = path;
  }
}

/**
 * The key file is unreadable (not the format, unknown version, KDF parameters out of bounds) or
 * belongs to another store (its key id differs from the store's). Nothing was changed.
 */
export class KeyFileInvalidError extends SottoStoreError {
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super('KEY_FILE_INVALID', `invalid key file: ${reason}`, options);
    this.name = 'KeyFileInvalidError';
    this.path = path;
    this.reason = reason;
  }
}

/** A plaintext `openStore` met a store that is encrypted at rest: open it with `openEncryptedStore`. */
export class StoreEncryptedError extends SottoStoreError {
  constructor() {
    super('STORE_ENCRYPTED', 'the store is encrypted at rest: open it with openEncryptedStore');
    this.name = 'StoreEncryptedError';
  }
}

/** The bytes are not a sotto backup this code can read (magic, version, parameters, length, contents). */
export class BackupInvalidError extends SottoStoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BACKUP_INVALID', message, options);
    this.name = 'BackupInvalidError';
  }
}

/** A backup is imported only into a data dir without a store: this one has data or a key file. */
export class ImportTargetNotEmptyError extends SottoStoreError {
  readonly path: string;
  constructor(path: string) {
    super('IMPORT_TARGET_NOT_EMPTY', 'a backup is imported only into an empty data dir; this one has a store');
    this.name = 'ImportTargetNotEmptyError';
    this.path = path;
  }
}
