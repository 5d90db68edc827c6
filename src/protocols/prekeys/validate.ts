/**
 * Decoding and validation of `/sotto/prekeys/1.0.0` frames (SPEC §4). Every field is checked; the
 * typed results never hold a value the SPEC forbids.
 */
import type { Uint8ArrayList } from 'uint8arraylist';
import { checkX25519Public } from '../../crypto/keys.js';
import { IDENTITY_KEY_BYTES, MAX_PREKEY_ID } from './constants.js';
import { BadResponseError, InvalidFieldLengthError, MalformedFrameError } from './errors.js';
import { ClaimRequest as PbClaimRequest, ClaimResponse as PbClaimResponse } from './pb/prekeys.js';

/** A validated claim request. */
export interface ClaimRequest {
  /** The Ed25519 identity key (32 bytes) whose one-time prekey is wanted. */
  identity: Uint8Array;
}

/** A claimed one-time prekey: its id and 32-byte X25519 public key (validated). */
export interface ClaimedPrekey {
  id: number;
  publicKey: Uint8Array;
}

/** The statuses a responder may put on the wire (SPEC §4 "ClaimResponse.status"). */
export const ClaimStatus = {
  OK: PbClaimResponse.Status.OK,
  EMPTY: PbClaimResponse.Status.EMPTY,
  UNKNOWN_IDENTITY: PbClaimResponse.Status.UNKNOWN_IDENTITY,
  RATE_LIMITED: PbClaimResponse.Status.RATE_LIMITED,
  UNAVAILABLE: PbClaimResponse.Status.UNAVAILABLE,
} as const;
export type ClaimStatus = (typeof ClaimStatus)[keyof typeof ClaimStatus];

/** A validated response: an OK always carries a valid prekey, RATE_LIMITED a retry hint. */
export type ClaimResponse =
  | { status: typeof ClaimStatus.OK; prekey: ClaimedPrekey }
  | { status: typeof ClaimStatus.RATE_LIMITED; retryAfterMs: number }
  | { status: typeof ClaimStatus.EMPTY | typeof ClaimStatus.UNKNOWN_IDENTITY | typeof ClaimStatus.UNAVAILABLE };

const STATUSES = new Set<string>(Object.values(ClaimStatus));

/** Throws InvalidFieldLengthError unless `identity` is 32 bytes. */
export function validateIdentity(identity: Uint8Array): Uint8Array {
  if (!(identity instanceof Uint8Array) || identity.byteLength !== IDENTITY_KEY_BYTES) {
    throw new InvalidFieldLengthError('identity', IDENTITY_KEY_BYTES, identity?.byteLength ?? 0);
  }
  return identity;
}

/**
 * Checks a prekey before it goes on the wire or after it comes off it: id a uint32, public key a
 * 32-byte canonical X25519 point not of small order. Throws the crypto core's InvalidKeyError or a
 * RangeError; callers map those to their own error.
 */
export function validatePrekey(prekey: { id: number; publicKey: Uint8Array }): ClaimedPrekey {
  if (!Number.isInteger(prekey.id) || prekey.id < 0 || prekey.id > MAX_PREKEY_ID) {
    throw new RangeError(`prekey id must be an integer 0..${MAX_PREKEY_ID}`);
  }
  checkX25519Public(prekey.publicKey, 'one-time prekey');
  return { id: prekey.id, publicKey: prekey.publicKey };
}

/** Decodes and validates one ClaimRequest frame (the payload after the length prefix). */
export function decodeClaimRequest(frame: Uint8Array | Uint8ArrayList): ClaimRequest {
  let pb: PbClaimRequest;
  try {
    pb = PbClaimRequest.decode(frame);
  } catch (err) {
    throw new MalformedFrameError('request is not valid protobuf', { cause: err });
  }
  return { identity: validateIdentity(pb.identity) };
}

/** Validates and encodes a request; a requester never puts an invalid request on the wire. */
export function encodeClaimRequest(request: ClaimRequest): Uint8Array {
  return PbClaimRequest.encode({ identity: bytes(validateIdentity(request.identity)) });
}

/** Encodes a response (the responder's side); the caller has validated an OK's prekey. */
export function encodeClaimResponse(response: ClaimResponse): Uint8Array {
  switch (response.status) {
    case ClaimStatus.OK:
      return PbClaimResponse.encode({
        status: response.status,
        id: response.prekey.id,
        publicKey: bytes(response.prekey.publicKey),
      });
    case ClaimStatus.RATE_LIMITED:
      return PbClaimResponse.encode({ status: response.status, retryAfterMs: clampU32(response.retryAfterMs) });
    default:
      return PbClaimResponse.encode({ status: response.status });
  }
}

/**
 * Decodes and validates one ClaimResponse frame. Any deviation is a BadResponseError: a missing or
 * unknown status, an OK whose public key is missing, the wrong size, non-canonical or of small order.
 */
export function decodeClaimResponse(frame: Uint8Array | Uint8ArrayList): ClaimResponse {
  let pb: PbClaimResponse;
  try {
    pb = PbClaimResponse.decode(frame);
  } catch (err) {
    // includes an unknown enum value: a status we do not know is never read as success
    throw new BadResponseError('response is not valid protobuf', { cause: err });
  }
  if (!STATUSES.has(pb.status)) throw new BadResponseError('response has no valid status');
  switch (pb.status) {
    case ClaimStatus.OK: {
      let prekey: ClaimedPrekey;
      try {
        prekey = validatePrekey({ id: pb.id, publicKey: pb.publicKey });
      } catch (err) {
        throw new BadResponseError('OK response without a valid X25519 prekey', { cause: err });
      }
      return { status: ClaimStatus.OK, prekey };
    }
    case ClaimStatus.RATE_LIMITED:
      return { status: ClaimStatus.RATE_LIMITED, retryAfterMs: pb.retryAfterMs };
    default:
      return { status: pb.status as typeof ClaimStatus.EMPTY };
  }
}

function clampU32(n: number): number {
  return Number.isFinite(n) ? Math.min(MAX_PREKEY_ID, Math.max(0, Math.ceil(n))) : 0;
}

/** The codec only copies the bytes, so any backing buffer will do (its types ask for ArrayBuffer). */
function bytes(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return u as Uint8Array<ArrayBuffer>;
}
