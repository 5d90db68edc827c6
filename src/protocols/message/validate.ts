/**
 * Decoding and validation of `/sotto/msg/1.0.0` frames (SPEC §4). Every field is checked; the
 * typed results never hold a value the SPEC forbids.
 */
import type { Uint8ArrayList } from 'uint8arraylist';
import {
  ID_BYTES,
  IDENTITY_KEY_BYTES,
  MAX_BODY_BYTES,
  MAX_REASON_BYTES,
  MAX_SEALED_BYTES,
  MAX_TIMESTAMP,
  SEAL_PAD_BLOCK,
  SEALED_OVERHEAD_BYTES,
} from './constants.js';
import {
  BadAckError,
  BodyTooLargeError,
  EmptyBodyError,
  InvalidFieldLengthError,
  InvalidSealedLengthError,
  InvalidTimestampError,
  MalformedFrameError,
} from './errors.js';
import { Ack as PbAck, Envelope as PbEnvelope } from './pb/message.js';

/** A validated envelope. `sender` is a routing hint: only a successful decrypt of `body` authenticates it. */
export interface Envelope {
  /** 16 random bytes, the same on every retry of one message. */
  id: Uint8Array;
  /** Sender identity key (Ed25519, 32 bytes), unauthenticated. */
  sender: Uint8Array;
  /** Recipient identity key (Ed25519, 32 bytes). */
  recipient: Uint8Array;
  /** Milliseconds since the Unix epoch, 1 ..= 2^53 - 1. */
  timestamp: number;
  /** Session message bytes, 1 ..= MAX_BODY_BYTES. */
  body: Uint8Array;
}

/**
 * A validated sealed envelope (SPEC §9): sender, timestamp and body are inside `sealed`, readable
 * only with the recipient's identity key.
 */
export interface SealedEnvelope {
  /** 16 random bytes, the same on every retry of one message. */
  id: Uint8Array;
  /** Recipient identity key (Ed25519, 32 bytes). */
  recipient: Uint8Array;
  /** HPKE `enc ‖ ciphertext` of the padded SealedContent: 48 + k·256 bytes, at most MAX_SEALED_BYTES. */
  sealed: Uint8Array;
}

/** What travels in an Envelope frame: a plain or a sealed envelope (SPEC §4). */
export type WireEnvelope = Envelope | SealedEnvelope;

/** True for a sealed envelope. */
export function isSealed(envelope: WireEnvelope): envelope is SealedEnvelope {
  return 'sealed' in envelope;
}

/** What a receiving node did with an envelope (SPEC §4 "Ack.status"). */
export const AckStatus = {
  STORED: PbAck.Status.STORED,
  DUPLICATE: PbAck.Status.DUPLICATE,
  REJECTED: PbAck.Status.REJECTED,
  UNKNOWN_RECIPIENT: PbAck.Status.UNKNOWN_RECIPIENT,
  TOO_LARGE: PbAck.Status.TOO_LARGE,
  UNAVAILABLE: PbAck.Status.UNAVAILABLE,
} as const;
export type AckStatus = (typeof AckStatus)[keyof typeof AckStatus];

/** A validated ack. */
export interface Ack {
  id: Uint8Array;
  status: AckStatus;
  /** Short machine-readable code or '' (never user data). */
  reason: string;
}

const REASON = /^[a-z0-9-]*$/;
const STATUSES = new Set<string>(Object.values(AckStatus));

function checkLength(field: string, value: Uint8Array, expected: number): void {
  if (value.byteLength !== expected) throw new InvalidFieldLengthError(field, expected, value.byteLength);
}

/** Throws the matching error for the first field that breaks SPEC §4. */
export function validateEnvelope(envelope: {
  id: Uint8Array;
  sender: Uint8Array;
  recipient: Uint8Array;
  timestamp: number | bigint;
  body: Uint8Array;
}): Envelope {
  checkLength('id', envelope.id, ID_BYTES);
  checkLength('sender', envelope.sender, IDENTITY_KEY_BYTES);
  checkLength('recipient', envelope.recipient, IDENTITY_KEY_BYTES);
  const ts = envelope.timestamp;
  if (typeof ts === 'bigint' ? ts < 1n || ts > BigInt(MAX_TIMESTAMP) : !Number.isSafeInteger(ts) || ts < 1) {
    throw new InvalidTimestampError();
  }
  if (envelope.body.byteLength === 0) throw new EmptyBodyError();
  if (envelope.body.byteLength > MAX_BODY_BYTES) throw new BodyTooLargeError(envelope.body.byteLength, MAX_BODY_BYTES);
  return {
    id: envelope.id,
    sender: envelope.sender,
    recipient: envelope.recipient,
    timestamp: Number(ts),
    body: envelope.body,
  };
}

/** Throws the matching error when a sealed envelope breaks SPEC §4 (`sealed` length, nothing else set). */
export function validateSealedEnvelope(envelope: {
  id: Uint8Array;
  recipient: Uint8Array;
  sealed: Uint8Array;
}): SealedEnvelope {
  checkLength('id', envelope.id, ID_BYTES);
  checkLength('recipient', envelope.recipient, IDENTITY_KEY_BYTES);
  const n = envelope.sealed.byteLength;
  if (
    n < SEALED_OVERHEAD_BYTES + SEAL_PAD_BLOCK ||
    n > MAX_SEALED_BYTES ||
    (n - SEALED_OVERHEAD_BYTES) % SEAL_PAD_BLOCK !== 0
  ) {
    throw new InvalidSealedLengthError(n);
  }
  return { id: envelope.id, recipient: envelope.recipient, sealed: envelope.sealed };
}

/** Validates a decoded Envelope message as the plain or the sealed form (SPEC §4). */
function validateWire(pb: PbEnvelope): WireEnvelope {
  if (pb.sealed.byteLength === 0) return validateEnvelope(pb);
  if (pb.sender.byteLength !== 0 || pb.timestamp !== 0n || pb.body.byteLength !== 0) {
    throw new MalformedFrameError('a sealed envelope carries sender, timestamp or body');
  }
  return validateSealedEnvelope(pb);
}

/** Validates an envelope of either form (a sender checks before it dials). */
export function validateWireEnvelope(envelope: WireEnvelope): WireEnvelope {
  return isSealed(envelope) ? validateSealedEnvelope(envelope) : validateEnvelope(envelope);
}

/** Decodes and validates one Envelope frame (the payload after the length prefix): plain or sealed. */
export function decodeEnvelope(frame: Uint8Array | Uint8ArrayList): WireEnvelope {
  let pb: PbEnvelope;
  try {
    pb = PbEnvelope.decode(frame);
  } catch (err) {
    throw new MalformedFrameError('envelope is not valid protobuf', { cause: err });
  }
  return validateWire(pb);
}

/** Validates and encodes an envelope; a sender never puts an invalid envelope on the wire. */
export function encodeEnvelope(envelope: WireEnvelope): Uint8Array {
  if (isSealed(envelope)) {
    const e = validateSealedEnvelope(envelope);
    return PbEnvelope.encode({ id: bytes(e.id), recipient: bytes(e.recipient), sealed: bytes(e.sealed) });
  }
  const e = validateEnvelope(envelope);
  return PbEnvelope.encode({
    id: bytes(e.id),
    sender: bytes(e.sender),
    recipient: bytes(e.recipient),
    timestamp: BigInt(e.timestamp),
    body: bytes(e.body),
  });
}

/** Checks an ack reason: at most MAX_REASON_BYTES of [a-z0-9-]. */
export function isValidReason(reason: string): boolean {
  return reason.length <= MAX_REASON_BYTES && REASON.test(reason);
}

/** Encodes an ack (the receiver's side). */
export function encodeAck(ack: Ack): Uint8Array {
  return PbAck.encode({ id: bytes(ack.id), status: ack.status, reason: ack.reason });
}

/**
 * Decodes and validates one Ack frame against the id of the envelope it answers. Any deviation is a
 * `BadAckError`: the sender must not treat the envelope as stored.
 */
export function decodeAck(frame: Uint8Array | Uint8ArrayList, expectedId: Uint8Array): Ack {
  let pb: PbAck;
  try {
    pb = PbAck.decode(frame);
  } catch (err) {
    // includes an unknown enum value: a status we do not know is never read as success
    throw new BadAckError('ack is not valid protobuf', { cause: err });
  }
  if (!STATUSES.has(pb.status)) throw new BadAckError('ack has no valid status');
  if (!equalBytes(pb.id, expectedId)) throw new BadAckError('ack id does not match the envelope id');
  if (!isValidReason(pb.reason)) throw new BadAckError('ack reason is not a short code');
  return { id: pb.id, status: pb.status as AckStatus, reason: pb.reason };
}

/** The codec only copies the bytes, so any backing buffer will do (its types ask for ArrayBuffer). */
function bytes(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return u as Uint8Array<ArrayBuffer>;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
