/**
 * Decoding and validation of `/sotto/mailbox/1.0.0` frames (SPEC §5), and the fetch-auth bytes both
 * sides sign and verify (SPEC §4). Every field is checked; the typed results never hold a value the
 * SPEC forbids.
 */
import { MaxLengthError } from 'protons-runtime';
import type { Uint8ArrayList } from 'uint8arraylist';
import {
  FETCH_AUTH_LABEL,
  ID_BYTES,
  IDENTITY_KEY_BYTES,
  MAX_ACK_IDS,
  MAX_BATCH_BYTES,
  MAX_BATCH_ENVELOPES,
  MAX_ENVELOPE_BYTES,
  MAX_PEER_ID_BYTES,
  MAX_UPLOAD_PREKEYS,
  NONCE_BYTES,
  PREKEY_PUBLIC_BYTES,
  SIGNATURE_BYTES,
} from './constants.js';
import {
  BadResponseError,
  InvalidFieldLengthError,
  MalformedFrameError,
  TooManyIdsError,
  TooManyPrekeysError,
  UnexpectedFrameError,
} from './errors.js';
import { Batch as PbBatch, ClientFrame as PbClientFrame, ServerFrame as PbServerFrame } from './pb/mailbox.js';

/** A validated client → mailbox frame (SPEC §5): exactly one of the three messages. */
export type ClientMessage =
  | { type: 'hello'; identity: Uint8Array }
  | { type: 'auth'; signature: Uint8Array; prekeys: UploadedPrekey[] }
  | { type: 'ack'; ids: Uint8Array[] };

/** A one-time prekey uploaded in an Auth (SPEC §12): a uint32 id and a 32-byte X25519 public key. */
export interface UploadedPrekey {
  id: number;
  publicKey: Uint8Array;
}

/** The statuses a mailbox may put on a Batch (SPEC §5 "Batch.status"). */
export const MailboxStatus = {
  OK: PbBatch.Status.OK,
  UNAUTHORIZED: PbBatch.Status.UNAUTHORIZED,
  UNKNOWN_IDENTITY: PbBatch.Status.UNKNOWN_IDENTITY,
  RATE_LIMITED: PbBatch.Status.RATE_LIMITED,
  UNAVAILABLE: PbBatch.Status.UNAVAILABLE,
} as const;
export type MailboxStatus = (typeof MailboxStatus)[keyof typeof MailboxStatus];

/** One stored envelope as it travels: the id it is stored (and acked) under, and its opaque bytes. */
export interface BatchEntry {
  /** 16 bytes. */
  id: Uint8Array;
  /** 0 ..= MAX_ENVELOPE_BYTES bytes, meant to be an encoded `/sotto/msg/1.0.0` Envelope; not yet validated. */
  envelope: Uint8Array;
}

/** A validated Batch: an OK carries entries and `remaining`, RATE_LIMITED a retry hint. */
export type MailboxBatch =
  | { status: typeof MailboxStatus.OK; entries: BatchEntry[]; remaining: number; prekeys?: number }
  | { status: typeof MailboxStatus.RATE_LIMITED; retryAfterMs: number }
  | {
      status:
        | typeof MailboxStatus.UNAUTHORIZED
        | typeof MailboxStatus.UNKNOWN_IDENTITY
        | typeof MailboxStatus.UNAVAILABLE;
    };

/** A validated mailbox → client frame (SPEC §5). */
export type ServerMessage = { type: 'challenge'; nonce: Uint8Array } | { type: 'batch'; batch: MailboxBatch };

const STATUSES = new Set<string>(Object.values(MailboxStatus));
const LABEL = new TextEncoder().encode(FETCH_AUTH_LABEL);
const MAX_U32 = 0xffff_ffff;

function checkLength(field: string, value: Uint8Array | undefined, expected: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.byteLength !== expected) {
    throw new InvalidFieldLengthError(field, expected, value instanceof Uint8Array ? value.byteLength : 0);
  }
  return value;
}

/** Throws InvalidFieldLengthError unless `identity` is 32 bytes. */
export function validateIdentity(identity: Uint8Array): Uint8Array {
  return checkLength('identity', identity, IDENTITY_KEY_BYTES);
}

/**
 * The exact bytes the identity signs to open its mailbox (SPEC §4):
 *
 * `"sotto/mailbox/fetch/v1"` ‖ u8(len) ‖ mailbox peer id ‖ u8(len) ‖ client peer id ‖ nonce (32) ‖ identity (32)
 *
 * Peer ids are the multihash bytes (`peerId.toMultihash().bytes`) of the mailbox node (the stream's
 * listener) and of the client node (the dialler), each as Noise authenticated them. Both sides build
 * it with this function. Throws InvalidFieldLengthError for a wrong-size nonce or identity, RangeError
 * for a peer id that is empty or longer than 255 bytes.
 */
export function fetchAuthMessage(fields: {
  mailboxPeer: Uint8Array;
  clientPeer: Uint8Array;
  nonce: Uint8Array;
  identity: Uint8Array;
}): Uint8Array {
  const { mailboxPeer, clientPeer } = fields;
  const nonce = checkLength('nonce', fields.nonce, NONCE_BYTES);
  const identity = validateIdentity(fields.identity);
  for (const [what, peer] of [
    ['mailbox peer id', mailboxPeer],
    ['client peer id', clientPeer],
  ] as const) {
    if (!(peer instanceof Uint8Array) || peer.byteLength < 1 || peer.byteLength > MAX_PEER_ID_BYTES) {
      throw new RangeError(`${what} must be 1..${MAX_PEER_ID_BYTES} bytes`);
    }
  }
  const out = new Uint8Array(
    LABEL.byteLength + 1 + mailboxPeer.byteLength + 1 + clientPeer.byteLength + NONCE_BYTES + IDENTITY_KEY_BYTES,
  );
  let at = 0;
  const put = (bytes: Uint8Array): void => {
    out.set(bytes, at);
    at += bytes.byteLength;
  };
  put(LABEL);
  put(Uint8Array.of(mailboxPeer.byteLength));
  put(mailboxPeer);
  put(Uint8Array.of(clientPeer.byteLength));
  put(clientPeer);
  put(nonce);
  put(identity);
  return out;
}

/**
 * Decodes and validates one ClientFrame (the payload after the length prefix). Throws
 * MalformedFrameError (not protobuf, or no member set), TooManyIdsError (more than MAX_ACK_IDS ids,
 * detected while decoding) or InvalidFieldLengthError (identity ≠ 32, signature ≠ 64, an id ≠ 16 bytes).
 * Which kind may come next is the handler's business (UnexpectedFrameError).
 */
export function decodeClientFrame(frame: Uint8Array | Uint8ArrayList): ClientMessage {
  let pb: PbClientFrame;
  try {
    pb = PbClientFrame.decode(frame, { limits: { ack: { ids: MAX_ACK_IDS }, auth: { prekeys: MAX_UPLOAD_PREKEYS } } });
  } catch (err) {
    if (err instanceof MaxLengthError) {
      if (pb$auth(frame)) throw new TooManyPrekeysError(`auth uploads more than ${MAX_UPLOAD_PREKEYS} prekeys`);
      throw new TooManyIdsError(`ack holds more than ${MAX_ACK_IDS} ids`);
    }
    throw new MalformedFrameError('client frame is not valid protobuf', { cause: err });
  }
  if (pb.hello != null) return { type: 'hello', identity: validateIdentity(pb.hello.identity) };
  if (pb.auth != null) {
    return {
      type: 'auth',
      signature: checkLength('signature', pb.auth.signature, SIGNATURE_BYTES),
      prekeys: pb.auth.prekeys.map((p) => ({
        id: p.id,
        publicKey: checkLength('prekey', p.publicKey, PREKEY_PUBLIC_BYTES),
      })),
    };
  }
  if (pb.ack != null) {
    for (const id of pb.ack.ids) checkLength('id', id, ID_BYTES);
    return { type: 'ack', ids: pb.ack.ids };
  }
  throw new MalformedFrameError('client frame holds no message');
}

/** Validates and encodes a client frame; a client never puts an invalid frame on the wire. */
export function encodeClientFrame(message: ClientMessage): Uint8Array {
  switch (message.type) {
    case 'hello':
      return PbClientFrame.encode({ hello: { identity: bytes(validateIdentity(message.identity)) } });
    case 'auth':
      if (message.prekeys.length > MAX_UPLOAD_PREKEYS) {
        throw new TooManyPrekeysError(`auth uploads more than ${MAX_UPLOAD_PREKEYS} prekeys`);
      }
      return PbClientFrame.encode({
        auth: {
          signature: bytes(checkLength('signature', message.signature, SIGNATURE_BYTES)),
          prekeys: message.prekeys.map((p) => ({
            id: checkU32('prekey id', p.id),
            publicKey: bytes(checkLength('prekey', p.publicKey, PREKEY_PUBLIC_BYTES)),
          })),
        },
      });
    case 'ack':
      if (message.ids.length > MAX_ACK_IDS) throw new TooManyIdsError(`ack holds more than ${MAX_ACK_IDS} ids`);
      return PbClientFrame.encode({ ack: { ids: message.ids.map((id) => bytes(checkLength('id', id, ID_BYTES))) } });
  }
}

/**
 * Checks a batch before it goes on the wire or after it comes off it (SPEC §5): at most
 * MAX_BATCH_ENVELOPES entries, 16-byte ids, envelopes of at most MAX_ENVELOPE_BYTES totalling at most
 * MAX_BATCH_BYTES, `remaining` a uint32. Throws a RangeError naming the rule; callers map it.
 */
export function validateBatchEntries(entries: readonly BatchEntry[], remaining: number): void {
  if (entries.length > MAX_BATCH_ENVELOPES) throw new RangeError(`more than ${MAX_BATCH_ENVELOPES} entries`);
  let total = 0;
  for (const entry of entries) {
    if (!(entry.id instanceof Uint8Array) || entry.id.byteLength !== ID_BYTES) {
      throw new RangeError(`an entry id is not ${ID_BYTES} bytes`);
    }
    if (!(entry.envelope instanceof Uint8Array) || entry.envelope.byteLength > MAX_ENVELOPE_BYTES) {
      throw new RangeError(`an envelope is above ${MAX_ENVELOPE_BYTES} bytes`);
    }
    total += entry.envelope.byteLength;
  }
  if (total > MAX_BATCH_BYTES) throw new RangeError(`envelopes total above ${MAX_BATCH_BYTES} bytes`);
  if (!Number.isInteger(remaining) || remaining < 0 || remaining > MAX_U32) {
    throw new RangeError('remaining must be a uint32');
  }
}

/** Encodes a server frame (the mailbox's side); the handler has validated an OK's entries. */
export function encodeServerFrame(message: ServerMessage): Uint8Array {
  if (message.type === 'challenge') {
    return PbServerFrame.encode({ challenge: { nonce: bytes(checkLength('nonce', message.nonce, NONCE_BYTES)) } });
  }
  const batch = message.batch;
  switch (batch.status) {
    case MailboxStatus.OK:
      return PbServerFrame.encode({
        batch: {
          status: batch.status,
          entries: batch.entries.map((e) => ({ id: bytes(e.id), envelope: bytes(e.envelope) })),
          remaining: batch.remaining,
          retryAfterMs: 0,
          prekeys: clampU32(batch.prekeys ?? 0),
        },
      });
    case MailboxStatus.RATE_LIMITED:
      return PbServerFrame.encode({
        batch: {
          status: batch.status,
          entries: [],
          remaining: 0,
          retryAfterMs: clampU32(batch.retryAfterMs),
          prekeys: 0,
        },
      });
    default:
      return PbServerFrame.encode({
        batch: { status: batch.status, entries: [], remaining: 0, retryAfterMs: 0, prekeys: 0 },
      });
  }
}

/**
 * Decodes and validates one ServerFrame. Any deviation is a BadResponseError: not protobuf, no member
 * set, a nonce that is not 32 bytes, a missing or unknown status, an OK that breaks the batch limits.
 * The envelopes' contents are not checked here (a corrupt one is the client's per-entry decision).
 */
export function decodeServerFrame(frame: Uint8Array | Uint8ArrayList): ServerMessage {
  let pb: PbServerFrame;
  try {
    pb = PbServerFrame.decode(frame, { limits: { batch: { entries: MAX_BATCH_ENVELOPES } } });
  } catch (err) {
    // includes an unknown enum value (a status we do not know is never read as OK) and too many entries
    throw new BadResponseError('server frame is not valid protobuf or holds too many entries', { cause: err });
  }
  if (pb.challenge != null) {
    if (pb.challenge.nonce.byteLength !== NONCE_BYTES) throw new BadResponseError(`nonce is not ${NONCE_BYTES} bytes`);
    return { type: 'challenge', nonce: pb.challenge.nonce };
  }
  const batch = pb.batch;
  if (batch == null) throw new BadResponseError('server frame holds no message');
  if (!STATUSES.has(batch.status)) throw new BadResponseError('batch has no valid status');
  switch (batch.status) {
    case MailboxStatus.OK: {
      try {
        validateBatchEntries(batch.entries, batch.remaining);
      } catch (err) {
        throw new BadResponseError(`batch breaks the limits: ${(err as Error).message}`, { cause: err });
      }
      const entries = batch.entries.map((e) => ({ id: e.id, envelope: e.envelope }));
      return {
        type: 'batch',
        batch: { status: MailboxStatus.OK, entries, remaining: batch.remaining, prekeys: batch.prekeys },
      };
    }
    case MailboxStatus.RATE_LIMITED:
      return { type: 'batch', batch: { status: MailboxStatus.RATE_LIMITED, retryAfterMs: batch.retryAfterMs } };
    default:
      return { type: 'batch', batch: { status: batch.status as typeof MailboxStatus.UNAVAILABLE } };
  }
}

/** Maps a decoded ClientMessage type to the error a handler raises when it arrives out of order. */
export function unexpected(message: ClientMessage, expected: ClientMessage['type']): UnexpectedFrameError {
  return new UnexpectedFrameError(`${message.type} where ${expected} was expected`);
}

function checkU32(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_U32) throw new RangeError(`${what} must be a uint32`);
  return n;
}

/** Whether a frame that overflowed a repeated-field limit was an Auth (member 2 of ClientFrame). */
function pb$auth(frame: Uint8Array | Uint8ArrayList): boolean {
  const first = frame instanceof Uint8Array ? frame[0] : frame.get(0);
  return first === 0x12; // field 2, wire type 2
}

function clampU32(n: number): number {
  return Number.isFinite(n) ? Math.min(MAX_U32, Math.max(0, Math.ceil(n))) : 0;
}

/** The codec only copies the bytes, so any backing buffer will do (its types ask for ArrayBuffer). */
function bytes(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return u as Uint8Array<ArrayBuffer>;
}
