/**
 * Protocol constants for `/sotto/prekeys/1.0.0`. Each limit quotes the rule of
 * `protocols/prekeys/SPEC.md` that it enforces; change the SPEC first, then the constant.
 */

/** SPEC §1 "Protocol id": the multistream-select id of this protocol. */
export const PROTOCOL_ID = '/sotto/prekeys/1.0.0';

/** SPEC §4 "ClaimRequest.identity: exactly 32 bytes (Ed25519 public key)". */
export const IDENTITY_KEY_BYTES = 32;

/** SPEC §4 "ClaimResponse.public_key: exactly 32 bytes (X25519 public key)". */
export const PREKEY_PUBLIC_BYTES = 32;

/** SPEC §4 "ClaimResponse.id: any uint32". */
export const MAX_PREKEY_ID = 0xffff_ffff;

/**
 * SPEC §2 "A ClaimRequest frame's length prefix must not exceed MAX_REQUEST_FRAME_BYTES (128 = the
 * 34-byte request plus room for future optional fields); a larger prefix is reset before the payload
 * is read". Its prefix is at most 2 bytes.
 */
export const MAX_REQUEST_FRAME_BYTES = 128;

/** SPEC §2 "A ClaimResponse frame's length prefix must not exceed MAX_RESPONSE_FRAME_BYTES (128)". */
export const MAX_RESPONSE_FRAME_BYTES = 128;

/**
 * SPEC §5 "Read timeout: the responder resets a stream whose complete ClaimRequest frame has not
 * arrived READ_TIMEOUT_MS (5 s) after the stream was opened" (idle streams, slow-loris).
 */
export const READ_TIMEOUT_MS = 5_000;

/**
 * SPEC §5 "Claim timeout: a requester gives up CLAIM_TIMEOUT_MS (10 s) after it started (stream open +
 * write + response), resets the stream and goes ahead without a one-time prekey".
 */
export const CLAIM_TIMEOUT_MS = 10_000;

/**
 * SPEC §6 "Rate limit: a token bucket per requesting peer id holding at most CLAIM_BURST (10) tokens,
 * full at first sight of the peer". One valid ClaimRequest takes one token, whatever its outcome.
 */
export const CLAIM_BURST = 10;

/** SPEC §6 "The bucket regains one token every CLAIM_REFILL_INTERVAL_MS (6 s), i.e. 10 claims a minute". */
export const CLAIM_REFILL_INTERVAL_MS = 6_000;

/**
 * SPEC §6 "A responder tracks at most MAX_TRACKED_PEERS (10 000) buckets; beyond that it forgets the
 * least recently used one" (bounded memory under many peer ids).
 */
export const MAX_TRACKED_PEERS = 10_000;

/**
 * SPEC §1 "A responder accepts at most MAX_INBOUND_STREAMS (32) concurrent streams of this protocol
 * per connection; libp2p resets the ones beyond". A node that starts sessions with many identities
 * hosted on one peer claims in parallel; each stream costs one ≤ 130-byte read and one timer.
 */
export const MAX_INBOUND_STREAMS = 32;

/** SPEC §1 "A requester opens at most MAX_OUTBOUND_STREAMS (32) concurrent streams per connection". */
export const MAX_OUTBOUND_STREAMS = 32;
