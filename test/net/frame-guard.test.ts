/**
 * The frame guard (src/net/frame-guard.ts): kad-dht and circuit relay would read messages up to
 * 4 MiB; the guard aborts a DHT stream (both directions) or a relay request as soon as a length
 * prefix announces more than MAX_DHT_MESSAGE_BYTES / MAX_RELAY_MESSAGE_BYTES, and names the peer.
 * First the frame tracking on a stand-in stream and a real stream pair, then real hosts on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { RELAY_V2_HOP_CODEC, RELAY_V2_STOP_CODEC } from '@libp2p/circuit-relay-v2';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId, Stream } from '@libp2p/interface';
import { lpStream, streamPair } from '@libp2p/utils';
import { Uint8ArrayList } from 'uint8arraylist';
import { concat } from '../../src/crypto/bytes.js';
import {
  createHost,
  DHT_PROTOCOL,
  getRecord,
  guardFrameSizes,
  MAX_DHT_MESSAGE_BYTES,
  MAX_RELAY_MESSAGE_BYTES,
  MessageTooLargeError,
  parseNetConfig,
  putRecord,
  type SottoHost,
  STREAM_FRAME_LIMITS,
} from '../../src/net/index.js';
import { varint } from '../protocols/message/helpers.js';
import { key, parseTestRecord, routingTableSize, stopAll, testRecord, testRules, waitFor } from './helpers.js';

function frame(length: number): Uint8Array {
  const prefix = varint(length);
  const out = new Uint8Array(prefix.length + length);
  out.set(prefix);
  out.fill(0x2a, prefix.length);
  return out;
}

/** A stand-in for a libp2p stream: 'message' events carry `data`, `abort` records its error. */
class FakeStream extends EventTarget {
  aborted: Error | undefined;
  /** Bytes that reached the listener added after the guard (the reader's view). */
  readonly seen: number[] = [];
  abort(err: Error): void {
    this.aborted = err;
  }
  push(data: Uint8Array | Uint8ArrayList): void {
    const evt = new Event('message') as Event & { data: Uint8Array | Uint8ArrayList };
    evt.data = data;
    this.dispatchEvent(evt);
  }
}

function guarded(max = MAX_DHT_MESSAGE_BYTES): { stream: FakeStream; violations: Error[] } {
  const stream = new FakeStream();
  const violations: Error[] = [];
  guardFrameSizes(stream as unknown as Stream, '/test/1', { maxBytes: max }, (err) => violations.push(err));
  stream.addEventListener('message', (evt) => {
    const data = (evt as Event & { data: Uint8Array | Uint8ArrayList }).data;
    stream.seen.push(data.byteLength);
  });
  return { stream, violations };
}

describe('guardFrameSizes: frames followed across chunks', () => {
  it('frames up to the limit pass untouched, whatever the chunking', () => {
    const bytes = concat(frame(0), frame(1), frame(MAX_DHT_MESSAGE_BYTES), frame(300));
    for (const size of [1, 2, 3, 7, 1000, bytes.length]) {
      const { stream, violations } = guarded();
      for (let i = 0; i < bytes.length; i += size) stream.push(bytes.subarray(i, i + size));
      assert.equal(stream.aborted, undefined, `chunks of ${size}: not aborted`);
      assert.deepEqual(violations, []);
      assert.equal(
        stream.seen.reduce((a, b) => a + b, 0),
        bytes.length,
        `chunks of ${size}: every byte reached the reader`,
      );
    }
  });

  it('a prefix one above the limit aborts the stream, and its chunk never reaches the reader', () => {
    for (const size of [1, 2, 5000]) {
      const bytes = concat(frame(10), varint(MAX_DHT_MESSAGE_BYTES + 1), new Uint8Array(4000));
      const { stream, violations } = guarded();
      for (let i = 0; i < bytes.length && stream.aborted === undefined; i += size)
        stream.push(bytes.subarray(i, i + size));
      assert.ok(stream.aborted instanceof MessageTooLargeError, `chunks of ${size}: aborted with the typed error`);
      assert.equal((stream.aborted as MessageTooLargeError).code, 'MESSAGE_TOO_LARGE');
      assert.equal(violations.length, 1, 'told once');
      const prefixEnd = frame(10).length + varint(MAX_DHT_MESSAGE_BYTES + 1).length;
      const passed = stream.seen.reduce((a, b) => a + b, 0);
      assert.ok(passed < prefixEnd, `chunks of ${size}: ${passed} bytes passed, fewer than the bad prefix's end`);
      // later bytes are no longer inspected or counted twice
      stream.push(frame(5));
      assert.equal(violations.length, 1);
    }
  });

  it('a 1 GiB and a 10 MB announcement are refused from the prefix alone', () => {
    for (const announced of [2 ** 30, 10_000_000]) {
      const { stream } = guarded();
      stream.push(varint(announced));
      assert.ok(stream.aborted instanceof MessageTooLargeError, `${announced} refused`);
      assert.deepEqual(stream.seen, []);
    }
  });

  it('a prefix longer than the limit can need is refused even when its value is small (non-minimal)', () => {
    // 3 bytes encode up to 2^21 - 1 ≥ MAX_DHT_MESSAGE_BYTES; a 4th byte is never needed
    const { stream } = guarded();
    stream.push(Uint8Array.of(0x85, 0x80, 0x80, 0x00));
    assert.ok(stream.aborted instanceof MessageTooLargeError);
    const ok = guarded();
    ok.stream.push(concat(Uint8Array.of(0x85, 0x80, 0x00), new Uint8Array(5)));
    assert.equal(ok.stream.aborted, undefined, 'a 3-byte prefix of 5 is within the limit');
  });

  it('a violation listener that throws changes nothing: the stream is aborted, nothing escapes', async () => {
    const stream = new FakeStream();
    let told = 0;
    guardFrameSizes(stream as unknown as Stream, '/test/1', { maxBytes: 100 }, () => {
      told++;
      throw new Error('listener failed');
    });
    stream.push(varint(101));
    assert.ok(stream.aborted instanceof MessageTooLargeError);
    assert.equal(told, 1);
    // an exception escaping an EventTarget listener surfaces as an uncaught exception a turn later
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('with frames: 1 it follows the first frame only, then lets the stream go', () => {
    const stream = new FakeStream();
    const violations: Error[] = [];
    guardFrameSizes(stream as unknown as Stream, '/test/1', { maxBytes: 100, frames: 1 }, (err) =>
      violations.push(err),
    );
    assert.ok(Object.hasOwn(stream, 'dispatchEvent'), 'guarding');
    stream.push(frame(100));
    assert.ok(!Object.hasOwn(stream, 'dispatchEvent'), 'let go after the first frame');
    // what follows (a relayed connection's own bytes) is not read as frames of this protocol
    stream.push(varint(10_000_000));
    assert.equal(stream.aborted, undefined);
    assert.deepEqual(violations, []);
    // the first frame too large is refused as before
    const first = new FakeStream();
    guardFrameSizes(first as unknown as Stream, '/test/1', { maxBytes: 100, frames: 1 });
    first.push(varint(101));
    assert.ok(first.aborted instanceof MessageTooLargeError);
  });

  it('bytes that arrive before the reader attaches are kept for it (a real libp2p stream pair)', async () => {
    // a handler that awaits before it reads (circuit relay's STOP handler) must still get them all
    const [outbound, inbound] = await streamPair();
    guardFrameSizes(inbound, '/test/1', { maxBytes: 100 });
    outbound.send(concat(frame(10), frame(20)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lp = lpStream(inbound);
    assert.equal((await lp.read({ signal: AbortSignal.timeout(2_000) })).byteLength, 10);
    assert.equal((await lp.read({ signal: AbortSignal.timeout(2_000) })).byteLength, 20);
    // and the guard still acts on what comes next
    const ended = new Promise((resolve) => inbound.addEventListener('close', resolve, { once: true }));
    outbound.send(varint(101));
    await ended;
    assert.equal(inbound.status === 'open', false);
    await outbound.close().catch(() => outbound.abort(new Error('test cleanup')));
  });

  it('reads Uint8ArrayList chunks as libp2p delivers them', () => {
    const { stream } = guarded(100);
    const list = new Uint8ArrayList(frame(50), varint(99), new Uint8Array(99));
    stream.push(list);
    assert.equal(stream.aborted, undefined);
    stream.push(new Uint8ArrayList(frame(3), varint(101)));
    assert.ok((stream as FakeStream).aborted instanceof MessageTooLargeError);
  });
});

describe('two hosts on 127.0.0.1: an oversized DHT message ends the stream both ways', () => {
  const hosts: SottoHost[] = [];
  after(() => stopAll(hosts));

  async function host(
    onViolation?: (peer: PeerId, code: string) => void,
    config: Record<string, unknown> = {},
  ): Promise<SottoHost> {
    const h = await createHost({
      privateKey: await generateKeyPair('Ed25519'),
      config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], ...config }),
      dht: testRules,
      ...(onViolation ? { onViolation } : {}),
    });
    hosts.push(h);
    return h;
  }

  const tcp = (h: SottoHost) =>
    h.getMultiaddrs().find((a) => a.toString().includes('/tcp/') && !a.toString().includes('/ws'));

  /** Resolves with the stream's close error (undefined for a clean close), or 'open' after `ms`. */
  function closed(stream: Stream, ms = 10_000): Promise<Error | undefined | 'open'> {
    if (stream.status !== 'open') return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('open'), ms);
      stream.addEventListener(
        'close',
        (evt) => {
          clearTimeout(timer);
          resolve((evt as Event & { error?: Error }).error);
        },
        { once: true },
      );
    });
  }

  it('inbound: a peer announcing a 10 MB DHT request is reset and reported; its honest requests are still served', async () => {
    const reports: { peer: string; code: string }[] = [];
    const server = await host((peer, code) => reports.push({ peer: peer.toString(), code }));
    const client = await host();
    const stream = await client.dialProtocol(tcp(server)!, DHT_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
    const ended = closed(stream);
    stream.send(concat(varint(10_000_000), new Uint8Array(60_000).fill(7)));
    const result = await ended;
    assert.notEqual(result, 'open', 'the server ended the stream');
    assert.equal(stream.status === 'open', false);
    await waitFor('the violation report', () => reports.length > 0);
    assert.deepEqual(reports, [{ peer: client.peerId.toString(), code: 'MESSAGE_TOO_LARGE' }]);

    // the same peer's ordinary DHT traffic (well under the limit) goes through the guard unharmed
    await waitFor('the client to have the server in its routing table', () => routingTableSize(client) >= 1);
    const k = key('/sotto/frame-guard');
    const put = await putRecord(client, k, testRecord(1, 'x'.repeat(3_000)));
    assert.ok(put.accepted >= 1, 'the server took the PUT_VALUE');
    // the server never put it: it is there only through the guarded inbound request
    assert.equal(parseTestRecord((await getRecord(server, k)).value).seq, 1);
    assert.equal(reports.length, 1, 'no further report');
  });

  it('relay STOP: our relay announcing a 5 MB stop request is reset and reported', async () => {
    // STOP streams reach the library only from a relay we hold a reservation on
    // (src/net/relay-stop-guard.ts): here the server holds one on the relay, which then misbehaves.
    const relay = await host(undefined, { relay: { enabled: true } });
    const reports: { peer: string; code: string }[] = [];
    const server = await host((peer, code) => reports.push({ peer: peer.toString(), code }), {
      listen: ['/ip4/127.0.0.1/tcp/0', `${tcp(relay)}/p2p-circuit`],
      dhtMode: 'client',
    });
    await waitFor('a reservation on the relay', () =>
      server.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit')),
    );
    const stream = await relay.dialProtocol(server.peerId, RELAY_V2_STOP_CODEC, {
      signal: AbortSignal.timeout(10_000),
    });
    const ended = closed(stream);
    stream.send(concat(varint(5 * 2 ** 20), new Uint8Array(MAX_RELAY_MESSAGE_BYTES * 2).fill(3)));
    assert.notEqual(await ended, 'open', 'the server ended the stream');
    await waitFor('the violation report', () => reports.length > 0);
    assert.deepEqual(reports, [{ peer: relay.peerId.toString(), code: 'MESSAGE_TOO_LARGE' }]);
    assert.deepEqual(STREAM_FRAME_LIMITS[RELAY_V2_STOP_CODEC], { maxBytes: MAX_RELAY_MESSAGE_BYTES, frames: 1 });
  });

  it('outbound: a DHT server answering with a 5 MB message is cut off after its prefix and reported', async () => {
    const reports: { peer: string; code: string }[] = [];
    const honest = await host((peer, code) => reports.push({ peer: peer.toString(), code }));
    const liar = await host();
    await liar.unhandle(DHT_PROTOCOL);
    let sent = 0;
    await liar.handle(DHT_PROTOCOL, async (stream) => {
      const lp = lpStream(stream);
      await lp.read({ signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
      // the prefix of a 5 MB answer, then as much of it as the stream takes before it is reset
      const chunk = new Uint8Array(64 * 1024).fill(1);
      stream.send(varint(5 * 2 ** 20));
      for (let i = 0; i < 80 && stream.status === 'open'; i++) {
        if (!stream.send(chunk)) await new Promise((r) => setTimeout(r, 10));
        sent += chunk.length;
      }
    });
    await honest.dial(tcp(liar)!, { signal: AbortSignal.timeout(10_000) });
    // as kad-dht opens its streams: through the connection manager
    const { connectionManager } = (
      honest as unknown as {
        components: { connectionManager: { openStream(peer: PeerId, p: string, o: unknown): Promise<Stream> } };
      }
    ).components;
    const stream = await connectionManager.openStream(liar.peerId, DHT_PROTOCOL, {
      signal: AbortSignal.timeout(10_000),
    });
    const lp = lpStream(stream, { maxDataLength: 8 * 2 ** 20 });
    await lp.write(Uint8Array.of(0x08, 0x00), { signal: AbortSignal.timeout(5_000) });
    await assert.rejects(
      lp.read({ signal: AbortSignal.timeout(10_000) }),
      'the read fails: the guard aborted the stream',
    );
    assert.notEqual(stream.status, 'open');
    assert.deepEqual(reports, [{ peer: liar.peerId.toString(), code: 'MESSAGE_TOO_LARGE' }]);
    assert.ok(sent < 5 * 2 ** 20, `the liar could not send its whole answer (${sent} bytes written)`);
  });

  it('outbound: a relay answering a HOP request with a 5 MB message is cut off after its prefix and reported', async () => {
    const reports: { peer: string; code: string }[] = [];
    const honest = await host((peer, code) => reports.push({ peer: peer.toString(), code }));
    const liar = await host();
    await liar.handle(RELAY_V2_HOP_CODEC, async (stream) => {
      await lpStream(stream)
        .read({ signal: AbortSignal.timeout(5_000) })
        .catch(() => undefined);
      stream.send(concat(varint(5 * 2 ** 20), new Uint8Array(MAX_RELAY_MESSAGE_BYTES * 2).fill(7)));
    });
    // as circuit relay opens its HOP streams (reservations, dials through a relay): on the connection
    const connection = await honest.dial(tcp(liar)!, { signal: AbortSignal.timeout(10_000) });
    const stream = await connection.newStream(RELAY_V2_HOP_CODEC, { signal: AbortSignal.timeout(10_000) });
    const lp = lpStream(stream, { maxDataLength: 8 * 2 ** 20 });
    await lp.write(Uint8Array.of(0x08, 0x00), { signal: AbortSignal.timeout(5_000) });
    await assert.rejects(lp.read({ signal: AbortSignal.timeout(10_000) }), 'the guard aborted the stream');
    assert.notEqual(stream.status, 'open');
    assert.deepEqual(reports, [{ peer: liar.peerId.toString(), code: 'MESSAGE_TOO_LARGE' }]);
  });
});
