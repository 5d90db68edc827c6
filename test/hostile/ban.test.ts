/**
 * The ban list wired to the connection gater (issue 7): a peer that sends MISBEHAVIOUR_THRESHOLD
 * malformed frames is banned — its connection is closed, its new dials are refused, the node does
 * not dial it either — while an honest peer keeps being served; the ban ends after BAN_DURATION_MS
 * on the node's (injected) clock. Nothing here may hang on a banned peer: every dial, stream and
 * wait has a deadline. Loopback only.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { createNode, type SottoNode } from '../../src/index.js';
import { DHT_PROTOCOL, MAX_DHT_MESSAGE_BYTES, type SottoHost } from '../../src/net/index.js';
import { BAN_DURATION_MS, MISBEHAVIOUR_THRESHOLD } from '../../src/node/ban-list.js';
import { PROTOCOL_ID as MSG_PROTOCOL } from '../../src/protocols/message/index.js';
import { rawHost as newRawHost } from './peers.js';

/** Deadline of every single network operation in this file. */
const DEADLINE_MS = 10_000;
/** A complete frame whose payload is not a protobuf Envelope (field 0 is invalid): ERR_MALFORMED_FRAME. */
const MALFORMED = Uint8Array.of(3, 0x00, 0xff, 0xff);

const dirs: string[] = [];
const hosts: SottoHost[] = [];
let alice: SottoNode;
let bob: SottoNode;
let bobAddr: string;
let bobPeer: PeerId;
/** Added to Bob's clock: moves his bans forward without waiting. */
let skew = 0;

type Status = Awaited<ReturnType<SottoNode['status']>>;

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-ban-'));
  dirs.push(dir);
  return dir;
}

async function rawHost(): Promise<SottoHost> {
  const h = await newRawHost();
  hosts.push(h);
  return h;
}

/** Bob's libp2p host (private to the node): the test dials from it to check the gater outbound. */
function bobHost(): SottoHost {
  return (bob as unknown as { host: SottoHost }).host;
}

/** Resolves when `predicate` holds; rejects after `ms`. Polls on timers, so the event loop runs. */
async function waitUntil(predicate: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves when the stream is closed or reset; rejects after `ms`. */
function closed(stream: Stream, ms: number): Promise<void> {
  if (stream.status !== 'open') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stream still open after ${ms} ms`)), ms);
    stream.addEventListener(
      'close',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** One malformed frame on a fresh stream; resolves once Bob has reset it. */
async function misbehave(from: SottoHost): Promise<void> {
  const s = await from.dialProtocol(bobPeer, MSG_PROTOCOL, { signal: AbortSignal.timeout(DEADLINE_MS) });
  s.send(MALFORMED);
  await closed(s, DEADLINE_MS);
}

/**
 * Opens a message stream from `from` to Bob, bounded by DEADLINE_MS. Resolves 'opened' or the name
 * of the error; never hangs (the bound is the test's, on top of libp2p's own dial timeout).
 */
async function tryOpen(from: SottoHost): Promise<string> {
  try {
    const s = await from.dialProtocol(bobPeer, MSG_PROTOCOL, { signal: AbortSignal.timeout(DEADLINE_MS) });
    s.abort(new Error('probe only'));
    return 'opened';
  } catch (err) {
    return (err as Error)?.name ?? 'error';
  }
}

function bannedPeers(status: Status): string[] {
  return status.banned.map((b) => b.peer);
}

before(async () => {
  bob = createNode({
    dataDir: await dataDir(),
    net: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    clock: () => Date.now() + skew,
  });
  await bob.start();
  const ma = bob.multiaddrs().find((m) => m.includes('/tcp/') && !m.includes('/ws')) as string;
  bobAddr = ma.includes('/p2p/') ? ma : `${ma}/p2p/${bob.peerId}`;
  bobPeer = peerIdFromString(bob.peerId);
  alice = createNode({ dataDir: await dataDir(), net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [bobAddr] } });
  await alice.start();
  await bob.publishRecord();
  assert.equal((await alice.send(bob.address, 'hello')).state, 'delivered', 'session set up');
});

after(async () => {
  await Promise.allSettled([...hosts.map((h) => h.stop()), alice?.stop(), bob?.stop()]);
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('ban list and connection gater', () => {
  it(`${MISBEHAVIOUR_THRESHOLD} malformed frames get a peer banned: connection closed, refused both ways; Alice unaffected`, async () => {
    const mallory = await rawHost();
    await mallory.dial(multiaddr(bobAddr), { signal: AbortSignal.timeout(DEADLINE_MS) });
    const malloryId = mallory.peerId.toString();
    for (let i = 1; i < MISBEHAVIOUR_THRESHOLD; i++) await misbehave(mallory);
    assert.deepEqual(bannedPeers(await bob.status()), [], 'one violation short of the threshold: not banned');
    assert.ok(mallory.getConnections(bobPeer).length > 0, 'still connected');

    await misbehave(mallory);
    await waitUntil(async () => bannedPeers(await bob.status()).includes(malloryId), DEADLINE_MS, 'the ban');
    const status = await bob.status();
    const entry = status.banned.find((b) => b.peer === malloryId);
    assert.equal(entry?.reason, 'ERR_MALFORMED_FRAME');
    assert.ok(entry !== undefined && entry.until > Date.now() + skew, 'the ban lasts');
    assert.equal(status.bansTotal, 1);
    // its connections are closed, on both sides
    await waitUntil(() => mallory.getConnections(bobPeer).length === 0, DEADLINE_MS, 'Mallory disconnected');
    await waitUntil(() => bobHost().getConnections(mallory.peerId).length === 0, DEADLINE_MS, 'Bob disconnected');

    // a new dial from Mallory is refused (and settles: no stream opens)
    for (let i = 0; i < 3; i++) assert.notEqual(await tryOpen(mallory), 'opened', `Mallory's attempt ${i} refused`);
    assert.equal(bobHost().getConnections(mallory.peerId).length, 0);
    // Bob does not dial Mallory either
    await assert.rejects(
      bobHost().dial(mallory.getMultiaddrs()[0] as ReturnType<typeof multiaddr>, {
        signal: AbortSignal.timeout(DEADLINE_MS),
      }),
      (err: Error) => {
        assert.equal(err.name, 'DialDeniedError');
        return true;
      },
    );
    // Alice is served all along
    assert.equal((await alice.send(bob.address, 'while Mallory is banned')).state, 'delivered');
    assert.ok(!bannedPeers(await bob.status()).includes(alice.peerId));
  });

  it('a fresh attacker flooding oversized frames is banned too, and its refused dials all settle', async (t) => {
    const attacker = await rawHost();
    await attacker.dial(multiaddr(bobAddr), { signal: AbortSignal.timeout(DEADLINE_MS) });
    const oversized = Uint8Array.of(0x80, 0xad, 0xe2, 0x04, 1, 2, 3); // varint 10 000 000
    const outcomes: Record<string, number> = {};
    // more attempts than the threshold, 4 at a time: the later ones meet the ban
    const attempts = 2 * MISBEHAVIOUR_THRESHOLD;
    let next = 0;
    const worker = async () => {
      while (next < attempts) {
        next++;
        let outcome = 'reset';
        try {
          const s = await attacker.dialProtocol(bobPeer, MSG_PROTOCOL, { signal: AbortSignal.timeout(DEADLINE_MS) });
          s.send(oversized);
          await closed(s, DEADLINE_MS);
        } catch (err) {
          outcome = (err as Error)?.name ?? 'error';
        }
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 4 }, worker));
    const id = attacker.peerId.toString();
    t.diagnostic(`oversized flood: ${JSON.stringify(outcomes)} in ${(performance.now() - t0).toFixed(0)} ms`);
    await waitUntil(async () => bannedPeers(await bob.status()).includes(id), DEADLINE_MS, 'the ban');
    assert.equal((await bob.status()).banned.find((b) => b.peer === id)?.reason, 'ERR_FRAME_TOO_LARGE');
    assert.ok(!('TimeoutError' in outcomes) && !('AbortError' in outcomes), JSON.stringify(outcomes));
    assert.ok((outcomes.reset ?? 0) >= MISBEHAVIOUR_THRESHOLD, `reset until banned: ${JSON.stringify(outcomes)}`);
    assert.ok(Object.keys(outcomes).length > 1, `the later attempts were refused: ${JSON.stringify(outcomes)}`);
    assert.equal(
      Object.values(outcomes).reduce((a, b) => a + b, 0),
      attempts,
      `every attempt settled: ${JSON.stringify(outcomes)}`,
    );
    assert.equal((await alice.send(bob.address, 'after the oversized flood')).state, 'delivered');
  });

  it('DHT messages above MAX_DHT_MESSAGE_BYTES are violations too: reset from the prefix, then a ban', async () => {
    const attacker = await rawHost();
    await attacker.dial(multiaddr(bobAddr), { signal: AbortSignal.timeout(DEADLINE_MS) });
    const id = attacker.peerId.toString();
    // a DHT request announcing one byte more than the limit, and some of it
    const prefix = Uint8Array.of(0x81, 0x80, 0x04); // varint 65 537
    assert.equal(MAX_DHT_MESSAGE_BYTES + 1, 65_537);
    for (let i = 0; i < MISBEHAVIOUR_THRESHOLD; i++) {
      const s = await attacker.dialProtocol(bobPeer, DHT_PROTOCOL, { signal: AbortSignal.timeout(DEADLINE_MS) });
      s.send(prefix);
      s.send(new Uint8Array(1_000));
      await closed(s, DEADLINE_MS);
      if (i === MISBEHAVIOUR_THRESHOLD - 2) {
        assert.ok(!bannedPeers(await bob.status()).includes(id), 'one violation short of the threshold: not banned');
      }
    }
    await waitUntil(async () => bannedPeers(await bob.status()).includes(id), DEADLINE_MS, 'the ban');
    assert.equal((await bob.status()).banned.find((b) => b.peer === id)?.reason, 'MESSAGE_TOO_LARGE');
    await waitUntil(() => bobHost().getConnections(attacker.peerId).length === 0, DEADLINE_MS, 'Bob disconnected');
    assert.equal((await alice.send(bob.address, 'after the DHT violations')).state, 'delivered');
  });

  it('the ban ends after BAN_DURATION_MS on the node’s clock: the peer may connect again', async () => {
    const status = await bob.status();
    assert.ok(status.banned.length >= 1);
    const banned = status.banned.map((b) => b.peer);
    skew += BAN_DURATION_MS;
    assert.deepEqual((await bob.status()).banned, [], 'no ban left');
    const again = hosts.find((h) => banned.includes(h.peerId.toString()));
    assert.ok(again);
    assert.equal(await tryOpen(again), 'opened', 'the former offender connects and opens a stream');
  });
});
