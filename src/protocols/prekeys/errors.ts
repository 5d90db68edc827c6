/**
 * One error class per failure of `/sotto/prekeys/1.0.0`. Match on `code` (stable) or `instanceof`,
 * never on the message text. Messages carry sizes and field names, never key bytes.
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

/** Requester: the responder does not serve prekeys for this identity (status UNKNOWN_IDENTITY, SPEC §4). */
export class UnknownIdentityError extends Error {
  static readonly code = 'ERR_UNKNOWN_IDENTITY';
  readonly code = UnknownIdentityError.code;
  override name = 'UnknownIdentityError';
}

/** Requester: too many claims from this peer (status RATE_LIMITED, SPEC §4, §6). */
export class RateLimitedError extends Error {
  static readonly code = 'ERR_RATE_LIMITED';
  readonly code = RateLimitedError.code;
  override name = 'RateLimitedError';
  constructor(
    /** The responder's hint: ms until a claim from this peer would be accepted (0 = no hint). */
    readonly retryAfterMs: number,
  ) {
    super(`rate limited; retry after ${retryAfterMs} ms`);
  }
}

/** Requester: transient failure on the responder (status UNAVAILABLE, SPEC §4). */
export class UnavailableError extends Error {
  static readonly code = 'ERR_UNAVAILABLE';
  readonly code = UnavailableError.code;
  override name = 'UnavailableError';
}

/** Requester: no response within the claim timeout (SPEC §5). */
export class ClaimTimeoutError extends Error {
  static readonly code = 'ERR_CLAIM_TIMEOUT';
  readonly code = ClaimTimeoutError.code;
  override name = 'ClaimTimeoutError';
}

/** Requester: the responder closed the stream without a response (SPEC §3). */
export class NoResponseError extends Error {
  static readonly code = 'ERR_NO_RESPONSE';
  readonly code = NoResponseError.code;
  override name = 'NoResponseError';
}

/**
 * Requester: the response was malformed, too large, had no valid status, or an OK without a valid
 * prekey (wrong size, non-canonical or small-order X25519 key) (SPEC §4).
 */
export class BadResponseError extends Error {
  static readonly code = 'ERR_BAD_RESPONSE';
  readonly code = BadResponseError.code;
  override name = 'BadResponseError';
}
