// Two-node harness for /sotto/msg/1.0.0: real libp2p 3 (TCP on 127.0.0.1 + Noise + Yamux), no DHT.
import '../../../src/net/shim.js';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p, Stream } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import {
  AckStatus,
  type Envelope,
  isSealed,
  type MessageProtocol,
  type MessageProtocolInit,
  messageProtocol,
  type WireEnvelope,
} from '../../../src/protocols/message/index.js';

export type MsgNode = Libp2p<{ message: MessageProtocol }>;

export async function createNode(init: MessageProtocolInit): Promise<MsgNode> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 1000 },
    services: { message: messageProtocol(init) },
  });
}

/** The envelope, which the test expects to be present and plain (fails the test otherwise). */
export function plainEnvelope(wire: WireEnvelope | undefined): Envelope {
  if (wire === undefined || isSealed(wire)) throw new Error('expected a plain envelope');
  return wire;
}

let counter = 0;
/** A valid envelope with distinct, recognisable bytes. */
export function makeEnvelope(overrides: Partial<Envelope> = {}): Envelope {
  counter++;
  return {
    id: new Uint8Array(16).fill(counter & 0xff),
    sender: new Uint8Array(32).fill(0xa1),
    recipient: new Uint8Array(32).fill(0xb2),
    timestamp: 1_700_000_000_000 + counter,
    body: new TextEncoder().encode(`ciphertext #${counter}`),
    ...overrides,
  };
}

/** Resolves when `stream` emits 'close'; rejects loudly after `ms`. */
export function waitForClose(stream: Stream, ms: number): Promise<{ error?: Error; elapsed: number }> {
  const start = performance.now();
  if (stream.status === 'closed' || stream.status === 'reset' || stream.status === 'aborted') {
    return Promise.resolve({ elapsed: 0, error: stream.status === 'closed' ? undefined : new Error(stream.status) });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stream did not close within ${ms} ms`)), ms);
    stream.addEventListener(
      'close',
      (evt) => {
        clearTimeout(timer);
        resolve({ error: evt.error, elapsed: performance.now() - start });
      },
      { once: true },
    );
  });
}

/** Polls `predicate` every 5 ms; rejects loudly after `ms`. */
export async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export { AckStatus };

/** Unsigned varint, for hand-made frames. */
export function varint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

export function frame(payload: Uint8Array): Uint8Array {
  const prefix = varint(payload.byteLength);
  const out = new Uint8Array(prefix.byteLength + payload.byteLength);
  out.set(prefix);
  out.set(payload, prefix.byteLength);
  return out;
}
