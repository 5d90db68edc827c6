/**
 * The sending side of `/sotto/msg/1.0.0` (SPEC §3, §5): opens a stream, writes an envelope, waits for
 * its Ack. Pure wire client: retries, backoff and peer choice belong to the delivery engine.
 */
import type { AbortOptions, DialTarget, Stream } from '@libp2p/interface';
import { InvalidDataLengthError, InvalidDataLengthLengthError, lpStream } from '@libp2p/utils';
import {
  MAX_ACK_FRAME_BYTES,
  MAX_ENVELOPES_PER_STREAM,
  MAX_UNACKED_ENVELOPES,
  PROTOCOL_ID,
  SEND_TIMEOUT_MS,
} from './constants.js';
import { AckTimeoutError, BadAckError, NoAckError, StreamResetError, TooManyEnvelopesError } from './errors.js';
import { type Ack, decodeAck, encodeEnvelope, validateWireEnvelope, type WireEnvelope } from './validate.js';

/** Anything that can open a protocol stream: a libp2p node (`dialProtocol`) fits. */
export interface ProtocolDialer {
  dialProtocol(peer: DialTarget, protocols: string | string[], options?: AbortOptions): Promise<Stream>;
}

export interface SendOptions extends AbortOptions {
  /** Milliseconds for the whole operation (stream + write + ack); default SEND_TIMEOUT_MS. */
  timeout?: number;
  /** Called once the envelope's frame is written to the stream (the Ack is still to come). */
  onWritten?: () => void;
}

/**
 * A stream carrying several envelopes (SPEC §3): up to MAX_UNACKED_ENVELOPES written ahead of their
 * Acks, which arrive in order; at most MAX_ENVELOPES_PER_STREAM in its lifetime.
 */
export interface EnvelopeStream {
  /**
   * Sends one envelope and resolves with its Ack. Waits for a free slot when MAX_UNACKED_ENVELOPES
   * are unacknowledged. After any failure the stream is reset and every envelope still waiting on it
   * fails with the same typed error ("not known to be stored").
   */
  send(envelope: WireEnvelope, options?: SendOptions): Promise<Ack>;
  /** Ends the stream gracefully once every written envelope has its Ack. */
  close(options?: AbortOptions): Promise<void>;
  /** Envelopes acknowledged on this stream so far. */
  readonly sent: number;
  /** Envelopes written (or waiting for a slot) so far; at most MAX_ENVELOPES_PER_STREAM. */
  readonly used: number;
  /** False once the stream failed, was closed, or has no envelope left to carry. */
  readonly usable: boolean;
}

/** Combines the caller's signal with a timeout whose expiry is recognisable (opening a stream). */
function deadline(options: SendOptions): { signal: AbortSignal; timedOut: () => boolean; clear: () => void } {
  const timer = new AbortController();
  const ms = options.timeout ?? SEND_TIMEOUT_MS;
  const handle = setTimeout(() => timer.abort(new AckTimeoutError(`no ack within ${ms} ms`)), ms);
  const signal = options.signal == null ? timer.signal : AbortSignal.any([options.signal, timer.signal]);
  return { signal, timedOut: () => timer.signal.aborted, clear: () => clearTimeout(handle) };
}

/** Maps whatever the stream threw into this protocol's typed errors. */
function classify(err: unknown, stream: Stream | undefined): Error {
  if (err instanceof AckTimeoutError || err instanceof BadAckError) return err;
  if (err instanceof InvalidDataLengthError || err instanceof InvalidDataLengthLengthError) {
    return new BadAckError('ack frame above MAX_ACK_FRAME_BYTES', { cause: err });
  }
  if (stream?.status === 'reset' || (err as Error | undefined)?.name === 'StreamResetError') {
    return new StreamResetError('remote reset the stream', { cause: err });
  }
  if ((err as Error | undefined)?.name === 'UnexpectedEOFError') {
    return new NoAckError('remote closed the stream without an ack', { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

interface InFlight {
  id: Uint8Array;
  resolve: (ack: Ack) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * The sender's half of one stream. Frames are written in call order and the Acks read by one loop
 * that matches each to the oldest unacknowledged envelope (the receiver answers in order, SPEC §3).
 * A timeout is a plain timer that resets the whole stream (no per-call AbortSignal plumbing on the
 * hot path); a failure rejects every waiting envelope with the same error.
 */
function wrap(stream: Stream): EnvelopeStream {
  const lp = lpStream(stream, { maxDataLength: MAX_ACK_FRAME_BYTES });
  const inFlight: InFlight[] = [];
  const slotWaiters: Array<() => void> = [];
  let used = 0;
  let sent = 0;
  let broken: Error | undefined;
  let closing = false;
  let reading = false;
  let writing: Promise<void> = Promise.resolve();
  let drained: (() => void) | undefined;

  const fail = (err: Error): void => {
    if (broken) return;
    broken = err;
    stream.abort(err);
    for (const entry of inFlight.splice(0)) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
    for (const wake of slotWaiters.splice(0)) wake();
    drained?.();
  };

  const readAcks = async (): Promise<void> => {
    reading = true;
    try {
      while (inFlight.length > 0 && !broken) {
        const bytes = await lp.read();
        const head = inFlight[0] as InFlight;
        const ack = decodeAck(bytes, head.id);
        inFlight.shift();
        clearTimeout(head.timer);
        sent++;
        head.resolve(ack);
        slotWaiters.shift()?.();
      }
    } catch (err) {
      fail(classify(err, stream));
    } finally {
      reading = false;
      if (inFlight.length === 0) drained?.();
    }
  };

  return {
    get sent() {
      return sent;
    },
    get used() {
      return used;
    },
    get usable() {
      return !broken && !closing && used < MAX_ENVELOPES_PER_STREAM && stream.status === 'open';
    },
    async send(envelope, options = {}) {
      if (broken) throw new StreamResetError('stream was reset by an earlier failure');
      if (closing) throw new StreamResetError('stream is closing');
      if (used >= MAX_ENVELOPES_PER_STREAM) throw new TooManyEnvelopesError('open a new stream');
      const frame = encodeEnvelope(envelope); // validates: never put an invalid envelope on the wire
      used++;
      const ms = options.timeout ?? SEND_TIMEOUT_MS;
      const started = Date.now();
      while (inFlight.length >= MAX_UNACKED_ENVELOPES && !broken) {
        await new Promise<void>((wake) => slotWaiters.push(wake));
      }
      if (broken) throw broken;
      options.signal?.throwIfAborted();
      return new Promise<Ack>((resolve, reject) => {
        const remaining = Math.max(1, ms - (Date.now() - started));
        const timer = setTimeout(() => fail(new AckTimeoutError(`no ack within ${ms} ms`)), remaining);
        const signal = options.signal;
        if (signal == null) {
          inFlight.push({ id: envelope.id, resolve, reject, timer });
        } else {
          // the caller's signal resets the stream, like a timeout
          const onAbort = (): void => fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          signal.addEventListener('abort', onAbort, { once: true });
          const settle =
            <T>(fn: (v: T) => void) =>
            (v: T) => {
              signal.removeEventListener('abort', onAbort);
              fn(v);
            };
          inFlight.push({ id: envelope.id, resolve: settle(resolve), reject: settle(reject), timer });
        }
        writing = writing.then(async () => {
          if (broken) return;
          try {
            await lp.write(frame);
            options.onWritten?.();
          } catch (err) {
            fail(classify(err, stream));
          }
        });
        if (!reading) void readAcks();
      });
    },
    async close(options) {
      closing = true;
      if (inFlight.length > 0 && !broken) await new Promise<void>((r) => (drained = r));
      if (broken) return;
      await writing;
      await stream.close(options);
    },
  };
}

/** Opens a `/sotto/msg/1.0.0` stream to `peer` for several pipelined envelopes (SPEC §3). */
export async function openEnvelopeStream(
  dialer: ProtocolDialer,
  peer: DialTarget,
  options: SendOptions = {},
): Promise<EnvelopeStream> {
  const d = deadline(options);
  try {
    return wrap(await dialer.dialProtocol(peer, PROTOCOL_ID, { signal: d.signal }));
  } catch (err) {
    if (d.timedOut()) throw new AckTimeoutError('could not open a stream within the send timeout', { cause: err });
    throw err;
  } finally {
    d.clear();
  }
}

/**
 * Sends one envelope on a fresh stream and returns the validated Ack. Throws AckTimeoutError,
 * NoAckError, StreamResetError or BadAckError (all mean "not known to be stored": keep it, retry),
 * or the dial error when the peer cannot be reached.
 */
export async function sendEnvelope(
  dialer: ProtocolDialer,
  peer: DialTarget,
  envelope: WireEnvelope,
  options: SendOptions = {},
): Promise<Ack> {
  validateWireEnvelope(envelope); // fail on an invalid envelope before dialling
  const started = Date.now();
  const timeout = options.timeout ?? SEND_TIMEOUT_MS;
  const stream = await openEnvelopeStream(dialer, peer, { ...options, timeout });
  const ack = await stream.send(envelope, { ...options, timeout: Math.max(1, timeout - (Date.now() - started)) });
  // the ack is in hand: a failure to close gracefully changes nothing for the caller
  await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => {});
  return ack;
}
