/**
 * Floods (issue 7; ../shared/TESTING.md matrix): while Mallory floods Bob's node — streams,
 * connections from many peer ids, DHT queries, oversized frames, slow-loris frames — Alice keeps
 * sending to Bob. Every one of Alice's messages must be delivered during every flood, and Bob must
 * still answer afterwards; her send → delivered latency (p50/p99) is reported next to the calm
 * baseline measured in the same run (figures, not assertions: the machine is shared). Every flood
 * is bounded in count and time and stops by itself. Loopback only.
 *
 * Bob bans a peer that commits protocol violations (src/node/ban-list.ts): the stream flood's garbage
 * frames get Mallory banned, so every later flood comes from a fresh attacker, and the oversized
 * frames get that one banned in turn (its later attempts are refused: the flood then measures Bob
 * under a banned peer's reconnects). Every dial, stream and wait of an attacker has a deadline, and
 * every flood loop yields to the event loop each turn: a refusal that settles without I/O cannot
 * spin and starve the timers that end the flood.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { createNode, type SottoNode } from '../../src/index.js';
import type { SottoHost } from '../../src/net/index.js';
import { PROTOCOL_ID as MSG_PROTOCOL } from '../../src/protocols/message/index.js';
import { rawHost as newRawHost } from './peers.js';

/** How long one flood runs at most (it also stops when Alice's measurement is done). */
const FLOOD_MS = 8_000;
/** The slow-loris flood outlasts the receiver's read timeout (msg SPEC §5, 10 s) to see it act. */
const SLOW_LORIS_MS = 12_000;
/** Alice's messages per measurement. */
const SAMPLES = 30;
/** Peer ids in the connection flood. */
const FLOOD_PEERS = 40;
/** Concurrent streams Mallory keeps opening in the stream flood. */
const STREAM_FLOOD_CONCURRENCY = 32;
/** Deadline of each single dial, stream open or wait of an attacker. */
const ATTEMPT_DEADLINE_MS = 10_000;

const dirs: string[] = [];
const extraHosts: SottoHost[] = [];
let alice: SottoNode;
let bob: SottoNode;
let mallory: SottoHost;
let bobAddr: string;
let bobPeer: ReturnType<typeof peerIdFromString>;
const baseline: { p50: number; p99: number } = { p50: 0, p99: 0 };

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-floods-'));
  dirs.push(dir);
  return dir;
}

async function rawHost(): Promise<SottoHost> {
  const h = await newRawHost();
  extraHosts.push(h);
  return h;
}

/**
 * A new attacker (fresh peer id) connected to Bob: a banned one cannot flood any more. Returns once
 * identify has run on the connection (Bob's protocols are known), as for a peer that has been
 * connected a while: streams opened in the first milliseconds of a connection meet its set-up.
 */
async function attacker(): Promise<SottoHost> {
  const h = await rawHost();
  // Right after the connection flood, Bob still refuses new connections from 127.0.0.1 for the
  // rest of that second (libp2p's per-host inboundConnectionThreshold): retry until the deadline,
  // as any peer would.
  const until = Date.now() + ATTEMPT_DEADLINE_MS;
  for (;;) {
    try {
      await h.dial(multiaddr(bobAddr), { signal: AbortSignal.timeout(Math.max(1, until - Date.now())) });
      break;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  while (!(await h.peerStore.get(bobPeer).catch(() => undefined))?.protocols.includes(MSG_PROTOCOL)) {
    if (Date.now() > until) throw new Error('identify with Bob did not complete in time');
    await new Promise((r) => setTimeout(r, 10));
  }
  return h;
}

/** The flood's signal, bounded by ATTEMPT_DEADLINE_MS for one attempt. */
function bounded(signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(ATTEMPT_DEADLINE_MS)]);
}

/** One turn of the event loop (not a sleep): timers and I/O run between two attempts. */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves when the stream is closed or reset, or after ATTEMPT_DEADLINE_MS (false then). */
function streamEnded(stream: { status: string; addEventListener: Stream['addEventListener'] }): Promise<boolean> {
  if (stream.status !== 'open') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ATTEMPT_DEADLINE_MS);
    stream.addEventListener(
      'close',
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      { once: true },
    );
  });
}

async function bannedByBob(peer: SottoHost): Promise<boolean> {
  return (await bob.status()).banned.some((b) => b.peer === peer.peerId.toString());
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Alice sends SAMPLES messages one after another; every one must be delivered. Returns p50/p99 ms. */
async function measure(label: string): Promise<{ p50: number; p99: number; n: number }> {
  const ms: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    const sent = await alice.send(bob.address, `${label} ${i}`);
    ms.push(performance.now() - t0);
    assert.equal(sent.state, 'delivered', `${label}: message ${i} delivered`);
  }
  ms.sort((a, b) => a - b);
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), n: ms.length };
}

/**
 * Runs `flood` (which must stop when its signal aborts) while Alice measures, for at least
 * `holdMs` (Alice measures again until then) and at most `holdMs` + FLOOD_MS; reports both.
 * Returns what the flood counted.
 */
async function during<T>(
  t: TestContext,
  label: string,
  flood: (signal: AbortSignal) => Promise<T>,
  holdMs = 0,
): Promise<T> {
  const stop = new AbortController();
  setMaxListeners(10_000, stop.signal); // every flood call listens on it
  const bound = setTimeout(() => stop.abort(), holdMs + FLOOD_MS);
  const started = performance.now();
  const flooding = flood(stop.signal);
  let latency: { p50: number; p99: number; n: number };
  try {
    latency = await measure(label);
    while (performance.now() - started < holdMs) {
      const more = await measure(label);
      latency = { p50: Math.max(latency.p50, more.p50), p99: Math.max(latency.p99, more.p99), n: latency.n + more.n };
    }
  } finally {
    stop.abort();
    clearTimeout(bound);
  }
  const counted = await flooding;
  t.diagnostic(
    `${label}: Alice p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms over ${latency.n} ` +
      `(calm: ${baseline.p50.toFixed(1)} / ${baseline.p99.toFixed(1)} ms; p99 ×${(latency.p99 / baseline.p99).toFixed(1)}); ` +
      `flood: ${JSON.stringify(counted)}`,
  );
  // Bob still answers after the flood.
  assert.equal((await alice.send(bob.address, `${label}: after`)).state, 'delivered');
  return counted;
}

function errorCode(err: unknown): string {
  return (err as { code?: string; name?: string })?.code ?? (err as Error)?.name ?? 'error';
}

before(async () => {
  bob = createNode({ dataDir: await dataDir(), net: { listen: ['/ip4/127.0.0.1/tcp/0'] } });
  await bob.start();
  const ma = bob.multiaddrs().find((m) => m.includes('/tcp/') && !m.includes('/ws')) as string;
  bobAddr = ma.includes('/p2p/') ? ma : `${ma}/p2p/${bob.peerId}`;
  bobPeer = peerIdFromString(bob.peerId);
  alice = createNode({ dataDir: await dataDir(), net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [bobAddr] } });
  await alice.start();
  await bob.publishRecord();
  assert.equal((await alice.send(bob.address, 'hello')).state, 'delivered', 'session set up');
  mallory = await rawHost();
  await mallory.dial(multiaddr(bobAddr), { signal: AbortSignal.timeout(ATTEMPT_DEADLINE_MS) });
});

after(async () => {
  await Promise.allSettled([...extraHosts.map((h) => h.stop()), alice?.stop(), bob?.stop()]);
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('floods: an honest peer keeps being served', () => {
  it('baseline: Alice → Bob with nothing else going on', async (t) => {
    Object.assign(baseline, await measure('calm'));
    t.diagnostic(`calm: p50 ${baseline.p50.toFixed(1)} ms, p99 ${baseline.p99.toFixed(1)} ms over ${SAMPLES}`);
  });

  it('stream flood: streams opened as fast as possible, each sent garbage and dropped', async (t) => {
    const counted = await during(t, 'stream flood', async (signal) => {
      const c = { opened: 0, refused: 0 };
      const worker = async () => {
        while (!signal.aborted) {
          try {
            const s = await mallory.dialProtocol(bobPeer, MSG_PROTOCOL, { signal: bounded(signal) });
            c.opened++;
            s.send(Uint8Array.of(5, 1, 2, 3, 4, 5));
            s.abort(new Error('flood'));
          } catch {
            c.refused++;
          }
          await yieldToLoop();
        }
      };
      await Promise.all(Array.from({ length: STREAM_FLOOD_CONCURRENCY }, worker));
      return { ...c, malloryBanned: await bannedByBob(mallory) };
    });
    assert.ok(counted.opened + counted.refused > SAMPLES, 'the flood ran');
  });

  it(`connection flood: ${FLOOD_PEERS} peer ids connect at once and keep reconnecting`, async (t) => {
    const hosts = await Promise.all(Array.from({ length: FLOOD_PEERS }, () => rawHost()));
    const counted = await during(t, 'connection flood', async (signal) => {
      const c = { connected: 0, refused: 0 };
      await Promise.all(
        hosts.map(async (h) => {
          while (!signal.aborted) {
            try {
              const conn = await h.dial(multiaddr(bobAddr), { signal: bounded(signal) });
              c.connected++;
              await conn.close({ signal: AbortSignal.timeout(ATTEMPT_DEADLINE_MS) });
            } catch {
              c.refused++;
            }
            await yieldToLoop();
          }
        }),
      );
      return c;
    });
    assert.ok(counted.connected + counted.refused >= FLOOD_PEERS, 'the flood ran');
    await Promise.allSettled(hosts.map((h) => h.stop()));
  });

  it('DHT query flood: concurrent lookups of random keys through Bob', async (t) => {
    const eve = await attacker();
    const counted = await during(t, 'DHT query flood', async (signal) => {
      const c = { queries: 0, failed: 0 };
      const worker = async () => {
        while (!signal.aborted) {
          try {
            for await (const _ of eve.services.dht.getClosestPeers(randomBytes(32), { signal: bounded(signal) })) {
              // drain
            }
            c.queries++;
          } catch {
            c.failed++;
          }
          await yieldToLoop();
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      return c;
    });
    assert.ok(counted.queries + counted.failed > 0, 'the flood ran');
  });

  it('oversized frames: every stream announces 10 MB and is reset before the payload is read', async (t) => {
    const trudy = await attacker();
    const counted = await during(t, 'oversized frames', async (signal) => {
      const c = { sent: 0, resetOrClosed: 0, acked: 0, stillOpen: 0, errors: {} as Record<string, number> };
      const oversized = Uint8Array.of(0x80, 0xad, 0xe2, 0x04, ...randomBytes(64)); // varint 10 000 000
      const worker = async () => {
        while (!signal.aborted) {
          try {
            const s = await trudy.dialProtocol(bobPeer, MSG_PROTOCOL, { signal: bounded(signal) });
            c.sent++;
            let answered = false; // Bob must never ack an oversized frame
            s.addEventListener('message', () => {
              answered = true;
            });
            s.send(oversized);
            const ended = await streamEnded(s);
            if (answered) c.acked++;
            else if (ended) c.resetOrClosed++;
            else c.stillOpen++;
            s.abort(new Error('done'));
          } catch (err) {
            c.resetOrClosed++;
            const code = errorCode(err);
            c.errors[code] = (c.errors[code] ?? 0) + 1;
          }
          await yieldToLoop();
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      return { ...c, attackerBanned: await bannedByBob(trudy) };
    });
    assert.equal(counted.acked, 0, 'no oversized frame was answered');
    assert.equal(counted.stillOpen, 0, 'Bob reset every oversized stream');
    assert.ok(counted.sent > 0, 'the flood ran');
    assert.ok(counted.attackerBanned, 'Bob banned the attacker');
  });

  it('slow-loris: streams that send a frame one byte at a time are ended by Bob', async (t) => {
    const loris = await attacker();
    const counted = await during(
      t,
      'slow-loris',
      async (signal) => {
        const c = {
          streams: 0,
          refused: 0,
          bytes: 0,
          resetByBob: 0,
          stillOpen: 0,
          errors: {} as Record<string, number>,
        };
        const worker = async () => {
          let s: Awaited<ReturnType<SottoHost['dialProtocol']>>;
          try {
            s = await loris.dialProtocol(bobPeer, MSG_PROTOCOL, { signal: bounded(signal) });
          } catch (err) {
            const code = errorCode(err);
            c.errors[code] = (c.errors[code] ?? 0) + 1;
            c.refused++; // beyond the per-connection stream cap
            return;
          }
          c.streams++;
          const frame = Uint8Array.of(100, ...randomBytes(100)); // 101 bytes at 5/s: 20 s > the 10 s read timeout
          for (const byte of frame) {
            if (signal.aborted || s.status !== 'open') break;
            s.send(Uint8Array.of(byte));
            c.bytes++;
            await new Promise((r) => setTimeout(r, 200));
          }
          if (s.status === 'open') c.stillOpen++;
          else c.resetByBob++;
          s.abort(new Error('done'));
        };
        await Promise.all(Array.from({ length: 16 }, worker));
        return c;
      },
      SLOW_LORIS_MS,
    );
    assert.ok(counted.streams > 0, 'the flood ran');
    assert.equal(
      counted.resetByBob,
      counted.streams,
      'Bob ended every slow stream before it completed (read timeout or stream cap)',
    );
  });
});
