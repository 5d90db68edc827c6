/**
 * One error class per failure of `/sotto/mailbox/1.0.0`. Match on `code` (stable) or `instanceof`,
 * never on the message text. Messages carry sizes, counts and field names, never keys, ids or
 * envelope bytes.
 */

export {
  FrameTooLargeError,
  HandlerStoppedError,
  InvalidFieldLengthError,
  MalformedFrameError,
  ReadTimeoutError,
  StreamResetError,
  TruncatedFrameError,
} from '../common/errors.js';

/** Server: a ClientFrame of a kind the session state does not allow (Auth before Hello, a second Hello…) (SPEC §3). */
export class UnexpectedFrameError extends Error {
  static readonly code = 'ERR_UNEXPECTED_FRAME';
  readonly code = UnexpectedFrameError.code;
  override name = 'UnexpectedFrameError';
}

/** Server: an Ack names more than MAX_ACK_IDS ids (SPEC §5). */
export class TooManyIdsError extends Error {
  static readonly code = 'ERR_TOO_MANY_IDS';
  readonly code = TooManyIdsError.code;
  override name = 'TooManyIdsError';
}

/** Mailbox: an Auth uploads more than MAX_UPLOAD_PREKEYS one-time prekeys (SPEC §12). */
export class TooManyPrekeysError extends Error {
  static readonly code = 'ERR_TOO_MANY_PREKEYS';
  readonly code = TooManyPrekeysError.code;
  override name = 'TooManyPrekeysError';
}

/** Client: the Auth signature was refused (status UNAUTHORIZED, SPEC §4, §5). */
export class UnauthorizedError extends Error {
  static readonly code = 'ERR_UNAUTHORIZED';
  readonly code = UnauthorizedError.code;
  override name = 'UnauthorizedError';
}

/** Client: the mailbox does not hold mail for this identity (status UNKNOWN_IDENTITY, SPEC §5). */
export class UnknownIdentityError extends Error {
  static readonly code = 'ERR_UNKNOWN_IDENTITY';
  readonly code = UnknownIdentityError.code;
  override name = 'UnknownIdentityError';
}

/** Client: too many fetch sessions from this peer (status RATE_LIMITED, SPEC §5, §7). */
export class RateLimitedError extends Error {
  static readonly code = 'ERR_RATE_LIMITED';
  readonly code = RateLimitedError.code;
  override name = 'RateLimitedError';
  constructor(
    /** The mailbox's hint: ms until a session from this peer would be accepted (0 = no hint). */
    readonly retryAfterMs: number,
  ) {
    super(`rate limited; retry after ${retryAfterMs} ms`);
  }
}

/** Client: transient failure on the mailbox (status UNAVAILABLE, SPEC §5). */
export class UnavailableError extends Error {
  static readonly code = 'ERR_UNAVAILABLE';
  readonly code = UnavailableError.code;
  override name = 'UnavailableError';
}

/** Client: no frame from the mailbox (or no stream) within the read timeout (SPEC §6). */
export class FetchTimeoutError extends Error {
  static readonly code = 'ERR_FETCH_TIMEOUT';
  readonly code = FetchTimeoutError.code;
  override name = 'FetchTimeoutError';
}

/** Client: the mailbox closed the stream before the session ended (SPEC §3). */
export class NoResponseError extends Error {
  static readonly code = 'ERR_NO_RESPONSE';
  readonly code = NoResponseError.code;
  override name = 'NoResponseError';
}

/**
 * Client: a ServerFrame was malformed, too large, of the wrong kind for the session state, or broke a
 * rule of SPEC §5 (missing/unknown status, wrong-size nonce or id, too many entries or bytes, too many
 * batches). A single corrupt envelope inside a well-formed Batch is not this error (SPEC §5 "Entry").
 */
export class BadResponseError extends Error {
  static readonly code = 'ERR_BAD_RESPONSE';
  readonly code = BadResponseError.code;
  override name = 'BadResponseError';
}
