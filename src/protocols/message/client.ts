/**
 * The sending side of `/sotto/msg/1.0.0` (SPEC §3, §5): opens a stream, writes an envelope, waits for
 * its Ack. Pure wire client: retries, backoff and peer choice belong to the delivery engine.
 */
import type { AbortOptions, DialTarget, Stream } from '@libp2p/interface';
import { InvalidDataLengthError, InvalidDataLengthLengthError, lpStream } from '@libp2p/utils';
import { MAX_ACK_FRAME_BYTES, MAX_ENVELOPES_PER_STREAM, PROTOCOL_ID, SEND_TIMEOUT_MS } from './constants.js';
import { AckTimeoutError, BadAckError, NoAckError, StreamResetError, TooManyEnvelopesError } from './errors.js';
import { type Ack, decodeAck, type Envelope, encodeEnvelope, validateEnvelope } from './validate.js';

/** Anything that can open a protocol stream: a libp2p node (`dialProtocol`) fits. */
export interface ProtocolDialer {
  dialProtocol(peer: DialTarget, protocols: string | string[], options?: AbortOptions): Promise<Stream>;
}

export interface SendOptions extends AbortOptions {
  /** Milliseconds for the whole operation (stream + write + ack); default SEND_TIMEOUT_MS. */
  timeout?: number;
}

/** A stream carrying several envelopes in lock-step (SPEC §3); at most MAX_ENVELOPES_PER_STREAM. */
export interface EnvelopeStream {
  /** Sends one envelope and waits for its Ack. After any error the stream is reset and unusable. */
  send(envelope: Envelope, options?: SendOptions): Promise<Ack>;
  /** Ends the stream gracefully (after the last Ack). */
  close(options?: AbortOptions): Promise<void>;
  /** Envelopes acknowledged on this stream so far. */
  readonly sent: number;
}

/** Combines the caller's signal with a timeout whose expiry is recognisable. */
function deadline(options: SendOptions): { signal: AbortSignal; timedOut: () => boolean; clear: () => void } {
  const timer = new AbortController();
  const ms = options.timeout ?? SEND_TIMEOUT_MS;
  const handle = setTimeout(() => timer.abort(new AckTimeoutError(`no ack within ${ms} ms`)), ms);
  const signal = options.signal == null ? timer.signal : AbortSignal.any([options.signal, timer.signal]);
  return { signal, timedOut: () => timer.signal.aborted, clear: () => clearTimeout(handle) };
}

/** Maps whatever the stream threw into this protocol's typed errors. */
function classify(err: unknown, stream: Stream | undefined, timedOut: boolean): Error {
  if (timedOut) return new AckTimeoutError('no ack within the send timeout', { cause: err });
  if (err instanceof BadAckError) return err;
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

function wrap(stream: Stream): EnvelopeStream {
  const lp = lpStream(stream, { maxDataLength: MAX_ACK_FRAME_BYTES });
  let sent = 0;
  let broken = false;
  return {
    get sent() {
      return sent;
    },
    async send(envelope, options = {}) {
      if (broken) throw new StreamResetError('stream was reset by an earlier failure');
      if (sent >= MAX_ENVELOPES_PER_STREAM) throw new TooManyEnvelopesError('open a new stream');
      const frame = encodeEnvelope(envelope); // validates: never put an invalid envelope on the wire
      const d = deadline(options);
      try {
        await lp.write(frame, { signal: d.signal });
        const ack = decodeAck(await lp.read({ signal: d.signal }), envelope.id);
        sent++;
        return ack;
      } catch (err) {
        const typed = classify(err, stream, d.timedOut());
        broken = true;
        stream.abort(typed);
        if (options.signal?.aborted === true && !d.timedOut()) throw options.signal.reason;
        throw typed;
      } finally {
        d.clear();
      }
    },
    async close(options) {
      await stream.close(options);
    },
  };
}

/** Opens a `/sotto/msg/1.0.0` stream to `peer` for several envelopes in lock-step. */
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
  envelope: Envelope,
  options: SendOptions = {},
): Promise<Ack> {
  validateEnvelope(envelope); // fail on an invalid envelope before dialling
  const started = Date.now();
  const timeout = options.timeout ?? SEND_TIMEOUT_MS;
  const stream = await openEnvelopeStream(dialer, peer, { ...options, timeout });
  const ack = await stream.send(envelope, { ...options, timeout: Math.max(1, timeout - (Date.now() - started)) });
  // the ack is in hand: a failure to close gracefully changes nothing for the caller
  await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => {});
  return ack;
}
