/**
 * Oversized length prefixes (TESTING.md matrix: "oversized length prefix … reset before
 * allocating — heap delta"). Peers open /sotto/msg streams that each announce a 1 GiB frame and send
 * a few bytes of it; the node must reset every one from the prefix alone, so its heap (this
 * process: the node runs in-process) grows by nothing like the bytes announced. Each attacker stays
 * below the ban threshold, so every stream reaches the frame reader.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { createNode, type SottoNode } from '../../src/index.js';
import type { SottoHost } from '../../src/net/index.js';
import { MISBEHAVIOUR_THRESHOLD } from '../../src/node/ban-list.js';
import { MAX_FRAME_BYTES, PROTOCOL_ID } from '../../src/protocols/message/index.js';
import { rawHost, tcpAddr } from './peers.js';

const ATTACKERS = 8;
/** Streams per attacker: one fewer than the violations that get a peer banned. */
const STREAMS_EACH = MISBEHAVIOUR_THRESHOLD - 1;
/** uvarint 2^30: a 1 GiB frame announced. */
const ANNOUNCED = 2 ** 30;
const PREFIX = Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x04);
const DEADLINE_MS = 10_000;
/** Far below one announced frame: reading even one would show. */
const HEAP_BOUND_MB = 32;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];

after(async () => {
  await Promise.allSettled(stops.map((s) => s()));
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('oversized length prefixes', () => {
  it(`${ATTACKERS * STREAMS_EACH} streams announcing 1 GiB each are reset from the prefix; the heap stays flat`, async () => {
    assert.ok(ANNOUNCED > MAX_FRAME_BYTES);
    const dir = await mkdtemp(join(tmpdir(), 'sotto-oversized-'));
    dirs.push(dir);
    const bob: SottoNode = createNode({ dataDir: dir, net: { listen: ['/ip4/127.0.0.1/tcp/0'] } });
    await bob.start();
    stops.push(() => bob.stop());
    const bobPeer = peerIdFromString(bob.peerId);
    const bobAddr = tcpAddr(bob);

    const before = heapMb();
    let reset = 0;
    let answered = 0;
    let open = 0;
    for (let a = 0; a < ATTACKERS; a++) {
      const host: SottoHost = await rawHost();
      stops.push(async () => {
        await host.stop();
      });
      await host.dial(multiaddr(bobAddr), { signal: AbortSignal.timeout(DEADLINE_MS) });
      for (let i = 0; i < STREAMS_EACH; i++) {
        const s = await host.dialProtocol(bobPeer, PROTOCOL_ID, { signal: AbortSignal.timeout(DEADLINE_MS) });
        let acked = false;
        s.addEventListener('message', () => {
          acked = true;
        });
        s.send(Uint8Array.of(...PREFIX, ...randomBytes(64)));
        const ended = await new Promise<boolean>((resolve) => {
          if (s.status !== 'open') return resolve(true);
          const timer = setTimeout(() => resolve(false), DEADLINE_MS);
          s.addEventListener('close', () => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        if (acked) answered++;
        else if (ended) reset++;
        else open++;
        s.abort(new Error('done'));
      }
      await host.stop(); // measured below: the node's heap, not the attackers'
    }
    const afterMb = heapMb();
    const total = ATTACKERS * STREAMS_EACH;
    console.log(
      `# oversized prefixes: ${total} streams × 1 GiB announced (${total} GiB in all): reset ${reset}, answered ${answered}, left open ${open}; ` +
        `heap ${before.toFixed(1)} → ${afterMb.toFixed(1)} MB (delta ${(afterMb - before).toFixed(1)} MB); banned peers ${(await bob.status()).banned?.length ?? 0}`,
    );
    assert.deepEqual([reset, answered, open], [total, 0, 0], 'every stream reset, none answered or left open');
    assert.ok(afterMb - before < HEAP_BOUND_MB, `heap delta ${(afterMb - before).toFixed(1)} MB`);
    assert.equal((await bob.status()).banned?.length ?? 0, 0, 'no attacker reached the ban threshold');
  });
});
