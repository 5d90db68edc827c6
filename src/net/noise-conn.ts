/**
 * Two per-frame costs of @chainsafe/libp2p-noise 17 on top of TCP, removed without touching its
 * protocol: every byte on the wire and every check on it stays the library's.
 *
 * 1. **One socket write per send, not one per buffer.** The transport's `sendData` (@libp2p/tcp
 *    `socket-to-conn`) calls `socket.write` once for every buffer of the list it is handed, and
 *    Noise hands it at least two per frame (the 2-byte length, then the ciphertext; with OpenSSL's
 *    ChaCha20-Poly1305 on a list, one per part plus the tag). On an idle socket each `write` is a
 *    system call and, with Nagle off, its own TCP segment: a 1 KiB message and its ack made 7.2
 *    writes. A list of at most COALESCE_MAX_BYTES is now copied into one buffer first (a copy of a
 *    few KiB costs far less than a system call). The raw connection is patched before the
 *    handshake, so the handshake's frames go out the same way.
 * 2. **No exception object per received chunk.** The decoder of Noise's frames
 *    (@libp2p/utils `LengthPrefixedDecoder`) learns that a length prefix is incomplete from a
 *    RangeError, and it asks once more after the last whole frame of every chunk, so every chunk
 *    received built one RangeError with a stack trace (2 per message round trip). The length
 *    decoder installed here reads the same 2-byte big-endian length and throws one preallocated
 *    RangeError instead; the decoder treats it exactly as before (stop, wait for more bytes).
 *
 * Connections this does not recognise (another encrypter, a decoder or transport whose shape
 * changed) keep the library's behaviour; test/net/noise-conn.test.ts fails when that happens to
 * ours.
 */
import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface';
import { isUint8ArrayList, Uint8ArrayList } from 'uint8arraylist';

/**
 * The largest list the transport's `sendData` receives that is copied into one buffer before it
 * is written: one whole Noise frame (65,535 bytes) and its 2-byte length. Larger sends are bulk
 * transfers, for which the system calls per byte are already few; they go out as before.
 */
export const COALESCE_MAX_BYTES = 65_537;

/** Noise's frame length prefix: a 16-bit big-endian integer (Noise spec §3 / libp2p noise spec). */
const NOISE_LENGTH_BYTES = 2;

/** `sendData` of libp2p's AbstractMessageStream (not on the declared MessageStream type). */
type SendData = (data: Uint8ArrayList) => { sentBytes: number; canSendMore: boolean };

/** The fields of Noise's EncryptedMessageStream this reads (public JS properties). */
interface DecoderHolder {
  decoder?: { lengthDecoder?: unknown };
}

/**
 * Thrown (the same object every time) when fewer than two bytes of a length prefix have arrived.
 * The decoder only checks `instanceof RangeError`, and it never leaves the decoder.
 */
const INCOMPLETE_LENGTH = new RangeError('incomplete Noise length prefix');

/** Noise's length prefix, as @chainsafe/libp2p-noise's `uint16BEDecode` reads it, without a new error per call. */
export function noiseLengthDecoder(data: Uint8ArrayList | Uint8Array): number {
  if (data.length < NOISE_LENGTH_BYTES) throw INCOMPLETE_LENGTH;
  if (data instanceof Uint8Array) return ((data[0] as number) << 8) | (data[1] as number);
  return data.getUint16(0);
}

/** Marks a stream coalesceWrites already patched. */
const COALESCED = Symbol('sotto.coalescedWrites');

/**
 * Makes `connection` (a transport's raw stream, before Noise) write a list of at most
 * COALESCE_MAX_BYTES with one call of the transport's `sendData`. Returns false (and changes
 * nothing) when the stream has no `sendData` or was already patched.
 */
export function coalesceWrites(connection: MessageStream): boolean {
  const target = connection as unknown as { sendData?: SendData; [COALESCED]?: true };
  const sendData = target.sendData;
  if (typeof sendData !== 'function' || target[COALESCED] === true) return false;
  target.sendData = function coalescedSendData(this: unknown, data: Uint8ArrayList) {
    // isUint8ArrayList recognises a list from any copy of uint8arraylist (libp2p's modules do not
    // all share one); subarray() copies only a list of several buffers, a single one passes as it is
    if (isUint8ArrayList(data) && data.byteLength <= COALESCE_MAX_BYTES) {
      return sendData.call(this, new Uint8ArrayList(data.subarray()));
    }
    return sendData.call(this, data);
  };
  target[COALESCED] = true;
  return true;
}
/**
 * Installs noiseLengthDecoder on a secured connection's frame decoder. Returns false (and changes
 * nothing) when the connection has no decoder of the expected shape.
 */
export function leanFrameDecoder(secured: MessageStream): boolean {
  const decoder = (secured as unknown as DecoderHolder).decoder;
  if (decoder == null || typeof decoder.lengthDecoder !== 'function') return false;
  decoder.lengthDecoder = noiseLengthDecoder;
  return true;
}

/**
 * Wraps a connection encrypter factory (`noise(…)`) so that every connection it secures gets
 * coalesceWrites (its raw side, before the handshake) and leanFrameDecoder (its secured side).
 */
export function withLeanNoiseFrames<C, E extends ConnectionEncrypter>(
  encrypter: (components: C) => E,
): (components: C) => E {
  type Secure = E['secureOutbound'];
  const lean =
    (secure: Secure): Secure =>
    async (connection, options) => {
      coalesceWrites(connection);
      const secured = await secure(connection, options);
      leanFrameDecoder(secured.connection);
      return secured;
    };
  return (components) => {
    const enc = encrypter(components);
    enc.secureOutbound = lean(enc.secureOutbound.bind(enc));
    enc.secureInbound = lean(enc.secureInbound.bind(enc));
    return enc;
  };
}
