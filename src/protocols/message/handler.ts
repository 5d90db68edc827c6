/**
 * The receiving side of `/sotto/msg/1.0.0` (SPEC §3, §5, §6): reads Envelope frames from each inbound
 * stream, validates them, asks the node what to do (`onEnvelope`) and writes one Ack per envelope.
 * Anything that is not a well-formed, valid envelope resets the stream; the node never crashes.
 * Per-peer limits (SPEC §11): at most MAX_STREAMS_PER_PEER streams at once from one peer, and a token
 * bucket of envelopes per peer; an envelope beyond it is answered UNAVAILABLE `rate-limited` without
 * reaching the node.
 */
import type { ComponentLogger, Connection, Logger, PeerId, Stream, StreamCloseEvent } from '@libp2p/interface';
import { InvalidDataLengthError, InvalidDataLengthLengthError, lpStream } from '@libp2p/utils';
import { type TokenBucketInit, TokenBucketLimiter } from '../common/rate-limit.js';
import { noopLog, type ProtocolRegistrar, strictLengthDecoder, varintLength } from '../common/stream.js';
import {
  ENVELOPE_BURST,
  ENVELOPE_REFILL_INTERVAL_MS,
  MAX_ENVELOPES_PER_STREAM,
  MAX_FRAME_BYTES,
  MAX_INBOUND_STREAMS,
  MAX_OUTBOUND_STREAMS,
  MAX_STREAMS_PER_PEER,
  MAX_TRACKED_PEERS,
  MAX_UNACKED_ENVELOPES,
  PROTOCOL_ID,
  RATE_LIMITED_REASON,
  READ_TIMEOUT_MS,
} from './constants.js';
import {
  FrameTooLargeError,
  HandlerStoppedError,
  MalformedFrameError,
  ReadTimeoutError,
  TooManyEnvelopesError,
  TooManyStreamsError,
  TruncatedFrameError,
} from './errors.js';
import {
  type AckStatus,
  decodeEnvelope,
  encodeAck,
  isValidReason,
  AckStatus as Status,
  type WireEnvelope,
} from './validate.js';

/** What the node answers for one envelope: a status, optionally with a short reason code. */
export type EnvelopeDecision = AckStatus | { status: AckStatus; reason?: string };

/** Context passed to `onEnvelope`. */
export interface EnvelopeContext {
  /** The Noise-authenticated peer id of the node that sent the envelope (not the sender identity). */
  remotePeer: PeerId;
  /** Aborted when the stream closes or resets or the service stops; the store may stop early. */
  signal: AbortSignal;
}

/**
 * Decides the fate of a validated envelope. Resolve with STORED/DUPLICATE only once the envelope is
 * durable. A rejection is answered with UNAVAILABLE (`reason: 'internal'`), never a crash.
 */
export type OnEnvelope = (envelope: WireEnvelope, context: EnvelopeContext) => Promise<EnvelopeDecision>;

/** Emitted (as `CustomEvent<StreamResetDetail>` named `'reset'`) each time the handler resets a stream. */
export interface StreamResetDetail {
  /** The `code` of the error class that caused the reset, e.g. `ERR_FRAME_TOO_LARGE`. */
  code: string;
  remotePeer: PeerId;
}

/** Counters, for metrics and tests. */
export interface MessageHandlerStats {
  streams: number;
  envelopes: number;
  acks: number;
  /** Envelopes answered UNAVAILABLE `rate-limited` (SPEC §11), never handed to the node. */
  rateLimited: number;
  resets: Record<string, number>;
}

export interface MessageHandlerInit {
  onEnvelope: OnEnvelope;
  /** Defaults to READ_TIMEOUT_MS; lower it only in tests. */
  readTimeout?: number;
  maxInboundStreams?: number;
  maxOutboundStreams?: number;
  maxEnvelopesPerStream?: number;
  /** Streams served at once per peer, over all its connections (SPEC §11); default MAX_STREAMS_PER_PEER. */
  maxStreamsPerPeer?: number;
  /** The per-peer envelope bucket (SPEC §11); defaults ENVELOPE_BURST / ENVELOPE_REFILL_INTERVAL_MS; pass `now` in tests. */
  rateLimit?: Partial<TokenBucketInit>;
}

/** The part of libp2p's registrar this service uses. */
export type MessageRegistrar = ProtocolRegistrar;

export interface MessageHandlerComponents {
  registrar: MessageRegistrar;
  logger?: ComponentLogger;
}

/** Rejects an over-long or unterminated length prefix before anything is buffered (SPEC §2). */
const decodeLength = strictLengthDecoder(
  MAX_FRAME_BYTES,
  () => new FrameTooLargeError('length prefix above MAX_FRAME_BYTES'),
);

export class MessageHandler extends EventTarget {
  readonly protocol = PROTOCOL_ID;
  readonly stats: MessageHandlerStats = { streams: 0, envelopes: 0, acks: 0, rateLimited: 0, resets: {} };
  /** Envelopes per sending peer (SPEC §11). */
  readonly limiter: TokenBucketLimiter;
  private readonly registrar: MessageRegistrar;
  private readonly log: Logger;
  private readonly onEnvelope: OnEnvelope;
  private readonly readTimeout: number;
  private readonly maxInboundStreams: number;
  private readonly maxOutboundStreams: number;
  private readonly maxEnvelopesPerStream: number;
  private readonly maxStreamsPerPeer: number;
  /** Streams being served, per remote peer id (SPEC §11). */
  private readonly streamsByPeer = new Map<string, number>();
  private readonly active = new Set<AbortController>();
  private started = false;

  constructor(components: MessageHandlerComponents, init: MessageHandlerInit) {
    super();
    if (components.registrar == null) throw new TypeError('messageProtocol needs components.registrar');
    if (typeof init.onEnvelope !== 'function') throw new TypeError('messageProtocol needs init.onEnvelope');
    this.registrar = components.registrar;
    this.log = components.logger?.forComponent('sotto:msg') ?? noopLog;
    this.onEnvelope = init.onEnvelope;
    this.readTimeout = init.readTimeout ?? READ_TIMEOUT_MS;
    this.maxInboundStreams = init.maxInboundStreams ?? MAX_INBOUND_STREAMS;
    this.maxOutboundStreams = init.maxOutboundStreams ?? MAX_OUTBOUND_STREAMS;
    this.maxEnvelopesPerStream = init.maxEnvelopesPerStream ?? MAX_ENVELOPES_PER_STREAM;
    this.maxStreamsPerPeer = init.maxStreamsPerPeer ?? MAX_STREAMS_PER_PEER;
    this.limiter = new TokenBucketLimiter({
      capacity: ENVELOPE_BURST,
      refillIntervalMs: ENVELOPE_REFILL_INTERVAL_MS,
      maxKeys: MAX_TRACKED_PEERS,
      ...init.rateLimit,
    });
    this.handleStream = this.handleStream.bind(this);
  }

  readonly [Symbol.toStringTag] = 'sotto:msg';

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

  /** Streams of this protocol being served for `peer` (a peer id string) right now (SPEC §11). */
  streamsFrom(peer: string): number {
    return this.streamsByPeer.get(peer) ?? 0;
  }

  /** Serves one inbound stream until the sender closes it or it is reset. Never throws. */
  async handleStream(stream: Stream, connection: Connection): Promise<void> {
    this.stats.streams++;
    const remotePeer = connection.remotePeer;
    const peerKey = remotePeer.toString();
    const serving = this.streamsByPeer.get(peerKey) ?? 0;
    if (serving >= this.maxStreamsPerPeer) {
      this.reset(stream, remotePeer, new TooManyStreamsError('too many streams from one peer'));
      return;
    }
    this.streamsByPeer.set(peerKey, serving + 1);
    const controller = new AbortController();
    this.active.add(controller);
    // lpStream aborts the stream when more than MAX_UNACKED_ENVELOPES frames are buffered unread (a
    // sender that does not respect the window, SPEC §3): a protocol violation, not a hang-up
    const onClose = (evt: StreamCloseEvent): void =>
      controller.abort(
        evt.error?.name === 'StreamBufferError'
          ? new FrameTooLargeError('more buffered input than the pipelining window', { cause: evt.error })
          : new HandlerStoppedError('stream closed'),
      );
    stream.addEventListener('close', onClose, { once: true });
    // Count what arrives and what complete frames consumed, so that an EOF exactly at a frame
    // boundary (clean end) can be told from an EOF inside a frame (truncated).
    let received = 0;
    let consumed = 0;
    const onMessage = (evt: { data: { byteLength: number } }): void => {
      received += evt.data.byteLength;
    };
    stream.addEventListener('message', onMessage);
    const lp = lpStream(stream, {
      maxDataLength: MAX_FRAME_BYTES,
      lengthDecoder: decodeLength,
      // pipelining (SPEC §3): at most MAX_UNACKED_ENVELOPES frames (with prefixes) legitimately buffered
      maxBufferSize: MAX_UNACKED_ENVELOPES * (MAX_FRAME_BYTES + varintLength(MAX_FRAME_BYTES)),
    });
    // One read timer per stream, re-armed at each read (SPEC §5); it only fires while waiting for a frame.
    let waiting = false;
    const timeout = new AbortController();
    const timer = setTimeout(() => {
      if (waiting) timeout.abort(new ReadTimeoutError('no complete frame in time'));
    }, this.readTimeout);
    const readSignal = AbortSignal.any([controller.signal, timeout.signal]);
    let count = 0;
    // Pipelining (SPEC §3): envelopes are decided as they arrive (the node's durable writes of
    // consecutive envelopes can share one store batch) and acked strictly in order.
    let ackChain: Promise<void> = Promise.resolve();
    const unacked: Array<Promise<void>> = [];
    try {
      while (true) {
        waiting = true;
        timer.refresh();
        let frame: Uint8Array | null;
        try {
          frame = await this.readFrame(lp, readSignal, () => received === consumed);
        } finally {
          waiting = false;
        }
        if (frame == null) break; // clean end at a frame boundary
        consumed += varintLength(frame.byteLength) + frame.byteLength;
        if (++count > this.maxEnvelopesPerStream) throw new TooManyEnvelopesError('too many envelopes on one stream');
        const envelope = decodeEnvelope(frame);
        this.stats.envelopes++;
        // the rate limit is applied in arrival order, before the node sees the envelope (SPEC §11)
        const decision = this.limiter.take(peerKey).ok
          ? this.decide(envelope, remotePeer, controller.signal)
          : this.rateLimited();
        decision.catch(() => undefined); // surfaces through the ack chain
        ackChain = ackChain.then(async () => {
          const { status, reason } = await decision;
          await lp.write(encodeAck({ id: envelope.id, status, reason }), { signal: controller.signal });
          this.stats.acks++;
          unacked.shift(); // acks complete in order: this one is the oldest
        });
        ackChain.catch((err: unknown) => controller.abort(err)); // a failed ack ends the stream
        unacked.push(ackChain);
        // a well-behaved sender never has more unacknowledged: read no further until one is acked
        if (unacked.length >= MAX_UNACKED_ENVELOPES) await unacked[0];
      }
      await ackChain;
      await stream.close({ signal: AbortSignal.timeout(this.readTimeout) });
    } catch (err) {
      this.reset(stream, remotePeer, err);
    } finally {
      clearTimeout(timer);
      stream.removeEventListener('close', onClose);
      stream.removeEventListener('message', onMessage);
      this.active.delete(controller);
      const left = (this.streamsByPeer.get(peerKey) ?? 1) - 1;
      if (left > 0) this.streamsByPeer.set(peerKey, left);
      else this.streamsByPeer.delete(peerKey);
    }
  }

  /** The answer to an envelope beyond the peer's rate limit (SPEC §11): transient, keep and retry. */
  private async rateLimited(): Promise<{ status: AckStatus; reason: string }> {
    this.stats.rateLimited++;
    return { status: Status.UNAVAILABLE, reason: RATE_LIMITED_REASON };
  }

  /** Reads one frame; null on a clean end; throws a typed error on anything else. */
  private async readFrame(
    lp: ReturnType<typeof lpStream<Stream>>,
    signal: AbortSignal,
    atBoundary: () => boolean,
  ): Promise<Uint8Array | null> {
    try {
      const list = await lp.read({ signal });
      return list.subarray();
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof FrameTooLargeError) throw err;
      if (err instanceof InvalidDataLengthError || err instanceof InvalidDataLengthLengthError) {
        throw new FrameTooLargeError('length prefix above MAX_FRAME_BYTES', { cause: err });
      }
      if ((err as Error | undefined)?.name === 'UnexpectedEOFError') {
        if (atBoundary()) return null;
        throw new TruncatedFrameError('stream ended inside a frame', { cause: err });
      }
      throw err;
    }
  }

  private async decide(
    envelope: WireEnvelope,
    remotePeer: PeerId,
    signal: AbortSignal,
  ): Promise<{ status: AckStatus; reason: string }> {
    let decision: EnvelopeDecision;
    try {
      decision = await raceSignal(this.onEnvelope(envelope, { remotePeer, signal }), signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      this.log.error('onEnvelope failed: %s', (err as Error | undefined)?.name ?? 'unknown');
      return { status: Status.UNAVAILABLE, reason: 'internal' };
    }
    const { status, reason = '' } = typeof decision === 'string' ? { status: decision } : decision;
    if (!Object.values(Status).includes(status)) {
      this.log.error('onEnvelope returned an invalid status');
      return { status: Status.UNAVAILABLE, reason: 'internal' };
    }
    return { status, reason: isValidReason(reason) ? reason : '' };
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
