/**
 * Wire format of session messages (protocols/session/SPEC.md §Messages). Parsing is strict:
 * exact field sizes, known type byte, no trailing bytes where a length is implied.
 */
import { Reader, Writer } from '../bytes.js';
import { MalformedMessageError, UnsupportedVersionError } from '../errors.js';
import type { PublicIdentity } from '../keys.js';
import {
  AEAD_TAG_BYTES,
  ED25519_PUBLIC_BYTES,
  ED25519_SIGNATURE_BYTES,
  MLKEM768_CIPHERTEXT_BYTES,
  X25519_KEY_BYTES,
} from '../provider.js';

/** High nibble of the first byte: the session protocol version. */
export const PROTOCOL_VERSION = 1;
/** Low nibble: the message type. */
export const TYPE_RATCHET = 1;
export const TYPE_PREKEY = 2;
export const RATCHET_TAG = (PROTOCOL_VERSION << 4) | TYPE_RATCHET; // 0x11
export const PREKEY_TAG = (PROTOCOL_VERSION << 4) | TYPE_PREKEY; // 0x12
/** tag(1) || ratchet key(32) || pn(4) || n(4). */
export const RATCHET_HEADER_BYTES = 1 + X25519_KEY_BYTES + 4 + 4;

export interface RatchetHeader {
  /** Sender's current ratchet public key. */
  dh: Uint8Array;
  /** Number of messages in the sender's previous sending chain. */
  pn: number;
  /** Message number in the current sending chain. */
  n: number;
}

export interface RatchetMessage {
  header: RatchetHeader;
  /** The exact header bytes (authenticated as associated data). */
  headerBytes: Uint8Array;
  sealed: Uint8Array;
}

/** The PQXDH fields Alice sends with her messages until Bob answers (PQXDH §3.3 "initial message"). */
export interface PrekeyHeader {
  initiator: PublicIdentity;
  /** Alice's ephemeral key EK_A: the session's base key. */
  baseKey: Uint8Array;
  signedPrekeyId: number;
  kemPrekeyId: number;
  oneTimePrekeyId: number | undefined;
  kemCiphertext: Uint8Array;
}

export interface PrekeyMessage {
  prekey: PrekeyHeader;
  /** The exact prekey-header bytes (everything before the inner message). */
  prekeyBytes: Uint8Array;
  inner: RatchetMessage;
}

const malformed = (why: string) => new MalformedMessageError(`malformed session message: ${why}`);

export function encodeRatchetHeader(h: RatchetHeader): Uint8Array {
  return new Writer(RATCHET_HEADER_BYTES).u8(RATCHET_TAG).bytes(h.dh).u32(h.pn).u32(h.n).finish();
}

export function encodePrekeyHeader(p: PrekeyHeader): Uint8Array {
  const w = new Writer(1400)
    .u8(PREKEY_TAG)
    .bytes(p.initiator.signingKey)
    .bytes(p.initiator.dhKey)
    .bytes(p.initiator.dhSignature)
    .bytes(p.baseKey)
    .u32(p.signedPrekeyId)
    .u32(p.kemPrekeyId);
  if (p.oneTimePrekeyId === undefined) w.u8(0);
  else w.u8(1).u32(p.oneTimePrekeyId);
  return w.bytes(p.kemCiphertext).finish();
}

function checkTag(tag: number, expected: number): void {
  if (tag >> 4 !== PROTOCOL_VERSION) throw new UnsupportedVersionError('session message', tag >> 4);
  if (tag !== expected) throw malformed(`unexpected message type ${tag & 0x0f}`);
}

function readRatchet(bytes: Uint8Array): RatchetMessage {
  const r = new Reader(bytes, malformed);
  checkTag(r.u8('type'), RATCHET_TAG);
  const dh = r.bytes(X25519_KEY_BYTES, 'ratchet key');
  const pn = r.u32('previous chain length');
  const n = r.u32('message number');
  const sealed = r.rest();
  if (sealed.length < AEAD_TAG_BYTES) throw malformed('ciphertext shorter than the AEAD tag');
  return { header: { dh, pn, n }, headerBytes: bytes.slice(0, RATCHET_HEADER_BYTES), sealed };
}

function readPrekey(bytes: Uint8Array): PrekeyMessage {
  const r = new Reader(bytes, malformed);
  checkTag(r.u8('type'), PREKEY_TAG);
  const signingKey = r.bytes(ED25519_PUBLIC_BYTES, 'initiator signing key');
  const dhKey = r.bytes(X25519_KEY_BYTES, 'initiator DH key');
  const dhSignature = r.bytes(ED25519_SIGNATURE_BYTES, 'initiator DH signature');
  const baseKey = r.bytes(X25519_KEY_BYTES, 'base key');
  const signedPrekeyId = r.u32('signed prekey id');
  const kemPrekeyId = r.u32('ML-KEM prekey id');
  const hasOneTime = r.u8('one-time prekey flag');
  if (hasOneTime > 1) throw malformed('one-time prekey flag must be 0 or 1');
  const oneTimePrekeyId = hasOneTime === 1 ? r.u32('one-time prekey id') : undefined;
  const kemCiphertext = r.bytes(MLKEM768_CIPHERTEXT_BYTES, 'ML-KEM ciphertext');
  const prekeyLength = bytes.length - r.remaining;
  const inner = readRatchet(r.rest());
  return {
    prekey: {
      initiator: { signingKey, dhKey, dhSignature },
      baseKey,
      signedPrekeyId,
      kemPrekeyId,
      oneTimePrekeyId,
      kemCiphertext,
    },
    prekeyBytes: bytes.slice(0, prekeyLength),
    inner,
  };
}

export type ParsedMessage = ({ type: 'ratchet' } & RatchetMessage) | ({ type: 'prekey' } & PrekeyMessage);

/** Parses a session message of either type; throws MalformedMessageError or UnsupportedVersionError. */
export function parseMessage(bytes: Uint8Array): ParsedMessage {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw malformed('empty');
  const tag = bytes[0] as number;
  if (tag >> 4 !== PROTOCOL_VERSION) throw new UnsupportedVersionError('session message', tag >> 4);
  if (tag === RATCHET_TAG) return { type: 'ratchet', ...readRatchet(bytes) };
  if (tag === PREKEY_TAG) return { type: 'prekey', ...readPrekey(bytes) };
  throw malformed(`unknown message type ${tag & 0x0f}`);
}
