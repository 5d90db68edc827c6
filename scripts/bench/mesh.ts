/**
 * N sotto hosts on loopback: the directory (DHT) part shared by the node benchmark (`node.ts`, one
 * process) and the scale benchmark (`scale.ts`, one process or several child processes).
 *
 * Hosts are built with sotto's own `createHost` (the node's transport and DHT configuration) and join
 * by bootstrapping from node 0, a few at a time (see MESH_JOIN_CONCURRENCY); identity records are
 * signed exactly as `publishRecord()` signs them and stored with `putRecord`; lookups are `getRecord`
 * calls validated like the node validates them. Two full sotto nodes (createNode) then join the same
 * network to time start() → first delivered message and the warm end-to-end latency.
 */

import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import '../../src/net/shim.js';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { toHex } from '../../src/crypto/bytes.js';
import type { CryptoEnv } from '../../src/crypto/env.js';
import {
  generateIdentity,
  generateKemPrekey,
  generateSignedPrekey,
  type IdentityKeyPair,
} from '../../src/crypto/keys.js';
import { identityRecordRules } from '../../src/directory/dht-rules.js';
import {
  createIdentityRecord,
  encodeIdentityRecord,
  recordKey,
  validateRecordBytes,
} from '../../src/directory/record.js';
import { createDeviceBinding } from '../../src/identity/device-binding.js';
import { DEFAULT_PUT_TIMEOUT_MS } from '../../src/net/dht.js';
import {
  createHost,
  getRecord,
  parseNetConfig,
  putRecord,
  routingTableSize,
  type SottoHost,
  waitForDhtPeer,
} from '../../src/net/index.js';
import { createNode, type SottoNode } from '../../src/node/node.js';
import { errorMessage, percentile, seededRandom, summarize } from './lib.js';
import { withTimeout } from './rpc.js';

/** Hosts joining one process's mesh at once (BENCHMARKS.md, "The 100-node mesh": unpaced joins starve). */
export const MESH_JOIN_CONCURRENCY = 5;
/** Longest wait for a joining host's first DHT peer before the next one starts. */
export const MESH_JOIN_WAIT_MS = 15_000;
/** Largest N in one process on this 2-core machine (issue 8: up to 200 in-process). */
export const MAX_MESH_NODES = 200;
/** Records stored with putRecord at once. */
export const PUBLISH_CONCURRENCY = 5;
/** Bound of each put: the one `publishRecord()` uses (putRecord's default), so a put fails here only when it would fail for a node. */
export const MESH_PUT_TIMEOUT_MS = DEFAULT_PUT_TIMEOUT_MS;
/** Routing-table wait after the joins: node 0 knows every node, every node knows ≥ 2. */
export const ROUTING_BUDGET_MS = 30_000;

const now = () => performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export { percentile };

/** Runs `fn` over `items` with at most `limit` calls in flight; results in item order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (x: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** V8's gc(), when the flag can be set at run time. */
export const gc: (() => void) | undefined = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();

/** RSS after forced garbage collections (when gc is available). */
export async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(50);
  }
  return process.memoryUsage().rss;
}

/** Waits until a full node has a DHT peer. */
export async function waitRouting(node: SottoNode, timeoutMs: number): Promise<void> {
  const t0 = now();
  while ((await node.status()).routingTable < 1) {
    if (now() - t0 > timeoutMs) throw new Error(`no DHT peer after ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** A host's TCP multiaddr including its /p2p/ part. */
export function hostAddress(host: SottoHost): string {
  const addr = host.getMultiaddrs().find((m) => m.toString().includes('/tcp/'));
  if (!addr) throw new Error('host has no TCP address');
  return addr.toString().includes('/p2p/') ? addr.toString() : `${addr}/p2p/${host.peerId}`;
}

/**
 * What the DHT calls of a set of hosts did, counted by wrapping each host's kad-dht `put` and `get`
 * (the iterables sotto's putRecord / getRecord consume; events pass through unchanged). Used to
 * tell a slow lookup phase from refused stores, and to name the errors kad-dht met on the way.
 */
export interface DhtTrace {
  /** Per put: FIND_NODE requests sent before the first PUT_VALUE (the closest-peers lookup). */
  putLookupRequests: number[];
  /** Per put: ms from the call to the first PUT_VALUE sent (NaN when none was sent). */
  putLookupMs: number[];
  /** Per put: PUT_VALUE requests sent. */
  putValueSends: number[];
  /** Per get: requests sent (GET_VALUE and FIND_NODE). */
  getRequests: number[];
  /** Per getClosestPeers called on the DHT service (the joins' self-lookups): FIND_NODE requests sent. */
  closestRequests: number[];
  /** Per getClosestPeers: ms until it ended. */
  closestMs: number[];
  /** QUERY_ERROR events by `op: error name: message` (message cut to 80 characters). */
  errors: Record<string, number>;
}

export function newDhtTrace(): DhtTrace {
  return {
    putLookupRequests: [],
    putLookupMs: [],
    putValueSends: [],
    getRequests: [],
    closestRequests: [],
    closestMs: [],
    errors: {},
  };
}

type QueryEventLike = { name: string; messageName?: string; error?: { name?: string; message?: string } };

/** Wraps `host`'s kad-dht put/get so that `trace` counts what they do. */
export function traceDht(host: SottoHost, trace: DhtTrace): void {
  const dht = host.services.dht as unknown as Record<
    'put' | 'get' | 'getClosestPeers',
    (...args: unknown[]) => AsyncIterable<unknown>
  >;
  for (const op of ['put', 'get', 'getClosestPeers'] as const) {
    const original = dht[op].bind(dht);
    dht[op] = async function* traced(...args: unknown[]) {
      const t0 = now();
      let lookups = 0;
      let puts = 0;
      let firstPut = Number.NaN;
      try {
        for await (const raw of original(...args)) {
          const event = raw as QueryEventLike;
          if (event.name === 'SEND_QUERY') {
            if (event.messageName === 'PUT_VALUE') {
              if (puts++ === 0) firstPut = now() - t0;
            } else if (puts === 0) lookups++;
          } else if (event.name === 'QUERY_ERROR') {
            const k = `${op}: ${event.error?.name ?? 'Error'}: ${String(event.error?.message ?? '').slice(0, 80)}`;
            trace.errors[k] = (trace.errors[k] ?? 0) + 1;
          }
          yield raw;
        }
      } finally {
        if (op === 'put') {
          trace.putLookupRequests.push(lookups);
          trace.putLookupMs.push(firstPut);
          trace.putValueSends.push(puts);
        } else if (op === 'get') trace.getRequests.push(lookups);
        else {
          trace.closestRequests.push(lookups);
          trace.closestMs.push(now() - t0);
        }
      }
    };
  }
}

export interface PhaseLoad {
  /** Event-loop delay of this process during the phase, ms (perf_hooks histogram, 10 ms resolution). */
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  /** CPU time of this process ÷ wall time of the phase (1 = one core busy). */
  cpu: number;
  ms: number;
}

/** Runs `fn` and measures this process's event-loop delay and CPU use meanwhile. */
export async function withLoad<T>(fn: () => Promise<T>): Promise<{ value: T; load: PhaseLoad }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const c0 = process.cpuUsage();
  const t0 = now();
  try {
    const value = await fn();
    const ms = now() - t0;
    const c = process.cpuUsage(c0);
    return {
      value,
      load: {
        loopP50Ms: h.percentile(50) / 1e6,
        loopP99Ms: h.percentile(99) / 1e6,
        loopMaxMs: h.max / 1e6,
        cpu: (c.user + c.system) / 1000 / ms,
        ms,
      },
    };
  } finally {
    h.disable();
  }
}

/** Where the time of an N went: per process (one entry in one process), plus the merged DHT trace. */
export interface MeshDiag {
  publishLoad: PhaseLoad[];
  lookupLoad: PhaseLoad[];
  /** Connections per host after the puts and after the lookups, per process. */
  connectionsAfterPublish: { median: number; max: number }[];
  connectionsAfterLookups: { median: number; max: number }[];
  trace: DhtTrace;
}

/** One line (or a few) naming where the DHT time went, for the log and the report. */
export function describeDiag(d: MeshDiag): string[] {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
  const loads = (l: readonly PhaseLoad[]) =>
    l.map((x) => `loop p99 ${f(x.loopP99Ms)} ms (max ${f(x.loopMaxMs)}), CPU ${(x.cpu * 100).toFixed(0)}%`).join('; ');
  const t = d.trace;
  const sent = t.putLookupMs.filter(Number.isFinite);
  const errors = Object.entries(t.errors)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([k, v]) => `\`${k}\` ×${v}`)
    .join(', ');
  return [
    `puts: closest-peers lookup ${f(percentile(t.putLookupRequests, 0.5))} FIND_NODE requests p50 (max ${f(percentile(t.putLookupRequests, 1))}), reached the PUT_VALUE phase in ${sent.length} of ${t.putLookupMs.length} puts after ${f(percentile(sent, 0.5))} ms p50; gets: ${f(percentile(t.getRequests, 0.5))} requests p50 (max ${f(percentile(t.getRequests, 1))}, ${t.getRequests.length} gets)`,
    `self-lookups (getClosestPeers on the DHT service, mostly the joins'): ${(t.closestRequests ?? []).length}, ${f(percentile(t.closestRequests ?? [], 0.5))} FIND_NODE requests p50 (max ${f(percentile(t.closestRequests ?? [], 1))}), ${f(percentile(t.closestMs ?? [], 0.5))} ms p50`,
    `per process during the puts: ${loads(d.publishLoad)}; during the lookups: ${loads(d.lookupLoad)}`,
    `connections per host (median / max) after the puts: ${d.connectionsAfterPublish.map((c) => `${c.median} / ${c.max}`).join(', ')}; after the lookups: ${d.connectionsAfterLookups.map((c) => `${c.median} / ${c.max}`).join(', ')}`,
    `kad-dht query errors: ${errors || 'none'}`,
  ];
}

/** Sums traces of several processes. */
export function mergeTraces(traces: readonly DhtTrace[]): DhtTrace {
  const out = newDhtTrace();
  for (const t of traces) {
    out.putLookupRequests.push(...t.putLookupRequests);
    out.putLookupMs.push(...t.putLookupMs);
    out.putValueSends.push(...t.putValueSends);
    out.getRequests.push(...t.getRequests);
    out.closestRequests.push(...t.closestRequests);
    out.closestMs.push(...t.closestMs);
    for (const [k, v] of Object.entries(t.errors)) out.errors[k] = (out.errors[k] ?? 0) + v;
  }
  return out;
}

/** Connections per host: median and max (`getConnections()`, both directions). */
export function connectionCounts(hosts: readonly SottoHost[]): { median: number; max: number } {
  const c = hosts.map((h) => h.getConnections().length);
  return { median: percentile(c, 0.5), max: percentile(c, 1) };
}

/**
 * Experiment only (never in the published figures unless the page says so): kad-dht query
 * parallelism for the mesh hosts, from SOTTO_BENCH_KAD="alpha,disjointPaths" (scale.ts sets it from
 * --kad-experiment). sotto's createHost leaves both at kad-dht's defaults (alpha 10, disjoint paths
 * = alpha); this patches each new host's query manager after creation, to measure what a smaller
 * setting would change before proposing it for src/net/host.ts.
 */
export function kadExperiment(): { alpha: number; paths: number } | undefined {
  const v = process.env.SOTTO_BENCH_KAD;
  if (!v) return undefined;
  const [alpha, paths] = v.split(',').map(Number);
  if (!Number.isInteger(alpha) || !Number.isInteger(paths) || alpha! < 1 || paths! < 1 || alpha! > 20 || paths! > 20)
    throw new Error('SOTTO_BENCH_KAD must be "alpha,paths" (1..20 each)');
  return { alpha: alpha!, paths: paths! };
}

function applyKadExperiment(host: SottoHost): void {
  const kad = kadExperiment();
  if (!kad) return;
  const qm = (host.services.dht as unknown as { queryManager?: { alpha: number; disjointPaths: number } }).queryManager;
  if (!qm || typeof qm.alpha !== 'number' || typeof qm.disjointPaths !== 'number')
    throw new Error('kad-dht query manager not reachable: cannot run the kad experiment');
  qm.alpha = kad.alpha;
  qm.disjointPaths = kad.paths;
}

/** A libp2p host with sotto's configuration on 127.0.0.1. */
export async function newMeshHost(
  env: CryptoEnv,
  bootstrap: string[],
  trace?: DhtTrace,
  dhtMode: 'server' | 'client' = 'server',
): Promise<SottoHost> {
  const host = await createHost({
    privateKey: await generateKeyPair('Ed25519'),
    config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, dhtMode }),
    dht: identityRecordRules(env.provider, Date.now),
  });
  if (trace) traceDht(host, trace);
  applyKadExperiment(host);
  return host;
}

/**
 * Starts `count` hosts bootstrapping from `seed`, `concurrency` at a time, each counted as started
 * once it has a DHT peer (bounded by MESH_JOIN_WAIT_MS). Started hosts are pushed into `into` as they
 * come, so the caller can stop them after a failure. Throws when `deadline` (performance.now()) passes.
 */
export async function joinHosts(
  env: CryptoEnv,
  count: number,
  seed: string,
  into: SottoHost[],
  concurrency: number,
  deadline: number,
  trace?: DhtTrace,
  dhtMode: 'server' | 'client' = 'server',
): Promise<void> {
  let joined = 0;
  await mapLimit(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async () => {
      if (now() > deadline) throw new Error(`time budget ran out after ${joined} of ${count} joins`);
      const host = await newMeshHost(env, [seed], trace, dhtMode);
      into.push(host);
      await waitForDhtPeer(host, MESH_JOIN_WAIT_MS);
      joined++;
    },
  );
}

/** Waits (≤ budgetMs) until `seed` (if given) knows `seedTarget` peers and every host knows ≥ 2. */
export async function waitMeshRouting(
  hosts: readonly SottoHost[],
  seed: SottoHost | undefined,
  seedTarget: number,
  budgetMs: number,
): Promise<{ ms: number; complete: boolean }> {
  const t1 = now();
  while (now() - t1 < budgetMs) {
    if (
      (seed === undefined || routingTableSize(seed) >= seedTarget) &&
      hosts.every((h) => routingTableSize(h) >= Math.min(2, seedTarget))
    ) {
      return { ms: now() - t1, complete: true };
    }
    await sleep(50);
  }
  return { ms: now() - t1, complete: false };
}

/** An identity record bound to `peer`, built exactly as createNode.publishRecord builds it. */
export function identityRecordBytes(env: CryptoEnv, identity: IdentityKeyPair, peer: Uint8Array): Uint8Array {
  const ts = Date.now();
  const signed = generateSignedPrekey(env, identity, 1);
  const kem = generateKemPrekey(env, identity, 1);
  const record = createIdentityRecord(env, identity, {
    signedPrekey: { id: signed.id, publicKey: signed.publicKey, signature: signed.signature },
    kemPrekey: { id: kem.id, publicKey: kem.publicKey, signature: kem.signature },
    devices: [createDeviceBinding(env.provider, identity, peer, ts)],
    mailboxes: [],
    sequence: ts,
    expiresAt: ts + 24 * 60 * 60 * 1000,
  });
  return encodeIdentityRecord(record);
}

export interface PublishOutcome {
  /** Signing keys of the identities whose records were stored on at least one peer. */
  keys: Uint8Array[];
  /** Index (in `hosts`) of the host each key's record is bound to. */
  owners: number[];
  times: number[];
  accepted: number[];
  failures: number;
}

/** One identity record per host for the hosts at `indices`, stored with putRecord. */
export async function publishRecords(
  env: CryptoEnv,
  hosts: readonly SottoHost[],
  indices: readonly number[],
): Promise<PublishOutcome> {
  const out: PublishOutcome = { keys: [], owners: [], times: [], accepted: [], failures: 0 };
  await mapLimit(indices, PUBLISH_CONCURRENCY, async (i) => {
    const host = hosts[i]!;
    const identity = generateIdentity(env);
    const bytes = identityRecordBytes(env, identity, host.peerId.toMultihash().bytes);
    const tp = now();
    try {
      const r = await putRecord(host, recordKey(identity.signingKey), bytes, { timeoutMs: MESH_PUT_TIMEOUT_MS });
      out.times.push(now() - tp);
      out.accepted.push(r.accepted);
      if (r.accepted === 0) out.failures++;
      else {
        out.keys.push(identity.signingKey);
        out.owners.push(i);
      }
    } catch {
      out.failures++;
    }
  });
  return out;
}

export interface LookupOutcome {
  lookups: number;
  ok: number;
  times: number[];
  errors: Record<string, number>;
}

/**
 * `count` getRecord calls, one at a time (≤ budgetMs in all, timeoutMs each), from a random host of
 * `hosts` for a random key of `keys` whose owner is not that host (`owners[k]` is a host index, or -1
 * for a key held elsewhere); success = the right identity's valid record.
 */
export async function lookupRecords(
  env: CryptoEnv,
  hosts: readonly SottoHost[],
  keys: readonly Uint8Array[],
  owners: readonly number[],
  options: { count: number; budgetMs: number; timeoutMs: number; seed: number },
): Promise<LookupOutcome> {
  const random = seededRandom(options.seed);
  const out: LookupOutcome = { lookups: 0, ok: 0, times: [], errors: {} };
  if (keys.length === 0 || hosts.length === 0) return out;
  const tl = now();
  while (out.lookups < options.count && now() - tl < options.budgetMs) {
    const from = Math.floor(random() * hosts.length);
    let k = Math.floor(random() * keys.length);
    for (let tries = 0; owners[k] === from && tries < 8; tries++) k = Math.floor(random() * keys.length);
    if (owners[k] === from) continue;
    const target = keys[k]!;
    out.lookups++;
    const ts = now();
    try {
      const r = await getRecord(hosts[from]!, recordKey(target), { timeoutMs: options.timeoutMs });
      const rec = validateRecordBytes(env.provider, recordKey(target), r.value, Date.now());
      if (toHex(rec.identity.signingKey) !== toHex(target)) throw new Error('wrong identity');
      out.times.push(now() - ts);
      out.ok++;
    } catch (err) {
      const key = errorMessage(err);
      out.errors[key] = (out.errors[key] ?? 0) + 1;
    }
  }
  return out;
}

/** A full recipient node joining via `seed`: start, first DHT peer, publish. */
export async function startRecipient(dataDir: string, seed: string): Promise<{ node: SottoNode; readyMs: number }> {
  const tr = now();
  const node = createNode({ dataDir, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [seed] } });
  try {
    await node.start();
    await waitRouting(node, 15_000);
    await node.publishRecord();
  } catch (err) {
    await node.stop().catch(() => {});
    throw err;
  }
  return { node, readyMs: now() - tr };
}

export interface FirstMessage {
  recipientReadyMs: number;
  senderStartMs: number;
  senderRoutingMs: number;
  senderPublishMs: number;
  sendMs: number;
  totalMs: number;
  state: string;
}

export interface SenderOutcome {
  first: Omit<FirstMessage, 'recipientReadyMs'>;
  /** send() → delivered of the warm messages that followed, ms. */
  e2e: number[];
  e2eNotDelivered: number;
}

/**
 * A full sender node joining via `seed`, timed from start() through its first DHT peer and its own
 * publish (the recipient checks the sender's device binding) to its first send() to `to` resolving;
 * then `followUps` more messages one at a time (≤ followUpBudgetMs), each send() → delivered.
 */
export async function senderFirstAndFollow(
  dataDir: string,
  seed: string,
  to: string,
  size: number,
  followUps: number,
  followUpBudgetMs: number,
  keep: SottoNode[],
): Promise<SenderOutcome> {
  const ta = now();
  const alice = createNode({ dataDir, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [seed] } });
  keep.push(alice);
  await alice.start();
  const senderStartMs = now() - ta;
  await waitRouting(alice, 15_000);
  const senderRoutingMs = now() - ta - senderStartMs;
  const tp = now();
  await alice.publishRecord();
  const senderPublishMs = now() - tp;
  const tsend = now();
  const r = await alice.send(to, 'x'.repeat(size));
  const sendMs = now() - tsend;
  const first = { senderStartMs, senderRoutingMs, senderPublishMs, sendMs, totalMs: now() - ta, state: r.state };
  const e2e: number[] = [];
  let e2eNotDelivered = 0;
  const tf = now();
  for (let i = 0; i < followUps && now() - tf < followUpBudgetMs; i++) {
    const t = now();
    const s = await alice.send(to, 'y'.repeat(size));
    if (s.state === 'delivered') e2e.push(now() - t);
    else e2eNotDelivered++;
  }
  return { first, e2e, e2eNotDelivered };
}

export interface MeshOptions {
  lookups: number;
  lookupTimeoutMs: number;
  lookupBudgetMs: number;
  messageSize: number;
  /** Records published (one per host, the first hosts); default all N. */
  records?: number;
  /** Warm messages after the first one (end-to-end latency); default 0. */
  followUps?: number;
  followUpBudgetMs?: number;
  /** performance.now() after which the joins stop and the run fails; default none. */
  deadline?: number;
  log?: (msg: string) => void;
}

export interface MeshResult {
  nodes: number;
  startMs: number;
  routingWaitMs: number;
  routingComplete: boolean;
  routingTableMedian: number;
  /** Records published (one per host for that many hosts). */
  records?: number;
  publishMs: { p50: number; p99: number };
  publishAcceptedMedian: number;
  publishFailures: number;
  lookups: number;
  lookupOk: number;
  lookupMs: { p50: number; p99: number; max: number };
  lookupErrors: Record<string, number>;
  rssPerNodeMB: number;
  rssTotalDeltaMB: number;
  gcAvailable: boolean;
  firstMessage?: FirstMessage;
  firstMessageError?: string;
  /** Warm send() → delivered between the two full nodes, ms. */
  e2eMs?: { p50: number; p99: number; count: number; notDelivered: number };
  /** Wall time of this N, s. */
  wallSeconds?: number;
  /** Event-loop delay, CPU, connections and DHT trace of the publish and lookup phases. */
  diag?: MeshDiag;
  /** The run this N was measured in: its start (ISO) and the load average then (rows of merged reports differ). */
  measured?: { date: string; load: number[] };
  /** Load average (1/5/15 min) as this N began. */
  loadAtStart?: number[];
}

/** N hosts in this process: join, route, publish, look up, RSS, then two full nodes. */
export async function runMesh(n: number, root: string, env: CryptoEnv, options: MeshOptions): Promise<MeshResult> {
  const log = options.log ?? (() => {});
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const tw = now();
  const hosts: SottoHost[] = [];
  const extra: SottoNode[] = [];
  const rssBefore = await settledRss();
  try {
    const t0 = now();
    const trace = newDhtTrace();
    const seed = await newMeshHost(env, [], trace);
    hosts.push(seed);
    const seedStr = hostAddress(seed);
    // Joining at the pace one process can take: ≤ 5 hosts at a time, each counted as started once
    // it has a DHT peer (bounded), because every join runs Noise handshakes and a self-lookup on
    // this one thread; unpaced, 100 joins starve each other's handshakes into timeouts.
    await joinHosts(env, n - 1, seedStr, hosts, MESH_JOIN_CONCURRENCY, deadline, trace);
    const startMs = now() - t0;
    const routing = await waitMeshRouting(hosts, seed, n - 1, ROUTING_BUDGET_MS);
    const routingTableMedian = summarize(hosts.map(routingTableSize)).median;
    log(`  ${n} nodes started in ${startMs.toFixed(0)} ms, routing wait ${routing.ms.toFixed(0)} ms`);

    const records = Math.min(n, options.records ?? n);
    const { value: pub, load: publishLoad } = await withLoad(() =>
      publishRecords(
        env,
        hosts,
        Array.from({ length: records }, (_, i) => Math.floor((i * n) / records)),
      ),
    );
    const connectionsAfterPublish = connectionCounts(hosts);
    log(`  published ${pub.keys.length}/${records} records`);

    const { value: lk, load: lookupLoad } = await withLoad(() =>
      lookupRecords(env, hosts, pub.keys, pub.owners, {
        count: options.lookups,
        budgetMs: options.lookupBudgetMs,
        timeoutMs: options.lookupTimeoutMs,
        seed: 0x5077 + n,
      }),
    );
    const diag: MeshDiag = {
      publishLoad: [publishLoad],
      lookupLoad: [lookupLoad],
      connectionsAfterPublish: [connectionsAfterPublish],
      connectionsAfterLookups: [connectionCounts(hosts)],
      trace,
    };
    log(`  ${lk.ok}/${lk.lookups} lookups ok`);
    const rssAfter = await settledRss();

    // Time from start() to the first delivered message, one pair of full nodes joining this network.
    let firstMessage: FirstMessage | undefined;
    let firstMessageError: string | undefined;
    let e2eMs: MeshResult['e2eMs'];
    try {
      const bob = await startRecipient(join(root, `mesh${n}-bob`), seedStr);
      extra.push(bob.node);
      const s = await senderFirstAndFollow(
        join(root, `mesh${n}-alice`),
        seedStr,
        bob.node.address,
        options.messageSize,
        options.followUps ?? 0,
        options.followUpBudgetMs ?? 10_000,
        extra,
      );
      firstMessage = { recipientReadyMs: bob.readyMs, ...s.first };
      if ((options.followUps ?? 0) > 0) {
        e2eMs = {
          p50: percentile(s.e2e, 0.5),
          p99: percentile(s.e2e, 0.99),
          count: s.e2e.length,
          notDelivered: s.e2eNotDelivered,
        };
      }
    } catch (err) {
      firstMessageError = errorMessage(err);
    }

    return {
      nodes: n,
      startMs,
      routingWaitMs: routing.ms,
      routingComplete: routing.complete,
      routingTableMedian,
      records,
      publishMs: { p50: percentile(pub.times, 0.5), p99: percentile(pub.times, 0.99) },
      publishAcceptedMedian: summarize(pub.accepted).median,
      publishFailures: pub.failures,
      lookups: lk.lookups,
      lookupOk: lk.ok,
      lookupMs: { p50: percentile(lk.times, 0.5), p99: percentile(lk.times, 0.99), max: percentile(lk.times, 1) },
      lookupErrors: lk.errors,
      rssPerNodeMB: (rssAfter - rssBefore) / n / 2 ** 20,
      rssTotalDeltaMB: (rssAfter - rssBefore) / 2 ** 20,
      gcAvailable: gc !== undefined,
      firstMessage,
      firstMessageError,
      e2eMs,
      wallSeconds: (now() - tw) / 1000,
      diag,
    };
  } finally {
    await stopAll(extra, hosts);
  }
}

/** Stops full nodes and hosts, each bounded to 10 s. */
export async function stopAll(nodes: readonly SottoNode[], hosts: readonly SottoHost[]): Promise<void> {
  await Promise.allSettled(nodes.map((x) => withTimeout('node stop', 10_000, x.stop())));
  await Promise.allSettled(hosts.map((h) => withTimeout('host stop', 10_000, Promise.resolve(h.stop()))));
}
