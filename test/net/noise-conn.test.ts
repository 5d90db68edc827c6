/**
 * Lean Noise frames (src/net/noise-conn.ts): a send leaves as one socket write, and the frame
 * decoder no longer builds an exception per received chunk, while every byte still arrives intact.
 * Unit tests of each piece, a real Noise handshake in memory through the wrapper, and two real hosts
 * over 127.0.0.1 counting socket writes per request/response round trip.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { noise } from '@chainsafe/libp2p-noise';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { MessageStream, Upgrader } from '@libp2p/interface';
import { defaultLogger } from '@libp2p/logger';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { lpStream, multiaddrConnectionPair } from '@libp2p/utils';
import { Uint8ArrayList } from 'uint8arraylist';
import type { SottoHost } from '../../src/net/index.js';
import {
  COALESCE_MAX_BYTES,
  coalesceWrites,
  leanFrameDecoder,
  noiseLengthDecoder,
  withLeanNoiseFrames,
} from '../../src/net/noise-conn.js';
import { noiseCrypto } from '../../src/net/noise-crypto.js';
import { startNode, stopAll } from './helpers.js';

type SendData = (data: Uint8ArrayList) => { sentBytes: number; canSendMore: boolean };

/** A stand-in transport stream recording what its sendData is handed. */
function recordingStream(): { stream: MessageStream; calls: Uint8Array[][] } {
  const calls: Uint8Array[][] = [];
  const stream = {
    sendData(data: Uint8ArrayList) {
      calls.push([...data]);
      return { sentBytes: data.byteLength, canSendMore: true };
    },
  };
  return { stream: stream as unknown as MessageStream, calls };
}

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

async function noiseEncrypter() {
  const privateKey = await generateKeyPair('Ed25519');
  const upgrader = { getStreamMuxers: () => new Map() } as unknown as Upgrader;
  const factory = withLeanNoiseFrames(noise({ crypto: noiseCrypto }));
  return factory({ privateKey, peerId: peerIdFromPrivateKey(privateKey), logger: defaultLogger(), upgrader });
}

describe('lean Noise frames', () => {
  it('noiseLengthDecoder reads a big-endian 16-bit length from arrays and lists', () => {
    assert.equal(noiseLengthDecoder(Uint8Array.of(0x12, 0x34, 0xff)), 0x1234);
    assert.equal(noiseLengthDecoder(new Uint8ArrayList(Uint8Array.of(0xff), Uint8Array.of(0xfe))), 0xfffe);
    assert.equal(noiseLengthDecoder(Uint8Array.of(0, 0)), 0);
  });

  it('noiseLengthDecoder throws one and the same RangeError while fewer than two bytes are there', () => {
    const caught: unknown[] = [];
    for (const input of [
      new Uint8Array(0),
      Uint8Array.of(1),
      new Uint8ArrayList(),
      new Uint8ArrayList(Uint8Array.of(7)),
    ]) {
      try {
        noiseLengthDecoder(input);
        assert.fail('an incomplete length decoded');
      } catch (err) {
        caught.push(err);
      }
    }
    assert.ok(caught[0] instanceof RangeError, 'the decoder stops on a RangeError');
    for (const err of caught) assert.equal(err, caught[0], 'no new error object per call');
  });

  it('coalesceWrites hands a list of several buffers to sendData as one buffer with the same bytes', () => {
    const { stream, calls } = recordingStream();
    assert.equal(coalesceWrites(stream), true);
    const list = new Uint8ArrayList(bytes(2, 1), bytes(1000, 2), bytes(16, 3));
    const result = (stream as unknown as { sendData: SendData }).sendData(list);
    assert.deepEqual(result, { sentBytes: 1018, canSendMore: true });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.length, 1, 'one buffer');
    assert.deepEqual(calls[0]?.[0], list.subarray());
  });

  it('coalesceWrites passes a list above COALESCE_MAX_BYTES through as it is', () => {
    const { stream, calls } = recordingStream();
    coalesceWrites(stream);
    const parts = [bytes(COALESCE_MAX_BYTES, 1), bytes(1, 2)];
    (stream as unknown as { sendData: SendData }).sendData(new Uint8ArrayList(...parts));
    assert.equal(calls[0]?.length, 2, 'the buffers as they were');
    assert.equal(calls[0]?.[0], parts[0], 'not copied');
  });

  it('coalesceWrites patches a stream once and leaves one without sendData alone', () => {
    const { stream } = recordingStream();
    assert.equal(coalesceWrites(stream), true);
    const patched = (stream as unknown as { sendData: SendData }).sendData;
    assert.equal(coalesceWrites(stream), false);
    assert.equal((stream as unknown as { sendData: SendData }).sendData, patched);
    assert.equal(coalesceWrites({} as MessageStream), false);
  });

  it('leanFrameDecoder replaces a decoder length function and refuses other shapes', () => {
    const secured = { decoder: { lengthDecoder: () => 0 } };
    assert.equal(leanFrameDecoder(secured as unknown as MessageStream), true);
    assert.equal(secured.decoder.lengthDecoder, noiseLengthDecoder);
    assert.equal(leanFrameDecoder({} as MessageStream), false);
    assert.equal(leanFrameDecoder({ decoder: {} } as unknown as MessageStream), false);
  });

  it('a real Noise handshake through the wrapper: both sides get the lean decoder and data crosses intact', async () => {
    const [initiator, responder] = [await noiseEncrypter(), await noiseEncrypter()];
    const [outConn, inConn] = multiaddrConnectionPair();
    const [a, b] = await Promise.all([
      initiator.secureOutbound(outConn, { skipStreamMuxerNegotiation: true }),
      responder.secureInbound(inConn, { skipStreamMuxerNegotiation: true }),
    ]);
    for (const side of [a, b]) {
      const decoder = (side.connection as unknown as { decoder?: { lengthDecoder?: unknown } }).decoder;
      assert.equal(decoder?.lengthDecoder, noiseLengthDecoder, 'the secured stream decodes with noiseLengthDecoder');
    }
    // frames of every size class: small, one above the 1,200-byte switch of the default crypto,
    // and one larger than a Noise frame (split in several frames, and above COALESCE_MAX_BYTES)
    const messages = [bytes(10, 1), bytes(2400, 2), bytes(200_000, 3)];
    const lpA = lpStream(a.connection, { maxDataLength: 1 << 20 });
    const lpB = lpStream(b.connection, { maxDataLength: 1 << 20 });
    for (const message of messages) {
      const [, got] = await Promise.all([lpA.write(message), lpB.read()]);
      assert.deepEqual(got.subarray(), message);
      const [, back] = await Promise.all([lpB.write(message), lpA.read()]);
      assert.deepEqual(back.subarray(), message);
    }
  });

  describe('on real hosts', () => {
    const nodes: SottoHost[] = [];
    after(() => stopAll(nodes));

    it('a request/response round trip takes one socket write each way', async () => {
      const [a, b] = [await startNode(), await startNode()];
      nodes.push(a, b);
      const PROTOCOL = '/sotto-test/rr/1.0.0';
      await b.handle(PROTOCOL, async (stream) => {
        const lp = lpStream(stream);
        for (;;) {
          const request = await lp.read().catch(() => undefined);
          if (request === undefined) return;
          await lp.write(Uint8Array.of(request.byteLength & 0xff));
        }
      });
      const addr = b.getMultiaddrs().find((m) => m.toString().includes('/tcp/'));
      assert.ok(addr, 'b listens on TCP');
      const lp = lpStream(await a.dialProtocol(addr, PROTOCOL, { signal: AbortSignal.timeout(10_000) }));
      const request = bytes(2400, 0x6d);
      for (let i = 0; i < 5; i++) {
        await lp.write(request);
        await lp.read();
      }
      const ROUNDS = 50;
      let writes = 0;
      const write = net.Socket.prototype.write;
      net.Socket.prototype.write = function countedWrite(this: net.Socket, ...args: unknown[]) {
        writes++;
        return (write as (...a: unknown[]) => boolean).apply(this, args);
      };
      try {
        for (let i = 0; i < ROUNDS; i++) {
          await lp.write(request);
          const answer = await lp.read();
          assert.equal(answer.subarray()[0], request.byteLength & 0xff);
        }
      } finally {
        net.Socket.prototype.write = write;
      }
      // Without the change a round trip took at least four (length and ciphertext written apart,
      // each way). A little slack for anything else the hosts send meanwhile (a ping, say).
      assert.ok(writes >= 2 * ROUNDS, `every round trip wrote (${writes} writes)`);
      assert.ok(
        writes <= 2 * ROUNDS + 4,
        `${writes} socket writes for ${ROUNDS} round trips, at most ${2 * ROUNDS + 4}`,
      );
    });
  });
});
