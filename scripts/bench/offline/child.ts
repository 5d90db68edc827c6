/**
 * Child process of the offline-delivery benchmark (scripts/bench/offline.ts), started with `fork`
 * and driven over IPC: one request `{ id, cmd, args }` in, one reply `{ id, ok, result | error }` out.
 * One sotto node per process (createNode, data dir given by the parent), in one of three roles
 * chosen by the parent's commands: the mailbox (M), the sender (A) or the recipient (B).
 *
 * Every loop here is bounded by a count and a time budget given by the parent. Loopback only.
 */
import { createNode, type IncomingMessage, type SottoNode } from '../../../src/index.js';
import { serveCommands } from '../rpc.js';

type Args = Record<string, unknown>;
type Handler = (args: Args) => Promise<unknown>;

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

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The benchmark's text: `<tag>:<seq>|` padded with 'm' to exactly `size` ASCII bytes. */
function benchText(tag: string, seq: number, size: number): string {
  const head = `${tag}:${seq}|`;
  return head + 'm'.repeat(Math.max(0, size - head.length));
}

/** Tag and sequence number of a benchmark text (undefined for anything else). */
function parseText(text: string): { tag: string; seq: number } | undefined {
  const bar = text.indexOf('|');
  const colon = text.lastIndexOf(':', bar);
  if (bar < 0 || colon < 0) return undefined;
  const seq = Number(text.slice(colon + 1, bar));
  return Number.isInteger(seq) ? { tag: text.slice(0, colon), seq } : undefined;
}

let node: SottoNode | undefined;

/**
 * A stopped node's mailbox fetch timer keeps firing (stop() does not clear it) and throws
 * NodeNotStartedError synchronously from a timer callback, which ends the process. Exactly that
 * error is counted and reported to the parent (command `problems`); every other uncaught error
 * still ends this process.
 */
const staleTimer = { count: 0, firstStack: '' };
process.on('uncaughtException', (err) => {
  const e = err as Error & { code?: unknown };
  const stack = String(e?.stack ?? err);
  if (e?.code === 'NODE_NOT_STARTED' && stack.includes('fetchFromInBackground')) {
    if (staleTimer.count++ === 0) {
      staleTimer.firstStack = stack.split('\n').slice(0, 8).join('\n');
      process.stderr.write(`[${process.argv[2]}] stopped node's fetch timer threw (counted, reported):\n${stack}\n`);
    }
    return;
  }
  process.stderr.write(`[${process.argv[2]}] uncaught: ${stack}\n`);
  process.exit(1);
});

const running = (): SottoNode => {
  if (!node) throw new Error('node not started');
  return node;
};

function tcpMultiaddr(n: SottoNode): string {
  const tcpAddr = n.multiaddrs().find((m) => m.includes('/tcp/') && !m.includes('/ws'));
  if (!tcpAddr) throw new Error('no TCP listen address');
  return tcpAddr.includes('/p2p/') ? tcpAddr : `${tcpAddr}/p2p/${n.peerId}`;
}

function nodeOptions(args: Args) {
  const bootstrap = typeof args.bootstrap === 'string' ? [args.bootstrap] : [];
  return {
    dataDir: str(args, 'dataDir'),
    net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap },
    ...(args.mailbox !== undefined
      ? { mailbox: args.mailbox as { policy: 'allow-list' | 'open'; allow?: string[] } }
      : {}),
    ...(Array.isArray(args.mailboxes) ? { mailboxes: args.mailboxes as string[] } : {}),
  };
}

const handlers: Record<string, Handler> = {
  /** Creates the identity offline (no network). */
  async init(args) {
    const r = await createNode({ dataDir: str(args, 'dataDir') }).initialize();
    return { address: r.address, peerId: r.peerId };
  },

  async start(args) {
    if (node) throw new Error('node already running');
    node = createNode(nodeOptions(args));
    const t0 = now();
    await node.start();
    return { address: node.address, peerId: node.peerId, multiaddr: tcpMultiaddr(node), startMs: now() - t0 };
  },

  async publish() {
    const t0 = now();
    const r = await running().publishRecord();
    return { ...r, ms: now() - t0 };
  },

  async status() {
    return running().status();
  },

  async stopNode() {
    const t0 = now();
    await node?.stop();
    node = undefined;
    return { ms: now() - t0 };
  },

  /**
   * Sender: `n` texts to `to` with at most `window` send() calls in flight (bounded by `n` and
   * `budgetMs`), then waits (same budget) until every one of them was acked as stored at a mailbox
   * (or delivered), which includes the node's own outbox retries of attempts that came back queued.
   */
  async deposit(args) {
    const n = running();
    const to = str(args, 'to');
    const tag = str(args, 'tag');
    const count = num(args, 'n');
    const size = num(args, 'size');
    const window = num(args, 'window');
    const budgetMs = num(args, 'budgetMs');
    const burst = num(args, 'burst');
    // 'delivery' for an id can fire before its send() resolves: keep every event, match ids later.
    const final = new Map<string, { state: string; at: number }>();
    let retryEvents = 0;
    const onDelivery = (d: { id: string; state: string }) => {
      if (d.state === 'queued') retryEvents++;
      if ((d.state === 'stored-at-mailbox' || d.state === 'delivered') && !final.has(d.id)) {
        final.set(d.id, { state: d.state, at: now() });
      }
    };
    n.on('delivery', onDelivery);
    const ids: string[] = [];
    const firstTry: Record<string, number> = {};
    const errors: Record<string, number> = {};
    let started = 0;
    const t0 = now();
    try {
      const worker = async () => {
        while (started < count && now() - t0 < budgetMs) {
          const seq = started++;
          try {
            const r = await n.send(to, benchText(tag, seq, size));
            ids.push(r.id);
            firstTry[r.state] = (firstTry[r.state] ?? 0) + 1;
          } catch (err) {
            const key = err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 200) : String(err);
            errors[key] = (errors[key] ?? 0) + 1;
          }
        }
      };
      await Promise.all(Array.from({ length: window }, worker));
      const sendPhaseMs = now() - t0;
      const done = () => ids.every((id) => final.has(id));
      while (!done() && now() - t0 < budgetMs) await sleep(50);
      let lastStoredAt = Number.NaN;
      let stored = 0;
      let delivered = 0;
      for (const id of ids) {
        const f = final.get(id);
        if (!f) continue;
        if (f.state === 'stored-at-mailbox') stored++;
        else delivered++;
        if (!(f.at <= lastStoredAt)) lastStoredAt = f.at;
      }
      const complete = ids.length === count && stored + delivered === count;
      // The first `burst` acks, before the mailbox's per-sender limiter can refuse anything.
      const ackTimes = [...final.values()].filter((f) => f.state === 'stored-at-mailbox').map((f) => f.at - t0);
      ackTimes.sort((x, y) => x - y);
      const k = Math.min(burst, count);
      const burstMs = ackTimes.length >= k ? ackTimes[k - 1]! : Number.NaN;
      return {
        started,
        sent: ids.length,
        sendPhaseMs,
        firstTry,
        errors,
        stored,
        deliveredDirect: delivered,
        allFinalMs: complete ? lastStoredAt - t0 : Number.NaN,
        burstCount: k,
        burstMs,
        waitedMs: now() - t0,
        complete,
        retryEvents,
        outboxAfter: (await n.status()).outbox,
      };
    } finally {
      n.off('delivery', onDelivery);
    }
  },

  /**
   * Recipient: creates and starts the node (it fetches from its mailboxes at start by itself) and
   * times, from the start() call, every 'message' event of this pass (`tag`), until all `n`
   * sequence numbers arrived or `budgetMs` passed; then listens `settleMs` more for duplicates.
   */
  async collect(args) {
    if (node) throw new Error('node already running');
    const tag = str(args, 'tag');
    const count = num(args, 'n');
    const budgetMs = num(args, 'budgetMs');
    const settleMs = num(args, 'settleMs');
    const seen = new Uint32Array(count);
    let distinct = 0;
    let duplicates = 0;
    let outOfOrder = 0;
    let maxSeq = -1;
    let events = 0;
    let firstMs = Number.NaN;
    let allMs = Number.NaN;
    let lastMs = Number.NaN;
    const stale: Record<string, number> = {};
    let foreign = 0;
    let t0 = now();
    const onMessage = (m: IncomingMessage) => {
      const at = now() - t0;
      events++;
      const p = parseText(m.text);
      if (!p) {
        foreign++;
        return;
      }
      if (p.tag !== tag || p.seq < 0 || p.seq >= count) {
        stale[p.tag] = (stale[p.tag] ?? 0) + 1;
        return;
      }
      lastMs = at;
      if (Number.isNaN(firstMs)) firstMs = at;
      if (seen[p.seq]! > 0) duplicates++;
      else {
        distinct++;
        if (distinct === count) allMs = at;
      }
      seen[p.seq]!++;
      if (p.seq < maxSeq) outOfOrder++;
      else maxSeq = p.seq;
    };
    node = createNode(nodeOptions(args));
    node.on('message', onMessage);
    t0 = now();
    await node.start();
    const startMs = now() - t0;
    while (distinct < count && now() - t0 < budgetMs) await sleep(20);
    const waitedMs = now() - t0;
    await sleep(settleMs);
    node.off('message', onMessage);
    const missingSeqs: number[] = [];
    for (let i = 0; i < count && missingSeqs.length < 20; i++) if (seen[i] === 0) missingSeqs.push(i);
    return {
      startMs,
      firstMs,
      allMs,
      lastMs,
      waitedMs,
      events,
      distinct,
      duplicates,
      missing: count - distinct,
      missingSeqs,
      outOfOrder,
      stale,
      foreign,
      complete: distinct === count,
    };
  },

  /** Problems of the node seen outside any command (see `staleTimer`). */
  async problems() {
    return { staleFetchTimerErrors: staleTimer.count, firstStack: staleTimer.firstStack };
  },

  async exit() {
    await node?.stop();
    node = undefined;
    return null;
  },
};

serveCommands(handlers, 'exit');
