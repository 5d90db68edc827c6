/**
 * Pieces every sotto stream protocol shares: the slice of libp2p's registrar a handler needs, a
 * silent logger, and a strict length-prefix decoder for `lpStream`.
 */
import type { Connection, Logger, Stream } from '@libp2p/interface';
import type { Uint8ArrayList } from 'uint8arraylist';

/** The part of libp2p's registrar a protocol handler uses. */
export interface ProtocolRegistrar {
  handle(
    protocol: string,
    handler: (stream: Stream, connection: Connection) => void | Promise<void>,
    options?: { maxInboundStreams?: number; maxOutboundStreams?: number },
  ): Promise<void>;
  unhandle(protocol: string): Promise<void>;
}

/** A logger that logs nothing (when no component logger is given). */
export const noopLog: Logger = Object.assign(() => {}, {
  enabled: false,
  error: () => {},
  trace: () => {},
  newScope: () => noopLog,
});

/** Bytes of the unsigned-varint encoding of `n`. */
export function varintLength(n: number): number {
  let len = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) len++;
  return len;
}

/**
 * What strictLengthDecoder throws while a prefix is incomplete: one object, not a new error with a
 * stack trace for every frame whose prefix takes two bytes or more (lpStream reads a prefix a byte
 * at a time). lpStream only checks `instanceof RangeError`, and the error never leaves it.
 */
const INCOMPLETE_VARINT = new RangeError('incomplete varint');

/**
 * A length decoder for `lpStream` that rejects an unterminated prefix as soon as it is longer than
 * the prefix of `maxFrameBytes` (lpStream's own check only runs once a varint is complete, so a peer
 * sending endless 0x80 bytes would otherwise be held until the read timeout). Throws `tooLarge()`;
 * INCOMPLETE_VARINT (a RangeError) means "need more bytes", as lpStream expects.
 */
export function strictLengthDecoder(maxFrameBytes: number, tooLarge: () => Error): (data: Uint8ArrayList) => number {
  const maxPrefixBytes = varintLength(maxFrameBytes);
  return (data) => {
    let value = 0;
    for (let i = 0; i < data.byteLength && i < maxPrefixBytes; i++) {
      const b = data.get(i);
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) return value;
    }
    if (data.byteLength >= maxPrefixBytes) throw tooLarge();
    throw INCOMPLETE_VARINT;
  };
}
