/**
 * One error class per failure of `/sotto/msg/1.0.0`. Match on `code` (stable) or `instanceof`,
 * never on the message text. Messages carry sizes and field names, never payload bytes.
 */

import { InvalidFieldLengthError } from '../common/errors.js';
import { MAX_SEALED_BYTES, SEAL_PAD_BLOCK, SEALED_OVERHEAD_BYTES } from './constants.js';

export {
  FrameTooLargeError,
  HandlerStoppedError,
  InvalidFieldLengthError,
  MalformedFrameError,
  ReadTimeoutError,
  StreamResetError,
  TruncatedFrameError,
} from '../common/errors.js';

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

/** More than MAX_ENVELOPES_PER_STREAM envelopes on one stream (SPEC §3). */
export class TooManyEnvelopesError extends Error {
  static readonly code = 'ERR_TOO_MANY_ENVELOPES';
  readonly code = TooManyEnvelopesError.code;
  override name = 'TooManyEnvelopesError';
}

/**
 * More than MAX_STREAMS_PER_PEER streams at once from one peer (SPEC §11). A limit, not a protocol
 * violation: the peer is not reported to the ban list.
 */
export class TooManyStreamsError extends Error {
  static readonly code = 'ERR_TOO_MANY_STREAMS';
  readonly code = TooManyStreamsError.code;
  override name = 'TooManyStreamsError';
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

/** Sender: the Ack was malformed, too large, had another id or no valid status (SPEC §4). */
export class BadAckError extends Error {
  static readonly code = 'ERR_BAD_ACK';
  readonly code = BadAckError.code;
  override name = 'BadAckError';
}

/** `Envelope.sealed` is not 48 + k·256 bytes within MAX_SEALED_BYTES (SPEC §4); code ERR_INVALID_FIELD_LENGTH. */
export class InvalidSealedLengthError extends InvalidFieldLengthError {
  override name = 'InvalidSealedLengthError';
  constructor(actual: number) {
    super('sealed', SEALED_OVERHEAD_BYTES + SEAL_PAD_BLOCK, actual);
    this.message = `sealed must be ${SEALED_OVERHEAD_BYTES} + k·${SEAL_PAD_BLOCK} bytes, at most ${MAX_SEALED_BYTES}; got ${actual}`;
  }
}

/** A sealed envelope does not open for this recipient (SPEC §9): answered REJECTED `unsealable`. */
export class UnsealableEnvelopeError extends Error {
  static readonly code = 'ERR_UNSEALABLE';
  readonly code = UnsealableEnvelopeError.code;
  override name = 'UnsealableEnvelopeError';
}
