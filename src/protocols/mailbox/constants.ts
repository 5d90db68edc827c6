/**
 * Protocol constants for `/sotto/mailbox/1.0.0`. Each limit quotes the rule of
 * `protocols/mailbox/SPEC.md` that it enforces; change the SPEC first, then the constant.
 */
import { ID_BYTES as MESSAGE_ID_BYTES, MAX_FRAME_BYTES as MESSAGE_MAX_FRAME_BYTES } from '../message/constants.js';

/** SPEC §1 "Protocol id": the multistream-select id of this protocol. */
export const PROTOCOL_ID = '/sotto/mailbox/1.0.0';

/** SPEC §5 "Hello.identity: exactly 32 bytes (Ed25519 public key)". */
export const IDENTITY_KEY_BYTES = 32;

/** SPEC §5 "Challenge.nonce: exactly 32 bytes, fresh for every stream". */
export const NONCE_BYTES = 32;

/** SPEC §5 "Auth.signature: exactly 64 bytes (Ed25519 signature)". */
export const SIGNATURE_BYTES = 64;

/** SPEC §5 "Entry.id / Ack.ids: exactly 16 bytes" — the `/sotto/msg/1.0.0` Envelope id. */
export const ID_BYTES = MESSAGE_ID_BYTES;

/** SPEC §4 "the ASCII domain label `sotto/mailbox/fetch/v1` (22 bytes, no terminator)". */
export const FETCH_AUTH_LABEL = 'sotto/mailbox/fetch/v1';

/** SPEC §4 "each peer id is 1 ..= 255 bytes (its length is one byte)". */
export const MAX_PEER_ID_BYTES = 255;

/**
 * SPEC §5 "Entry.envelope: 1 ..= MAX_ENVELOPE_BYTES (66 560) bytes" — the largest Envelope frame
 * `/sotto/msg/1.0.0` accepts (its MAX_FRAME_BYTES), so every deposited envelope can be fetched.
 */
export const MAX_ENVELOPE_BYTES = MESSAGE_MAX_FRAME_BYTES;

/** SPEC §5 "An OK Batch holds at most MAX_BATCH_ENVELOPES (64) entries". */
export const MAX_BATCH_ENVELOPES = 64;

/**
 * SPEC §5 "the envelopes of one Batch total at most MAX_BATCH_BYTES (1 MiB)". One envelope
 * (≤ MAX_ENVELOPE_BYTES) always fits, so a batch is never empty while anything is stored.
 */
export const MAX_BATCH_BYTES = 1_048_576;

/** SPEC §5 "Ack.ids: at most MAX_ACK_IDS (64 = MAX_BATCH_ENVELOPES) ids". */
export const MAX_ACK_IDS = MAX_BATCH_ENVELOPES;

/**
 * SPEC §12 "Auth.prekeys: at most MAX_UPLOAD_PREKEYS one-time prekeys per session". 32 × 42 bytes
 * (id + 32-byte key + framing) + the signature stays well inside MAX_CLIENT_FRAME_BYTES.
 */
export const MAX_UPLOAD_PREKEYS = 32;
/** SPEC §12: an uploaded one-time prekey is a 32-byte X25519 public key. */
export const PREKEY_PUBLIC_BYTES = 32;

/**
 * SPEC §2 "A ClientFrame's length prefix must not exceed MAX_CLIENT_FRAME_BYTES (2 048)". The largest
 * valid one is an Ack of 64 ids: 64 × 18 + 3 = 1 155 bytes; the rest is room for future optional fields.
 */
export const MAX_CLIENT_FRAME_BYTES = 2_048;

/**
 * SPEC §2 "A ServerFrame's length prefix must not exceed MAX_SERVER_FRAME_BYTES (1 052 672 =
 * MAX_BATCH_BYTES + 4 KiB)". The 4 KiB cover the framing of 64 entries (≤ 26 bytes each), the status,
 * counters and future optional fields.
 */
export const MAX_SERVER_FRAME_BYTES = MAX_BATCH_BYTES + 4_096;

/**
 * SPEC §3 "The server sends at most MAX_BATCHES_PER_STREAM (64) non-empty Batches on one stream, then
 * ends the session with an empty Batch" (≤ 4 096 envelopes, ≤ 64 MiB per stream): no session runs
 * forever; a client with more to fetch opens a new stream.
 */
export const MAX_BATCHES_PER_STREAM = 64;

/**
 * SPEC §6 "Server read timeout: the server resets a stream whose Hello or Auth has not arrived
 * READ_TIMEOUT_MS (10 s) after it started waiting for it (stream opened, Challenge written)".
 * Also the client's default wait for each server frame and for opening the stream.
 */
export const READ_TIMEOUT_MS = 10_000;

/**
 * SPEC §6 "Ack timeout: the server resets a stream whose Ack has not arrived ACK_TIMEOUT_MS (30 s)
 * after it wrote the Batch" — longer than READ_TIMEOUT_MS because the client first stores up to
 * 1 MiB durably.
 */
export const ACK_TIMEOUT_MS = 30_000;

/**
 * SPEC §7 "Rate limit: a token bucket per requesting peer id holding at most FETCH_BURST (10) tokens,
 * full at first sight of the peer". Each valid Hello takes one token, whatever the outcome.
 */
export const FETCH_BURST = 10;

/** SPEC §7 "The bucket regains one token every FETCH_REFILL_INTERVAL_MS (6 s), i.e. 10 sessions a minute". */
export const FETCH_REFILL_INTERVAL_MS = 6_000;

/** SPEC §7 "A server tracks at most MAX_TRACKED_PEERS (10 000) buckets, forgetting the least recently used". */
export const MAX_TRACKED_PEERS = 10_000;

/**
 * SPEC §1 "A server accepts at most MAX_INBOUND_STREAMS (4) concurrent streams of this protocol per
 * connection". A client runs one session at a time per identity; a node hosting a few identities may
 * fetch them in parallel. Each stream may hold one ≤ 1 MiB batch in memory.
 */
export const MAX_INBOUND_STREAMS = 4;

/** SPEC §1 "A client opens at most MAX_OUTBOUND_STREAMS (4) concurrent streams per connection". */
export const MAX_OUTBOUND_STREAMS = 4;
