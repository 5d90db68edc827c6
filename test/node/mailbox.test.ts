/**
 * Mailboxes end to end (issue 5): Bob lists a mailbox node in his record; while Bob's node is down,
 * Alice's messages are deposited there (state stored-at-mailbox) — the first one a handshake that
 * could not claim a one-time prekey; when Bob's node comes back it fetches them, each arrives once
 * and in order, and the mailbox is empty afterwards. A mailbox refuses identities it does not
 * serve, oversized envelopes and deposits over quota, and holds nothing it was not asked to.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { peerIdFromString } from '@libp2p/peer-id';
import { Level } from 'level';
import { toHex } from '../../src/crypto/index.js';
import { decodeAddress } from '../../src/identity/address.js';
import { type CreateNodeOptions, createNode, type IncomingMessage, type SottoNode } from '../../src/index.js';
import { InvalidMailboxOptionsError } from '../../src/node/errors.js';
import { decodeEnvelope, isSealed } from '../../src/protocols/message/index.js';
import { openStore } from '../../src/store/store.js';
import { tcpAddr } from './helpers.js';

const dirs: string[] = [];
const nodes: SottoNode[] = [];

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-mailbox-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, bootstrap: string[], extra: Partial<CreateNodeOptions> = {}): Promise<SottoNode> {
  const node = createNode({ dataDir: dir, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap }, ...extra });
  await node.start();
  nodes.push(node);
  return node;
}

/** Collects `count` messages (bounded by a timeout). */
function collect(node: SottoNode, count: number, timeoutMs = 30_000): Promise<IncomingMessage[]> {
  const got: IncomingMessage[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length}/${count} messages`)), timeoutMs);
    const on = (m: IncomingMessage): void => {
      got.push(m);
      if (got.length === count) {
        clearTimeout(timer);
        node.off('message', on);
        resolve(got);
      }
    };
    node.on('message', on);
  });
}

/** Resolves once `count` distinct messages of `node` reached `state` (bounded by a timeout). */
function states(node: SottoNode, state: string, count: number, timeoutMs = 30_000): Promise<string[]> {
  const ids = new Set<string>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${ids.size}/${count} reached ${state}`)), timeoutMs);
    const on = (d: { id: string; state: string }): void => {
      if (d.state !== state) return;
      ids.add(d.id);
      if (ids.size === count) {
        clearTimeout(timer);
        node.off('delivery', on);
        resolve([...ids]);
      }
    };
    node.on('delivery', on);
  });
}

after(async () => {
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('mailboxes', () => {
  it('messages to an offline identity go to its mailbox and arrive once, in order, when it is back', async () => {
    const dirM = await dataDir();
    const dirA = await dataDir();
    const dirB = await dataDir();
    // Bob's address is needed for the allow list: create his identity first (offline).
    const bobAddress = (await createNode({ dataDir: dirB }).initialize()).address;
    const m = await start(dirM, [], { mailbox: { policy: 'allow-list', allow: [bobAddress] } });
    let b = await start(dirB, [tcpAddr(m)], { mailboxes: [m.peerId] });
    const a = await start(dirA, [tcpAddr(m)]);
    await b.publishRecord();
    assert.deepEqual(b.mailboxes(), [m.peerId]);
    await b.stop();

    const texts = ['one', 'two', 'three', 'four', 'five'];
    const delivered = states(a, 'delivered', texts.length);
    for (const text of texts) {
      const sent = await a.send(bobAddress, text);
      assert.equal(sent.state, 'stored-at-mailbox', text);
    }
    const history = await a.conversation(bobAddress);
    assert.ok(history.every((x) => x.state === 'stored-at-mailbox'));
    assert.equal((await a.status()).outbox, 0, 'a mailbox ack empties the outbox');
    assert.equal((await m.status()).mailbox?.held, texts.length);

    b = createNode({
      dataDir: dirB,
      net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [tcpAddr(m)] },
      mailboxes: [m.peerId],
    });
    nodes.push(b);
    const arriving = collect(b, texts.length);
    await b.start();
    const got = await arriving;
    assert.deepEqual(
      got.map((x) => x.text),
      texts,
      'each once, in the order sent',
    );
    assert.ok(got.every((x) => x.from === a.address));
    let extra = 0;
    b.on('message', () => extra++);
    // joins the fetch started by start() (its acks may still be in flight), or finds nothing new
    const joined = await b.fetchMailboxes();
    assert.ok(joined === texts.length || joined === 0, `fetch reported ${joined}`);
    assert.equal((await m.status()).mailbox?.held, 0, 'deleted after the fetch acked them');
    // Another fetch finds nothing new, and nothing is delivered twice.
    assert.equal(await b.fetchMailboxes(), 0);
    assert.equal(extra, 0);
    // Bob's node sent delivery receipts (end to end) for what it fetched: Alice's states move on.
    await delivered;
    assert.ok((await a.conversation(bobAddress)).every((x) => x.state === 'delivered'));
    // Bob reads them: a read receipt moves them to 'read' at Alice.
    const read = states(a, 'read', texts.length);
    const marked = await b.markRead(a.address);
    assert.equal(marked.length, texts.length);
    await read;
    assert.ok((await a.conversation(bobAddress)).every((x) => x.state === 'read'));
    assert.ok((await b.conversation(a.address)).every((x) => x.state === 'read'));
    assert.deepEqual(await b.markRead(a.address), [], 'nothing left unread');
    // The session works both ways afterwards (direct now).
    const back = collect(a, 1);
    assert.equal((await b.send(a.address, 'back online')).state, 'delivered');
    assert.equal((await back)[0]?.text, 'back online');
  });

  it('a mailbox stores deposits sealed: nothing in its store names the sender', async () => {
    const dirM = await dataDir();
    const dirA = await dataDir();
    const dirB = await dataDir();
    const bobAddress = (await createNode({ dataDir: dirB }).initialize()).address;
    const m = await start(dirM, [], { mailbox: { policy: 'allow-list', allow: [bobAddress] } });
    const b = await start(dirB, [tcpAddr(m)], { mailboxes: [m.peerId] });
    const a = await start(dirA, [tcpAddr(m)]);
    await b.publishRecord();
    await b.stop();
    const texts = ['short', 'a somewhat longer text, still under one pad block', 'x'.repeat(700)];
    for (const text of texts) assert.equal((await a.send(bobAddress, text)).state, 'stored-at-mailbox');
    assert.equal((await m.status()).mailbox?.held, texts.length);
    const sender = decodeAddress(a.address);
    const senderPeerId = a.peerId;
    const senderPeer = peerIdFromString(senderPeerId).toMultihash().bytes;
    const senderPeerText = new TextEncoder().encode(senderPeerId);
    await a.stop();
    await m.stop();

    // What the mailbox holds for Bob: sealed envelopes only, sizes padded to 256-byte blocks.
    const store = await openStore({ path: join(dirM, 'store') });
    const bob = toHex(decodeAddress(bobAddress));
    const held = await store.mailbox.list(bob, 100, 1 << 24);
    await store.close();
    assert.equal(held.length, texts.length);
    const sizes = held.map((e) => {
      const envelope = decodeEnvelope(e.envelope);
      assert.ok(isSealed(envelope), 'held sealed');
      return envelope.sealed.length;
    });
    assert.equal(sizes[0], sizes[1], 'two short texts: the same size');
    assert.ok(sizes.every((n) => (n - 48) % 256 === 0));

    // Every key and value of the mailbox's part of the store: no sender key, no sender peer id.
    const db = new Level<string, Uint8Array>(join(dirM, 'store'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    let scanned = 0;
    const contains = (hay: Uint8Array, needle: Uint8Array): boolean =>
      Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).includes(Buffer.from(needle));
    for await (const [key, value] of db.iterator()) {
      if (!key.startsWith('!mailbox!')) continue;
      scanned++;
      assert.ok(!key.includes(toHex(sender)) && !key.includes(senderPeerId), `key ${key}`);
      assert.ok(!contains(value, sender), `value of ${key} holds the sender's identity key`);
      assert.ok(
        !contains(value, senderPeer) && !contains(value, senderPeerText),
        `value of ${key} holds the sender's peer id`,
      );
    }
    await db.close();
    assert.ok(scanned >= 2 * texts.length, `scanned ${scanned} mailbox records`);
  });

  it('a mailbox refuses identities it does not serve, oversized envelopes and deposits over quota', async () => {
    const dirM = await dataDir();
    const dirA = await dataDir();
    const dirB = await dataDir();
    const dirC = await dataDir();
    const bobAddress = (await createNode({ dataDir: dirB }).initialize()).address;
    const m = await start(dirM, [], {
      mailbox: { policy: 'allow-list', allow: [bobAddress], maxEnvelopesPerIdentity: 2 },
    });
    const b = await start(dirB, [tcpAddr(m)], { mailboxes: [m.peerId] });
    // Carol lists the mailbox too, but the mailbox does not serve her.
    const c = await start(dirC, [tcpAddr(m)], { mailboxes: [m.peerId] });
    const a = await start(dirA, [tcpAddr(m)]);
    await b.publishRecord();
    await c.publishRecord();
    const carolAddress = c.address;
    await b.stop();
    await c.stop();

    assert.equal((await a.send(carolAddress, 'not served')).state, 'queued');
    assert.equal((await a.send(bobAddress, 'first')).state, 'stored-at-mailbox');
    assert.equal((await a.send(bobAddress, 'second')).state, 'stored-at-mailbox');
    assert.equal((await a.send(bobAddress, 'over quota')).state, 'queued');
    assert.equal((await m.status()).mailbox?.held, 2);
    assert.equal((await a.status()).outbox, 2, 'the refused ones stay in the outbox for a retry');
  });

  it('invalid mailbox options are refused before anything starts', async () => {
    const dir = await dataDir();
    await assert.rejects(
      createNode({ dataDir: dir, mailbox: { policy: 'allow-list', allow: ['not-an-address'] } }).start(),
      InvalidMailboxOptionsError,
    );
    await assert.rejects(
      createNode({ dataDir: dir, mailbox: { policy: 'everyone' as 'open' } }).start(),
      InvalidMailboxOptionsError,
    );
    await assert.rejects(createNode({ dataDir: dir, mailboxes: ['12D3KooWnope'] }).start(), InvalidMailboxOptionsError);
    await assert.rejects(
      createNode({ dataDir: dir, mailbox: { policy: 'open', maxTotalBytes: 0 } }).start(),
      InvalidMailboxOptionsError,
    );
  });

  it('a message nobody takes within failAfterMs is marked failed, and retryMessage() sends it again', async () => {
    let now = Date.now();
    const clock = () => now;
    const dirA = await dataDir();
    const dirB = await dataDir();
    const a = await start(dirA, [], { clock, failAfterMs: 60_000 });
    let b = await start(dirB, [tcpAddr(a)], { clock });
    await b.publishRecord();
    const bobAddress = b.address;
    await b.stop();

    const sent = await a.send(bobAddress, 'are you there?');
    assert.equal(sent.state, 'queued');
    const failed = new Promise<string>((resolve) =>
      a.on('delivery', (d) => {
        if (d.state === 'failed') resolve(d.id);
      }),
    );
    now += 61_000;
    assert.equal(await a.retryOutbox({ force: true }), 0);
    assert.equal(await failed, sent.id);
    assert.equal((await a.conversation(bobAddress))[0]?.state, 'failed');
    assert.equal(await a.retryOutbox({ force: true }), 0, 'a failed message is not retried by itself');
    assert.equal(await a.retryMessage('0'.repeat(32)), false, 'unknown id');

    b = createNode({ dataDir: dirB, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [tcpAddr(a)] }, clock });
    nodes.push(b);
    const arrived = collect(b, 1);
    await b.start();
    assert.equal(await a.retryMessage(sent.id), true);
    assert.equal((await a.conversation(bobAddress))[0]?.state, 'queued');
    assert.equal(await a.retryOutbox(), 1);
    assert.equal((await arrived)[0]?.text, 'are you there?');
    assert.equal((await a.conversation(bobAddress))[0]?.state, 'delivered');
  });

  it('read receipts can be turned off; a message is marked read locally either way', async () => {
    const dirA = await dataDir();
    const dirB = await dataDir();
    const a = await start(dirA, []);
    const b = await start(dirB, [tcpAddr(a)], { readReceipts: false });
    await b.publishRecord();
    const arrived = collect(b, 2);
    const seen: string[] = [];
    const track = (d: { state: string }) => seen.push(d.state);
    a.on('delivery', track);
    const first = await a.send(b.address, 'first');
    a.off('delivery', track);
    assert.deepEqual(seen, ['sent', 'delivered'], 'sent (frame written) then delivered (acked)');
    await a.send(b.address, 'second');
    await arrived;
    let reads = 0;
    a.on('delivery', (d) => {
      if (d.state === 'read') reads++;
    });
    assert.deepEqual(await b.markRead(a.address, [first.id]), [first.id]);
    assert.deepEqual(
      (await b.conversation(a.address)).map((m) => [m.body, m.state]),
      [
        ['second', 'received'],
        ['first', 'read'],
      ],
    );
    // A receipt would have travelled with the next message: send one and check nothing arrived.
    const back = collect(a, 1);
    await b.send(a.address, 'reply');
    await back;
    assert.equal(reads, 0);
    assert.ok(
      (await a.conversation(b.address)).filter((m) => m.direction === 'out').every((m) => m.state === 'delivered'),
    );
  });

  it('a first message to an offline identity uses a one-time prekey it uploaded to its mailbox', async () => {
    const dirM = await dataDir();
    const dirB = await dataDir();
    const dirC = await dataDir();
    const bobAddress = (await createNode({ dataDir: dirB }).initialize()).address;
    const m = await start(dirM, [], { mailbox: { policy: 'allow-list', allow: [bobAddress] } });
    let b = await start(dirB, [tcpAddr(m)], { mailboxes: [m.peerId] });
    await b.fetchMailboxes(); // joins the fetch at start, which uploads prekeys to the mailbox
    await b.publishRecord();
    await b.stop();
    const c = await start(dirC, [tcpAddr(m)]);
    assert.equal((await m.status()).oneTimePrekeys.claimsServed, 0);
    assert.equal((await c.send(bobAddress, 'first contact while you sleep')).state, 'stored-at-mailbox');
    assert.equal((await m.status()).oneTimePrekeys.claimsServed, 1, 'the mailbox handed out an uploaded prekey');
    b = createNode({
      dataDir: dirB,
      net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [tcpAddr(m)] },
      mailboxes: [m.peerId],
    });
    nodes.push(b);
    const arrived = collect(b, 1);
    await b.start();
    assert.equal((await arrived)[0]?.text, 'first contact while you sleep', 'decrypted with the uploaded key');
  });

  it('timers: a prekey rotation check leaves the mailbox timers running; stop() clears them all', async () => {
    const dirM = await dataDir();
    const dirB = await dataDir();
    const bobAddress = (await createNode({ dataDir: dirB }).initialize()).address;
    const m = await start(dirM, [], { mailbox: { policy: 'allow-list', allow: [bobAddress] } });
    const b = await start(dirB, [tcpAddr(m)], { mailboxes: [m.peerId] });
    type Timers = {
      fetchTimer?: unknown;
      expiryTimer?: unknown;
      rotatePrekeys(o: { publish: boolean }): Promise<void>;
    };
    const tb = b as unknown as Timers;
    const tm = m as unknown as Timers;
    assert.ok(tb.fetchTimer !== undefined && tm.expiryTimer !== undefined);
    await tb.rotatePrekeys({ publish: false });
    await tm.rotatePrekeys({ publish: false });
    assert.ok(tb.fetchTimer !== undefined, 'the fetch timer survives a rotation check');
    assert.ok(tm.expiryTimer !== undefined, 'the expiry timer survives a rotation check');
    await b.stop();
    await m.stop();
    assert.equal(tb.fetchTimer, undefined);
    assert.equal(tm.expiryTimer, undefined);
  });

  it('retries go out oldest first, so a backlog arrives in the order it was written', async () => {
    const dirA = await dataDir();
    const dirB = await dataDir();
    const a = await start(dirA, []);
    let b = await start(dirB, [tcpAddr(a)]);
    await b.publishRecord();
    const bobAddress = b.address;
    await b.stop();
    const texts = Array.from({ length: 12 }, (_, i) => `backlog ${i}`);
    for (const text of texts) assert.equal((await a.send(bobAddress, text)).state, 'queued');
    b = createNode({ dataDir: dirB, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [tcpAddr(a)] } });
    nodes.push(b);
    const arriving = collect(b, texts.length);
    await b.start();
    assert.equal(await a.retryOutbox({ force: true }), texts.length);
    assert.deepEqual(
      (await arriving).map((m) => m.text),
      texts,
    );
  });
});
