/**
 * Typed errors of the crypto core. Every failure has its own class with a stable `code`; callers
 * match on `code` (or `instanceof`), never on message text. Messages and fields never carry key
 * material, plaintext or ciphertext bytes.
 */

/** Stable error codes. Adding one is fine; renaming one is a breaking change. */
export type SottoCryptoErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_KEY'
  | 'LOW_ORDER_KEY'
  | 'BAD_SIGNATURE'
  | 'MALFORMED_MESSAGE'
  | 'UNSUPPORTED_VERSION'
  | 'DECRYPT_FAILED'
  | 'DUPLICATE_MESSAGE'
  | 'TOO_MANY_SKIPPED'
  | 'PREKEY_NOT_FOUND'
  | 'SESSION_MISMATCH'
  | 'SNAPSHOT_INVALID'
  | 'KEM_FAILED';

export class SottoCryptoError extends Error {
  readonly code: SottoCryptoErrorCode;
  constructor(code: SottoCryptoErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'SottoCryptoError';
  }
}

/** An argument had the wrong type or size (a programming error at the caller). */
export class InvalidArgumentError extends SottoCryptoError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'InvalidArgumentError';
  }
}

/** A public key failed to decode: wrong length, wrong type prefix, or not canonical. */
export class InvalidKeyError extends SottoCryptoError {
  constructor(message: string) {
    super('INVALID_KEY', message);
    this.name = 'InvalidKeyError';
  }
}

/** An X25519 exchange produced the all-zero output: the peer's key is a low-order point. */
export class LowOrderKeyError extends SottoCryptoError {
  constructor() {
    super('LOW_ORDER_KEY', 'X25519 produced an all-zero shared secret (low-order public key)');
    this.name = 'LowOrderKeyError';
  }
}

/** A signature over a key or binding did not verify. */
export class BadSignatureError extends SottoCryptoError {
  /** Which signed object failed, e.g. "signed prekey". */
  readonly subject: string;
  constructor(subject: string) {
    super('BAD_SIGNATURE', `signature on ${subject} does not verify`);
    this.name = 'BadSignatureError';
    this.subject = subject;
  }
}

/** Bytes that should be a session message could not be parsed. */
export class MalformedMessageError extends SottoCryptoError {
  constructor(message: string) {
    super('MALFORMED_MESSAGE', message);
    this.name = 'MalformedMessageError';
  }
}

/** A message or snapshot has a version this implementation does not know. */
export class UnsupportedVersionError extends SottoCryptoError {
  readonly version: number;
  constructor(what: string, version: number) {
    super('UNSUPPORTED_VERSION', `unsupported ${what} version ${version}`);
    this.name = 'UnsupportedVersionError';
    this.version = version;
  }
}

/** AEAD authentication failed: wrong key, tampered header, ciphertext or associated data. */
export class DecryptFailedError extends SottoCryptoError {
  constructor() {
    super('DECRYPT_FAILED', 'message failed authentication');
    this.name = 'DecryptFailedError';
  }
}

/** The message was already decrypted (its key is gone) or belongs to a chain we no longer keep. */
export class DuplicateMessageError extends SottoCryptoError {
  readonly counter: number;
  constructor(counter: number) {
    super('DUPLICATE_MESSAGE', `message ${counter} was already decrypted or its key has expired`);
    this.name = 'DuplicateMessageError';
    this.counter = counter;
  }
}

/** The header asks us to skip more message keys than the limits allow. */
export class TooManySkippedError extends SottoCryptoError {
  readonly requested: number;
  readonly max: number;
  constructor(requested: number, max: number) {
    super('TOO_MANY_SKIPPED', `message asks to skip ${requested} keys; at most ${max} allowed`);
    this.name = 'TooManySkippedError';
    this.requested = requested;
    this.max = max;
  }
}

/** A handshake names a prekey we do not have (never had, rotated away, or one-time and used). */
export class PrekeyNotFoundError extends SottoCryptoError {
  readonly kind: 'signed' | 'one-time' | 'kem';
  readonly id: number;
  constructor(kind: 'signed' | 'one-time' | 'kem', id: number) {
    super('PREKEY_NOT_FOUND', `${kind} prekey ${id} not found`);
    this.name = 'PrekeyNotFoundError';
    this.kind = kind;
    this.id = id;
  }
}

/** A message was given to a session it does not belong to. */
export class SessionMismatchError extends SottoCryptoError {
  constructor(message: string) {
    super('SESSION_MISMATCH', message);
    this.name = 'SessionMismatchError';
  }
}

/** A session snapshot is truncated, corrupt or inconsistent. */
export class SnapshotInvalidError extends SottoCryptoError {
  constructor(message: string) {
    super('SNAPSHOT_INVALID', message);
    this.name = 'SnapshotInvalidError';
  }
}

/** ML-KEM rejected an input (wrong sizes, or an encapsulation key that fails the FIPS 203 check). */
export class KemError extends SottoCryptoError {
  constructor(message: string) {
    super('KEM_FAILED', message);
    this.name = 'KemError';
  }
}
