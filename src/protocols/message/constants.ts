/**
 * Protocol constants for `/sotto/msg/1.0.0`. Each limit quotes the rule of
 * `protocols/message/SPEC.md` that it enforces; change the SPEC first, then the constant.
 */

/** SPEC §1 "Protocol id": the multistream-select id of this protocol. */
export const PROTOCOL_ID = '/sotto/msg/1.0.0';

/** SPEC §4 "Envelope.id: exactly 16 bytes". */
export const ID_BYTES = 16;

/** SPEC §4 "Envelope.sender / Envelope.recipient: exactly 32 bytes (Ed25519 public key)". */
export const IDENTITY_KEY_BYTES = 32;

/** SPEC §4 "Envelope.body: 1 ..= MAX_BODY_BYTES (65 536) bytes". */
export const MAX_BODY_BYTES = 65_536;

/** SPEC §9 "info = \"sotto/sealed/v1\"": the HPKE info of a sealed envelope (domain separation). */
export const SEALED_INFO = 'sotto/sealed/v1';

/** SPEC §9 "pad(x) … a multiple of SEAL_PAD_BLOCK = 256": sealed sizes reveal a length only to 256 bytes. */
export const SEAL_PAD_BLOCK = 256;

/** SPEC §4/§9 "SEALED_OVERHEAD_BYTES (48)": HPKE `enc` (32) + AEAD tag (16) around the padded plaintext. */
export const SEALED_OVERHEAD_BYTES = 48;

/**
 * SPEC §4/§9 "MAX_SEALED_BYTES = 65 840": the largest SealedContent (sender 34 + timestamp 9 + body
 * 65 540 = 65 583 encoded bytes), padded (257 blocks), plus the overhead. A frame holding it (65 896
 * bytes) stays within MAX_FRAME_BYTES.
 */
export const MAX_SEALED_BYTES = SEALED_OVERHEAD_BYTES + 257 * SEAL_PAD_BLOCK;

/**
 * SPEC §2 "An Envelope frame's length prefix must not exceed MAX_FRAME_BYTES (66 560 = MAX_BODY_BYTES
 * + 1 KiB for the other fields and future optional fields); a larger prefix is reset before the
 * payload is read".
 */
export const MAX_FRAME_BYTES = MAX_BODY_BYTES + 1024;

/** SPEC §2 "An Ack frame's length prefix must not exceed MAX_ACK_FRAME_BYTES (256)". */
export const MAX_ACK_FRAME_BYTES = 256;

/** SPEC §4 "Ack.reason: at most 64 bytes of [a-z0-9-]". */
export const MAX_REASON_BYTES = 64;

/** SPEC §4 "Envelope.timestamp: 1 ..= 2^53 - 1 (ms since the Unix epoch)". */
export const MAX_TIMESTAMP = Number.MAX_SAFE_INTEGER;

/**
 * SPEC §3 "At most MAX_ENVELOPES_PER_STREAM (1024) envelopes per stream; the next frame is reset".
 * Bounds how long one stream lives (a sender then opens a new one); opening one costs a
 * multistream-select round trip, ≈ 2 µs per envelope when spread over 1024.
 */
export const MAX_ENVELOPES_PER_STREAM = 1024;

/**
 * SPEC §3 "A sender has at most MAX_UNACKED_ENVELOPES (8) envelopes written and not yet acknowledged
 * on one stream; a receiver may reset a stream holding more complete frames than that unread".
 * Pipelining hides the round trip and the receiver's durable write; 8 frames of at most
 * MAX_FRAME_BYTES bound what a receiver buffers per stream to ≈ 520 KiB.
 */
export const MAX_UNACKED_ENVELOPES = 8;

/**
 * SPEC §5 "Read timeout: the receiver resets a stream when the next complete Envelope frame has not
 * arrived READ_TIMEOUT_MS (10 s) after it started waiting for it (stream opened or previous Ack
 * written)". Covers both an idle stream and a frame that never completes (slow-loris).
 */
export const READ_TIMEOUT_MS = 10_000;

/**
 * SPEC §5 "Send timeout: a sender gives up on an envelope that has no Ack SEND_TIMEOUT_MS (15 s) after
 * it started sending (dial + stream + write + ack) and resets the stream".
 */
export const SEND_TIMEOUT_MS = 15_000;

/** SPEC §3 "A receiver accepts at most MAX_INBOUND_STREAMS (8) concurrent streams per connection". */
export const MAX_INBOUND_STREAMS = 8;

/** SPEC §3 "A sender opens at most MAX_OUTBOUND_STREAMS (8) concurrent streams per connection". */
export const MAX_OUTBOUND_STREAMS = 8;

/**
 * SPEC §11 "Envelope rate limit: a token bucket per sending peer id holding at most ENVELOPE_BURST
 * (1024) tokens, full at first sight of the peer; each valid envelope takes one". One full stream's
 * worth (MAX_ENVELOPES_PER_STREAM) passes at once, so an honest node's backlog retry is never cut.
 */
export const ENVELOPE_BURST = MAX_ENVELOPES_PER_STREAM;

/**
 * SPEC §11 "The bucket regains one token every ENVELOPE_REFILL_INTERVAL_MS (1 ms), i.e. 1000
 * envelopes a second sustained". Above what one node delivers to another on loopback with 4 in
 * flight (bench:node: 500–700 msgs/s). With 16 in flight sotto's own sender now reaches 1,000–1,400
 * msgs/s (scratch runs, 2026-11-28): beyond the burst the excess is answered `rate-limited` and the
 * sender retries it later. A receiver spends ≈ 0.34 ms of main-thread time on each envelope before
 * its write (BENCHMARKS.md, timeline), so a faster refill would let one peer hold a core.
 */
export const ENVELOPE_REFILL_INTERVAL_MS = 1;

/**
 * SPEC §11 "A receiver serves at most MAX_STREAMS_PER_PEER (16) streams of this protocol at once from
 * one peer, over all its connections; it resets the ones beyond". Two connections' worth of
 * MAX_INBOUND_STREAMS: a peer cannot multiply the per-connection cap by opening more connections.
 */
export const MAX_STREAMS_PER_PEER = 2 * MAX_INBOUND_STREAMS;

/** SPEC §11 "A receiver tracks at most MAX_TRACKED_PEERS (10 000) buckets, forgetting the least recently used". */
export const MAX_TRACKED_PEERS = 10_000;

/** SPEC §11 "an envelope beyond the rate limit is answered UNAVAILABLE with reason `rate-limited`". */
export const RATE_LIMITED_REASON = 'rate-limited';
