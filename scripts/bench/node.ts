/**
 * Node benchmark: sotto's message path between two node processes on loopback against a bare libp2p
 * floor measured in the same run, and a directory (DHT) of N nodes in one process.
 *
 *   node --import tsx scripts/bench/node.ts [--quick] [--large] [--runs N] [--json] [--no-profile]
 *
 * Prints a markdown report (or JSON with --json) and writes scripts/bench/out/node.{md,json}
 * (node-quick.* with --quick). A normal run also rewrites the node section of BENCHMARKS.md.
 * Benchmarks print figures; they never fail on speed. Only 127.0.0.1 is used; every loop is bounded
 * in count and time; child processes are ended by PID.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import '../../src/net/shim.js';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { toHex } from '../../src/crypto/bytes.js';
import { type CryptoEnv, createEnv } from '../../src/crypto/env.js';
import { generateIdentity, generateKemPrekey, generateSignedPrekey } from '../../src/crypto/keys.js';
import { nodeProviderReady } from '../../src/crypto/provider-node.js';
import { identityRecordRules } from '../../src/directory/dht-rules.js';
import {
  createIdentityRecord,
  encodeIdentityRecord,
  recordKey,
  validateRecordBytes,
} from '../../src/directory/record.js';
import { createDeviceBinding } from '../../src/identity/device-binding.js';
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
import {
  errorMessage,
  fmtNum,
  fmtSummary,
  formatJson,
  intFmt,
  type MachineInfo,
  machineInfo,
  machineLine,
  markdownTable,
  packageVersion,
  replaceGeneratedSection,
  repoRoot,
  type Summary,
  seededRandom,
  summarize,
} from './lib.js';
import { type ProfileSummary, summarizeProfile } from './node/profile.js';

// ---------------------------------------------------------------------------------------------
// Configuration

interface Config {
  mode: 'normal' | 'quick';
  large: boolean;
  runs: number;
  messageSize: number;
  /** Sequential messages per run for the latency figures. */
  latencyCount: number;
  latencyBudgetMs: number;
  /** Messages in flight for the throughput figures (sotto and floor alike). */
  window: number;
  sottoMaxCount: number;
  sottoBudgetMs: number;
  floorMaxCount: number;
  floorBudgetMs: number;
  meshSizes: number[];
  lookups: number;
  lookupTimeoutMs: number;
  lookupBudgetMs: number;
  profile: boolean;
  /** Run the two-process part (off with --no-pair). */
  pair: boolean;
  json: boolean;
}

/** Hosts joining the in-process mesh at once. */
const MESH_JOIN_CONCURRENCY = 5;
/** Longest wait for a joining host's first DHT peer before the next one starts. */
const MESH_JOIN_WAIT_MS = 15_000;
/** Largest N accepted by --mesh: one process on this 2-core machine (issue: up to 200 in-process). */
const MAX_MESH_NODES = 200;

function parseArgs(argv: string[]): Config {
  const quick = argv.includes('--quick');
  const large = argv.includes('--large');
  const config: Config = {
    mode: quick ? 'quick' : 'normal',
    large,
    runs: quick ? 2 : 5,
    messageSize: 1024,
    latencyCount: quick ? 100 : 300,
    latencyBudgetMs: quick ? 2_000 : 5_000,
    // /sotto/msg/1.0.0 accepts at most 8 concurrent inbound streams per connection (SPEC §3).
    window: 4,
    sottoMaxCount: quick ? 500 : 2_000,
    sottoBudgetMs: quick ? 1_500 : 5_000,
    floorMaxCount: quick ? 10_000 : 50_000,
    floorBudgetMs: quick ? 500 : 2_000,
    meshSizes: quick ? [10] : large ? [25, 50, 100] : [25, 50],
    lookups: quick ? 40 : 200,
    lookupTimeoutMs: 10_000,
    lookupBudgetMs: quick ? 10_000 : 40_000,
    profile: !argv.includes('--no-profile'),
    pair: true,
    json: argv.includes('--json'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    switch (flag) {
      case '--quick':
      case '--large':
      case '--json':
      case '--no-profile':
        break;
      case '--no-pair':
        config.pair = false;
        break;
      case '--mesh': {
        const sizes = String(inline ?? argv[++i])
          .split(',')
          .map((x) => Number(x));
        if (sizes.some((n) => !Number.isInteger(n) || n < 2 || n > MAX_MESH_NODES)) {
          throw new Error(`--mesh takes node counts 2..${MAX_MESH_NODES}, comma-separated`);
        }
        config.meshSizes = sizes;
        break;
      }
      case '--runs': {
        const n = Number(inline ?? argv[++i]);
        if (!Number.isInteger(n) || n < 1) throw new Error('--runs must be a positive integer');
        config.runs = n;
        break;
      }
      case '--help':
      case '-h':
        console.log(
          'usage: node --import tsx scripts/bench/node.ts [--quick] [--large] [--runs N] [--mesh N[,N...]] [--no-pair] [--json] [--no-profile]',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  return config;
}

const config = parseArgs(process.argv.slice(2));
const log = (msg: string) => process.stderr.write(`${msg}\n`);
const now = () => performance.now();
const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(repoRoot, 'scripts', 'bench', 'out');

/** Nearest-rank percentile of unsorted samples (NaN when empty). */
function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = samples.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

async function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes

class Child {
  private readonly proc: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<unknown>;

  constructor(
    readonly name: string,
    mode: 'sotto' | 'floor',
  ) {
    this.proc = fork(join(here, 'node', 'child.ts'), [mode], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => this.pending.set(0, { resolve, reject }));
    this.proc.on('message', (raw) => {
      const msg = raw as { id: number; ok: boolean; result?: unknown; error?: string };
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${this.name}: ${msg.error}`));
    });
    this.proc.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`${this.name} exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    const p = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    this.proc.send({ id, cmd, args });
    return withTimeout(`${this.name} ${cmd}`, timeoutMs, p);
  }

  /** Asks the child to stop cleanly, then ends it by PID if it is still there. */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null && this.proc.connected) {
      await this.call('stop', {}, 10_000).catch(() => {});
      await withTimeout(
        `${this.name} exit`,
        3_000,
        new Promise((resolve) => (this.proc.exitCode !== null ? resolve(null) : this.proc.once('exit', resolve))),
      ).catch(() => {});
    }
    if (this.proc.exitCode === null && this.proc.signalCode === null && this.proc.pid !== undefined) {
      try {
        process.kill(this.proc.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Part 1: two node processes

interface LatencyReply {
  times: number[];
  queued: number;
}
interface ThroughputReply {
  delivered: number;
  queued: number;
  elapsedMs: number;
}

interface PairRun {
  floorP50: number;
  floorP99: number;
  floorNewP50: number;
  floorNewP99: number;
  durableP50: number;
  durableP99: number;
  durableFramesPerSec: number;
  sottoP50: number;
  sottoP99: number;
  sottoQueued: number;
  sottoMessages: number;
  oneWayP50: number;
  oneWayP99: number;
  floorFramesPerSec: number;
  floorLockstepPerSec: number;
  sottoMsgsPerSec: number;
  sottoThroughputMessages: number;
  sottoThroughputQueued: number;
  receivedByRecipient: number;
}

interface PairResult {
  setup: {
    recipientStartMs: number;
    senderStartMs: number;
    publishPeersStored: number;
    firstMessageMs: number;
    firstMessageState: string;
  };
  runs: PairRun[];
  figures: Record<string, Summary>;
  ratios: Record<string, Summary>;
  profile?: { sender: ProfileSummary; recipient: ProfileSummary; messages: number };
}

async function runPair(root: string): Promise<PairResult> {
  const recipient = new Child('recipient', 'sotto');
  const sender = new Child('sender', 'sotto');
  const floorServer = new Child('floor-server', 'floor');
  const floorClient = new Child('floor-client', 'floor');
  const children = [recipient, sender, floorServer, floorClient];
  log(`child PIDs: ${children.map((c) => `${c.name}=${c.pid}`).join(', ')}`);
  try {
    await withTimeout('children ready', 60_000, Promise.all(children.map((c) => c.ready)));
    type Started = { address: string; peerId: string; multiaddr: string; startMs: number };
    const b = await recipient.call<Started>('start', { dataDir: join(root, 'recipient') });
    const a = await sender.call<Started>('start', { dataDir: join(root, 'sender'), bootstrap: b.multiaddr });
    await sender.call('waitPeers', { min: 1, timeoutMs: 15_000 });
    await recipient.call('waitPeers', { min: 1, timeoutMs: 15_000 });
    // Each node published at start() before it had a peer; publish again now that it has one.
    const pubA = await sender.call<{ peersStored: number }>('publish');
    await recipient.call('publish');
    const first = await sender.call<{ ms: number; state: string }>('sendOne', {
      to: b.address,
      size: config.messageSize,
    });
    log(`first message (lookup + PQXDH + delivery): ${first.ms.toFixed(1)} ms, ${first.state}`);

    const floor = await floorServer.call<{ multiaddr: string; peerId: string }>('serve');
    await floorClient.call('dial', {
      multiaddr: floor.multiaddr.includes('/p2p/') ? floor.multiaddr : `${floor.multiaddr}/p2p/${floor.peerId}`,
    });

    const size = config.messageSize;
    const window = config.window;
    const callTimeout = (budgetMs: number) => budgetMs + 30_000;
    const measure = async (record: boolean, scale: number) => {
      const lat = (count: number, budgetMs: number) => ({
        to: b.address,
        size,
        count: Math.max(10, Math.round(count * scale)),
        budgetMs: budgetMs * scale,
      });
      const fl = await floorClient.call<LatencyReply>(
        'latency',
        lat(config.latencyCount * 3, config.latencyBudgetMs),
        callTimeout(config.latencyBudgetMs),
      );
      const fn = await floorClient.call<LatencyReply>(
        'latencyNewStream',
        lat(config.latencyCount, config.latencyBudgetMs),
        callTimeout(config.latencyBudgetMs),
      );
      const fd = await floorClient.call<LatencyReply>(
        'latencyDurable',
        lat(config.latencyCount, config.latencyBudgetMs),
        callTimeout(config.latencyBudgetMs),
      );
      const fdt = await floorClient.call<ThroughputReply>(
        'throughputDurable',
        { size, window, maxCount: config.sottoMaxCount, budgetMs: config.sottoBudgetMs * scale },
        callTimeout(config.sottoBudgetMs),
      );
      await recipient.call('takeReceived');
      const sl = await sender.call<LatencyReply>(
        'latency',
        lat(config.latencyCount, config.latencyBudgetMs),
        callTimeout(config.latencyBudgetMs),
      );
      const oneWay = await recipient.call<{ received: number; oneWay: number[] }>('takeReceived');
      const ft = await floorClient.call<ThroughputReply>(
        'throughput',
        { size, window, maxCount: config.floorMaxCount, budgetMs: config.floorBudgetMs * scale },
        callTimeout(config.floorBudgetMs),
      );
      const st = await sender.call<ThroughputReply>(
        'throughput',
        { to: b.address, size, window, maxCount: config.sottoMaxCount, budgetMs: config.sottoBudgetMs * scale },
        callTimeout(config.sottoBudgetMs),
      );
      const got = await recipient.call<{ received: number }>('takeReceived');
      if (!record) return undefined;
      const run: PairRun = {
        floorP50: percentile(fl.times, 0.5),
        floorP99: percentile(fl.times, 0.99),
        floorNewP50: percentile(fn.times, 0.5),
        floorNewP99: percentile(fn.times, 0.99),
        durableP50: percentile(fd.times, 0.5),
        durableP99: percentile(fd.times, 0.99),
        durableFramesPerSec: fdt.delivered / (fdt.elapsedMs / 1000),
        sottoP50: percentile(sl.times, 0.5),
        sottoP99: percentile(sl.times, 0.99),
        sottoQueued: sl.queued,
        sottoMessages: sl.times.length,
        oneWayP50: percentile(oneWay.oneWay, 0.5),
        oneWayP99: percentile(oneWay.oneWay, 0.99),
        floorFramesPerSec: ft.delivered / (ft.elapsedMs / 1000),
        floorLockstepPerSec: fl.times.length / (fl.times.reduce((x, y) => x + y, 0) / 1000),
        sottoMsgsPerSec: st.delivered / (st.elapsedMs / 1000),
        sottoThroughputMessages: st.delivered,
        sottoThroughputQueued: st.queued,
        receivedByRecipient: got.received,
      };
      return run;
    };

    log('warm-up pass (discarded)…');
    await measure(false, 0.2);
    const runs: PairRun[] = [];
    for (let r = 0; r < config.runs; r++) {
      log(`two-process run ${r + 1}/${config.runs}`);
      const run = await measure(true, 1);
      if (run) runs.push(run);
      log(
        `  floor p50 ${run?.floorP50.toFixed(3)} ms, durable floor p50 ${run?.durableP50.toFixed(3)} ms (${run?.durableFramesPerSec.toFixed(0)}/s), new-stream p50 ${run?.floorNewP50.toFixed(3)} ms, sotto p50 ${run?.sottoP50.toFixed(3)} ms; floor ${run?.floorFramesPerSec.toFixed(0)} frames/s, sotto ${run?.sottoMsgsPerSec.toFixed(0)} msgs/s`,
      );
    }

    let profile: PairResult['profile'];
    if (config.profile) {
      log('profile pass (not part of the figures)…');
      mkdirSync(outDir, { recursive: true });
      const base = config.mode === 'quick' ? 'node-quick' : 'node';
      await sender.call('profileStart');
      await recipient.call('profileStart');
      const pl = await sender.call<LatencyReply>(
        'latency',
        { to: b.address, size, count: config.latencyCount, budgetMs: config.latencyBudgetMs },
        callTimeout(config.latencyBudgetMs),
      );
      const pt = await sender.call<ThroughputReply>(
        'throughput',
        { to: b.address, size, window, maxCount: config.sottoMaxCount / 2, budgetMs: config.sottoBudgetMs / 2 },
        callTimeout(config.sottoBudgetMs),
      );
      const sp = await sender.call<string>('profileStop', { path: join(outDir, `${base}-sender.cpuprofile`) });
      const rp = await recipient.call<string>('profileStop', { path: join(outDir, `${base}-recipient.cpuprofile`) });
      profile = {
        sender: summarizeProfile(sp, 12),
        recipient: summarizeProfile(rp, 12),
        messages: pl.times.length + pt.delivered,
      };
    }

    const pick = (k: keyof PairRun) => summarize(runs.map((r) => r[k]));
    const ratio = (k: keyof PairRun, ref: keyof PairRun) => summarize(runs.map((r) => r[k] / r[ref]));
    return {
      setup: {
        recipientStartMs: b.startMs,
        senderStartMs: a.startMs,
        publishPeersStored: pubA.peersStored,
        firstMessageMs: first.ms,
        firstMessageState: first.state,
      },
      runs,
      figures: {
        floorP50: pick('floorP50'),
        floorP99: pick('floorP99'),
        floorNewP50: pick('floorNewP50'),
        floorNewP99: pick('floorNewP99'),
        durableP50: pick('durableP50'),
        durableP99: pick('durableP99'),
        durableFramesPerSec: pick('durableFramesPerSec'),
        sottoP50: pick('sottoP50'),
        sottoP99: pick('sottoP99'),
        oneWayP50: pick('oneWayP50'),
        oneWayP99: pick('oneWayP99'),
        floorFramesPerSec: pick('floorFramesPerSec'),
        floorLockstepPerSec: pick('floorLockstepPerSec'),
        sottoMsgsPerSec: pick('sottoMsgsPerSec'),
        sottoThroughputMessages: pick('sottoThroughputMessages'),
      },
      ratios: {
        p50: ratio('sottoP50', 'floorP50'),
        p99: ratio('sottoP99', 'floorP99'),
        p50VsNewStream: ratio('sottoP50', 'floorNewP50'),
        newStreamVsFloor: ratio('floorNewP50', 'floorP50'),
        throughput: ratio('sottoMsgsPerSec', 'floorFramesPerSec'),
        p50VsDurable: ratio('sottoP50', 'durableP50'),
        throughputVsDurable: ratio('sottoMsgsPerSec', 'durableFramesPerSec'),
        durableVsFloor: ratio('durableP50', 'floorP50'),
      },
      profile,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// Part 2: N nodes in one process

const gc: (() => void) | undefined = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();

async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage().rss;
}

interface MeshResult {
  nodes: number;
  startMs: number;
  routingWaitMs: number;
  routingComplete: boolean;
  routingTableMedian: number;
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
  firstMessage?: {
    recipientReadyMs: number;
    senderStartMs: number;
    senderRoutingMs: number;
    senderPublishMs: number;
    sendMs: number;
    totalMs: number;
    state: string;
  };
  firstMessageError?: string;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
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

async function runMesh(n: number, root: string, env: CryptoEnv): Promise<MeshResult> {
  const provider = env.provider;
  const rules = identityRecordRules(provider, Date.now);

  const hosts: SottoHost[] = [];
  const extra: SottoNode[] = [];
  const rssBefore = await settledRss();
  try {
    const t0 = now();
    const newHost = async (bootstrap: string[]) =>
      createHost({
        privateKey: await generateKeyPair('Ed25519'),
        config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap }),
        dht: rules,
      });
    const seed = await newHost([]);
    hosts.push(seed);
    const seedAddr = seed.getMultiaddrs().find((m) => m.toString().includes('/tcp/'));
    if (!seedAddr) throw new Error('seed has no TCP address');
    const seedStr = seedAddr.toString().includes('/p2p/') ? seedAddr.toString() : `${seedAddr}/p2p/${seed.peerId}`;
    // Joining at the pace one process can take: ≤ 5 hosts at a time, each counted as started once
    // it has a DHT peer (bounded), because every join runs Noise handshakes and a self-lookup on
    // this one thread; unpaced, 100 joins starve each other's handshakes into timeouts.
    const rest = await mapLimit(
      Array.from({ length: n - 1 }, (_, i) => i),
      MESH_JOIN_CONCURRENCY,
      async () => {
        const host = await newHost([seedStr]);
        await waitForDhtPeer(host, MESH_JOIN_WAIT_MS);
        return host;
      },
    );
    hosts.push(...rest);
    const startMs = now() - t0;

    // Routing tables: the seed knows everyone, everyone knows at least 2 servers (bounded wait).
    const t1 = now();
    const routingBudget = 30_000;
    let routingComplete = false;
    while (now() - t1 < routingBudget) {
      if (routingTableSize(seed) >= n - 1 && hosts.every((h) => routingTableSize(h) >= Math.min(2, n - 1))) {
        routingComplete = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const routingWaitMs = now() - t1;
    const routingTableMedian = summarize(hosts.map(routingTableSize)).median;
    log(`  ${n} nodes started in ${startMs.toFixed(0)} ms, routing wait ${routingWaitMs.toFixed(0)} ms`);

    // Identities and records, as createNode.publishRecord builds them.
    const identities = hosts.map(() => generateIdentity(env));
    const publishTimes: number[] = [];
    const accepted: number[] = [];
    let publishFailures = 0;
    await mapLimit(hosts, 5, async (host, i) => {
      const identity = identities[i]!;
      const ts = Date.now();
      const signed = generateSignedPrekey(env, identity, 1);
      const kem = generateKemPrekey(env, identity, 1);
      const record = createIdentityRecord(env, identity, {
        signedPrekey: { id: signed.id, publicKey: signed.publicKey, signature: signed.signature },
        kemPrekey: { id: kem.id, publicKey: kem.publicKey, signature: kem.signature },
        devices: [createDeviceBinding(provider, identity, host.peerId.toMultihash().bytes, ts)],
        mailboxes: [],
        sequence: ts,
        expiresAt: ts + 24 * 60 * 60 * 1000,
      });
      const tp = now();
      try {
        const r = await putRecord(host, recordKey(identity.signingKey), encodeIdentityRecord(record), {
          timeoutMs: 15_000,
        });
        publishTimes.push(now() - tp);
        accepted.push(r.accepted);
        if (r.accepted === 0) publishFailures++;
      } catch {
        publishFailures++;
      }
    });
    log(`  published ${n} records`);

    // Lookups from random nodes of random other nodes' records.
    const random = seededRandom(0x5077 + n);
    const lookupTimes: number[] = [];
    const lookupErrors: Record<string, number> = {};
    let lookups = 0;
    let lookupOk = 0;
    const tl = now();
    while (lookups < config.lookups && now() - tl < config.lookupBudgetMs) {
      const from = Math.floor(random() * n);
      let to = Math.floor(random() * (n - 1));
      if (to >= from) to++;
      const target = identities[to]!.signingKey;
      lookups++;
      const ts = now();
      try {
        const r = await getRecord(hosts[from]!, recordKey(target), { timeoutMs: config.lookupTimeoutMs });
        const rec = validateRecordBytes(provider, recordKey(target), r.value, Date.now());
        if (toHex(rec.identity.signingKey) !== toHex(target)) throw new Error('wrong identity');
        lookupTimes.push(now() - ts);
        lookupOk++;
      } catch (err) {
        const key = errorMessage(err);
        lookupErrors[key] = (lookupErrors[key] ?? 0) + 1;
      }
    }
    log(`  ${lookupOk}/${lookups} lookups ok`);

    const rssAfter = await settledRss();

    // Time from start() to the first delivered message, one pair of full nodes joining this network.
    let firstMessage: MeshResult['firstMessage'];
    let firstMessageError: string | undefined;
    try {
      const tr = now();
      const bob = createNode({
        dataDir: join(root, `mesh${n}-bob`),
        net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [seedStr] },
      });
      extra.push(bob);
      await bob.start();
      await waitRouting(bob, 15_000);
      await bob.publishRecord();
      const recipientReadyMs = now() - tr;
      const ta = now();
      const alice = createNode({
        dataDir: join(root, `mesh${n}-alice`),
        net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [seedStr] },
      });
      extra.push(alice);
      await alice.start();
      const senderStartMs = now() - ta;
      await waitRouting(alice, 15_000);
      const senderRoutingMs = now() - ta - senderStartMs;
      const tp = now();
      await alice.publishRecord(); // the recipient checks the sender's device binding in the directory
      const senderPublishMs = now() - tp;
      const tsend = now();
      const r = await alice.send(bob.address, 'x'.repeat(config.messageSize));
      const sendMs = now() - tsend;
      firstMessage = {
        recipientReadyMs,
        senderStartMs,
        senderRoutingMs,
        senderPublishMs,
        sendMs,
        totalMs: now() - ta,
        state: r.state,
      };
    } catch (err) {
      firstMessageError = errorMessage(err);
    }

    return {
      nodes: n,
      startMs,
      routingWaitMs,
      routingComplete,
      routingTableMedian,
      publishMs: { p50: percentile(publishTimes, 0.5), p99: percentile(publishTimes, 0.99) },
      publishAcceptedMedian: summarize(accepted).median,
      publishFailures,
      lookups,
      lookupOk,
      lookupMs: {
        p50: percentile(lookupTimes, 0.5),
        p99: percentile(lookupTimes, 0.99),
        max: percentile(lookupTimes, 1),
      },
      lookupErrors,
      rssPerNodeMB: (rssAfter - rssBefore) / n / 2 ** 20,
      rssTotalDeltaMB: (rssAfter - rssBefore) / 2 ** 20,
      gcAvailable: gc !== undefined,
      firstMessage,
      firstMessageError,
    };
  } finally {
    await Promise.allSettled(extra.map((x) => withTimeout('node stop', 10_000, x.stop())));
    await Promise.allSettled(hosts.map((h) => withTimeout('host stop', 10_000, Promise.resolve(h.stop()))));
  }
}

async function waitRouting(node: SottoNode, timeoutMs: number): Promise<void> {
  const t0 = now();
  while ((await node.status()).routingTable < 1) {
    if (now() - t0 > timeoutMs) throw new Error(`no DHT peer after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

function fmtRatio(s: Summary | undefined): string {
  if (!s || !Number.isFinite(s.median)) return 'n/a';
  if (s.min === s.max) return `${s.median.toFixed(2)}×`;
  return `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

interface Report {
  meta: {
    date: string;
    mode: Config['mode'];
    large: boolean;
    machine: MachineInfo;
    loadAverage: { start: number[]; end: number[] };
    node: string;
    v8: string;
    runs: number;
    messageBytes: number;
    window: number;
    bounds: Record<string, string>;
    libraries: Record<string, string>;
    wallSeconds: number;
  };
  pair?: PairResult;
  pairError?: string;
  mesh: MeshResult[];
  meshErrors: Record<string, string>;
}

function renderMarkdown(report: Report): string {
  const { meta, pair } = report;
  const out: string[] = [];
  out.push('# Node benchmarks: sotto message path vs bare libp2p, and the DHT directory', '');
  out.push(`- Date: ${meta.date}${meta.mode === 'quick' ? ' — **quick smoke run, figures are rough**' : ''}`);
  out.push(machineLine(meta.machine));
  out.push(
    `- Load average (1/5/15 min): ${meta.loadAverage.start.map((x) => x.toFixed(2)).join(' / ')} at start, ${meta.loadAverage.end.map((x) => x.toFixed(2)).join(' / ')} at end`,
  );
  out.push(`- Node ${meta.node} (V8 ${meta.v8}); 127.0.0.1 only`);
  out.push(
    `- ${meta.runs} runs of the two-process figures after a discarded warm-up pass; each figure is the median of the per-run figures (min–max in parentheses); ratios are computed run by run against the floor measured in the same run`,
  );
  out.push(`- Messages: ${meta.messageBytes} bytes of ASCII text; floor acks: 2 bytes`);
  out.push(`- Bounds: ${Object.values(meta.bounds).join('; ')}`);
  out.push(
    `- Libraries: ${Object.entries(meta.libraries)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  out.push(`- Wall time of this run: ${meta.wallSeconds.toFixed(1)} s`, '');

  out.push('## Two node processes on loopback', '');
  if (!pair) {
    out.push(`Not measured: ${report.pairError ?? 'unknown error'}`, '');
  } else {
    const f = pair.figures;
    const r = pair.ratios;
    out.push(
      markdownTable(
        ['Path (1 KiB request → ack)', 'p50 ms', 'p99 ms', 'p50 ÷ floor', 'p99 ÷ floor'],
        [
          [
            'floor: bare libp2p, one reused stream, lpStream',
            fmtSummary(f.floorP50),
            fmtSummary(f.floorP99),
            '1.00×',
            '1.00×',
          ],
          [
            'bare libp2p, new stream per request',
            fmtSummary(f.floorNewP50),
            fmtSummary(f.floorNewP99),
            fmtRatio(r.newStreamVsFloor),
            'n/a',
          ],
          [
            'durable floor: each side first stores the request in LevelDB with fsync, then sends / acks',
            fmtSummary(f.durableP50),
            fmtSummary(f.durableP99),
            fmtRatio(r.durableVsFloor),
            'n/a',
          ],
          [
            'sotto send() → delivered',
            fmtSummary(f.sottoP50),
            fmtSummary(f.sottoP99),
            fmtRatio(r.p50),
            fmtRatio(r.p99),
          ],
          [
            "sotto send() → recipient's 'message' event (one way, wall clock)",
            fmtSummary(f.oneWayP50),
            fmtSummary(f.oneWayP99),
            'n/a',
            'n/a',
          ],
        ],
      ),
      '',
    );
    out.push(
      `- **sotto p50 ÷ floor p50: ${fmtRatio(r.p50)}** (target ≤ 3×); sotto p50 ÷ durable floor p50: ${fmtRatio(r.p50VsDurable)}; sotto p50 ÷ new-stream-per-request p50: ${fmtRatio(r.p50VsNewStream)}.`,
      '',
    );
    out.push(
      markdownTable(
        [`Throughput (window ${meta.window})`, 'per second', '÷ floor'],
        [
          ['floor: frames/s, pipelined on one stream', fmtSummary(f.floorFramesPerSec), '1.00×'],
          ['floor: frames/s, lock-step on one stream (1 ÷ mean RTT)', fmtSummary(f.floorLockstepPerSec), 'n/a'],
          [
            'durable floor: frames/s, pipelined, fsync group-committed on both sides',
            fmtSummary(f.durableFramesPerSec),
            'n/a',
          ],
          [
            'sotto: delivered msgs/s (LevelDB store, send() calls in flight)',
            fmtSummary(f.sottoMsgsPerSec),
            fmtRatio(r.throughput),
          ],
        ],
      ),
      '',
    );
    out.push(
      `- **sotto msgs/s ÷ floor frames/s: ${fmtRatio(r.throughput)}** (target ≥ 50%); sotto ÷ durable floor: ${fmtRatio(r.throughputVsDurable)}.`,
    );
    const queued = pair.runs.reduce((x, run) => x + run.sottoQueued + run.sottoThroughputQueued, 0);
    out.push(
      `- Messages per run: ${fmtSummary(summarize(pair.runs.map((x) => x.sottoMessages)))} sequential, ${fmtSummary(f.sottoThroughputMessages)} in the throughput window; ${queued} came back \`queued\` instead of \`delivered\` over all runs.`,
    );
    out.push(
      `- Set-up: recipient start() ${fmtNum(pair.setup.recipientStartMs)} ms, sender start() ${fmtNum(pair.setup.senderStartMs)} ms; the first message (directory lookup + PQXDH handshake + delivery) took ${fmtNum(pair.setup.firstMessageMs)} ms (${pair.setup.firstMessageState}).`,
      '',
    );
    if (pair.profile) {
      const p = pair.profile;
      out.push(
        `### Where the time goes (CPU profile of an extra pass of ${p.messages} messages, not part of the figures)`,
        '',
      );
      const names = [...new Set([...p.sender.components, ...p.recipient.components].map((c) => c.name))];
      const share = (s: ProfileSummary, name: string) => {
        const c = s.components.find((x) => x.name === name);
        return c ? pct(c.share) : '—';
      };
      out.push(
        markdownTable(
          ['Component (self time, share of busy samples)', 'sender', 'recipient'],
          names.map((name) => [name, share(p.sender, name), share(p.recipient, name)]),
        ),
        '',
      );
      out.push(
        `- Busy (non-idle) share of the profiled wall time: sender ${pct(p.sender.busy)}, recipient ${pct(p.recipient.busy)}.`,
      );
      out.push(
        `- Top functions on the sender: ${p.sender.functions
          .slice(0, 6)
          .map((x) => `\`${x.name}\` ${pct(x.share)}`)
          .join(', ')}.`,
      );
      out.push(
        `- Top functions on the recipient: ${p.recipient.functions
          .slice(0, 6)
          .map((x) => `\`${x.name}\` ${pct(x.share)}`)
          .join(', ')}.`,
        '',
      );
    }
  }

  out.push('## N nodes in one process (DHT directory)', '');
  if (report.mesh.length > 0) {
    out.push(
      markdownTable(
        [
          'Nodes',
          'Start all (ms)',
          'Routing wait (ms)',
          'Put p50 / p99 (ms)',
          'Stored on (median peers)',
          'Lookups ok',
          'Lookup p50 (ms)',
          'Lookup p99 (ms)',
          'RSS per node (MB)',
        ],
        report.mesh.map((m) => [
          String(m.nodes),
          fmtNum(m.startMs),
          `${fmtNum(m.routingWaitMs)}${m.routingComplete ? '' : ' (incomplete)'}`,
          `${fmtNum(m.publishMs.p50)} / ${fmtNum(m.publishMs.p99)}`,
          fmtNum(m.publishAcceptedMedian),
          `${m.lookupOk}/${m.lookups} (${pct(m.lookups > 0 ? m.lookupOk / m.lookups : 0)})`,
          fmtNum(m.lookupMs.p50),
          fmtNum(m.lookupMs.p99),
          fmtNum(m.rssPerNodeMB),
        ]),
      ),
      '',
    );
    out.push(
      markdownTable(
        [
          'Nodes',
          'Recipient ready (start + publish, ms)',
          'Sender start() (ms)',
          'Sender first DHT peer (ms)',
          'Sender publish (ms)',
          'First send() (ms)',
          'start() → delivered (ms)',
        ],
        report.mesh.map((m) =>
          m.firstMessage
            ? [
                String(m.nodes),
                fmtNum(m.firstMessage.recipientReadyMs),
                fmtNum(m.firstMessage.senderStartMs),
                fmtNum(m.firstMessage.senderRoutingMs),
                fmtNum(m.firstMessage.senderPublishMs),
                `${fmtNum(m.firstMessage.sendMs)}${m.firstMessage.state === 'delivered' ? '' : ` (${m.firstMessage.state})`}`,
                fmtNum(m.firstMessage.totalMs),
              ]
            : [String(m.nodes), `failed: ${m.firstMessageError ?? '?'}`, '', '', '', '', ''],
        ),
      ),
      '',
    );
    for (const m of report.mesh) {
      const errs = Object.entries(m.lookupErrors);
      if (errs.length > 0)
        out.push(`- N=${m.nodes} lookup failures: ${errs.map(([k, v]) => `\`${k}\` ×${v}`).join(', ')}`);
      if (m.publishFailures > 0) out.push(`- N=${m.nodes}: ${m.publishFailures} records stored on no peer`);
    }
  }
  for (const [n, err] of Object.entries(report.meshErrors)) out.push(`- N=${n} not measured: ${err}`);
  out.push('');

  out.push('## What is measured', '');
  out.push(
    `- Two processes: two child processes each run one sotto node (createNode, LevelDB store in a temporary data dir, TCP on 127.0.0.1); the sender bootstraps from the recipient and both publish their identity record. The first message (directory lookup, PQXDH handshake, delivery) is timed once; the session and the directory cache are then warm.`,
    `- sotto latency: ${config.latencyCount} messages per run (at most ${config.latencyBudgetMs / 1000} s), one at a time; the time from calling \`send()\` to its resolution with \`delivered\`, i.e. encrypt + store the outbox batch + open a stream + envelope → the recipient decrypts, stores one batch and acks → the sender stores the delivered state. The one-way figure is the recipient's \`'message'\` event time minus the send time written into the text, on the two processes' wall clocks (the same machine clock, so comparable to well under 0.1 ms).`,
    `- Floor: two other child processes run bare libp2p ${meta.libraries.libp2p} hosts (TCP + Noise + Yamux, no identify, no DHT); the client writes a ${meta.messageBytes}-byte length-prefixed frame with lpStream on one long-lived stream and waits for a 2-byte length-prefixed ack (${config.latencyCount * 3} round trips per run). "New stream per request" opens a stream on the existing connection for every request (multistream-select included) and closes it after the ack, the stream pattern of sotto's \`send()\`.`,
    `- Throughput: sotto keeps ${meta.window} \`send()\` calls in flight to the same recipient for ${config.sottoBudgetMs / 1000} s or ${intFmt.format(config.sottoMaxCount)} messages per run, whichever comes first (the message protocol allows 8 concurrent streams per connection); the floor writes up to ${meta.window} frames ahead of their acks on its one stream for ${config.floorBudgetMs / 1000} s or ${intFmt.format(config.floorMaxCount)} frames.`,
    "- Persistence: every sotto message goes through LevelDB batches on both sides (sender: outbox + session before the frame leaves, delivered state after the ack; recipient: session + message + dedupe mark before the ack); batches are written without `sync` (the store's default).",
    `- N nodes: in this process, libp2p hosts built with sotto's \`createHost\` (the node's own transport and DHT configuration) bootstrap from node 0, ${'≤'} 5 joining at once, each counted as started once it has a DHT peer (at most 15 s; unpaced joins starve each other's handshakes on this one thread); the routing wait ends when node 0 knows every node and every node knows at least 2 (bounded to 30 s). Each node then signs an identity record exactly as \`publishRecord()\` does and stores it with \`putRecord\` (5 at a time). Lookups: ${config.lookups} \`getRecord\` calls (at most ${config.lookupBudgetMs / 1000} s, ${config.lookupTimeoutMs / 1000} s each) from a random node for a random other node's record, one at a time, each validated; success = the right identity's valid record.`,
    `- RSS per node: (RSS after the lookups − RSS before the first host) ÷ N, ${report.mesh[0]?.gcAvailable ? 'each after forced garbage collections' : 'without forced GC (gc unavailable)'}; node stores are not part of these hosts.`,
    "- Start → first delivered: two full sotto nodes (createNode) join that network: the recipient starts, waits for a DHT peer and publishes; then the sender is timed from `start()` through its first DHT peer and its own publish (the recipient checks the sender's device binding in the directory) to `send()` resolving.",
    '- CPU profile: node:inspector sampling (200 µs) in both sotto children during an extra latency + throughput pass after the runs; self time grouped by package (node_modules), sotto src/ folder, or V8/Node internals. The raw `.cpuprofile` files are in scripts/bench/out/.',
  );
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------

const PAGE_BEGIN = '<!-- node-results:begin (written by npm run bench:node; do not edit by hand) -->';
const PAGE_END = '<!-- node-results:end -->';

function updateBenchmarksPage(path: string, markdown: string): void {
  replaceGeneratedSection(path, markdown, PAGE_BEGIN, PAGE_END);
}

async function main(): Promise<void> {
  const wallStart = now();
  const loadStart = os.loadavg();
  const root = mkdtempSync(join(os.tmpdir(), 'sotto-bench-node-'));
  const report: Report = {
    meta: {
      date: new Date().toISOString(),
      mode: config.mode,
      large: config.large,
      machine: machineInfo(),
      loadAverage: { start: loadStart, end: [] },
      node: process.version,
      v8: process.versions.v8,
      runs: config.runs,
      messageBytes: config.messageSize,
      window: config.window,
      bounds: {
        latency: `latency ${config.latencyCount} messages or ${config.latencyBudgetMs / 1000} s per run`,
        throughput: `sotto throughput ${intFmt.format(config.sottoMaxCount)} messages or ${config.sottoBudgetMs / 1000} s per run, floor ${intFmt.format(config.floorMaxCount)} frames or ${config.floorBudgetMs / 1000} s`,
        mesh: `N = ${config.meshSizes.join(', ')}; ${config.lookups} lookups or ${config.lookupBudgetMs / 1000} s per N`,
      },
      libraries: {
        sotto: packageVersion('sotto') === 'not installed' ? '0.1.0' : packageVersion('sotto'),
        libp2p: packageVersion('libp2p'),
        '@libp2p/kad-dht': packageVersion('@libp2p/kad-dht'),
        '@chainsafe/libp2p-noise': packageVersion('@chainsafe/libp2p-noise'),
        '@chainsafe/libp2p-yamux': packageVersion('@chainsafe/libp2p-yamux'),
        '@libp2p/tcp': packageVersion('@libp2p/tcp'),
        level: packageVersion('level'),
      },
      wallSeconds: 0,
    },
    mesh: [],
    meshErrors: {},
  };
  try {
    if (config.pair) {
      log('part 1: two node processes + bare libp2p floor');
      try {
        report.pair = await runPair(root);
      } catch (err) {
        report.pairError = errorMessage(err).split('\n')[0];
        log(`two-process part failed: ${report.pairError}`);
        process.exitCode = 1;
      }
    }
    log('part 2: N nodes in one process');
    await nodeProviderReady;
    const env = createEnv();
    for (const n of config.meshSizes) {
      log(`N = ${n}`);
      try {
        report.mesh.push(await runMesh(n, root, env));
      } catch (err) {
        report.meshErrors[String(n)] = errorMessage(err);
        log(`N = ${n} failed: ${errorMessage(err)}`);
        process.exitCode = 1;
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  report.meta.loadAverage.end = os.loadavg();
  report.meta.wallSeconds = (now() - wallStart) / 1000;

  const markdown = renderMarkdown(report);
  mkdirSync(outDir, { recursive: true });
  const base = config.mode === 'quick' ? 'node-quick' : 'node';
  writeFileSync(join(outDir, `${base}.md`), markdown);
  const json = formatJson(report);
  writeFileSync(join(outDir, `${base}.json`), json);
  if (config.json) process.stdout.write(json);
  else process.stdout.write(markdown);
  log(`wrote scripts/bench/out/${base}.md and ${base}.json (${report.meta.wallSeconds.toFixed(1)} s)`);
  if (config.mode === 'normal' && report.pair && report.mesh.length > 0) {
    updateBenchmarksPage(join(repoRoot, 'BENCHMARKS.md'), markdown);
    log('updated the node section of BENCHMARKS.md');
  }
}

main().then(
  // libp2p may leave unref'd handles behind; the report is written, so leave now.
  () => setTimeout(() => process.exit(), 200).unref(),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
