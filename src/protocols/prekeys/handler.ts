/**
 * The responding side of `/sotto/prekeys/1.0.0` (SPEC §3–§7): reads one ClaimRequest per stream,
 * validates it, applies the per-peer rate limit, asks the node for one unclaimed one-time prekey
 * (`claim`) and writes one ClaimResponse. Anything that is not a well-formed, valid request resets
 * the stream before the node is asked; the node never crashes.
 */
import type { ComponentLogger, Connection, Logger, PeerId, Stream } from '@libp2p/interface';
import { InvalidDataLengthError, InvalidDataLengthLengthError, lpStream } from '@libp2p/utils';
import { type TokenBucketInit, TokenBucketLimiter } from '../common/rate-limit.js';
import { noopLog, type ProtocolRegistrar, strictLengthDecoder, varintLength } from '../common/stream.js';
import {
  CLAIM_BURST,
  CLAIM_REFILL_INTERVAL_MS,
  MAX_INBOUND_STREAMS,
  MAX_OUTBOUND_STREAMS,
  MAX_REQUEST_FRAME_BYTES,
  MAX_TRACKED_PEERS,
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
  type ClaimedPrekey,
  type ClaimResponse,
  ClaimStatus,
  decodeClaimRequest,
  encodeClaimResponse,
  validatePrekey,
} from './validate.js';

/** What the node answers for one claim. */
export type ClaimResult = ClaimedPrekey | 'empty' | 'unknown';

/**
 * Hands out one unclaimed one-time prekey of `identity`, removing it from the pool of unclaimed
 * prekeys **before** resolving (SPEC §8): resolve `'unknown'` when this node does not serve the
 * identity, `'empty'` when none is left. A rejection is answered with UNAVAILABLE, never a crash.
 *
 * The handler never runs two claims for the same identity at once, so a callback that is correct
 * when called sequentially (e.g. `ids()` then `remove()`) cannot hand out a prekey twice within this
 * node; it must still settle, or later claims for that identity wait behind it.
 */
export type ClaimPrekey = (
  identity: Uint8Array,
  requester: PeerId,
  options: { signal: AbortSignal },
) => Promise<ClaimResult>;

/** Emitted (as `CustomEvent<StreamResetDetail>` named `'reset'`) each time the handler resets a stream. */
export interface StreamResetDetail {
  /** The `code` of the error class that caused the reset, e.g. `ERR_FRAME_TOO_LARGE`. */
  code: string;
  remotePeer: PeerId;
}

/** Counters, for metrics and tests. */
export interface PrekeyHandlerStats {
  streams: number;
  /** Valid requests, whatever their outcome. */
  requests: number;
  /** Responses written, by status. */
  responses: Record<string, number>;
  /** Times the `claim` callback was called. */
  claims: number;
  resets: Record<string, number>;
}

export interface PrekeyHandlerInit {
  claim: ClaimPrekey;
  /** The per-peer token bucket (SPEC §6); defaults CLAIM_BURST / CLAIM_REFILL_INTERVAL_MS; pass `now` in tests. */
  rateLimit?: Partial<TokenBucketInit>;
  /** Defaults to READ_TIMEOUT_MS; lower it only in tests. */
  readTimeout?: number;
  maxInboundStreams?: number;
  maxOutboundStreams?: number;
}

/** The part of libp2p's registrar this service uses. */
export type PrekeyRegistrar = ProtocolRegistrar;

export interface PrekeyHandlerComponents {
  registrar: PrekeyRegistrar;
  logger?: ComponentLogger;
}

/** Longest length prefix a frame may have (SPEC §2). */
const MAX_PREFIX_BYTES = varintLength(MAX_REQUEST_FRAME_BYTES);

/** Rejects an over-long or unterminated length prefix before anything is buffered (SPEC §2). */
const decodeLength = strictLengthDecoder(
  MAX_REQUEST_FRAME_BYTES,
  () => new FrameTooLargeError('length prefix above MAX_REQUEST_FRAME_BYTES'),
);

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export class PrekeyHandler extends EventTarget {
  readonly protocol = PROTOCOL_ID;
  readonly stats: PrekeyHandlerStats = { streams: 0, requests: 0, responses: {}, claims: 0, resets: {} };
  readonly limiter: TokenBucketLimiter;
  private readonly registrar: PrekeyRegistrar;
  private readonly log: Logger;
  private readonly claim: ClaimPrekey;
  private readonly readTimeout: number;
  private readonly maxInboundStreams: number;
  private readonly maxOutboundStreams: number;
  private readonly active = new Set<AbortController>();
  /** Per identity (hex): the tail of its claim queue (SPEC §8: claims for one identity run one at a time). */
  private readonly queues = new Map<string, Promise<unknown>>();
  private started = false;

  constructor(components: PrekeyHandlerComponents, init: PrekeyHandlerInit) {
    super();
    if (components.registrar == null) throw new TypeError('prekeysProtocol needs components.registrar');
    if (typeof init.claim !== 'function') throw new TypeError('prekeysProtocol needs init.claim');
    this.registrar = components.registrar;
    this.log = components.logger?.forComponent('sotto:prekeys') ?? noopLog;
    this.claim = init.claim;
    this.limiter = new TokenBucketLimiter({
      capacity: CLAIM_BURST,
      refillIntervalMs: CLAIM_REFILL_INTERVAL_MS,
      maxKeys: MAX_TRACKED_PEERS,
      ...init.rateLimit,
    });
    this.readTimeout = init.readTimeout ?? READ_TIMEOUT_MS;
    this.maxInboundStreams = init.maxInboundStreams ?? MAX_INBOUND_STREAMS;
    this.maxOutboundStreams = init.maxOutboundStreams ?? MAX_OUTBOUND_STREAMS;
    this.handleStream = this.handleStream.bind(this);
  }

  readonly [Symbol.toStringTag] = 'sotto:prekeys';

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

  /** Serves one inbound stream: one request, one response (SPEC §3). Never throws. */
  async handleStream(stream: Stream, connection: Connection): Promise<void> {
    this.stats.streams++;
    const remotePeer = connection.remotePeer;
    const controller = new AbortController();
    this.active.add(controller);
    const onClose = (): void => controller.abort(new HandlerStoppedError('stream closed'));
    stream.addEventListener('close', onClose, { once: true });
    const lp = lpStream(stream, {
      maxDataLength: MAX_REQUEST_FRAME_BYTES,
      lengthDecoder: decodeLength,
      maxBufferSize: MAX_REQUEST_FRAME_BYTES + MAX_PREFIX_BYTES,
    });
    try {
      const frame = await this.readFrame(lp, controller.signal);
      const request = decodeClaimRequest(frame);
      this.stats.requests++;
      const response = await this.answer(request.identity, remotePeer, controller.signal);
      await lp.write(encodeClaimResponse(response), { signal: controller.signal });
      this.stats.responses[response.status] = (this.stats.responses[response.status] ?? 0) + 1;
      await stream.close({ signal: AbortSignal.timeout(this.readTimeout) });
    } catch (err) {
      this.reset(stream, remotePeer, err);
    } finally {
      stream.removeEventListener('close', onClose);
      this.active.delete(controller);
    }
  }

  /** Reads the request frame; throws a typed error on anything but one complete frame in time. */
  private async readFrame(lp: ReturnType<typeof lpStream<Stream>>, signal: AbortSignal): Promise<Uint8Array> {
    const timer = new AbortController();
    const timeout = setTimeout(
      () => timer.abort(new ReadTimeoutError('no complete request in time')),
      this.readTimeout,
    );
    try {
      const list = await lp.read({ signal: AbortSignal.any([signal, timer.signal]) });
      return list.subarray();
    } catch (err) {
      if (timer.signal.aborted) throw timer.signal.reason;
      if (signal.aborted) throw signal.reason;
      if (err instanceof FrameTooLargeError) throw err;
      if (err instanceof InvalidDataLengthError || err instanceof InvalidDataLengthLengthError) {
        throw new FrameTooLargeError('length prefix above MAX_REQUEST_FRAME_BYTES', { cause: err });
      }
      if ((err as Error | undefined)?.name === 'UnexpectedEOFError') {
        throw new TruncatedFrameError('stream ended before a complete request', { cause: err });
      }
      throw err;
    } finally {
      clearTimeout(timeout);
    }
  }

  /** Rate limit first (a refused claim never reaches the store), then one claim at a time per identity. */
  private async answer(identity: Uint8Array, remotePeer: PeerId, signal: AbortSignal): Promise<ClaimResponse> {
    const taken = this.limiter.take(remotePeer.toString());
    if (!taken.ok) return { status: ClaimStatus.RATE_LIMITED, retryAfterMs: taken.retryAfterMs };
    const key = hex(identity);
    const previous = this.queues.get(key) ?? Promise.resolve();
    // chain on the callback's own settlement, not on our abortable wait for it: a claim that is still
    // running keeps the next one for this identity waiting even if its requester went away
    const run = previous.then(() => this.runClaim(identity, remotePeer, signal));
    const tail = run.catch(() => {});
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    let result: ClaimResult;
    try {
      result = await raceSignal(run, signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      this.log.error('claim failed: %s', (err as Error | undefined)?.name ?? 'unknown');
      return { status: ClaimStatus.UNAVAILABLE };
    }
    if (result === 'empty') return { status: ClaimStatus.EMPTY };
    if (result === 'unknown') return { status: ClaimStatus.UNKNOWN_IDENTITY };
    try {
      return { status: ClaimStatus.OK, prekey: validatePrekey(result) };
    } catch (err) {
      // the node's bug: that prekey is gone from the pool but can never be used; say so loudly
      this.log.error('claim returned an invalid prekey: %s', (err as Error).message);
      return { status: ClaimStatus.UNAVAILABLE };
    }
  }

  private async runClaim(identity: Uint8Array, remotePeer: PeerId, signal: AbortSignal): Promise<ClaimResult> {
    // the requester went away while queued: do not consume a prekey nobody will receive
    if (signal.aborted) throw signal.reason;
    this.stats.claims++;
    return this.claim(identity, remotePeer, { signal });
  }

  private reset(stream: Stream, remotePeer: PeerId, err: unknown): void {
    const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'ERR_STREAM';
    this.stats.resets[code] = (this.stats.resets[code] ?? 0) + 1;
    this.log('reset stream from %p: %s', remotePeer, code);
    stream.abort(err instanceof Error ? err : new MalformedFrameError(code));
    this.dispatchEvent(new CustomEvent<StreamResetDetail>('reset', { detail: { code, remotePeer } }));
  }
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
