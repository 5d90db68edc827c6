/**
 * Scale benchmark: how sotto behaves as the network and the load grow, on loopback.
 *
 *   node --import tsx scripts/bench/scale.ts [--quick] [--sizes N,N] [--procs P] [--mp-sizes N,N]
 *       [--sessions S,S] [--setup-concurrency K] [--kad-experiment ALPHA,PATHS] [--out NAME] [--merge]
 *       [--budget SECONDS] [--json]
 *
 * --setup-concurrency: DHT puts / lookups in flight per host while setting up the sessions part
 * (default 8); --kad-experiment: an experiment, not sotto's configuration — the mesh hosts' kad-dht
 * query parallelism (alpha, disjoint paths) is patched to these values and the report says so;
 * --out: write scripts/bench/out/NAME.{md,json} instead (experiments that must not replace the
 * JSON the page is generated from); --merge: keep the rows of the existing NAME.json (scale.json by
 * default) for the sizes this run does not measure, each with its own run's date and load.
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
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../src/net/shim.js';
import { createEnv } from '../../src/crypto/env.js';
import { nodeProviderReady } from '../../src/crypto/provider-node.js';
import { HANDSHAKE_BURST, LOOKUP_TIMEOUT_MS } from '../../src/node/node.js';
import { errorMessage, formatJson, machineInfo, packageVersion, repoRoot, summarize } from './lib.js';
import {
  type DhtTrace,
  describeDiag,
  MAX_MESH_NODES,
  MESH_JOIN_CONCURRENCY,
  MESH_PUT_TIMEOUT_MS,
  type MeshDiag,
  type MeshResult,
  mergeTraces,
  type PhaseLoad,
  PUBLISH_CONCURRENCY,
  percentile,
  ROUTING_BUDGET_MS,
  runMesh,
  type SenderOutcome,
} from './mesh.js';
import { renderScaleMarkdown, type ScaleReport, type SessionsResult, utcMinute } from './report.js';
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
  /** Experiment: kad-dht "alpha,disjointPaths" for the mesh hosts (SOTTO_BENCH_KAD), not sotto's setting. */
  kadExperiment?: string;
  /** Base name of the output files in scripts/bench/out/ (default scale, or scale-quick). */
  out?: string;
  /** Keep the rows of the existing output that this run did not measure (each with its own run's stamp). */
  merge: boolean;
  /** DHT puts / lookups in flight per sender host (and at the receiver) while setting up sessions. */
  setupConcurrency?: number;
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
    // N = 50 is left to the one-process curve: the multi-process time goes to N = 200 (issue 8)
    mpSizes: quick ? [12] : [100, 200],
    sessions: quick ? [1, 10, 100] : [1, 10, 100, 1000],
    senderProcs: 2,
    window: 8,
    blastMs: quick ? 1_000 : 3_000,
    blastRuns: quick ? 1 : 3,
    lookups: quick ? 30 : 100,
    lookupBudgetMs: quick ? 8_000 : 25_000,
    // the node's own bound on a directory lookup: a lookup fails here only when it would for a node
    lookupTimeoutMs: LOOKUP_TIMEOUT_MS,
    records: quick ? 10 : 40,
    followUps: quick ? 20 : 100,
    messageSize: 1024,
    // 21 min: room for N = 200 in one process (≈ 7 min at a load near 1) and over 4 processes
    budgetMs: (quick ? 6 : 21) * 60_000,
    json: argv.includes('--json'),
    merge: argv.includes('--merge'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--quick':
      case '--merge':
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
      case '--setup-concurrency': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error('--setup-concurrency must be 1..64');
        config.setupConcurrency = n;
        break;
      }
      case '--kad-experiment': {
        // read by mesh.ts when it builds a host, here and in the children (they inherit the environment)
        const v = String(value());
        if (!/^\d+,\d+$/.test(v)) throw new Error('--kad-experiment takes alpha,paths');
        config.kadExperiment = v;
        break;
      }
      case '--out': {
        const v = String(value());
        if (!/^[a-z0-9-]{1,40}$/.test(v) || v === 'scale' || v === 'scale-quick')
          throw new Error(
            '--out takes a base name of [a-z0-9-] other than scale / scale-quick (those are the defaults)',
          );
        config.out = v;
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
          'usage: node --import tsx scripts/bench/scale.ts [--quick] [--sizes N,N|none] [--procs P] [--mp-sizes N,N|none] [--sessions S,S|none] [--setup-concurrency K] [--kad-experiment ALPHA,PATHS] [--out NAME] [--merge] [--budget SECONDS] [--json]',
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
if (config.kadExperiment) process.env.SOTTO_BENCH_KAD = config.kadExperiment;
const log = (msg: string) => process.stderr.write(`${msg}\n`);
const now = () => performance.now();
const here = dirname(fileURLToPath(import.meta.url));
const childScript = join(here, 'scale', 'child.ts');
const started = now();
/** This run, as stamped on each row it measures (rows kept by --merge keep their own run's stamp). */
const runStamp = { date: new Date().toISOString(), load: os.loadavg() };
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
        c.call<{ addresses: string[]; failures: number; hosts: number }>(
          'identities',
          { seed: seed.multiaddr, count: shares[i], setupConcurrency: config.setupConcurrency, budgetMs: left() },
          left() + 5_000,
        ),
      ),
    );
    const publishMs = now() - t0;
    const addresses = ids.flatMap((x) => x.addresses);
    const refresh = await rc!.call<{ ok: number; found: string[]; ms: number; errors: Record<string, number> }>(
      'refresh',
      { addresses, setupConcurrency: config.setupConcurrency },
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
    const net = await Promise.all([rc!, ...senders].map((c) => c.call<Record<string, unknown>>('netstat')));
    log(
      `  S = ${s}: receiver ${JSON.stringify(net[0])}; senders ${net
        .slice(1)
        .map((x) => JSON.stringify(x))
        .join(' ')}`,
    );
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
      senderHosts: ids.reduce((x, r) => x + r.hosts, 0),
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
// Parts 2 and 3: what one N costs

/**
 * Records published at size `n`: fewer above N = 100 (RECORDS_ABOVE_100). Each put's closest-peers
 * lookup reaches more peers as N grows, and the puts run PUBLISH_CONCURRENCY at a time, so 40 puts
 * at N = 200 took minutes on this machine; 20 records still give the lookups 20 distinct targets and
 * the put latency 20 samples.
 */
export const RECORDS_ABOVE_100 = 20;
const recordsFor = (n: number) => (n > 100 ? Math.min(config.records, RECORDS_ABOVE_100) : config.records);

/**
 * Lookup budget at size `n`: the configured budget up to N = 100, growing with N beyond it, so that
 * a large N whose lookups are slower still gets a comparable number of samples (its lookups run one
 * at a time, each bounded by the node's LOOKUP_TIMEOUT_MS).
 */
const lookupBudgetFor = (n: number) => Math.round(config.lookupBudgetMs * Math.max(1, n / 100));

// ---------------------------------------------------------------------------------------------
// Part 3: N hosts over P child processes

interface LookupReply {
  lookups: number;
  ok: number;
  times: number[];
  errors: Record<string, number>;
  load: PhaseLoad;
  connections: { median: number; max: number };
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
        c.call<{
          keys: string[];
          times: number[];
          accepted: number[];
          failures: number;
          load: PhaseLoad;
          connections: { median: number; max: number };
        }>(
          'publish',
          { records: Math.ceil(recordsFor(n) / procs) },
          // each process's puts, PUBLISH_CONCURRENCY at a time, each bounded by MESH_PUT_TIMEOUT_MS
          (Math.ceil(Math.ceil(recordsFor(n) / procs) / PUBLISH_CONCURRENCY) + 1) * MESH_PUT_TIMEOUT_MS,
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
            budgetMs: lookupBudgetFor(n),
            timeoutMs: config.lookupTimeoutMs,
            seed: 0x5077 + n * 8 + i,
          },
          lookupBudgetFor(n) + config.lookupTimeoutMs + 10_000,
        ),
      ),
    );
    const rss = await Promise.all(children.map((c) => c.call<{ base: number; now: number }>('rss')));
    const traces = await Promise.all(children.map((c) => c.call<DhtTrace>('trace')));
    const diag: MeshDiag = {
      publishLoad: pubs.map((p) => p.load),
      lookupLoad: looks.map((l) => l.load),
      connectionsAfterPublish: pubs.map((p) => p.connections),
      connectionsAfterLookups: looks.map((l) => l.connections),
      trace: mergeTraces(traces),
    };
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
      diag,
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
    log(
      `${what}: N = ${n} (load ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' / ')})`,
    );
    try {
      const loadAtStart = os.loadavg();
      const r = await run(n, partDeadline);
      r.measured = runStamp;
      r.loadAtStart = loadAtStart;
      results.push(r);
      if (r.diag) for (const line of describeDiag(r.diag)) log(`  ${line}`);
    } catch (err) {
      const reason = errorMessage(err).split('\n')[0] ?? 'failed';
      log(`  ${what}: N = ${n} failed: ${reason}`);
      skipped.push({ nodes: n, reason: `failed: ${reason}` });
    }
  }
}

/**
 * --merge: the rows of the previous report at `path` that this run did not measure (an S or N this
 * run neither measured nor skipped) are kept, each stamped with the run it came from, so that a run
 * of one size completes the page instead of replacing it. The tables then name every run's date and
 * load (report.ts rowsCaption), and `meta.merged` lists the runs kept.
 */
function mergeInto(report: ScaleReport, path: string): void {
  if (!existsSync(path)) return;
  const old = JSON.parse(readFileSync(path, 'utf8')) as ScaleReport;
  if (old.meta.mode !== report.meta.mode) return;
  const oldStamp = { date: old.meta.date, load: old.meta.loadAverage.start };
  // the bounds the kept rows were measured with (reports before the bounds named the put and lookup
  // timeouts used 15 s and 10 s)
  const oldMesh = old.meta.bounds.mesh ?? '';
  const oldBounds = [
    old.meta.bounds.sessions,
    oldMesh.includes('bounded by') ? oldMesh : `${oldMesh}; puts bounded by 15 s and lookups by 10 s each`,
  ]
    .filter(Boolean)
    .join('; ');
  const kept = new Set<string>();
  const mergePart = <R extends { measured?: { date: string; load: number[] } }, S>(
    now: { results: R[]; skipped: S[] },
    before: { results: R[]; skipped: S[] },
    key: (x: R | S) => number,
  ) => {
    const measured = new Set([...now.results.map(key), ...now.skipped.map(key)]);
    for (const r of before.results) {
      if (measured.has(key(r))) continue;
      const stamped = { ...r, measured: r.measured ?? oldStamp };
      now.results.push(stamped);
      kept.add(`${stamped.measured.date}|${stamped.measured.load.map((x) => x.toFixed(2)).join(' / ')}`);
    }
    const have = new Set(now.results.map(key));
    for (const s of before.skipped) if (!measured.has(key(s)) && !have.has(key(s))) now.skipped.push(s);
    now.results.sort((a, b) => key(a) - key(b));
    now.skipped.sort((a, b) => key(a) - key(b));
  };
  mergePart(report.sessions, old.sessions, (x) => (x as { sessions: number }).sessions);
  mergePart(report.inProcess, old.inProcess, (x) => (x as { nodes: number }).nodes);
  if (old.multiProcess.processes === report.multiProcess.processes)
    mergePart(report.multiProcess, old.multiProcess, (x) => (x as { nodes: number }).nodes);
  report.meta.merged = [
    ...(old.meta.merged ?? []),
    ...[...kept]
      .filter((k) => !(old.meta.merged ?? []).some((m) => m.startsWith(utcMinute(k.split('|')[0]!))))
      .map((k) => {
        const [date, load] = k.split('|');
        return `${utcMinute(date!)} (load ${load} at its start): the rows this run did not measure are that run's, with its bounds (${oldBounds})`;
      }),
  ];
  log(`merged ${kept.size === 0 ? 'nothing' : [...kept].map((k) => k.split('|')[0]).join(', ')} from ${path}`);
}

async function main(): Promise<void> {
  const loadStart = runStamp.load;
  const root = mkdtempSync(join(os.tmpdir(), 'sotto-bench-scale-'));
  await nodeProviderReady;
  const env = createEnv();
  const report: ScaleReport = {
    meta: {
      date: runStamp.date,
      mode: config.mode,
      machine: machineInfo(),
      loadAverage: { start: loadStart, end: [] },
      node: process.version,
      v8: process.versions.v8,
      runs: config.blastRuns,
      messageBytes: config.messageSize,
      budgetSeconds: config.budgetMs / 1000,
      bounds: {
        sessions:
          config.sessions.length === 0
            ? 'sessions: none in this run'
            : `sessions ${config.sessions.join(', ')}; ${config.blastRuns} runs of ${config.blastMs / 1000} s per S; ${config.senderProcs} sender processes × ${config.window} envelopes in flight, one sender host per ${HANDSHAKE_BURST} identities`,
        mesh: `in one process N = ${config.sizes.join(', ') || 'none in this run'}; across ${config.procs} processes N = ${config.mpSizes.join(', ') || 'none in this run'}; ${config.records} records (${RECORDS_ABOVE_100} above N = 100), puts bounded by ${MESH_PUT_TIMEOUT_MS / 1000} s each (as publishRecord); ${config.lookups} lookups or ${config.lookupBudgetMs / 1000} s × max(1, N/100) per N, each bounded by ${config.lookupTimeoutMs / 1000} s (the node's lookup bound); ${config.followUps} warm messages or 20 s`,
        budget: `whole benchmark ≤ ${config.budgetMs / 60_000} min`,
        ...(config.kadExperiment
          ? {
              experiment: `EXPERIMENT: mesh hosts' kad-dht alpha,disjointPaths = ${config.kadExperiment} (not sotto's setting)`,
            }
          : {}),
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
        const r = await runSessions(s, root, sessionsDeadline);
        r.measured = runStamp;
        report.sessions.results.push(r);
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
      (n, partDeadline) =>
        runMesh(n, root, env, {
          ...meshOptions,
          records: recordsFor(n),
          lookupBudgetMs: lookupBudgetFor(n),
          deadline: partDeadline,
        }),
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
  const base = config.out ?? (config.mode === 'quick' ? 'scale-quick' : 'scale');
  writeFileSync(join(outDir, `${base}.md`), markdown);
  if (config.merge) mergeInto(report, join(outDir, `${base}.json`));
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
