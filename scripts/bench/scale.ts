/**
 * Scale benchmark: how sotto behaves as the network and the load grow, on loopback.
 *
 *   node --import tsx scripts/bench/scale.ts [--quick] [--sizes N,N] [--procs P] [--mp-sizes N,N]
 *       [--sessions S,S] [--budget SECONDS] [--json]
 *
 * 1. Sessions: one receiving full node (its own process) and 1 / 10 / 100 / 1000 distinct sending
 *    identities spread over two sender processes; delivered msgs/s counted at the receiver.
 * 2. N nodes in one process (N up to 200): DHT lookup p50/p99 and success, RSS per node, start() →
 *    first delivered message and warm end-to-end latency between two full nodes joining that network.
 * 3. The same across P child processes (N/P hosts each).
 *
 * Every N is bounded in time; a larger N is skipped, with the reason printed and written to the
 * report, when the time budget would run out. Writes scripts/bench/out/scale.{md,json}
 * (scale-quick.* with --quick). Benchmarks print figures; they never fail on speed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../src/net/shim.js';
import { createEnv } from '../../src/crypto/env.js';
import { nodeProviderReady } from '../../src/crypto/provider-node.js';
import { errorMessage, formatJson, machineInfo, packageVersion, repoRoot, summarize } from './lib.js';
import {
  MAX_MESH_NODES,
  MESH_JOIN_CONCURRENCY,
  type MeshResult,
  percentile,
  ROUTING_BUDGET_MS,
  runMesh,
  type SenderOutcome,
} from './mesh.js';
import { renderScaleMarkdown, type ScaleReport, type SessionsResult } from './report.js';
import { BenchChild } from './rpc.js';

interface Config {
  mode: 'normal' | 'quick';
  sizes: number[];
  procs: number;
  mpSizes: number[];
  sessions: number[];
  senderProcs: number;
  window: number;
  blastMs: number;
  blastRuns: number;
  lookups: number;
  lookupBudgetMs: number;
  lookupTimeoutMs: number;
  records: number;
  followUps: number;
  messageSize: number;
  /** Whole-benchmark time budget, ms; a part that would not fit is skipped with its reason. */
  budgetMs: number;
  json: boolean;
}

const sizesArg = (v: string | undefined, max: number): number[] => {
  const sizes = String(v)
    .split(',')
    .map((x) => Number(x));
  if (sizes.some((n) => !Number.isInteger(n) || n < 2 || n > max)) throw new Error(`sizes must be 2..${max}`);
  return sizes;
};

function parseArgs(argv: string[]): Config {
  const quick = argv.includes('--quick');
  const config: Config = {
    mode: quick ? 'quick' : 'normal',
    sizes: quick ? [10, 20] : [25, 50, 100, 200],
    procs: quick ? 2 : 4,
    mpSizes: quick ? [12] : [50, 100, 200],
    sessions: quick ? [1, 10, 100] : [1, 10, 100, 1000],
    senderProcs: 2,
    window: 8,
    blastMs: quick ? 1_000 : 3_000,
    blastRuns: quick ? 1 : 3,
    lookups: quick ? 30 : 100,
    lookupBudgetMs: quick ? 8_000 : 25_000,
    lookupTimeoutMs: 10_000,
    records: quick ? 10 : 40,
    followUps: quick ? 20 : 100,
    messageSize: 1024,
    budgetMs: (quick ? 6 : 16) * 60_000,
    json: argv.includes('--json'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--quick':
      case '--json':
      case '--no-page':
        break;
      case '--sizes': {
        const v = value();
        config.sizes = v === 'none' ? [] : sizesArg(v, MAX_MESH_NODES);
        break;
      }
      case '--mp-sizes': {
        const v = value();
        config.mpSizes = v === 'none' ? [] : sizesArg(v, 400);
        break;
      }
      case '--sessions': {
        const v = String(value());
        config.sessions = v === 'none' ? [] : v.split(',').map(Number);
        if (config.sessions.some((n) => !Number.isInteger(n) || n < 1 || n > 5000))
          throw new Error('--sessions 1..5000');
        break;
      }
      case '--procs': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 2 || n > 8) throw new Error('--procs must be 2..8');
        config.procs = n;
        break;
      }
      case '--budget': {
        const n = Number(value());
        if (!Number.isFinite(n) || n <= 0) throw new Error('--budget takes seconds');
        config.budgetMs = n * 1000;
        break;
      }
      case '--help':
      case '-h':
        console.log(
          'usage: node --import tsx scripts/bench/scale.ts [--quick] [--sizes N,N|none] [--procs P] [--mp-sizes N,N|none] [--sessions S,S|none] [--budget SECONDS] [--json]',
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
const childScript = join(here, 'scale', 'child.ts');
const started = now();
const deadline = started + config.budgetMs;
const remaining = () => deadline - now();

/** Child processes of one part, stopped by PID at its end. */
async function withChildren<T>(names: string[], fn: (children: BenchChild[]) => Promise<T>): Promise<T> {
  const children = names.map((name) => new BenchChild(name, childScript));
  log(`  child PIDs: ${children.map((c) => `${c.name}=${c.pid}`).join(', ')}`);
  try {
    await Promise.all(children.map((c) => c.ready));
    return await fn(children);
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// Part 1: delivered msgs/s at one receiver vs the number of sending identities (sessions)

async function runSessions(s: number, root: string, until: number): Promise<SessionsResult> {
  const left = () => Math.max(60_000, until - now());
  const active = Math.min(config.senderProcs, s);
  const names = ['recipient', ...Array.from({ length: active }, (_, i) => `sender${i}`)];
  return withChildren(names, async ([rc, ...senders]) => {
    const seed = await rc!.call<{ multiaddr: string }>('seed');
    const bob = await rc!.call<{ address: string; readyMs: number }>('recipient', {
      dataDir: join(root, `sessions${s}-recipient`),
      seed: seed.multiaddr,
    });
    const t0 = now();
    const shares = senders.map((_, i) => Math.floor((s * (i + 1)) / active) - Math.floor((s * i) / active));
    const ids = await Promise.all(
      senders.map((c, i) =>
        c.call<{ addresses: string[]; failures: number }>(
          'identities',
          { seed: seed.multiaddr, count: shares[i] },
          left(),
        ),
      ),
    );
    const publishMs = now() - t0;
    const addresses = ids.flatMap((x) => x.addresses);
    const refresh = await rc!.call<{ ok: number; found: string[]; ms: number; errors: Record<string, number> }>(
      'refresh',
      { addresses },
      left(),
    );
    const tp = now();
    const prep = await Promise.all(
      senders.map((c) =>
        c.call<{ ok: number; of: number; errors: Record<string, number> }>(
          'prepare',
          { to: bob.address, size: config.messageSize, known: refresh.found },
          left(),
        ),
      ),
    );
    const prepareMs = now() - tp;
    const firstErrors: Record<string, number> = {};
    for (const p of prep) for (const [k, v] of Object.entries(p.errors)) firstErrors[k] = (firstErrors[k] ?? 0) + v;
    if (refresh.ok < s || Object.keys(firstErrors).length > 0) {
      log(
        `  S = ${s}: receiver found ${refresh.ok}/${s} sender records; first-message errors ${JSON.stringify(firstErrors)}`,
      );
    }
    const rates: number[] = [];
    const acked: number[] = [];
    let failed = 0;
    const errors: Record<string, number> = {};
    for (let run = 0; run < config.blastRuns; run++) {
      const m0 = await rc!.call<{ count: number; t: number }>('mark');
      const res = await Promise.all(
        senders.map((c) =>
          c.call<{ acked: number; failed: number; ms: number; errors: Record<string, number> }>(
            'blast',
            { ms: config.blastMs, max: 200_000, window: config.window, size: config.messageSize },
            config.blastMs + 60_000,
          ),
        ),
      );
      const m1 = await rc!.call<{ count: number; t: number }>('mark');
      rates.push(((m1.count - m0.count) * 1000) / (m1.t - m0.t));
      acked.push(res.reduce((x, r) => x + (r.acked * 1000) / r.ms, 0));
      for (const r of res) {
        failed += r.failed;
        for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
      }
    }
    const result: SessionsResult = {
      sessions: s,
      senderProcesses: active,
      inFlight: active * config.window,
      setup: {
        recipientReadyMs: bob.readyMs,
        publishMs,
        publishFailures: ids.reduce((x, r) => x + r.failures, 0),
        refreshMs: refresh.ms,
        refreshOk: refresh.ok,
        prepareMs,
        firstMessagesOk: prep.reduce((x, r) => x + r.ok, 0),
      },
      deliveredPerSec: summarize(rates),
      ackedPerSec: summarize(acked),
      failed,
      errors,
      firstMessageErrors: firstErrors,
    };
    log(
      `  S = ${s}: ${result.deliveredPerSec.median.toFixed(0)} delivered msgs/s (${result.setup.firstMessagesOk}/${s} first messages ok)`,
    );
    return result;
  });
}

// ---------------------------------------------------------------------------------------------
// Part 3: N hosts over P child processes

interface LookupReply {
  lookups: number;
  ok: number;
  times: number[];
  errors: Record<string, number>;
}

async function runMultiProcess(n: number, procs: number, root: string): Promise<MeshResult> {
  const tw = now();
  const names = Array.from({ length: procs }, (_, i) => `mesh${n}-p${i}`);
  return withChildren(names, async (children) => {
    const c0 = children[0]!;
    const seed = await c0.call<{ multiaddr: string }>('seed');
    const t0 = now();
    const per = children.map(
      (_, i) => Math.floor((n * (i + 1)) / procs) - Math.floor((n * i) / procs) - (i === 0 ? 1 : 0),
    );
    const concurrency = Math.max(2, Math.ceil(MESH_JOIN_CONCURRENCY / procs));
    const joinBudget = Math.max(10_000, remaining() - 60_000);
    await Promise.all(
      children.map((c, i) =>
        c.call('join', { count: per[i], seed: seed.multiaddr, concurrency, budgetMs: joinBudget }, joinBudget + 30_000),
      ),
    );
    const startMs = now() - t0;
    const routes = await Promise.all(
      children.map((c, i) =>
        c.call<{ ms: number; complete: boolean }>(
          'routing',
          { budgetMs: ROUTING_BUDGET_MS, seedTarget: i === 0 ? n - 1 : undefined },
          ROUTING_BUDGET_MS + 10_000,
        ),
      ),
    );
    log(`  ${n} nodes in ${procs} processes started in ${startMs.toFixed(0)} ms`);
    const pubs = await Promise.all(
      children.map((c) =>
        c.call<{ keys: string[]; times: number[]; accepted: number[]; failures: number }>(
          'publish',
          { records: Math.ceil(config.records / procs) },
          120_000,
        ),
      ),
    );
    const keys = pubs.flatMap((p) => p.keys);
    const looks = await Promise.all(
      children.map((c, i) =>
        c.call<LookupReply>(
          'lookup',
          {
            keys,
            count: Math.ceil(config.lookups / procs),
            budgetMs: config.lookupBudgetMs,
            timeoutMs: config.lookupTimeoutMs,
            seed: 0x5077 + n * 8 + i,
          },
          config.lookupBudgetMs + config.lookupTimeoutMs + 10_000,
        ),
      ),
    );
    const rss = await Promise.all(children.map((c) => c.call<{ base: number; now: number }>('rss')));
    const rssDelta = rss.reduce((x, r) => x + (r.now - r.base), 0);
    const lookupTimes = looks.flatMap((l) => l.times);
    const lookupErrors: Record<string, number> = {};
    for (const l of looks) for (const [k, v] of Object.entries(l.errors)) lookupErrors[k] = (lookupErrors[k] ?? 0) + v;
    const publishTimes = pubs.flatMap((p) => p.times);

    let firstMessage: MeshResult['firstMessage'];
    let firstMessageError: string | undefined;
    let e2eMs: MeshResult['e2eMs'];
    try {
      const bob = await c0.call<{ address: string; readyMs: number }>('recipient', {
        dataDir: join(root, `mp${n}-bob`),
        seed: seed.multiaddr,
      });
      const s = await children[procs - 1]!.call<SenderOutcome>(
        'sender',
        {
          dataDir: join(root, `mp${n}-alice`),
          seed: seed.multiaddr,
          to: bob.address,
          size: config.messageSize,
          followUps: config.followUps,
          budgetMs: 20_000,
        },
        120_000,
      );
      firstMessage = { recipientReadyMs: bob.readyMs, ...s.first };
      e2eMs = {
        p50: percentile(s.e2e, 0.5),
        p99: percentile(s.e2e, 0.99),
        count: s.e2e.length,
        notDelivered: s.e2eNotDelivered,
      };
    } catch (err) {
      firstMessageError = errorMessage(err).split('\n')[0];
    }
    return {
      nodes: n,
      startMs,
      routingWaitMs: Math.max(...routes.map((r) => r.ms)),
      routingComplete: routes.every((r) => r.complete),
      routingTableMedian: Number.NaN,
      records: keys.length + pubs.reduce((x, p) => x + p.failures, 0),
      publishMs: { p50: percentile(publishTimes, 0.5), p99: percentile(publishTimes, 0.99) },
      publishAcceptedMedian: summarize(pubs.flatMap((p) => p.accepted)).median,
      publishFailures: pubs.reduce((x, p) => x + p.failures, 0),
      lookups: looks.reduce((x, l) => x + l.lookups, 0),
      lookupOk: looks.reduce((x, l) => x + l.ok, 0),
      lookupMs: {
        p50: percentile(lookupTimes, 0.5),
        p99: percentile(lookupTimes, 0.99),
        max: percentile(lookupTimes, 1),
      },
      lookupErrors,
      rssPerNodeMB: rssDelta / n / 2 ** 20,
      rssTotalDeltaMB: rssDelta / 2 ** 20,
      gcAvailable: true,
      firstMessage,
      firstMessageError,
      e2eMs,
      wallSeconds: (now() - tw) / 1000,
    };
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * Expected wall time of size `n` from the previous size's: growth taken as (n / prev)^1.5 (joins
 * and background DHT work both grow with N on one core). Undefined before the first size.
 */
function estimateSeconds(prev: MeshResult | undefined, n: number): number | undefined {
  if (!prev?.wallSeconds) return undefined;
  return prev.wallSeconds * (n / prev.nodes) ** 1.5;
}

async function sweep(
  what: string,
  sizes: number[],
  budgetShare: number,
  run: (n: number, partDeadline: number) => Promise<MeshResult>,
  results: MeshResult[],
  skipped: ScaleReport['inProcess']['skipped'],
): Promise<void> {
  const partDeadline = Math.min(deadline, now() + budgetShare);
  for (const n of sizes) {
    const left = (partDeadline - now()) / 1000;
    const estimate = estimateSeconds(results[results.length - 1], n);
    if (left < 20 || (estimate !== undefined && estimate > left)) {
      const reason = `time budget: ${left.toFixed(0)} s left for this part, N = ${n} estimated at ${estimate === undefined ? '?' : estimate.toFixed(0)} s`;
      log(`  ${what}: skipping N = ${n} (${reason})`);
      skipped.push({ nodes: n, reason });
      continue;
    }
    log(`${what}: N = ${n}`);
    try {
      results.push(await run(n, partDeadline));
    } catch (err) {
      const reason = errorMessage(err).split('\n')[0] ?? 'failed';
      log(`  ${what}: N = ${n} failed: ${reason}`);
      skipped.push({ nodes: n, reason: `failed: ${reason}` });
    }
  }
}

async function main(): Promise<void> {
  const loadStart = os.loadavg();
  const root = mkdtempSync(join(os.tmpdir(), 'sotto-bench-scale-'));
  await nodeProviderReady;
  const env = createEnv();
  const report: ScaleReport = {
    meta: {
      date: new Date().toISOString(),
      mode: config.mode,
      machine: machineInfo(),
      loadAverage: { start: loadStart, end: [] },
      node: process.version,
      v8: process.versions.v8,
      runs: config.blastRuns,
      messageBytes: config.messageSize,
      budgetSeconds: config.budgetMs / 1000,
      bounds: {
        sessions: `sessions ${config.sessions.join(', ')}; ${config.blastRuns} runs of ${config.blastMs / 1000} s per S; ${config.senderProcs} sender processes × ${config.window} envelopes in flight`,
        mesh: `in one process N = ${config.sizes.join(', ')}; across ${config.procs} processes N = ${config.mpSizes.join(', ')}; ${config.records} records, ${config.lookups} lookups or ${config.lookupBudgetMs / 1000} s per N; ${config.followUps} warm messages or 20 s`,
        budget: `whole benchmark ≤ ${config.budgetMs / 60_000} min`,
      },
      libraries: {
        libp2p: packageVersion('libp2p'),
        '@libp2p/kad-dht': packageVersion('@libp2p/kad-dht'),
        level: packageVersion('level'),
      },
      wallSeconds: 0,
    },
    sessions: { results: [], skipped: [] },
    inProcess: { results: [], skipped: [] },
    multiProcess: { processes: config.procs, results: [], skipped: [] },
  };
  try {
    if (config.sessions.length > 0) log('part 1: delivered msgs/s vs sessions');
    // Sessions get at most 40% of the budget; set-up (records, lookups, handshakes) grows with S.
    const sessionsDeadline = now() + config.budgetMs * 0.4;
    for (const s of config.sessions) {
      if (sessionsDeadline - now() < 20_000) {
        const reason = `time budget: ${((sessionsDeadline - now()) / 1000).toFixed(0)} s left for this part`;
        log(`  skipping S = ${s} (${reason})`);
        report.sessions.skipped.push({ sessions: s, reason });
        continue;
      }
      try {
        report.sessions.results.push(await runSessions(s, root, sessionsDeadline));
      } catch (err) {
        const reason = errorMessage(err).split('\n')[0] ?? 'failed';
        log(`  S = ${s} failed: ${reason}`);
        report.sessions.skipped.push({ sessions: s, reason: `failed: ${reason}` });
      }
    }
    const meshOptions = {
      lookups: config.lookups,
      lookupTimeoutMs: config.lookupTimeoutMs,
      lookupBudgetMs: config.lookupBudgetMs,
      messageSize: config.messageSize,
      records: config.records,
      followUps: config.followUps,
      followUpBudgetMs: 20_000,
      log,
    };
    // In-process sizes get two thirds of what is left, the multi-process ones the rest.
    const share = config.mpSizes.length > 0 ? (remaining() * 2) / 3 : remaining();
    await sweep(
      'one process',
      config.sizes,
      share,
      (n, partDeadline) => runMesh(n, root, env, { ...meshOptions, deadline: partDeadline }),
      report.inProcess.results,
      report.inProcess.skipped,
    );
    await sweep(
      `${config.procs} processes`,
      config.mpSizes,
      remaining(),
      (n) => runMultiProcess(n, config.procs, root),
      report.multiProcess.results,
      report.multiProcess.skipped,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  report.meta.loadAverage.end = os.loadavg();
  report.meta.wallSeconds = (now() - started) / 1000;

  const markdown = renderScaleMarkdown(report);
  const outDir = join(repoRoot, 'scripts', 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  const base = config.mode === 'quick' ? 'scale-quick' : 'scale';
  writeFileSync(join(outDir, `${base}.md`), markdown);
  const json = formatJson(report);
  writeFileSync(join(outDir, `${base}.json`), json);
  process.stdout.write(config.json ? json : markdown);
  log(`wrote scripts/bench/out/${base}.md and ${base}.json (${report.meta.wallSeconds.toFixed(1)} s)`);
}

main().then(
  // libp2p may leave unref'd handles behind; the report is written, so leave now.
  () => setTimeout(() => process.exit(), 200).unref(),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
