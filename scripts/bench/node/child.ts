/**
 * Child process of the node benchmark (scripts/bench/node.ts), started with `fork` and driven over
 * IPC: one request `{ id, cmd, args }` in, one reply `{ id, ok, result | error }` out.
 *
 *   mode `sotto`: one sotto node (createNode) with its data dir under os.tmpdir().
 *   mode `floor`: a bare libp2p 3 host (TCP + Noise + Yamux, nothing else) serving or sending
 *                 length-prefixed 1 KiB requests and 2-byte acks: the floor sotto is compared with.
 *                 Also a durable floor: the same exchange where each side first writes the request to
 *                 LevelDB with fsync (`sync: true`, group-committed like sotto's store), the least any
 *                 protocol that stores before sending and before acking must do.
 *
 * Every loop here is bounded by a count and a time budget given by the parent. Loopback only.
 */
import '../../../src/net/shim.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { Level } from 'level';
import { createLibp2p, type Libp2p } from 'libp2p';
import { createNode, type SottoNode } from '../../../src/node/node.js';
import { serveCommands } from '../rpc.js';

type Args = Record<string, unknown>;
type Handler = (args: Args) => Promise<unknown>;

const mode = process.argv[2];
const FLOOR_PROTOCOL = '/sotto-bench/floor/1.0.0';
const DURABLE_FLOOR_PROTOCOL = '/sotto-bench/floor-durable/1.0.0';
const ACK = new Uint8Array([0x08, 0x01]);

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
const wallNow = () => performance.timeOrigin + performance.now();
const now = () => performance.now();

const str = (a: Args, k: string): string => {
  const v = a[k];
  if (typeof v !== 'string') throw new Error(`${k} must be a string`);
  return v;
};
const num = (a: Args, k: string): number => {
  const v = a[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${k} must be a number`);
  return v;
};

/** A 1 KiB (or `size`) ASCII text whose first 20 characters are the wall-clock send time. */
function stampedText(size: number): string {
  const stamp = wallNow().toFixed(3).padStart(20, '0');
  return `${stamp}|${'m'.repeat(Math.max(0, size - 21))}`;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `one()` with at most `window` in flight until `maxCount` were started or `budgetMs` passed,
 * then waits for the ones in flight. Returns how many completed and the elapsed time.
 */
async function windowed(
  window: number,
  maxCount: number,
  budgetMs: number,
  one: () => Promise<boolean>,
): Promise<{ count: number; ok: number; elapsedMs: number }> {
  let started = 0;
  let done = 0;
  let ok = 0;
  const t0 = now();
  const worker = async () => {
    while (started < maxCount && now() - t0 < budgetMs) {
      started++;
      if (await one()) ok++;
      done++;
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return { count: done, ok, elapsedMs: now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// CPU profile of a phase (node:inspector, the same data as --cpu-prof but only for that phase)

let profiler: Session | undefined;

const profileHandlers: Record<string, Handler> = {
  async profileStart() {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    await profiler.post('Profiler.start');
    return null;
  },
  async profileStop(args) {
    if (!profiler) throw new Error('no profile running');
    const { profile } = (await profiler.post('Profiler.stop')) as { profile: unknown };
    profiler.disconnect();
    profiler = undefined;
    const path = str(args, 'path');
    writeFileSync(path, JSON.stringify(profile));
    return path;
  },
};

// ---------------------------------------------------------------------------------------------
// sotto node

let node: SottoNode | undefined;
/** One-way send → 'message' event delays (wall clock of both processes), drained by the parent. */
let oneWay: number[] = [];
let received = 0;

const running = (): SottoNode => {
  if (!node) throw new Error('node not started');
  return node;
};

const sottoHandlers: Record<string, Handler> = {
  async start(args) {
    const bootstrap = typeof args.bootstrap === 'string' ? [args.bootstrap] : [];
    node = createNode({ dataDir: str(args, 'dataDir'), net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap } });
    node.on('message', (m) => {
      received++;
      const sent = Number(m.text.slice(0, 20));
      if (Number.isFinite(sent)) oneWay.push(wallNow() - sent);
    });
    const t0 = now();
    await node.start();
    const startMs = now() - t0;
    const tcpAddr = node.multiaddrs().find((m) => m.includes('/tcp/') && !m.includes('/ws'));
    if (!tcpAddr) throw new Error('no TCP listen address');
    return {
      address: node.address,
      peerId: node.peerId,
      multiaddr: tcpAddr.includes('/p2p/') ? tcpAddr : `${tcpAddr}/p2p/${node.peerId}`,
      startMs,
    };
  },
  async waitPeers(args) {
    const t0 = now();
    const timeoutMs = num(args, 'timeoutMs');
    for (;;) {
      const s = await running().status();
      if (s.routingTable >= num(args, 'min')) return { ...s, waitedMs: now() - t0 };
      if (now() - t0 > timeoutMs) throw new Error(`routing table still ${s.routingTable} after ${timeoutMs} ms`);
      await sleep(10);
    }
  },
  async publish() {
    const t0 = now();
    const r = await running().publishRecord();
    return { ...r, ms: now() - t0 };
  },
  async sendOne(args) {
    const text = stampedText(num(args, 'size'));
    const t0 = now();
    const r = await running().send(str(args, 'to'), text);
    return { ms: now() - t0, state: r.state };
  },
  /** Sequential sends: the time from calling send() to its resolution, per message. */
  async latency(args) {
    const to = str(args, 'to');
    const size = num(args, 'size');
    const count = num(args, 'count');
    const budgetMs = num(args, 'budgetMs');
    const times: number[] = [];
    let queued = 0;
    const t0 = now();
    while (times.length < count && now() - t0 < budgetMs) {
      const text = stampedText(size);
      const t1 = now();
      const r = await running().send(to, text);
      const dt = now() - t1;
      if (r.state === 'delivered') times.push(dt);
      else queued++;
    }
    return { times, queued };
  },
  /** Sends with `window` in flight, bounded by `maxCount` messages and `budgetMs`. */
  async throughput(args) {
    const to = str(args, 'to');
    const size = num(args, 'size');
    const r = await windowed(num(args, 'window'), num(args, 'maxCount'), num(args, 'budgetMs'), async () => {
      const res = await running().send(to, stampedText(size));
      return res.state === 'delivered';
    });
    return { delivered: r.ok, queued: r.count - r.ok, elapsedMs: r.elapsedMs };
  },
  async takeReceived() {
    const out = { received, oneWay };
    oneWay = [];
    received = 0;
    return out;
  },
  async status() {
    return running().status();
  },
  async stop() {
    await node?.stop();
    node = undefined;
    return null;
  },
};

// ---------------------------------------------------------------------------------------------
// Floor: bare libp2p, length-prefixed request/ack

let host: Libp2p | undefined;
let reused: ReturnType<typeof lpStream<Stream>> | undefined;
let durable: ReturnType<typeof lpStream<Stream>> | undefined;
let db: Level<string, Uint8Array> | undefined;
let dbDir: string | undefined;
let written = 0;

async function openDb(): Promise<Level<string, Uint8Array>> {
  dbDir = mkdtempSync(join(tmpdir(), 'sotto-bench-floor-db-'));
  const opened = new Level<string, Uint8Array>(dbDir, { valueEncoding: 'view' });
  await opened.open();
  db = opened;
  return opened;
}

/** One fsync'd LevelDB batch holding `frames` (the durable floor's store step). */
async function persist(frames: readonly Uint8Array[]): Promise<void> {
  if (!db) throw new Error('no database');
  await db.batch(
    frames.map((value) => ({ type: 'put' as const, key: `f${written++}`, value })),
    { sync: true },
  );
}

/**
 * The durable floor's server side: reads requests as they come, stores every request that arrived
 * while the previous write was in flight in one fsync'd batch (group commit), then acks them in order.
 */
async function serveDurableStream(stream: Stream): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: 70_000 });
  const pending: Uint8Array[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const writer = (async () => {
    while (!ended || pending.length > 0) {
      if (pending.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const group = pending.splice(0);
      await persist(group);
      for (let i = 0; i < group.length; i++) await lp.write(ACK);
    }
  })();
  try {
    for (;;) {
      pending.push((await lp.read()).subarray());
      wake?.();
      wake = undefined;
    }
  } catch {
    // end of stream or reset
  }
  ended = true;
  wake?.();
  await writer.catch(() => undefined);
  await stream.close().catch(() => {});
}
let serverAddr = '';

async function floorHost(listen: string[]): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 1000 },
  });
}

async function serveStream(stream: Stream): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: 70_000 });
  try {
    for (;;) {
      await lp.read();
      await lp.write(ACK);
    }
  } catch {
    // end of stream (UnexpectedEOFError) or reset: nothing to do
  }
  await stream.close().catch(() => {});
}

/**
 * Runs requests on `lp` with at most `window` (args) unacknowledged, until `maxCount` were sent or
 * `budgetMs` passed, then waits for the acks in flight. `send` writes the frames that fit the window
 * (all at once, so a durable sender can store them in one batch).
 */
async function pipelined(
  lp: ReturnType<typeof lpStream<Stream>>,
  args: Args,
  send: (frames: Uint8Array[]) => Promise<void>,
): Promise<{ delivered: number; queued: number; elapsedMs: number }> {
  const frame = new Uint8Array(num(args, 'size')).fill(0x6d);
  const window = num(args, 'window');
  const maxCount = num(args, 'maxCount');
  const budgetMs = num(args, 'budgetMs');
  let sent = 0;
  let acked = 0;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const sleepUntilPoked = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });
  const t0 = now();
  const reader = (async () => {
    while (acked < sent || (sent < maxCount && now() - t0 < budgetMs)) {
      if (acked === sent) {
        await sleepUntilPoked();
        continue;
      }
      await lp.read();
      acked++;
      poke();
    }
  })();
  while (sent < maxCount && now() - t0 < budgetMs) {
    const free = Math.min(window - (sent - acked), maxCount - sent);
    if (free <= 0) {
      await sleepUntilPoked();
      continue;
    }
    await send(Array.from({ length: free }, () => frame));
    sent += free;
    poke();
  }
  poke();
  await reader;
  return { delivered: acked, queued: 0, elapsedMs: now() - t0 };
}

const floorHandlers: Record<string, Handler> = {
  async serve() {
    host = await floorHost(['/ip4/127.0.0.1/tcp/0']);
    await host.handle(
      FLOOR_PROTOCOL,
      (stream: Stream) => {
        void serveStream(stream);
      },
      { maxInboundStreams: 64 },
    );
    await openDb();
    await host.handle(
      DURABLE_FLOOR_PROTOCOL,
      (stream: Stream) => {
        void serveDurableStream(stream);
      },
      { maxInboundStreams: 64 },
    );
    const addr = host.getMultiaddrs().find((m) => m.toString().includes('/tcp/'));
    if (!addr) throw new Error('no TCP listen address');
    return { multiaddr: addr.toString(), peerId: host.peerId.toString() };
  },
  async dial(args) {
    host = await floorHost([]);
    serverAddr = str(args, 'multiaddr');
    const stream = await host.dialProtocol(multiaddr(serverAddr), FLOOR_PROTOCOL);
    reused = lpStream(stream, { maxDataLength: 1024 });
    durable = lpStream(await host.dialProtocol(multiaddr(serverAddr), DURABLE_FLOOR_PROTOCOL), {
      maxDataLength: 1024,
    });
    await openDb();
    return null;
  },
  /** Lock-step on the durable floor: fsync'd write, request, (server: fsync'd write), ack. */
  async latencyDurable(args) {
    const lp = durable;
    if (!lp) throw new Error('not dialled');
    const frame = new Uint8Array(num(args, 'size')).fill(0x6d);
    const times: number[] = [];
    const t0 = now();
    while (times.length < num(args, 'count') && now() - t0 < num(args, 'budgetMs')) {
      const t1 = now();
      await persist([frame]);
      await lp.write(frame);
      await lp.read();
      times.push(now() - t1);
    }
    return { times, queued: 0 };
  },
  /**
   * Pipelined on the durable floor: up to `window` requests ahead of their acks; the client stores
   * every request it is about to send in one fsync'd batch (group commit) before writing them.
   */
  async throughputDurable(args) {
    if (!durable) throw new Error('not dialled');
    return pipelined(durable, args, async (frames) => {
      await persist(frames);
      for (const f of frames) await durable?.write(f);
    });
  },

  /** Lock-step request/ack on one reused stream. */
  async latency(args) {
    const lp = reused;
    if (!lp) throw new Error('not dialled');
    const frame = new Uint8Array(num(args, 'size')).fill(0x6d);
    const times: number[] = [];
    const t0 = now();
    while (times.length < num(args, 'count') && now() - t0 < num(args, 'budgetMs')) {
      const t1 = now();
      await lp.write(frame);
      await lp.read();
      times.push(now() - t1);
    }
    return { times, queued: 0 };
  },
  /** A new stream per request (dialProtocol on the open connection, request, ack, close): what a stream per message would cost (sotto keeps one stream per peer). */
  async latencyNewStream(args) {
    if (!host) throw new Error('not dialled');
    const frame = new Uint8Array(num(args, 'size')).fill(0x6d);
    const at = serverAddr.lastIndexOf('/p2p/');
    if (at < 0) throw new Error('server address without /p2p/');
    const target = serverAddr.slice(at + '/p2p/'.length);
    const times: number[] = [];
    const t0 = now();
    while (times.length < num(args, 'count') && now() - t0 < num(args, 'budgetMs')) {
      const t1 = now();
      const stream = await host.dialProtocol(peerIdFromString(target), FLOOR_PROTOCOL);
      const lp = lpStream(stream, { maxDataLength: 1024 });
      await lp.write(frame);
      await lp.read();
      times.push(now() - t1);
      await stream.close();
    }
    return { times, queued: 0 };
  },
  /** Pipelined on the one reused stream: up to `window` requests written ahead of their acks. */
  async throughput(args) {
    if (!reused) throw new Error('not dialled');
    return pipelined(reused, args, async (frames) => {
      for (const f of frames) await reused?.write(f);
    });
  },
  async stop() {
    await reused
      ?.unwrap()
      .close()
      .catch(() => {});
    await durable
      ?.unwrap()
      .close()
      .catch(() => {});
    await db?.close().catch(() => {});
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
    await host?.stop();
    host = undefined;
    return null;
  },
};

// ---------------------------------------------------------------------------------------------

const handlers: Record<string, Handler> = {
  ...profileHandlers,
  ...(mode === 'sotto' ? sottoHandlers : mode === 'floor' ? floorHandlers : {}),
};
if (mode !== 'sotto' && mode !== 'floor') throw new Error(`unknown child mode ${String(mode)}`);
serveCommands(handlers);
