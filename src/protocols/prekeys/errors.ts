/**
 * One error class per failure of `/sotto/prekeys/1.0.0`. Match on `code` (stable) or `instanceof`,
 * never on the message text. Messages carry sizes and field names, never key bytes.
 */

/** The frame's bytes are not a protobuf `ClaimRequest`/`ClaimResponse` (SPEC §2). */
export class MalformedFrameError extends Error {
  static readonly code = 'ERR_MALFORMED_FRAME';
  readonly code = MalformedFrameError.code;
  override name = 'MalformedFrameError';
}

/** `ClaimRequest.identity` (or a caller's identity argument) has the wrong length (SPEC §4). */
export class InvalidFieldLengthError extends Error {
  static readonly code = 'ERR_INVALID_FIELD_LENGTH';
  readonly code = InvalidFieldLengthError.code;
  override name = 'InvalidFieldLengthError';
  constructor(
    readonly field: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`${field} must be ${expected} bytes, got ${actual}`);
  }
}

/** A length prefix announced more than the frame maximum, or the varint was too long (SPEC §2). */
export class FrameTooLargeError extends Error {
  static readonly code = 'ERR_FRAME_TOO_LARGE';
  readonly code = FrameTooLargeError.code;
  override name = 'FrameTooLargeError';
}

/** The stream ended before a complete ClaimRequest frame (SPEC §2, §3). */
export class TruncatedFrameError extends Error {
  static readonly code = 'ERR_TRUNCATED_FRAME';
  readonly code = TruncatedFrameError.code;
  override name = 'TruncatedFrameError';
}

/** Responder: no complete ClaimRequest within READ_TIMEOUT_MS (SPEC §5). */
export class ReadTimeoutError extends Error {
  static readonly code = 'ERR_READ_TIMEOUT';
  readonly code = ReadTimeoutError.code;
  override name = 'ReadTimeoutError';
}

/** Responder: the service stopped or the stream closed while a claim was in progress. */
export class HandlerStoppedError extends Error {
  static readonly code = 'ERR_HANDLER_STOPPED';
  readonly code = HandlerStoppedError.code;
  override name = 'HandlerStoppedError';
}

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

/** Requester: the responder reset the stream (SPEC §7). */
export class StreamResetError extends Error {
  static readonly code = 'ERR_STREAM_RESET';
  readonly code = StreamResetError.code;
  override name = 'StreamResetError';
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
