/**
 * One error class per failure of `/sotto/msg/1.0.0`. Match on `code` (stable) or `instanceof`,
 * never on the message text. Messages carry sizes and field names, never payload bytes.
 */

/** The frame's bytes are not a protobuf `Envelope`/`Ack` (SPEC §2). */
export class MalformedFrameError extends Error {
  static readonly code = 'ERR_MALFORMED_FRAME';
  readonly code = MalformedFrameError.code;
  override name = 'MalformedFrameError';
}

/** A fixed-size field (`id`, `sender`, `recipient`) has the wrong length (SPEC §4). */
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

/** `Envelope.body` is empty (SPEC §4). */
export class EmptyBodyError extends Error {
  static readonly code = 'ERR_EMPTY_BODY';
  readonly code = EmptyBodyError.code;
  override name = 'EmptyBodyError';
  constructor() {
    super('body must not be empty');
  }
}

/** `Envelope.body` is longer than MAX_BODY_BYTES (SPEC §4). */
export class BodyTooLargeError extends Error {
  static readonly code = 'ERR_BODY_TOO_LARGE';
  readonly code = BodyTooLargeError.code;
  override name = 'BodyTooLargeError';
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super(`body is ${size} bytes, max ${max}`);
  }
}

/** `Envelope.timestamp` is 0 or above 2^53 - 1 (SPEC §4). */
export class InvalidTimestampError extends Error {
  static readonly code = 'ERR_INVALID_TIMESTAMP';
  readonly code = InvalidTimestampError.code;
  override name = 'InvalidTimestampError';
  constructor() {
    super('timestamp must be 1 ..= 2^53 - 1');
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

/** The receiver waited READ_TIMEOUT_MS for a complete frame (SPEC §5). */
export class ReadTimeoutError extends Error {
  static readonly code = 'ERR_READ_TIMEOUT';
  readonly code = ReadTimeoutError.code;
  override name = 'ReadTimeoutError';
}

/** More than MAX_ENVELOPES_PER_STREAM envelopes on one stream (SPEC §3). */
export class TooManyEnvelopesError extends Error {
  static readonly code = 'ERR_TOO_MANY_ENVELOPES';
  readonly code = TooManyEnvelopesError.code;
  override name = 'TooManyEnvelopesError';
}

/** The service stopped while the stream was in use. */
export class HandlerStoppedError extends Error {
  static readonly code = 'ERR_HANDLER_STOPPED';
  readonly code = HandlerStoppedError.code;
  override name = 'HandlerStoppedError';
}

/** Sender: no Ack arrived within the send timeout (SPEC §5). */
export class AckTimeoutError extends Error {
  static readonly code = 'ERR_ACK_TIMEOUT';
  readonly code = AckTimeoutError.code;
  override name = 'AckTimeoutError';
}

/** Sender: the remote closed the stream without sending the Ack (SPEC §3). */
export class NoAckError extends Error {
  static readonly code = 'ERR_NO_ACK';
  readonly code = NoAckError.code;
  override name = 'NoAckError';
}

/** Sender: the remote reset the stream; the envelope's fate is unknown, retry later (SPEC §6). */
export class StreamResetError extends Error {
  static readonly code = 'ERR_STREAM_RESET';
  readonly code = StreamResetError.code;
  override name = 'StreamResetError';
}

/** Sender: the Ack was malformed, too large, had another id or no valid status (SPEC §4). */
export class BadAckError extends Error {
  static readonly code = 'ERR_BAD_ACK';
  readonly code = BadAckError.code;
  override name = 'BadAckError';
}
