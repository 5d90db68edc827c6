/**
 * Node benchmark: sotto's message path between two node processes on loopback against a bare libp2p
 * floor measured in the same run, and a directory (DHT) of N nodes in one process.
 *
 *   node --import tsx scripts/bench/node.ts [--quick] [--large] [--runs N] [--json] [--no-profile]
 *   node --import tsx scripts/bench/node.ts --render-only [--quick]   # node.md again from node.json
 *
 * Prints a markdown report (or JSON with --json) and writes scripts/bench/out/node.{md,json}
 * (node-quick.* with --quick). A normal run also rewrites the node section of BENCHMARKS.md.
 * Benchmarks print figures; they never fail on speed. Only 127.0.0.1 is used; every loop is bounded
 * in count and time; child processes are ended by PID.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../src/net/shim.js';
import { createEnv } from '../../src/crypto/env.js';
import { nodeProviderReady } from '../../src/crypto/provider-node.js';
import {
  errorMessage,
  fmtNum,
  fmtSummary,
  formatJson,
  intFmt,
  librariesLine,
  loadAverageLine,
  type MachineInfo,
  machineInfo,
  machineLine,
  markdownTable,
  packageVersion,
  replaceGeneratedSection,
  repoRoot,
  type Summary,
  summarize,
} from './lib.js';
import { MAX_MESH_NODES, type MeshResult, percentile, runMesh } from './mesh.js';
import { type ProfileSummary, summarizeProfile } from './node/profile.js';
import { captionLine } from './report.js';
import { BenchChild, withTimeout } from './rpc.js';

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
  /** Leave BENCHMARKS.md alone (the `npm run bench` orchestrator writes the page). */
  noPage: boolean;
  /** Measure nothing: write node.md again from the node.json already in scripts/bench/out/. */
  renderOnly: boolean;
}

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
    noPage: argv.includes('--no-page'),
    renderOnly: argv.includes('--render-only'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    switch (flag) {
      case '--quick':
      case '--large':
      case '--json':
      case '--no-profile':
      case '--no-page':
      case '--render-only':
        break;
      case '--no-pair':
        config.pair = false;
        break;
      case '--no-mesh':
        config.meshSizes = [];
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
          'usage: node --import tsx scripts/bench/node.ts [--quick] [--large] [--runs N] [--mesh N[,N...]] [--no-pair] [--no-mesh] [--json] [--no-profile] [--render-only]',
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

// ---------------------------------------------------------------------------------------------
// Child processes

type Child = BenchChild;
const newChild = (name: string, mode: 'sotto' | 'floor'): Child =>
  new BenchChild(name, join(here, 'node', 'child.ts'), [mode]);

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
  /**
   * Latency distribution pooled over the measured runs, for the CDF chart: the value (ms) at each
   * percent level of `levels` (nearest rank), per path.
   */
  latencyCdf?: { levels: number[]; samples: Record<string, number>; ms: Record<string, number[]> };
}

/** Percent levels of the pooled latency CDF: 0.5 % steps, plus 99.9 and 100. */
const CDF_LEVELS = [...Array.from({ length: 200 }, (_, i) => i / 2), 99.5, 99.9, 100];

async function runPair(root: string): Promise<PairResult> {
  const recipient = newChild('recipient', 'sotto');
  const sender = newChild('sender', 'sotto');
  const floorServer = newChild('floor-server', 'floor');
  const floorClient = newChild('floor-client', 'floor');
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
    const pooled: Record<string, number[]> = { floor: [], durable: [], sotto: [] };
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
      pooled.floor!.push(...fl.times);
      pooled.durable!.push(...fd.times);
      pooled.sotto!.push(...sl.times);
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
      latencyCdf: {
        levels: CDF_LEVELS,
        samples: Object.fromEntries(Object.entries(pooled).map(([k, v]) => [k, v.length])),
        ms: Object.fromEntries(
          Object.entries(pooled).map(([k, v]) => [k, CDF_LEVELS.map((l) => percentile(v, Math.max(l, 0.01) / 100))]),
        ),
      },
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
  out.push(loadAverageLine(meta.loadAverage));
  out.push(`- Node ${meta.node} (V8 ${meta.v8}); 127.0.0.1 only`);
  out.push(
    `- ${meta.runs} runs of the two-process figures after a discarded warm-up pass; each figure is the median of the per-run figures (min–max in parentheses); ratios are computed run by run against the floor measured in the same run`,
  );
  out.push(`- Messages: ${meta.messageBytes} bytes of ASCII text; floor acks: 2 bytes`);
  // a run without the N-node part names no bound for it (older JSON wrote "N = ; …" there)
  const bounds = Object.entries(meta.bounds).filter(([k]) => k !== 'mesh' || report.mesh.length > 0);
  out.push(`- Bounds: ${bounds.map(([, v]) => v).join('; ')}`);
  out.push(librariesLine(meta.libraries));
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

  if (report.mesh.length > 0 || Object.keys(report.meshErrors).length > 0) {
    out.push('## N nodes in one process (DHT directory)', '');
  }
  if (report.mesh.length > 0) {
    // one pass per N (not meta.runs, which counts the two-process runs): its own caption
    const meshCaption = captionLine(meta, 1);
    out.push(
      meshCaption,
      '',
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
      meshCaption,
      '',
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
    "- Persistence: every sotto message goes through LevelDB batches on both sides (sender: outbox + session before the frame leaves, delivered state after the ack; recipient: session + message + dedupe mark before the ack); batches are written with `sync: true` (one fsync per group commit), except the sender's `delivered` mark after the ack.",
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
  if (config.renderOnly) {
    const base = config.mode === 'quick' ? 'node-quick' : 'node';
    const report = JSON.parse(readFileSync(join(outDir, `${base}.json`), 'utf8')) as Report;
    writeFileSync(join(outDir, `${base}.md`), renderMarkdown(report));
    log(`wrote scripts/bench/out/${base}.md again from ${base}.json (nothing measured)`);
    return;
  }
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
        // `--no-mesh` (the orchestrator's run): no N-node part, so no bound to name
        ...(config.meshSizes.length > 0
          ? {
              mesh: `N = ${config.meshSizes.join(', ')}; ${config.lookups} lookups or ${config.lookupBudgetMs / 1000} s per N`,
            }
          : {}),
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
    if (config.meshSizes.length > 0) log('part 2: N nodes in one process');
    await nodeProviderReady;
    const env = createEnv();
    for (const n of config.meshSizes) {
      log(`N = ${n}`);
      try {
        report.mesh.push(
          await runMesh(n, root, env, {
            lookups: config.lookups,
            lookupTimeoutMs: config.lookupTimeoutMs,
            lookupBudgetMs: config.lookupBudgetMs,
            messageSize: config.messageSize,
            log,
          }),
        );
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
  if (config.mode === 'normal' && report.pair && report.mesh.length > 0 && !config.noPage) {
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
