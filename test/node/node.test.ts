/**
 * Nodes end to end: two nodes chat both ways; a node finds another it was never connected to
 * through the DHT (bootstrap only); both restart from their data dirs and the same session goes on.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { toHex } from '../../src/crypto/index.js';
import { decodeAddress } from '../../src/identity/address.js';
import { createNode, type IncomingMessage, ONE_TIME_PREKEY_POOL, type SottoNode } from '../../src/index.js';
import type { SottoStore } from '../../src/store/index.js';
import { waitFor } from '../net/helpers.js';
import { tcpAddr } from './helpers.js';

const dirs: string[] = [];
const nodes: SottoNode[] = [];

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-node-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, bootstrap: string[] = []): Promise<SottoNode> {
  const node = createNode({ dataDir: dir, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap } });
  await node.start();
  nodes.push(node);
  return node;
}

function nextMessage(node: SottoNode, timeoutMs = 20_000): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
    node.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
  });
}

/** Publishes every node's record until each can be found by the others (bounded). */
async function publishAll(all: SottoNode[]): Promise<void> {
  for (const n of all) await n.publishRecord();
}

after(async () => {
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('sotto nodes', () => {
  it('two nodes exchange messages both ways and keep history; a restart continues the same session', async () => {
    const dirA = await dataDir();
    const dirB = await dataDir();
    let a = await start(dirA);
    let b = await start(dirB, [tcpAddr(a)]);
    await publishAll([a, b]);
    const addrA = a.address;
    const addrB = b.address;

    const got = nextMessage(b);
    const sent = await a.send(addrB, 'hello bob');
    assert.equal(sent.state, 'delivered');
    // The first contact claimed one of Bob's one-time prekeys and the handshake used (deleted) it.
    const pool = (await b.status()).oneTimePrekeys;
    assert.equal(pool.claimsServed, 1);
    assert.equal(pool.claimed, 0);
    assert.equal(pool.available, ONE_TIME_PREKEY_POOL);
    const m1 = await got;
    assert.equal(m1.text, 'hello bob');
    assert.equal(m1.from, addrA);
    assert.equal(m1.id, sent.id);

    const back = nextMessage(a);
    assert.equal((await b.send(addrA, 'hi alice')).state, 'delivered');
    assert.equal((await back).text, 'hi alice');

    const historyA = await a.conversation(addrB);
    assert.deepEqual(
      historyA.map((m) => [m.direction, m.body, m.state]),
      [
        ['in', 'hi alice', 'received'],
        ['out', 'hello bob', 'delivered'],
      ],
    );
    assert.equal(a.safetyNumber(addrB), b.safetyNumber(addrA));

    // Restart both from their data dirs: same identities, same session (no new handshake).
    await a.stop();
    await b.stop();
    a = await start(dirA);
    b = await start(dirB, [tcpAddr(a)]);
    assert.equal(a.address, addrA);
    assert.equal(b.address, addrB);
    await publishAll([a, b]);
    const again = nextMessage(b);
    const r = await a.send(addrB, 'after restart');
    assert.equal(r.state, 'delivered');
    assert.equal((await again).text, 'after restart');
    const historyB = await b.conversation(addrA);
    assert.equal(historyB.length, 3);
    assert.equal(historyB[0]?.body, 'after restart');
    // Each side's session is found by its base key (the index entry is written with a session's
    // first batch in a run only, not at every message) and every message kept its id index.
    for (const [node, peer] of [
      [a, addrB],
      [b, addrA],
    ] as const) {
      const store = (node as unknown as { store: SottoStore }).store;
      const hex = toHex(decodeAddress(peer));
      const record = await store.sessions.get(hex);
      assert.ok(record);
      assert.equal(await store.sessions.findByBaseKey(record.baseKey), hex);
      for (const m of await node.conversation(peer))
        assert.equal((await store.messages.get(hex, m.id))?.state, m.state);
    }
    assert.deepEqual(
      (await a.conversation(addrB)).map((m) => [m.direction, m.state]),
      [
        ['out', 'delivered'],
        ['in', 'received'],
        ['out', 'delivered'],
      ],
    );
  });

  it('a node reaches another it never connected to, through the DHT (10 nodes, bootstrap only)', async () => {
    const first = await start(await dataDir());
    const rest: SottoNode[] = [];
    for (let i = 0; i < 9; i++) rest.push(await start(await dataDir(), [tcpAddr(first)]));
    const all = [first, ...rest];
    // Let the DHT fill its routing tables (kad-dht's first self-query), then publish every record.
    for (const n of all) {
      await waitFor(
        'routing tables to know every other node',
        async () => (await n.status()).routingTable >= all.length - 1,
        15_000,
      );
    }
    await publishAll(all);
    const sender = rest[1] as SottoNode;
    const recipient = rest[8] as SottoNode;
    const got = nextMessage(recipient);
    const result = await sender.send(recipient.address, 'found you through the DHT');
    assert.equal(result.state, 'delivered');
    assert.equal((await got).text, 'found you through the DHT');
  });

  it('a message to a stopped node is queued, then delivered exactly once when it is back', async () => {
    const dirA = await dataDir();
    const dirB = await dataDir();
    const a = await start(dirA);
    let b = await start(dirB, [tcpAddr(a)]);
    await publishAll([a, b]);
    const first = nextMessage(b);
    assert.equal((await a.send(b.address, 'first')).state, 'delivered');
    await first;
    await b.stop();
    const queued = await a.send(b.address, 'while you were away');
    assert.equal(queued.state, 'queued');
    assert.equal((await a.status()).outbox, 1);

    b = await start(dirB, [tcpAddr(a)]);
    await b.publishRecord();
    let count = 0;
    const arrived = new Promise<IncomingMessage>((resolve) => {
      b.on('message', (m) => {
        count++;
        resolve(m);
      });
    });
    const delivered = new Promise<void>((resolve) => a.once('delivery', () => resolve()));
    assert.equal(await a.retryOutbox({ force: true }), 1);
    assert.equal((await arrived).text, 'while you were away');
    await delivered;
    assert.equal(await a.retryOutbox({ force: true }), 0);
    assert.equal((await a.status()).outbox, 0);
    assert.equal(count, 1);
    const history = await a.conversation(b.address);
    assert.equal(history[0]?.state, 'delivered');
  });
});
