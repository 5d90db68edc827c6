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
  formatJson,
  intFmt,
  machineInfo,
  packageVersion,
  replaceGeneratedSection,
  repoRoot,
} from './lib.js';
import { MAX_MESH_NODES, percentile, runMesh } from './mesh.js';
import { summarizeProfile } from './node/profile.js';
import { type PairResult, type PairRun, pairSummaries, type Report, renderMarkdown } from './node/render.js';
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

    // A full-size pass: with a fifth of one (the earlier warm-up) the first measured run was still
    // the slowest of every three (p50 4.04 / 3.81 / 2.91 ms, 4.24 / 3.26 / 2.98, 4.11 / 2.79 / 3.13
    // on 2026-11-28): V8 was still optimising sotto's code. A node that has run a while is warm.
    log('warm-up pass (discarded, full size)…');
    await measure(false, 1);
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
      ...pairSummaries(runs),
      profile,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// Part 2: N nodes in one process

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
    writeFileSync(join(outDir, `${base}.md`), renderMarkdown(report, config));
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

  const markdown = renderMarkdown(report, config);
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
