/**
 * Yamux window updates by half windows (src/net/yamux-window.ts): on real hosts over 127.0.0.1, a
 * stream that receives far more than its window sends a handful of window updates, not one per data
 * frame, in both directions (inbound and outbound streams), and every byte still arrives.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Stream } from '@libp2p/interface';
import { streamPair } from '@libp2p/utils';
import { batchWindowUpdates, type SottoHost, WINDOW_UPDATE_FRACTION } from '../../src/net/index.js';
import { startNode, stopAll, waitFor } from './helpers.js';

const PROTOCOL = '/sotto-test/echo/1.0.0';
/** Yamux frame type 0x1, Window Update (yamux spec, "Framing"). */
const WINDOW_UPDATE = 1;
/** @chainsafe/libp2p-yamux's initial stream window (256 KiB, the spec's default). */
const INITIAL_WINDOW = 256 * 1024;
const CHUNK = 4 * 1024;
/** Four initial windows each way: the transfer needs updates to finish at all. */
const CHUNKS = (4 * INITIAL_WINDOW) / CHUNK;
/** Updates at most a receiver may send for CHUNKS × CHUNK bytes with updates at WINDOW_UPDATE_FRACTION (≥ one per half window). */
const MOST_UPDATES = Math.ceil((CHUNKS * CHUNK) / (INITIAL_WINDOW * WINDOW_UPDATE_FRACTION));

/** Counts the window update frames `stream` sends from now on. */
function countWindowUpdates(stream: Stream): { count: number } {
  const counter = { count: 0 };
  const s = stream as unknown as { sendFrame: (header: { type: number }, data?: unknown) => unknown };
  assert.equal(typeof s.sendFrame, 'function', 'a yamux stream sends frames through sendFrame');
  const send = s.sendFrame;
  s.sendFrame = (header, data) => {
    if (header.type === WINDOW_UPDATE) counter.count++;
    return send(header, data);
  };
  return counter;
}

async function sendAll(stream: Stream, bytes: number): Promise<void> {
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  for (let sent = 0; sent < bytes; sent += CHUNK) {
    if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(10_000) });
  }
}

/** Counts the bytes `stream` receives from now on. */
function counting(stream: Stream): { bytes: number } {
  const counter = { bytes: 0 };
  stream.addEventListener('message', (evt) => {
    counter.bytes += evt.data.byteLength;
  });
  return counter;
}

describe('yamux window updates by half windows', () => {
  const nodes: SottoHost[] = [];
  after(() => stopAll(nodes));

  it('a megabyte each way takes a few updates per stream, not one per frame, and all of it arrives', async () => {
    const [a, b] = [await startNode(), await startNode()];
    nodes.push(a, b);
    const total = CHUNKS * CHUNK;
    let inbound: { count: number } | undefined;
    let received = 0;
    // b reads all of a's bytes, then sends as many back: one direction at a time
    await b.handle(PROTOCOL, async (stream) => {
      inbound = countWindowUpdates(stream);
      const got = counting(stream);
      await waitFor("all of a's bytes at b", () => got.bytes >= total);
      received = got.bytes;
      await sendAll(stream, total);
    });
    const addr = b.getMultiaddrs().find((m) => m.toString().includes('/tcp/'));
    assert.ok(addr, 'b listens on TCP');
    const stream = await a.dialProtocol(addr, PROTOCOL, { signal: AbortSignal.timeout(10_000) });
    const outbound = countWindowUpdates(stream);
    const back = counting(stream);
    await sendAll(stream, total);
    await waitFor("all of b's bytes at a", () => back.bytes >= total);
    assert.equal(back.bytes, total, 'every byte b sent arrived');
    assert.equal(received, total, 'every byte a sent arrived');
    assert.ok(inbound, 'b served the stream');
    // Without the change each side sends one update per data frame received (≥ CHUNKS here).
    assert.ok(inbound.count >= 1, 'the receiving side sent window updates (the transfer needed them)');
    assert.ok(inbound.count <= MOST_UPDATES, `inbound stream sent ${inbound.count} updates, at most ${MOST_UPDATES}`);
    assert.ok(outbound.count >= 1, 'the dialling side sent window updates for the echo');
    assert.ok(
      outbound.count <= MOST_UPDATES,
      `outbound stream sent ${outbound.count} updates, at most ${MOST_UPDATES}`,
    );
    await stream.close();
  });

  it('leaves a stream that is not a yamux stream alone', async () => {
    const [one] = await streamPair();
    const before = (one as unknown as { sendWindowUpdate?: unknown }).sendWindowUpdate;
    assert.equal(batchWindowUpdates(one), false);
    assert.equal((one as unknown as { sendWindowUpdate?: unknown }).sendWindowUpdate, before);
  });
});
