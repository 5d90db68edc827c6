/**
 * Node life cycle over time: a node found right after it starts (its first publish waits for a DHT
 * peer), signed-prekey rotation driven by the node's clock across restarts (republished, old
 * sessions go on, new handshakes use the new prekeys), and many concurrent sends to one recipient
 * (pipelined on one stream, group-committed) each delivered exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createNode, type IncomingMessage, type SottoNode } from '../../src/index.js';
import { SIGNED_PREKEY_ROTATION_MS } from '../../src/node/prekey-rotation.js';
import { waitFor } from '../net/helpers.js';
import { tcpAddr } from './helpers.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const dirs: string[] = [];
const nodes: SottoNode[] = [];
/** Every node in this file reads this clock, so records stay valid for all of them when it moves. */
let offset = 0;
const clock = () => Date.now() + offset;

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-life-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, bootstrap: string[] = []): Promise<SottoNode> {
  const node = createNode({ dataDir: dir, clock, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap } });
  await node.start();
  nodes.push(node);
  return node;
}

async function stop(node: SottoNode): Promise<void> {
  await node.stop();
  nodes.splice(nodes.indexOf(node), 1);
}

function collect(node: SottoNode): IncomingMessage[] {
  const got: IncomingMessage[] = [];
  node.on('message', (m) => got.push(m));
  return got;
}

after(async () => {
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('node life cycle', () => {
  it('a node that bootstraps is in the directory when start() returns (no manual republish)', async () => {
    const seed = await start(await dataDir());
    const joiner = await start(await dataDir(), [tcpAddr(seed)]);
    // the seed started alone (its record reached nobody); the joiner's first publish waited for
    // the seed, and the seed republishes by itself once it has a DHT peer
    const found = await seed.refresh(joiner.address);
    assert.equal(found.devices, 1);
    let seen: Awaited<ReturnType<SottoNode['refresh']>> | undefined;
    await waitFor(
      "the lone seed's record in the DHT",
      async () => {
        seen = await joiner.refresh(seed.address).catch(() => undefined);
        return seen !== undefined;
      },
      10_000,
    );
    assert.ok(seen, "the lone seed's record reaches the DHT once it has a peer");
    await stop(joiner);
    await stop(seed);
  });

  it('rotates its signed and KEM prekeys after the rotation period, republishes, and old and new senders both get through', async () => {
    offset = 0;
    const dirA = await dataDir();
    const b = await start(await dataDir());
    let a = await start(dirA, [tcpAddr(b)]);
    const before = await b.refresh(a.address);

    let inbox = collect(a);
    assert.equal((await b.send(a.address, 'before rotation')).state, 'delivered');
    assert.deepEqual(
      inbox.map((m) => m.text),
      ['before rotation'],
    );

    // a restart before the period changes nothing
    await stop(a);
    offset = DAY_MS;
    a = await start(dirA, [tcpAddr(b)]);
    const sameIds = await b.refresh(a.address);
    assert.equal(sameIds.signedPrekeyId, before.signedPrekeyId);
    assert.equal(sameIds.kemPrekeyId, before.kemPrekeyId);
    await stop(a);

    // past the period: new prekeys, published in a newer record
    offset = SIGNED_PREKEY_ROTATION_MS + 2 * DAY_MS;
    await b.publishRecord(); // what b's republish timer does in real time (records live one day)
    a = await start(dirA, [tcpAddr(b)]);
    inbox = collect(a);
    const after = await b.refresh(a.address);
    assert.notEqual(after.signedPrekeyId, before.signedPrekeyId);
    assert.notEqual(after.kemPrekeyId, before.kemPrekeyId);
    assert.ok(after.sequence > sameIds.sequence);

    // b's session (made with the old prekeys) goes on; a new contact handshakes with the new ones
    assert.equal((await b.send(a.address, 'old session')).state, 'delivered');
    const c = await start(await dataDir(), [tcpAddr(b)]);
    assert.equal((await c.send(a.address, 'new handshake')).state, 'delivered');
    assert.deepEqual(inbox.map((m) => m.text).sort(), ['new handshake', 'old session']);
    assert.equal((await a.send(c.address, 'reply')).state, 'delivered');
    offset = 0;
  });

  it('100 concurrent sends to one recipient: each delivered exactly once, history complete on both sides', async () => {
    offset = 0;
    const dirA = await dataDir();
    const dirB = await dataDir();
    let a = await start(dirA);
    let b = await start(dirB, [tcpAddr(a)]);
    const inbox = collect(b);
    assert.equal((await a.send(b.address, 'warm-up')).state, 'delivered');
    const texts = Array.from({ length: 100 }, (_, i) => `concurrent ${i}`);
    const results = await Promise.all(texts.map((t) => a.send(b.address, t)));
    assert.deepEqual(
      results.map((r) => r.state),
      texts.map(() => 'delivered'),
    );
    assert.equal(new Set(results.map((r) => r.id)).size, 100);
    const received = inbox.map((m) => m.text).filter((t) => t.startsWith('concurrent '));
    assert.equal(received.length, 100, 'no message lost or duplicated');
    assert.deepEqual([...received].sort(), [...texts].sort());
    const history = await b.conversation(a.address, { limit: 500 });
    assert.equal(history.filter((m) => m.body.startsWith('concurrent ')).length, 100);
    const sent = await a.conversation(b.address, { limit: 500 });
    assert.ok(sent.filter((m) => m.body.startsWith('concurrent ')).every((m) => m.state === 'delivered'));
    assert.equal((await a.status()).outbox, 0);
    // both restart: the sessions continue from what the group commits made durable
    await stop(b);
    await stop(a);
    a = await start(dirA);
    b = await start(dirB, [tcpAddr(a)]);
    const after = collect(b);
    const back = collect(a);
    assert.equal((await a.send(b.address, 'after restart')).state, 'delivered');
    assert.equal((await b.send(a.address, 'and back')).state, 'delivered');
    assert.deepEqual(
      after.map((m) => m.text),
      ['after restart'],
    );
    assert.deepEqual(
      back.map((m) => m.text),
      ['and back'],
    );
  });
});
