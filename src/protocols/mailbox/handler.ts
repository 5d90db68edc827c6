/**
 * The mailbox side of `/sotto/mailbox/1.0.0` (SPEC §3–§8): one stream is one fetch session. Reads a
 * Hello, applies the per-peer rate limit, writes a fresh Challenge, checks the identity's signature
 * over the fetch-auth bytes (SPEC §4) against this node's peer id and the Noise-authenticated remote
 * peer, then hands out the identity's stored envelopes in Batches, deleting the acked ones. Anything
 * that is not a well-formed frame in its turn resets the stream before storage is touched; storage is
 * only ever read or changed for an authenticated identity; the node never crashes.
 */
import type { ComponentLogger, Connection, Logger, PeerId, Stream, StreamCloseEvent } from '@libp2p/interface';
import { InvalidDataLengthError, InvalidDataLengthLengthError, lpStream } from '@libp2p/utils';
import type { Uint8ArrayList } from 'uint8arraylist';
import { type TokenBucketInit, TokenBucketLimiter } from '../common/rate-limit.js';
import { noopLog, type ProtocolRegistrar, strictLengthDecoder, varintLength } from '../common/stream.js';
import {
  ACK_TIMEOUT_MS,
  FETCH_BURST,
  FETCH_REFILL_INTERVAL_MS,
  ID_BYTES,
  MAX_BATCH_BYTES,
  MAX_BATCH_ENVELOPES,
  MAX_BATCHES_PER_STREAM,
  MAX_CLIENT_FRAME_BYTES,
  MAX_ENVELOPE_BYTES,
  MAX_INBOUND_STREAMS,
  MAX_OUTBOUND_STREAMS,
  MAX_TRACKED_PEERS,
  NONCE_BYTES,
  PROTOCOL_ID,
  READ_TIMEOUT_MS,
} from './constants.js';
import {
  FrameTooLargeError,
  HandlerStoppedError,
  MalformedFrameError,
  ReadTimeoutError,
  TruncatedFrameError,
} from './errors.js';
import {
  type BatchEntry,
  type ClientMessage,
  decodeClientFrame,
  encodeServerFrame,
  fetchAuthMessage,
  type MailboxBatch,
  MailboxStatus,
  type UploadedPrekey,
  unexpected,
} from './validate.js';

/**
 * Where a mailbox keeps the envelopes it holds, per identity (SPEC §8). The handler calls it only for
 * an identity whose signature it has checked, never concurrently within one session, and with ids it
 * has checked to be 16 bytes. A rejection is answered with UNAVAILABLE, never a crash.
 */
export interface MailboxStorage {
  /** Whether this mailbox serves `identity` (allow list / open policy is the caller's business). */
  serves(identity: Uint8Array): boolean | Promise<boolean>;
  /**
   * Oldest first, at most `limit` entries and about `maxBytes` bytes of envelopes (always at least one
   * if any is stored). Each `envelope` is the exact stored bytes (≤ MAX_ENVELOPE_BYTES) and `id` its
   * 16-byte Envelope id; the handler drops entries beyond the batch limits and answers UNAVAILABLE for
   * an entry that breaks them on its own (a storage bug).
   */
  list(identity: Uint8Array, limit: number, maxBytes: number): Promise<Array<{ id: Uint8Array; envelope: Uint8Array }>>;
  /** Deletes those of `ids` stored for `identity` (and nothing else); returns how many were deleted. */
  remove(identity: Uint8Array, ids: Uint8Array[]): Promise<number>;
  /** How many are stored for `identity`. */
  count(identity: Uint8Array): Promise<number>;
  /**
   * Keeps one-time prekeys uploaded by the authenticated identity (SPEC §12), within the mailbox's own
   * cap (extra ones are dropped, an id already held is not replaced). Absent: uploads are ignored.
   */
  putPrekeys?(identity: Uint8Array, prekeys: UploadedPrekey[]): Promise<void>;
  /** How many uploaded one-time prekeys are held for `identity` (0 when absent). */
  prekeyCount?(identity: Uint8Array): Promise<number>;
}

/** RFC 8032 Ed25519 verification that never throws (e.g. `env.provider.ed25519Verify`). */
export type VerifySignature = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** Emitted (as `CustomEvent<StreamResetDetail>` named `'reset'`) each time the handler resets a stream. */
export interface StreamResetDetail {
  /** The `code` of the error class that caused the reset, e.g. `ERR_UNEXPECTED_FRAME`. */
  code: string;
  remotePeer: PeerId;
}

/** Emitted (as `CustomEvent<SessionDetail>` named `'session'`) when a stream is done with, however it ended. */
export interface SessionDetail {
  remotePeer: PeerId;
  /**
   * The status of the last Batch written (`'OK'` when the session ended with an empty Batch), `'closed'`
   * when the client ended it at a frame boundary, or the `code` of the error that reset the stream.
   */
  outcome: string;
  /** Non-empty Batches written on this stream. */
  batches: number;
  /** Entries the storage reported deleted on this stream. */
  deleted: number;
}

/** Counters, for metrics and tests. */
export interface MailboxHandlerStats {
  streams: number;
  /** Valid Hellos (whether or not the rate limit let them through). */
  sessions: number;
  /** Sessions whose signature verified for an identity this mailbox serves. */
  authorized: number;
  /** One-time prekeys received in authenticated Auth frames (SPEC §12). */
  prekeysUploaded: number;
  /** Non-empty OK Batches written. */
  batches: number;
  /** Entries written in Batches. */
  envelopes: number;
  /** Ack ids that named an entry of the Batch they answered (passed to `remove`). */
  acked: number;
  /** Ack ids that did not (ignored, SPEC §5). */
  ignoredIds: number;
  /** Entries the storage reported deleted. */
  deleted: number;
  /** Batches written, by status (including the empty OK Batch that ends a session). */
  statuses: Record<string, number>;
  resets: Record<string, number>;
  /** Streams done with, however they ended (one `'session'` event each). */
  ended: number;
}

export interface MailboxHandlerInit {
  storage: MailboxStorage;
  verify: VerifySignature;
  /** The nonce source (SPEC §4: fresh random bytes per stream); default `crypto.getRandomValues`. */
  randomBytes?: (n: number) => Uint8Array;
  /** The per-peer token bucket (SPEC §7); defaults FETCH_BURST / FETCH_REFILL_INTERVAL_MS; pass `now` in tests. */
  rateLimit?: Partial<TokenBucketInit>;
  /** Wait for Hello and Auth; defaults to READ_TIMEOUT_MS; lower it only in tests. */
  readTimeout?: number;
  /** Wait for each Ack; defaults to ACK_TIMEOUT_MS; lower it only in tests. */
  ackTimeout?: number;
  /** Non-empty Batches per stream; defaults to (and is capped at) MAX_BATCHES_PER_STREAM. */
  maxBatchesPerStream?: number;
  maxInboundStreams?: number;
  maxOutboundStreams?: number;
}

/** The part of libp2p's registrar this service uses. */
export type MailboxRegistrar = ProtocolRegistrar;

export interface MailboxHandlerComponents {
  registrar: MailboxRegistrar;
  /** This node's peer id: the "mailbox peer id" of the fetch-auth bytes (SPEC §4). */
  peerId: PeerId;
  logger?: ComponentLogger;
}

/** Longest length prefix a client frame may have (SPEC §2). */
const MAX_PREFIX_BYTES = varintLength(MAX_CLIENT_FRAME_BYTES);

/** Rejects an over-long or unterminated length prefix before anything is buffered (SPEC §2). */
const decodeLength = strictLengthDecoder(
  MAX_CLIENT_FRAME_BYTES,
  () => new FrameTooLargeError('length prefix above MAX_CLIENT_FRAME_BYTES'),
);

/** A storage call failed: the session is answered UNAVAILABLE (SPEC §5). Never leaves this file. */
class StorageFailedError extends Error {
  override name = 'StorageFailedError';
}

/** Bytes seen on a stream vs. bytes of complete frames, to tell a clean end from a truncated frame. */
interface Progress {
  received: number;
  consumed: number;
  prefix: number;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const defaultRandomBytes = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

export class MailboxHandler extends EventTarget {
  readonly protocol = PROTOCOL_ID;
  readonly stats: MailboxHandlerStats = {
    streams: 0,
    sessions: 0,
    authorized: 0,
    prekeysUploaded: 0,
    batches: 0,
    envelopes: 0,
    acked: 0,
    ignoredIds: 0,
    deleted: 0,
    statuses: {},
    resets: {},
    ended: 0,
  };
  readonly limiter: TokenBucketLimiter;
  private readonly registrar: MailboxRegistrar;
  private readonly log: Logger;
  private readonly storage: MailboxStorage;
  private readonly verify: VerifySignature;
  private readonly randomBytes: (n: number) => Uint8Array;
  private readonly mailboxPeer: Uint8Array;
  private readonly readTimeout: number;
  private readonly ackTimeout: number;
  private readonly maxBatches: number;
  private readonly maxInboundStreams: number;
  private readonly maxOutboundStreams: number;
  private readonly active = new Set<AbortController>();
  private started = false;

  constructor(components: MailboxHandlerComponents, init: MailboxHandlerInit) {
    super();
    if (components.registrar == null) throw new TypeError('mailboxProtocol needs components.registrar');
    if (components.peerId == null) throw new TypeError('mailboxProtocol needs components.peerId');
    if (init.storage == null) throw new TypeError('mailboxProtocol needs init.storage');
    if (typeof init.verify !== 'function') throw new TypeError('mailboxProtocol needs init.verify');
    this.registrar = components.registrar;
    this.mailboxPeer = components.peerId.toMultihash().bytes;
    this.log = components.logger?.forComponent('sotto:mailbox') ?? noopLog;
    this.storage = init.storage;
    this.verify = init.verify;
    this.randomBytes = init.randomBytes ?? defaultRandomBytes;
    this.limiter = new TokenBucketLimiter({
      capacity: FETCH_BURST,
      refillIntervalMs: FETCH_REFILL_INTERVAL_MS,
      maxKeys: MAX_TRACKED_PEERS,
      ...init.rateLimit,
    });
    this.readTimeout = init.readTimeout ?? READ_TIMEOUT_MS;
    this.ackTimeout = init.ackTimeout ?? ACK_TIMEOUT_MS;
    const maxBatches = init.maxBatchesPerStream ?? MAX_BATCHES_PER_STREAM;
    if (!Number.isInteger(maxBatches) || maxBatches < 1 || maxBatches > MAX_BATCHES_PER_STREAM) {
      throw new RangeError(`maxBatchesPerStream must be an integer 1..${MAX_BATCHES_PER_STREAM}`);
    }
    this.maxBatches = maxBatches;
    this.maxInboundStreams = init.maxInboundStreams ?? MAX_INBOUND_STREAMS;
    this.maxOutboundStreams = init.maxOutboundStreams ?? MAX_OUTBOUND_STREAMS;
    this.handleStream = this.handleStream.bind(this);
  }

  readonly [Symbol.toStringTag] = 'sotto:mailbox';

  async start(): Promise<void> {
    await this.registrar.handle(this.protocol, this.handleStream, {
      maxInboundStreams: this.maxInboundStreams,
      maxOutboundStreams: this.maxOutboundStreams,
    });
    this.started = true;
  }

  async stop(): Promise<void> {
    await this.registrar.unhandle(this.protocol);
    this.started = false;
    for (const controller of this.active) controller.abort(new HandlerStoppedError('service stopped'));
    this.active.clear();
  }

  isStarted(): boolean {
    return this.started;
  }

  /** Serves one inbound stream: one fetch session (SPEC §3). Never throws. */
  async handleStream(stream: Stream, connection: Connection): Promise<void> {
    this.stats.streams++;
    const remotePeer = connection.remotePeer;
    const controller = new AbortController();
    this.active.add(controller);
    // lpStream aborts the stream when more than one frame's worth arrives (a client that does not wait
    // its turn, or an oversized frame in one piece, SPEC §9): that is a frame too large, not a hang-up
    const onClose = (evt: StreamCloseEvent): void =>
      controller.abort(
        evt.error?.name === 'StreamBufferError'
          ? new FrameTooLargeError('more input than one frame', { cause: evt.error })
          : new HandlerStoppedError('stream closed'),
      );
    stream.addEventListener('close', onClose, { once: true });
    const progress: Progress = { received: 0, consumed: 0, prefix: 0 };
    const onMessage = (evt: { data: { byteLength: number } }): void => {
      progress.received += evt.data.byteLength;
    };
    stream.addEventListener('message', onMessage);
    const lp = lpStream(stream, {
      maxDataLength: MAX_CLIENT_FRAME_BYTES,
      lengthDecoder: (data: Uint8ArrayList) => {
        const length = decodeLength(data);
        progress.prefix = data.byteLength; // the prefix as sent (minimal encoding is not required)
        return length;
      },
      // lock-step (SPEC §3): a client never has more than one frame in flight
      maxBufferSize: MAX_CLIENT_FRAME_BYTES + MAX_PREFIX_BYTES,
    });
    const session = { batches: 0, deleted: 0 };
    let outcome = 'closed';
    try {
      const final = await this.serve(lp, remotePeer, controller.signal, progress, session);
      if (final != null) {
        await lp.write(encodeServerFrame({ type: 'batch', batch: final }), { signal: controller.signal });
        this.count(final.status);
        outcome = final.status;
      }
      await stream.close({ signal: AbortSignal.timeout(this.readTimeout) });
    } catch (err) {
      outcome = this.reset(stream, remotePeer, err);
    } finally {
      stream.removeEventListener('close', onClose);
      stream.removeEventListener('message', onMessage);
      this.active.delete(controller);
      this.stats.ended++;
      this.dispatchEvent(
        new CustomEvent<SessionDetail>('session', {
          detail: { remotePeer, outcome, batches: session.batches, deleted: session.deleted },
        }),
      );
    }
  }

  /**
   * Runs the session's state machine (SPEC §3). Resolves the Batch that ends the session (a status, or
   * an empty OK), or null when the client ended it at a frame boundary; throws a typed error for a
   * protocol violation (the caller resets the stream).
   */
  private async serve(
    lp: ReturnType<typeof lpStream<Stream>>,
    remotePeer: PeerId,
    signal: AbortSignal,
    progress: Progress,
    session: { batches: number; deleted: number },
  ): Promise<MailboxBatch | null> {
    // Hello
    const hello = await this.read(lp, signal, this.readTimeout, progress);
    if (hello == null) return null;
    if (hello.type !== 'hello') throw unexpected(hello, 'hello');
    const identity = hello.identity;
    this.stats.sessions++;
    const taken = this.limiter.take(remotePeer.toString());
    if (!taken.ok) return { status: MailboxStatus.RATE_LIMITED, retryAfterMs: taken.retryAfterMs };

    // Challenge
    const nonce = this.randomBytes(NONCE_BYTES);
    if (!(nonce instanceof Uint8Array) || nonce.byteLength !== NONCE_BYTES) {
      this.log.error('randomBytes returned the wrong number of bytes');
      return { status: MailboxStatus.UNAVAILABLE };
    }
    await lp.write(encodeServerFrame({ type: 'challenge', nonce }), { signal });

    // Auth: bound to this stream's nonce, this node and the Noise-authenticated client (SPEC §4)
    const auth = await this.read(lp, signal, this.readTimeout, progress);
    if (auth == null) return null;
    if (auth.type !== 'auth') throw unexpected(auth, 'auth');
    const signed = fetchAuthMessage({
      mailboxPeer: this.mailboxPeer,
      clientPeer: remotePeer.toMultihash().bytes,
      nonce,
      identity,
    });
    let verified = false;
    try {
      verified = this.verify(identity, signed, auth.signature) === true;
    } catch {
      verified = false; // a verifier that throws refuses
    }
    if (!verified) return { status: MailboxStatus.UNAUTHORIZED };

    try {
      // only now, for the identity's owner, does the mailbox say whether it serves the identity
      if ((await this.ask('serves', () => this.storage.serves(identity))) !== true) {
        return { status: MailboxStatus.UNKNOWN_IDENTITY };
      }
      this.stats.authorized++;
      const storage = this.storage;
      if (auth.prekeys.length > 0 && storage.putPrekeys) {
        await this.ask('putPrekeys', () => storage.putPrekeys?.(identity, auth.prekeys) ?? Promise.resolve());
        this.stats.prekeysUploaded += auth.prekeys.length;
      }
      const prekeys = storage.prekeyCount
        ? clampCount(await this.ask('prekeyCount', () => storage.prekeyCount?.(identity) ?? Promise.resolve(0)))
        : 0;

      // Batches until the mailbox is empty, the client leaves, or the per-stream cap (SPEC §3)
      while (session.batches < this.maxBatches) {
        const { entries, remaining } = await this.nextBatch(identity);
        if (entries.length === 0) return { status: MailboxStatus.OK, entries, remaining: 0, prekeys };
        await lp.write(
          encodeServerFrame({ type: 'batch', batch: { status: MailboxStatus.OK, entries, remaining, prekeys } }),
          { signal },
        );
        this.count(MailboxStatus.OK);
        session.batches++;
        this.stats.batches++;
        this.stats.envelopes += entries.length;

        const ack = await this.read(lp, signal, this.ackTimeout, progress);
        if (ack == null) return null; // the client left; unacked entries stay stored
        if (ack.type !== 'ack') throw unexpected(ack, 'ack');
        const ids = this.answered(ack.ids, entries);
        if (ids.length > 0) {
          const deleted = await this.ask('remove', () => this.storage.remove(identity, ids));
          const n = Number.isSafeInteger(deleted) && deleted > 0 ? deleted : 0;
          session.deleted += n;
          this.stats.deleted += n;
        }
      }
      const left = await this.ask('count', () => this.storage.count(identity));
      return { status: MailboxStatus.OK, entries: [], remaining: clampU32(left), prekeys };
    } catch (err) {
      if (err instanceof StorageFailedError) return { status: MailboxStatus.UNAVAILABLE };
      throw err;
    }
  }

  /** The ids of an Ack that name an entry of the Batch it answers, each once (SPEC §5); counts the rest. */
  private answered(ids: Uint8Array[], entries: BatchEntry[]): Uint8Array[] {
    const sent = new Map(entries.map((e) => [hex(e.id), e.id]));
    const out: Uint8Array[] = [];
    for (const id of ids) {
      const key = hex(id);
      const entryId = sent.get(key);
      if (entryId == null) {
        this.stats.ignoredIds++;
        continue;
      }
      sent.delete(key); // a repeated id is ignored the second time
      out.push(entryId);
    }
    this.stats.acked += out.length;
    return out;
  }

  /** The next Batch's entries within the limits of SPEC §5, and how many stay stored after it. */
  private async nextBatch(identity: Uint8Array): Promise<{ entries: BatchEntry[]; remaining: number }> {
    const listed = await this.ask('list', () => this.storage.list(identity, MAX_BATCH_ENVELOPES, MAX_BATCH_BYTES));
    const entries: BatchEntry[] = [];
    let total = 0;
    for (const entry of Array.isArray(listed) ? listed : []) {
      if (entries.length >= MAX_BATCH_ENVELOPES) break;
      const ok =
        entry?.id instanceof Uint8Array &&
        entry.id.byteLength === ID_BYTES &&
        entry.envelope instanceof Uint8Array &&
        entry.envelope.byteLength <= MAX_ENVELOPE_BYTES;
      if (!ok) {
        // never put it on the wire (a client would reject the whole batch); the operator must look
        this.log.error('storage.list returned an entry that breaks the batch limits');
        throw new StorageFailedError('invalid stored entry');
      }
      // one envelope always fits (MAX_ENVELOPE_BYTES < MAX_BATCH_BYTES); stop at the first that does not
      if (total + entry.envelope.byteLength > MAX_BATCH_BYTES) break;
      total += entry.envelope.byteLength;
      entries.push({ id: entry.id, envelope: entry.envelope });
    }
    if (entries.length === 0) return { entries, remaining: 0 };
    const stored = await this.ask('count', () => this.storage.count(identity));
    return { entries, remaining: clampU32(stored - entries.length) };
  }

  /** Calls the storage; any failure becomes StorageFailedError (answered UNAVAILABLE). Logs no user data. */
  private async ask<T>(what: string, call: () => T | Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      this.log.error('storage.%s failed: %s', what, (err as Error | undefined)?.name ?? 'unknown');
      throw new StorageFailedError(`storage.${what} failed`, { cause: err });
    }
  }

  /**
   * Reads and decodes the next client frame within `ms`; null on a clean end (EOF at a frame
   * boundary); throws a typed error on anything else.
   */
  private async read(
    lp: ReturnType<typeof lpStream<Stream>>,
    signal: AbortSignal,
    ms: number,
    progress: Progress,
  ): Promise<ClientMessage | null> {
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(new ReadTimeoutError('no complete frame in time')), ms);
    let frame: Uint8ArrayList;
    try {
      frame = await lp.read({ signal: AbortSignal.any([signal, timer.signal]) });
    } catch (err) {
      if (timer.signal.aborted) throw timer.signal.reason;
      if (signal.aborted) throw signal.reason;
      if (err instanceof FrameTooLargeError) throw err;
      if (err instanceof InvalidDataLengthError || err instanceof InvalidDataLengthLengthError) {
        throw new FrameTooLargeError('length prefix above MAX_CLIENT_FRAME_BYTES', { cause: err });
      }
      if ((err as Error | undefined)?.name === 'UnexpectedEOFError') {
        if (progress.received === progress.consumed) return null;
        throw new TruncatedFrameError('stream ended inside a frame', { cause: err });
      }
      throw err;
    } finally {
      clearTimeout(timeout);
    }
    progress.consumed += progress.prefix + frame.byteLength;
    return decodeClientFrame(frame);
  }

  private count(status: string): void {
    this.stats.statuses[status] = (this.stats.statuses[status] ?? 0) + 1;
  }

  /** Resets the stream for `err`; returns the code it was counted under. */
  private reset(stream: Stream, remotePeer: PeerId, err: unknown): string {
    const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'ERR_STREAM';
    this.stats.resets[code] = (this.stats.resets[code] ?? 0) + 1;
    this.log('reset stream from %p: %s', remotePeer, code);
    stream.abort(err instanceof Error ? err : new MalformedFrameError(code));
    this.dispatchEvent(new CustomEvent<StreamResetDetail>('reset', { detail: { code, remotePeer } }));
    return code;
  }
}

function clampCount(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) ? clampU32(n) : 0;
}

function clampU32(n: number): number {
  return Number.isFinite(n) ? Math.min(0xffff_ffff, Math.max(0, Math.floor(n))) : 0;
}
