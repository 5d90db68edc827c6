/**
 * Errors every sotto stream protocol shares (framing, timeouts, resets), one class per failure with
 * a stable `code`. Each protocol's errors.ts re-exports them next to its own.
 */

/** The frame's bytes are not the protobuf message the protocol expects (each SPEC §2). */
export class MalformedFrameError extends Error {
  static readonly code = 'ERR_MALFORMED_FRAME';
  readonly code = MalformedFrameError.code;
  override name = 'MalformedFrameError';
}

/** A fixed-size field has the wrong length (each SPEC §4). */
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

/** The stream ended in the middle of a frame (SPEC §2). */
export class TruncatedFrameError extends Error {
  static readonly code = 'ERR_TRUNCATED_FRAME';
  readonly code = TruncatedFrameError.code;
  override name = 'TruncatedFrameError';
}

/** The receiver waited its read timeout for a complete frame (SPEC §5). */
export class ReadTimeoutError extends Error {
  static readonly code = 'ERR_READ_TIMEOUT';
  readonly code = ReadTimeoutError.code;
  override name = 'ReadTimeoutError';
}

/** The service stopped, or the stream closed, while the stream was in use. */
export class HandlerStoppedError extends Error {
  static readonly code = 'ERR_HANDLER_STOPPED';
  readonly code = HandlerStoppedError.code;
  override name = 'HandlerStoppedError';
}

/** The remote reset the stream: the request's fate is unknown, retry later. */
export class StreamResetError extends Error {
  static readonly code = 'ERR_STREAM_RESET';
  readonly code = StreamResetError.code;
  override name = 'StreamResetError';
}
