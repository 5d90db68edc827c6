/** Typed errors of the directory (identity records in the DHT). */

export type DirectoryErrorCode =
  | 'MALFORMED_RECORD'
  | 'RECORD_TOO_LARGE'
  | 'UNSUPPORTED_RECORD_VERSION'
  | 'BAD_RECORD_SIGNATURE'
  | 'RECORD_KEY_MISMATCH'
  | 'RECORD_EXPIRED'
  | 'RECORD_ROLLBACK';

export class DirectoryError extends Error {
  readonly code: DirectoryErrorCode;
  constructor(code: DirectoryErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'DirectoryError';
  }
}
