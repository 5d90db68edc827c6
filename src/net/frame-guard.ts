/**
 * A size limit for length-prefixed frames on a stream whose reader we do not own.
 *
 * kad-dht 16 reads its messages with `pbStream` and the library's default limit of 4 MiB per
 * message, which it does not let us change: a peer could make the node buffer 4 MiB on each of the
 * 32 DHT streams it may keep open per connection. The guard watches the stream's bytes before the
 * reader sees them, follows the unsigned-varint length prefixes (the framing of `lpStream`), and
 * aborts the stream as soon as a prefix announces more than the limit, or runs longer than such a
 * prefix can be: the reader never receives that frame's bytes.
 */
import { isPeerId, type PeerId, type Stream, type StreamHandler, type StreamHandlerOptions } from '@libp2p/interface';
import type { Uint8ArrayList } from 'uint8arraylist';
import { DhtMessageTooLargeError } from './errors.js';

/**
 * Largest DHT message (one kad-dht protobuf `Message`, without its length prefix) the node reads,
 * in either direction. Our largest legitimate one is a GET_VALUE answer: an identity record of at
 * most MAX_RECORD_BYTES (4 KiB, src/directory/record.ts) plus up to 20 closer peers with their
 * addresses, a few KiB. Rule: no peer makes us buffer more than this per DHT stream
 * (kad-dht's own limit is 4 MiB).
 */
export const MAX_DHT_MESSAGE_BYTES = 65_536;

/** Bytes of the unsigned varint that encodes `n` (minimal encoding). */
function varintLength(n: number): number {
  let length = 1;
  for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) length++;
  return length;
}

/**
 * Follows the length-prefixed frames in the stream's incoming bytes from now on (attach it before
 * anything reads the stream) and aborts the stream with `DhtMessageTooLargeError` on the first
 * prefix above `maxBytes` (or longer than a prefix of `maxBytes` can be). The offending chunk is
 * withheld from the stream's other 'message' listeners. `onViolation` is told once (an exception it
 * throws is dropped).
 */
export function guardFrameSizes(
  stream: Stream,
  maxBytes: number,
  onViolation?: (err: DhtMessageTooLargeError) => void,
): void {
  const maxPrefixBytes = varintLength(maxBytes);
  /** Payload bytes of the current frame still to come; 0 while a prefix is being read. */
  let remaining = 0;
  /** The prefix read so far. */
  let prefix = 0;
  let prefixBytes = 0;

  const onMessage = (evt: Event): void => {
    const data = (evt as Event & { data: Uint8Array | Uint8ArrayList }).data;
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
      if (prefix > maxBytes || (prefixBytes >= maxPrefixBytes && (byte & 0x80) !== 0)) {
        const err = new DhtMessageTooLargeError(maxBytes);
        evt.stopImmediatePropagation();
        stream.removeEventListener('message', onMessage);
        stream.abort(err);
        try {
          onViolation?.(err);
        } catch {
          // a listener's failure must not escape into the stream's event dispatch (it would be
          // rethrown as an uncaught exception); the stream is aborted either way
        }
        return;
      }
      if ((byte & 0x80) === 0) {
        remaining = prefix;
        prefix = 0;
        prefixBytes = 0;
      }
    }
  };
  stream.addEventListener('message', onMessage);
}

/** The two parts of libp2p's components that kad-dht opens and accepts its streams through. */
export interface DhtStreamComponents {
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>;
  };
  connectionManager: {
    openStream(peer: never, protocol: string | string[], options?: never): Promise<Stream>;
  };
}

/**
 * Puts the frame guard (`MAX_DHT_MESSAGE_BYTES`) on every stream of `protocol`, inbound and
 * outbound, before kad-dht reads it: kad-dht registers its handler with the registrar when it
 * starts and opens its streams with the connection manager, so both are wrapped (call this before
 * the node starts). `onViolation` names the peer that sent an oversized message.
 */
export function guardDhtStreams(
  components: DhtStreamComponents,
  protocol: string,
  onViolation?: (peer: PeerId, err: DhtMessageTooLargeError) => void,
): void {
  const { registrar, connectionManager } = components;
  const handle = registrar.handle.bind(registrar);
  registrar.handle = (name, handler, options) =>
    handle(
      name,
      name === protocol
        ? (stream, connection) => {
            guardFrameSizes(stream, MAX_DHT_MESSAGE_BYTES, (err) => onViolation?.(connection.remotePeer, err));
            return handler(stream, connection);
          }
        : handler,
      options,
    );
  const openStream = connectionManager.openStream.bind(connectionManager);
  connectionManager.openStream = async (peer, protocols, options) => {
    const stream = await openStream(peer, protocols, options);
    if (stream.protocol === protocol || protocols === protocol) {
      const remote: unknown = peer;
      guardFrameSizes(stream, MAX_DHT_MESSAGE_BYTES, (err) => {
        if (isPeerId(remote)) onViolation?.(remote, err);
      });
    }
    return stream;
  };
}
