/**
 * A child process of the scale benchmark (scripts/bench/scale.ts), driven over IPC:
 *
 * - mesh part: a share of the N hosts (`seed`, `join`, `routing`, `publish`, `lookup`, `rss`), and
 *   optionally one of the two full nodes timed to the first delivered message (`recipient`, `sender`);
 * - sessions part: the receiving full node (`recipient`, `refresh`, `mark`), or a sender host that
 *   speaks `/sotto/msg/1.0.0` for many identities of its own (`identities`, `prepare`, `blast`): each
 *   identity has its record in the directory bound to this host, its own PQXDH session with the
 *   recipient, and its messages are encrypted by the project's Session and sent as the node sends
 *   them (one pipelined envelope stream per peer, ≤ MAX_UNACKED_ENVELOPES unacknowledged).
 *
 * 127.0.0.1 only; every loop is bounded in count and time.
 */
import '../../../src/net/shim.js';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromMultihash } from '@libp2p/peer-id';
import { decode as decodeMultihash } from 'multiformats/hashes/digest';
import { fromHex, toHex } from '../../../src/crypto/bytes.js';
import { type CryptoEnv, createEnv } from '../../../src/crypto/env.js';
import { generateIdentity, type IdentityKeyPair } from '../../../src/crypto/keys.js';
import { initiateSession } from '../../../src/crypto/pqxdh.js';
import { nodeProviderReady } from '../../../src/crypto/provider-node.js';
import type { Session } from '../../../src/crypto/session.js';
import {
  bundleFromRecord,
  type IdentityRecord,
  recordKey,
  validateRecordBytes,
} from '../../../src/directory/record.js';
import { decodeAddress, encodeAddress } from '../../../src/identity/address.js';
import { getRecord, putRecord, type SottoHost } from '../../../src/net/index.js';
import { encodeText } from '../../../src/node/content.js';
import { HANDSHAKE_BURST, type SottoNode } from '../../../src/node/node.js';
import {
  AckStatus,
  type EnvelopeStream,
  MAX_ENVELOPES_PER_STREAM,
  MAX_UNACKED_ENVELOPES,
  openEnvelopeStream,
} from '../../../src/protocols/message/index.js';
import { errorMessage } from '../lib.js';
import {
  connectionCounts,
  hostAddress,
  identityRecordBytes,
  joinHosts,
  lookupRecords,
  mapLimit,
  newDhtTrace,
  newMeshHost,
  publishRecords,
  senderFirstAndFollow,
  settledRss,
  startRecipient,
  stopAll,
  waitMeshRouting,
  withLoad,
} from '../mesh.js';
import { type CommandHandler, serveCommands } from '../rpc.js';

type Args = Record<string, unknown>;
/**
 * DHT puts / lookups in flight per host while setting up the sessions part (--setup-concurrency).
 * At 32, with yamux's default `maxEarlyStreams` (10), a host opened more streams on a new
 * connection than the other side would buffer before listening, and that side aborted the muxer
 * (MaxEarlyStreamsError) while the socket stayed open: once, half the first messages then failed
 * with `ConnectionClosedError: The connection muxer is "closed"` (BENCHMARKS.md, Scale, "N = 200
 * and the directory"). sotto's hosts now allow YAMUX_MAX_EARLY_STREAMS (80); the published runs
 * kept 8 in flight, so their figures stay comparable.
 */
const SETUP_CONCURRENCY = 8;
const now = () => performance.now();
/** `setupConcurrency` of a command (the bench's --setup-concurrency), SETUP_CONCURRENCY by default. */
const setupConcurrency = (a: Args): number =>
  typeof a.setupConcurrency === 'number' && a.setupConcurrency >= 1 ? a.setupConcurrency : SETUP_CONCURRENCY;
/** Connection closes seen by the hosts of this process: by direction and whether the remote or we ended it. */
const connectionCloses: Record<string, number> = {};
/**
 * Counts what ends a connection or its stream muxer, by wrapping the yamux muxer's `abort`, `close`
 * and `handleGoAway` (private to yamux; read only when present): a muxer that received a GoAway is
 * closed while the TCP connection stays open, and libp2p keeps offering that connection.
 */
/** GoAway frames this process's yamux muxers sent, by reason and the call stack that sent them. */
const goAwaysSent: Record<string, number> = {};
let goAwayPatched = false;

/**
 * Patches the yamux muxer class (reached through a live muxer: the package does not export it) so
 * that every GoAway this process sends is counted with its stack, including those of connections
 * closed before libp2p announced them.
 */
function watchGoAways(m: object): void {
  if (goAwayPatched) return;
  const proto = Object.getPrototypeOf(m) as Record<string, unknown>;
  const original = proto.sendGoAway;
  if (typeof original !== 'function') return;
  goAwayPatched = true;
  // Experiment only (SOTTO_BENCH_MAX_EARLY_STREAMS, set by hand): raise yamux's maxEarlyStreams
  // (streams a peer may open before libp2p listens on the new connection; yamux's default was 10,
  // sotto's hosts now use YAMUX_MAX_EARLY_STREAMS) for this process's later muxers, to check that
  // GoAways are that limit. Never set in the published runs.
  const early = Number(process.env.SOTTO_BENCH_MAX_EARLY_STREAMS ?? '');
  const onRemote = Object.getPrototypeOf(proto).onRemoteStream;
  if (Number.isInteger(early) && early > 0 && typeof onRemote === 'function') {
    Object.getPrototypeOf(proto).onRemoteStream = function (this: { maxEarlyStreams: number }, ...a: unknown[]) {
      this.maxEarlyStreams = Math.max(this.maxEarlyStreams, early);
      return (onRemote as (...x: unknown[]) => unknown).apply(this, a);
    };
  }
  proto.sendGoAway = function (this: unknown, reason?: number, ...rest: unknown[]) {
    const frames = (new Error().stack ?? '')
      .split('\n')
      .slice(2)
      .filter((l) => !l.includes('node:internal'))
      .slice(0, 6)
      .map((l) =>
        l
          .trim()
          .replace(/\(?\/\S*\/node_modules\//, '(')
          .replace(/:\d+:\d+\)?$/, ''),
      )
      .join(' < ');
    const key = `GoAway ${['NormalTermination', 'ProtocolError', 'InternalError'][Number(reason ?? 0)] ?? reason}: ${frames}`;
    goAwaysSent[key] = (goAwaysSent[key] ?? 0) + 1;
    return (original as (...a: unknown[]) => unknown).call(this, reason, ...rest);
  };
}

function watchMuxer(c: { direction: string; remotePeer: PeerId }, local: string): void {
  const m = (c as unknown as { muxer?: Record<string, unknown> }).muxer;
  if (!m) return;
  watchGoAways(m);
  const count = (k: string) => {
    const key = `${local} ${c.direction} ${c.remotePeer.toString().slice(-6)}: ${k}`;
    connectionCloses[key] = (connectionCloses[key] ?? 0) + 1;
  };
  const wrap = (name: string, describe: (args: unknown[]) => string) => {
    const original = m[name];
    if (typeof original !== 'function') return;
    m[name] = function (this: unknown, ...args: unknown[]) {
      if ((m as { status?: string }).status === 'open') count(describe(args));
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  };
  wrap(
    'handleGoAway',
    (a) => `muxer got GoAway ${['NormalTermination', 'ProtocolError', 'InternalError'][Number(a[0])] ?? a[0]}`,
  );
  wrap('abort', (a) => {
    const e = a[0] as Error | undefined;
    return `muxer aborted here: ${e?.name}: ${String(e?.message).slice(0, 80)}`;
  });
  wrap('close', () => 'muxer closed here');
}

function watchConnections(host: SottoHost): void {
  host.addEventListener('connection:open', (evt) => {
    const c = evt.detail;
    watchMuxer(c, host.peerId.toString().slice(-6));
    c.addEventListener(
      'close',
      (e) => {
        const ev = e as Event & { local?: boolean; error?: Error };
        const k = `${c.direction} connection closed by ${ev.local ? 'us' : 'the remote'}${ev.error ? `: ${ev.error.name}: ${String(ev.error.message).slice(0, 80)}` : ''}`;
        connectionCloses[k] = (connectionCloses[k] ?? 0) + 1;
      },
      { once: true },
    );
  });
}
const num = (a: Args, k: string): number => {
  const v = a[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`argument ${k} must be a number`);
  return v;
};
const str = (a: Args, k: string): string => {
  const v = a[k];
  if (typeof v !== 'string') throw new Error(`argument ${k} must be a string`);
  return v;
};

await nodeProviderReady;
const env: CryptoEnv = createEnv();
const hosts: SottoHost[] = [];
const nodes: SottoNode[] = [];
const rssBase = await settledRss();
let ownKeys = new Set<string>();
/** What this process's mesh hosts' DHT puts and gets did (mesh part). */
const trace = newDhtTrace();
let received = 0;

// Sessions part: identities of this sender process, their hosts, and their sessions with the recipient.

/**
 * Identities per sender host: the recipient admits HANDSHAKE_BURST new sessions per peer at once,
 * then one per HANDSHAKE_REFILL_MS (src/node/node.ts), so a host with more identities would have
 * all but the first 16 of their first messages refused (`rate-limited`) and the benchmark would
 * measure that limit. A sotto node hosts one identity; 16 per host keeps the host count (and the
 * set-up) of S = 1000 at 64 (32 per sender process).
 */
const IDENTITIES_PER_HOST = HANDSHAKE_BURST;

/** One sender host: its identities and its pipelined envelope stream to the recipient. */
interface SenderHost {
  host: SottoHost;
  stream?: EnvelopeStream;
  opening?: Promise<EnvelopeStream>;
}
interface Sender {
  identity: IdentityKeyPair;
  via: SenderHost;
  session?: Session;
}
const senderHosts: SenderHost[] = [];
const senders: Sender[] = [];
let recipient: { key: Uint8Array; peer: PeerId; record: IdentityRecord } | undefined;

/** `via`'s stream to the recipient; one is opened at a time, a new one when it is used up or failed. */
async function envelopeStream(via: SenderHost): Promise<EnvelopeStream> {
  if (!recipient) throw new Error('prepare first');
  if (via.stream?.usable && via.stream.used < MAX_ENVELOPES_PER_STREAM) return via.stream;
  if (via.opening === undefined) {
    const old = via.stream;
    via.opening = openEnvelopeStream(via.host, recipient.peer, { timeout: 15_000 }).finally(() => {
      via.opening = undefined;
    });
    via.stream = await via.opening;
    void old?.close({ signal: AbortSignal.timeout(1000) }).catch(() => {});
    return via.stream;
  }
  return via.opening;
}

/** Attempts per envelope: a connection closed under us (e.g. a ping timeout on a loaded machine) is redialled once. */
const SEND_ATTEMPTS = 3;

/** Encrypts one text for `s` and sends it (the same envelope again after a failure); true when acked stored. */
async function sendOne(s: Sender, text: Uint8Array): Promise<boolean> {
  if (!recipient || !s.session) throw new Error('prepare first');
  const envelope = {
    id: env.rng(16),
    sender: s.identity.signingKey,
    recipient: recipient.key,
    timestamp: Date.now(),
    body: s.session.encrypt(text),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const ack = await (await envelopeStream(s.via)).send(envelope, { timeout: 15_000 });
      return ack.status === AckStatus.STORED || ack.status === AckStatus.DUPLICATE;
    } catch (err) {
      if (attempt >= SEND_ATTEMPTS) throw err;
      // Drop the connection, so that the next stream redials instead of reusing it: not only when our
      // stream died, also when opening one failed. A connection whose yamux muxer got a GoAway stays
      // "open" to libp2p (the TCP socket is up) and every new stream on it fails with
      // `ConnectionClosedError: The connection muxer is "closed"`: seen at S = 100 with 32 directory
      // operations in flight (BENCHMARKS.md, Scale), where the retries kept reusing it.
      if (s.via.opening === undefined) {
        s.via.stream = undefined;
        await s.via.host.hangUp(recipient.peer).catch(() => {});
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const handlers: Record<string, CommandHandler> = {
  async seed() {
    const host = await newMeshHost(env, [], trace);
    hosts.push(host);
    watchConnections(host);
    return { multiaddr: hostAddress(host) };
  },
  async join(a) {
    const t0 = now();
    await joinHosts(
      env,
      num(a, 'count'),
      str(a, 'seed'),
      hosts,
      num(a, 'concurrency'),
      now() + num(a, 'budgetMs'),
      trace,
    );
    return { ms: now() - t0, hosts: hosts.length };
  },
  async routing(a) {
    return waitMeshRouting(
      hosts,
      a.seedTarget === undefined ? undefined : hosts[0],
      Number(a.seedTarget ?? 2),
      num(a, 'budgetMs'),
    );
  },
  async publish(a) {
    const count = Math.min(hosts.length, num(a, 'records'));
    const indices = Array.from({ length: count }, (_, i) => Math.floor((i * hosts.length) / count));
    const { value: pub, load } = await withLoad(() => publishRecords(env, hosts, indices));
    ownKeys = new Set(pub.keys.map(toHex));
    return {
      keys: pub.keys.map(toHex),
      times: pub.times,
      accepted: pub.accepted,
      failures: pub.failures,
      load,
      connections: connectionCounts(hosts),
    };
  },
  async lookup(a) {
    const keys = (a.keys as string[]).map(fromHex);
    // keys published by this process's own hosts are not looked up from here
    const others = keys.filter((k) => !ownKeys.has(toHex(k)));
    const { value, load } = await withLoad(() =>
      lookupRecords(
        env,
        hosts,
        others,
        others.map(() => -1),
        { count: num(a, 'count'), budgetMs: num(a, 'budgetMs'), timeoutMs: num(a, 'timeoutMs'), seed: num(a, 'seed') },
      ),
    );
    return { ...value, load, connections: connectionCounts(hosts) };
  },
  /** This process's DHT trace (see traceDht). */
  async trace() {
    return trace;
  },
  async rss() {
    return { base: rssBase, now: await settledRss() };
  },
  async recipient(a) {
    const r = await startRecipient(str(a, 'dataDir'), str(a, 'seed'));
    nodes.push(r.node);
    // the node's own host (a private getter): its connection closes are counted for the report
    const own = (r.node as unknown as { running?: { host?: SottoHost } }).running?.host;
    if (own) watchConnections(own);
    r.node.on('message', () => {
      received++;
    });
    return { address: r.node.address, readyMs: r.readyMs };
  },
  async sender(a) {
    return senderFirstAndFollow(
      str(a, 'dataDir'),
      str(a, 'seed'),
      str(a, 'to'),
      num(a, 'size'),
      num(a, 'followUps'),
      num(a, 'budgetMs'),
      nodes,
    );
  },
  /** The recipient looks up each sender identity once (its own lookups are not rate-limited). */
  async refresh(a) {
    const node = nodes[0];
    if (!node) throw new Error('no recipient here');
    const errors: Record<string, number> = {};
    let ok = 0;
    const found: string[] = [];
    const t0 = now();
    await mapLimit(a.addresses as string[], setupConcurrency(a), async (address) => {
      try {
        await node.refresh(address);
        found.push(address);
        ok++;
      } catch (err) {
        const k = errorMessage(err);
        errors[k] = (errors[k] ?? 0) + 1;
      }
    });
    return { ok, found, errors, ms: now() - t0 };
  },
  /** Connection closes seen by this process's hosts, and the recipient's ban list. */
  async netstat() {
    const node = nodes[0];
    const status = node ? await node.status() : undefined;
    return {
      // the last 6 characters of this process's peer ids, as the close counts name peers
      self: [...hosts.map((h) => h.peerId.toString()), ...(node ? [node.peerId] : [])].map((p) => p.slice(-6)),
      closes: connectionCloses,
      goAwaysSent,
      peers: status?.peers,
      bansTotal: status?.bansTotal,
      banned: status?.banned.map((b) => ({ reason: b.reason })),
      connections: hosts[0]?.getConnections().length,
    };
  },
  async mark() {
    return { count: received, t: now() };
  },
  /**
   * `count` identities on ⌈count / IDENTITIES_PER_HOST⌉ sender hosts of this process, each with its
   * record bound to its host.
   */
  async identities(a) {
    const count = num(a, 'count');
    const t0 = now();
    const wanted = Math.ceil(count / IDENTITIES_PER_HOST);
    const joined: SottoHost[] = [];
    try {
      // DHT clients: 64 hosts serving the DHT (routing upkeep, queries) on 2 cores stalled the set-up of
      // S = 1000; they only need to store their identities' records and reach the recipient
      await joinHosts(
        env,
        wanted,
        str(a, 'seed'),
        joined,
        setupConcurrency(a),
        now() + num(a, 'budgetMs'),
        undefined,
        'client',
      );
    } finally {
      hosts.push(...joined);
    }
    for (const host of joined) {
      watchConnections(host);
      senderHosts.push({ host });
    }
    const fresh = Array.from(
      { length: count },
      (_, i) =>
        ({
          identity: generateIdentity(env),
          via: senderHosts[Math.floor(i / IDENTITIES_PER_HOST)] as SenderHost,
        }) as Sender,
    );
    let failures = 0;
    await mapLimit(fresh, setupConcurrency(a), async (s) => {
      const bytes = identityRecordBytes(env, s.identity, s.via.host.peerId.toMultihash().bytes);
      try {
        const r = await putRecord(s.via.host, recordKey(s.identity.signingKey), bytes, { timeoutMs: 15_000 });
        if (r.accepted === 0) failures++;
      } catch {
        failures++;
      }
    });
    senders.push(...fresh);
    return {
      addresses: fresh.map((s) => encodeAddress(s.identity.signingKey)),
      failures,
      hosts: joined.length,
      ms: now() - t0,
    };
  },
  /**
   * Looks up the recipient, keeps the identities the recipient found (`known`), opens a session per
   * identity (PQXDH) and sends one first message each.
   */
  async prepare(a) {
    const host = senderHosts[0]?.host;
    if (!host) throw new Error('identities first');
    const key = decodeAddress(str(a, 'to'));
    const r = await getRecord(host, recordKey(key), { timeoutMs: 15_000 });
    const record = validateRecordBytes(env.provider, recordKey(key), r.value, Date.now());
    const device = record.devices[0];
    if (!device) throw new Error('recipient has no device');
    recipient = { key, peer: peerIdFromMultihash(decodeMultihash(device.peerId)), record };
    // Only identities the recipient could look up take part: the others would be refused (and a
    // peer sending refused envelopes at a high rate gets its connection closed).
    const known = new Set(a.known as string[]);
    for (let i = senders.length - 1; i >= 0; i--) {
      if (!known.has(encodeAddress(senders[i]!.identity.signingKey))) senders.splice(i, 1);
    }
    const text = encodeText('x'.repeat(num(a, 'size')));
    let ok = 0;
    const errors: Record<string, number> = {};
    const t0 = now();
    await mapLimit(senders, MAX_UNACKED_ENVELOPES, async (s) => {
      if (s.session === undefined) {
        s.session = initiateSession(env, {
          identity: s.identity,
          bundle: bundleFromRecord(record),
          context: { initiator: s.via.host.peerId.toString(), responder: recipient!.peer.toString() },
        });
      }
      try {
        if (await sendOne(s, text)) ok++;
        else errors['not stored'] = (errors['not stored'] ?? 0) + 1;
      } catch (err) {
        const k = errorMessage(err);
        errors[k] = (errors[k] ?? 0) + 1;
      }
    });
    return { ok, of: senders.length, ms: now() - t0, errors };
  },
  /**
   * Sends for `ms` (or `max` messages): round robin over this host's identities, `window` envelopes
   * in flight on the pipelined stream.
   */
  async blast(a) {
    const text = encodeText('x'.repeat(num(a, 'size')));
    const ms = num(a, 'ms');
    const max = num(a, 'max');
    const window = Math.min(num(a, 'window'), MAX_UNACKED_ENVELOPES);
    let next = 0;
    let acked = 0;
    let failed = 0;
    const errors: Record<string, number> = {};
    const t0 = now();
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (now() - t0 < ms && next < max) {
          const s = senders[next++ % senders.length]!;
          try {
            if (await sendOne(s, text)) acked++;
            else failed++;
          } catch (err) {
            failed++;
            const k = errorMessage(err);
            errors[k] = (errors[k] ?? 0) + 1;
          }
        }
      }),
    );
    return { acked, failed, errors, ms: now() - t0 };
  },
  async stop() {
    await Promise.all(
      senderHosts.map((via) => via.stream?.close({ signal: AbortSignal.timeout(1000) }).catch(() => {})),
    );
    await stopAll(nodes, hosts);
    return null;
  },
};

serveCommands(handlers);
