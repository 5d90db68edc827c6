/**
 * A size limit for length-prefixed frames on a stream whose reader we do not own.
 *
 * kad-dht 16 and circuit relay v2 read their messages with `pbStream` and the library's default
 * limit of 4 MiB per message, which they do not let us change: a peer could make the node buffer
 * 4 MiB on each of the 32 DHT streams, or of the 300 relay STOP streams, it may keep open per
 * connection. The guard watches the stream's bytes before the reader sees them, follows the
 * unsigned-varint length prefixes (the framing of `lpStream`), and aborts the stream as soon as a
 * prefix announces more than the limit, or runs longer than such a prefix can be: the reader never
 * receives that frame's bytes.
 */
import type { Connection, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface';
import type { Uint8ArrayList } from 'uint8arraylist';
import { varintLength } from '../protocols/common/stream.js';
import { MessageTooLargeError } from './errors.js';

/**
 * Largest DHT message (one kad-dht protobuf `Message`, without its length prefix) the node reads,
 * in either direction. Our largest legitimate one is a GET_VALUE answer: an identity record of at
 * most MAX_RECORD_BYTES (4 KiB, src/directory/record.ts) plus up to 20 closer peers with their
 * addresses, a few KiB. Rule: no peer makes us buffer more than this per DHT stream
 * (kad-dht's own limit is 4 MiB).
 */
export const MAX_DHT_MESSAGE_BYTES = 65_536;

/**
 * Largest circuit relay v2 request (`HopMessage`, `StopMessage`) read from a peer's HOP or STOP
 * stream: a type, a peer id with its addresses and a limit, a few hundred bytes. Rule: go-libp2p's
 * limit for these messages (4 KiB); no peer makes us buffer more before the relay handshake.
 */
export const MAX_RELAY_MESSAGE_BYTES = 4_096;

/** A limit on a protocol's frames: `maxBytes` each; only the first `frames` are followed (default all). */
export interface FrameLimit {
  readonly maxBytes: number;
  /**
   * How many frames to follow before letting the stream go: a relay stream carries one request,
   * then the relayed connection's own bytes, which are not frames of this protocol.
   */
  readonly frames?: number;
}

/**
 * Follows the length-prefixed frames in the stream's incoming bytes from now on (attach it before
 * anything reads the stream) and aborts the stream with `MessageTooLargeError` on the first prefix
 * above `limit.maxBytes` (or longer than a prefix of it can be); the chunk holding it never reaches
 * the stream's readers. After `limit.frames` frames within the limit the guard lets go.
 * `onViolation` is told once (an exception it throws is dropped).
 *
 * The guard sits in the stream's own `dispatchEvent` instead of being a 'message' listener: a
 * libp2p stream keeps incoming bytes while it has no listener and hands them over (and forgets
 * them) as soon as one is added, so a listener of our own would take the bytes of a handler that
 * adds its reader only after an `await` (circuit relay's STOP handler does).
 */
export function guardFrameSizes(
  stream: Stream,
  protocol: string,
  limit: FrameLimit,
  onViolation?: (err: MessageTooLargeError) => void,
): void {
  const { maxBytes } = limit;
  const maxPrefixBytes = varintLength(maxBytes);
  /** Frames still to follow. */
  let framesLeft = limit.frames ?? Number.POSITIVE_INFINITY;
  /** Payload bytes of the current frame still to come; 0 while a prefix is being read. */
  let remaining = 0;
  /** The prefix read so far. */
  let prefix = 0;
  let prefixBytes = 0;

  const target = stream as unknown as { dispatchEvent: (evt: Event) => boolean };
  const hadOwn = Object.hasOwn(target, 'dispatchEvent');
  const dispatch = target.dispatchEvent;
  const release = (): void => {
    if (hadOwn) target.dispatchEvent = dispatch;
    else delete (target as Partial<typeof target>).dispatchEvent;
  };

  /** Follows one chunk; false if it breaks the limit. */
  const follow = (data: Uint8Array | Uint8ArrayList): boolean => {
    const length = data.byteLength;
    let i = 0;
    while (i < length) {
      if (remaining > 0) {
        const skip = Math.min(remaining, length - i);
        remaining -= skip;
        i += skip;
        continue;
      }
      const byte = 'get' in data ? data.get(i) : (data[i] as number);
      i++;
      prefix += (byte & 0x7f) * 2 ** (7 * prefixBytes);
      prefixBytes++;
      if (prefix > maxBytes || (prefixBytes >= maxPrefixBytes && (byte & 0x80) !== 0)) return false;
      if ((byte & 0x80) === 0) {
        remaining = prefix;
        prefix = 0;
        prefixBytes = 0;
        if (--framesLeft <= 0) {
          // the last frame to follow is within the limit: the rest of the stream is not ours to read
          release();
          return true;
        }
      }
    }
    return true;
  };

  target.dispatchEvent = (evt: Event): boolean => {
    if (evt.type !== 'message' || follow((evt as Event & { data: Uint8Array | Uint8ArrayList }).data)) {
      return dispatch.call(stream, evt);
    }
    release();
    const err = new MessageTooLargeError(protocol, maxBytes);
    stream.abort(err);
    try {
      onViolation?.(err);
    } catch {
      // a listener's failure must not escape into the stream's data path; the stream is aborted
    }
    return false;
  };
}

/** What the guard needs of libp2p's components: where inbound handlers and new connections pass. */
export interface StreamComponents {
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>;
  };
  events: {
    addEventListener(type: 'connection:open', listener: (evt: CustomEvent<Connection>) => void): void;
  };
}

/**
 * Puts the frame guard on every stream of the protocols in `limits` before anyone reads it.
 * Inbound: the registrar's handler is wrapped (call this before the node starts and its services
 * register). Outbound: each new connection's `newStream` is wrapped as the connection opens, so
 * every stream we open is guarded — kad-dht's (through `connectionManager.openStream`) and circuit
 * relay's HOP and STOP requests (which it opens with `connection.newStream` itself). `onViolation`
 * names the peer that sent an oversized message.
 */
export function guardStreamFrames(
  components: StreamComponents,
  limits: Readonly<Record<string, FrameLimit>>,
  onViolation?: (peer: PeerId, err: MessageTooLargeError) => void,
): void {
  const { registrar, events } = components;
  const limitOf = (protocol: string | undefined): FrameLimit | undefined =>
    protocol !== undefined && Object.hasOwn(limits, protocol) ? limits[protocol] : undefined;
  const handle = registrar.handle.bind(registrar);
  registrar.handle = (name, handler, options) => {
    const limit = limitOf(name);
    return handle(
      name,
      limit === undefined
        ? handler
        : (stream, connection) => {
            guardFrameSizes(stream, name, limit, (err) => onViolation?.(connection.remotePeer, err));
            return handler(stream, connection);
          },
      options,
    );
  };
  events.addEventListener('connection:open', (evt) => {
    const connection = evt.detail;
    const newStream = connection.newStream.bind(connection);
    connection.newStream = async (protocols, options) => {
      const stream = await newStream(protocols, options);
      const limit = limitOf(stream.protocol);
      if (limit !== undefined) {
        guardFrameSizes(stream, stream.protocol, limit, (err) => onViolation?.(connection.remotePeer, err));
      }
      return stream;
    };
  });
}
