/**
 * Crypto benchmark: sotto's PQXDH + Double Ratchet against two baselines measured in the same run,
 * @signalapp/libsignal-client (Rust via N-API) and @matrix-org/olm (WASM).
 *
 *   node --import tsx scripts/bench/crypto.ts [--quick] [--runs N] [--json] [--only id,id]
 *
 * Prints a markdown report (or JSON with --json) and writes scripts/bench/out/crypto.{md,json}
 * (crypto-quick.{md,json} with --quick, so a smoke run never overwrites the real figures).
 * Benchmarks print figures; they never fail on speed. The exit code is non-zero only when a
 * baseline cannot run at all or a target decrypts something wrongly.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import {
  equalBytes,
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
  pairRatios,
  randomAsciiMessages,
  replaceGeneratedSection,
  repoRoot,
  type Summary,
  seededRandom,
  shuffled,
  summarize,
} from './lib.js';
import type { BenchTarget, Ciphertext, Pair } from './targets/types.js';
import { isPromise } from './targets/types.js';

// ---------------------------------------------------------------------------------------------
// Configuration

interface Config {
  mode: 'normal' | 'quick';
  runs: number;
  /** Timed budget per run for handshakes, encryption and ping-pong. */
  budgetMs: number;
  /** Budget of the discarded warm-up pass of each metric. */
  warmupMs: number;
  maxHandshakes: number;
  maxMessages: number;
  maxRoundTrips: number;
  /** Messages in the out-of-order test (fixed by the brief). */
  oooCount: number;
  messageSize: number;
  /** Distinct random messages cycled through. */
  messagePool: number;
  /** Per-run budget of each KEM / primitive micro-benchmark. */
  microBudgetMs: number;
  json: boolean;
  only: string[] | undefined;
}

function parseArgs(argv: string[]): Config {
  const quick = argv.includes('--quick');
  const config: Config = {
    mode: quick ? 'quick' : 'normal',
    runs: quick ? 3 : 7,
    budgetMs: quick ? 60 : 500,
    warmupMs: quick ? 30 : 300,
    maxHandshakes: quick ? 200 : 10_000,
    maxMessages: quick ? 2_000 : 100_000,
    maxRoundTrips: quick ? 500 : 50_000,
    oooCount: 1000,
    messageSize: 1024,
    messagePool: 64,
    microBudgetMs: quick ? 30 : 200,
    json: argv.includes('--json'),
    only: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--quick':
      case '--json':
        break;
      case '--runs': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) throw new Error('--runs must be a positive integer');
        config.runs = n;
        break;
      }
      case '--only':
        config.only = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      case '--help':
      case '-h':
        console.log('usage: node --import tsx scripts/bench/crypto.ts [--quick] [--runs N] [--json] [--only id,id]');
        console.log('target ids: libsignal, olm, sotto-node, sotto-noble');
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
const messages = randomAsciiMessages(config.messagePool, config.messageSize);
const msg = (i: number) => messages[i % messages.length]!;

// ---------------------------------------------------------------------------------------------
// Measurements (one run of one metric for one target)

class WrongPlaintext extends Error {
  constructor(where: string) {
    super(`${where}: decrypted plaintext differs from what was encrypted`);
    this.name = 'WrongPlaintext';
  }
}

interface HandshakeRun {
  perSec: number;
  count: number;
  /** Mean per handshake, microseconds. */
  setupUs: number;
  initiateUs: number;
  encryptFirstUs: number;
  respondUs: number;
  totalUs: number;
}

async function runHandshakes(target: BenchTarget, budgetMs: number, maxCount: number): Promise<HandshakeRun> {
  let count = 0;
  let setup = 0;
  let initiate = 0;
  let encryptFirst = 0;
  let respond = 0;
  const wallStart = now();
  // Setup is untimed but still takes wall time; bound the wall clock too.
  while (count < maxCount && initiate + encryptFirst + respond < budgetMs && now() - wallStart < 4 * budgetMs) {
    const pt = msg(count);
    const t0 = now();
    let hsv = target.setupHandshake();
    if (isPromise(hsv)) hsv = await hsv;
    const hs = hsv;
    const t1 = now();
    let iv = hs.initiate();
    if (isPromise(iv)) iv = await iv;
    const t2 = now();
    let ct: Ciphertext = hs.encryptFirst(pt);
    if (isPromise(ct)) ct = await ct;
    const t3 = now();
    let out = hs.respond(ct);
    if (isPromise(out)) out = await out;
    const t4 = now();
    (hs.dispose ?? hs.pair().dispose)?.();
    if (!equalBytes(out, pt)) throw new WrongPlaintext('handshake');
    setup += t1 - t0;
    initiate += t2 - t1;
    encryptFirst += t3 - t2;
    respond += t4 - t3;
    count++;
  }
  const timed = initiate + encryptFirst + respond;
  const us = (ms: number) => (ms * 1000) / count;
  return {
    perSec: count / (timed / 1000),
    count,
    setupUs: us(setup),
    initiateUs: us(initiate),
    encryptFirstUs: us(encryptFirst),
    respondUs: us(respond),
    totalUs: us(timed),
  };
}

interface Established {
  pair: Pair;
  sizeAfterHandshakeA: number;
  sizeAfterHandshakeB: number;
  prekeyMessageBytes: number;
}

/** A handshake (untimed) confirmed by one B→A message, so both sides have received. */
async function establish(target: BenchTarget): Promise<Established> {
  const hs = await target.setupHandshake();
  await hs.initiate();
  const first = await hs.encryptFirst(msg(0));
  const out = await hs.respond(first);
  if (!equalBytes(out, msg(0))) throw new WrongPlaintext('first message');
  const pair = hs.pair();
  const sizeAfterHandshakeA = await pair.sessionSizeA();
  const sizeAfterHandshakeB = await pair.sessionSizeB();
  const reply = await pair.encryptBtoA(msg(1));
  if (!equalBytes(await pair.decryptAtA(reply), msg(1))) throw new WrongPlaintext('reply');
  return { pair, sizeAfterHandshakeA, sizeAfterHandshakeB, prekeyMessageBytes: pair.ciphertextSize(first) };
}

interface InOrderRun {
  count: number;
  encryptPerSec: number;
  decryptPerSec: number;
  messageBytes: number;
  sizeA: number;
  sizeB: number;
}

async function runInOrder(pair: Pair, budgetMs: number, maxCount: number): Promise<InOrderRun> {
  const cts: Ciphertext[] = [];
  const t0 = now();
  let t1 = t0;
  while (cts.length < maxCount) {
    let ct: Ciphertext = pair.encryptAtoB(msg(cts.length));
    if (isPromise(ct)) ct = await ct;
    cts.push(ct);
    t1 = now();
    if (t1 - t0 >= budgetMs) break;
  }
  const outs: Uint8Array[] = new Array(cts.length);
  const t2 = now();
  for (let i = 0; i < cts.length; i++) {
    let out = pair.decryptAtB(cts[i]);
    if (isPromise(out)) out = await out;
    outs[i] = out;
  }
  const t3 = now();
  for (let i = 0; i < outs.length; i++) if (!equalBytes(outs[i]!, msg(i))) throw new WrongPlaintext(`in-order #${i}`);
  return {
    count: cts.length,
    encryptPerSec: cts.length / ((t1 - t0) / 1000),
    decryptPerSec: cts.length / ((t3 - t2) / 1000),
    messageBytes: pair.ciphertextSize(cts[0]),
    sizeA: await pair.sessionSizeA(),
    sizeB: await pair.sessionSizeB(),
  };
}

async function runPingPong(pair: Pair, budgetMs: number, maxCount: number): Promise<{ perSec: number; count: number }> {
  let count = 0;
  const t0 = now();
  let t1 = t0;
  while (count < maxCount) {
    const p1 = msg(count);
    let c1: Ciphertext = pair.encryptAtoB(p1);
    if (isPromise(c1)) c1 = await c1;
    let o1 = pair.decryptAtB(c1);
    if (isPromise(o1)) o1 = await o1;
    const p2 = msg(count + 1);
    let c2: Ciphertext = pair.encryptBtoA(p2);
    if (isPromise(c2)) c2 = await c2;
    let o2 = pair.decryptAtA(c2);
    if (isPromise(o2)) o2 = await o2;
    if (!equalBytes(o1, p1) || !equalBytes(o2, p2)) throw new WrongPlaintext(`ping-pong #${count}`);
    count++;
    t1 = now();
    if (t1 - t0 >= budgetMs) break;
  }
  return { perSec: count / ((t1 - t0) / 1000), count };
}

interface OutOfOrderRun {
  perSec: number;
  ok: number;
  failed: number;
  /** Failure count by error message. */
  errors: Record<string, number>;
}

async function runOutOfOrder(pair: Pair, count: number, seed: number): Promise<OutOfOrderRun> {
  const cts: Ciphertext[] = [];
  for (let i = 0; i < count; i++) cts.push(await pair.encryptAtoB(msg(i)));
  const order = shuffled(
    Array.from({ length: count }, (_, i) => i),
    seededRandom(seed),
  );
  let ok = 0;
  const errors: Record<string, number> = {};
  const results: (Uint8Array | undefined)[] = new Array(count);
  const t0 = now();
  for (const i of order) {
    try {
      let out = pair.decryptAtB(cts[i]);
      if (isPromise(out)) out = await out;
      results[i] = out;
    } catch (err) {
      const key = errorMessage(err);
      errors[key] = (errors[key] ?? 0) + 1;
    }
  }
  const t1 = now();
  for (let i = 0; i < count; i++) {
    const r = results[i];
    if (r === undefined) continue;
    if (!equalBytes(r, msg(i))) throw new WrongPlaintext(`out-of-order #${i}`);
    ok++;
  }
  return { perSec: count / ((t1 - t0) / 1000), ok, failed: count - ok, errors };
}

// ---------------------------------------------------------------------------------------------
// Per-target results

interface TargetResult {
  id: string;
  name: string;
  version: string;
  pq: boolean;
  notes: readonly string[];
  status: 'ok' | 'unavailable' | 'failed';
  error?: string;
  handshakesPerSec?: Summary;
  handshakeBreakdownUs?: { setup: Summary; initiate: Summary; encryptFirst: Summary; respond: Summary; total: Summary };
  handshakeCount?: Summary;
  encryptPerSec?: Summary;
  decryptPerSec?: Summary;
  inOrderCount?: Summary;
  roundTripsPerSec?: Summary;
  roundTripCount?: Summary;
  outOfOrderPerSec?: Summary;
  outOfOrderOk?: Summary;
  /** Out-of-order failures by error message, summed over all runs. */
  outOfOrderErrors?: Record<string, number>;
  sizes?: {
    sessionAfterHandshakeA: Summary;
    sessionAfterHandshakeB: Summary;
    sessionAfterInOrderA: Summary;
    sessionAfterInOrderB: Summary;
    prekeyMessage: Summary;
    message: Summary;
  };
}

interface Collected {
  hs: HandshakeRun[];
  inOrder: InOrderRun[];
  pingPong: { perSec: number; count: number }[];
  ooo: OutOfOrderRun[];
  hsSizesA: number[];
  hsSizesB: number[];
  prekeyBytes: number[];
}

function newCollected(): Collected {
  return { hs: [], inOrder: [], pingPong: [], ooo: [], hsSizesA: [], hsSizesB: [], prekeyBytes: [] };
}

/** One pass of every metric; `record` false for the warm-up pass. */
type Metric = 'handshake' | 'inOrder' | 'pingPong' | 'outOfOrder';
const METRICS: readonly Metric[] = ['handshake', 'inOrder', 'pingPong', 'outOfOrder'];

/** Runs one metric for one target and, when `record`, adds its figures to `c`. */
async function runMetric(
  target: BenchTarget,
  c: Collected,
  metric: Metric,
  run: number,
  budgetMs: number,
  record: boolean,
): Promise<void> {
  if (metric === 'handshake') {
    const hs = await runHandshakes(target, budgetMs, config.maxHandshakes);
    if (record) c.hs.push(hs);
    return;
  }
  const e = await establish(target);
  try {
    if (metric === 'inOrder') {
      const inOrder = await runInOrder(e.pair, budgetMs, config.maxMessages);
      if (!record) return;
      c.inOrder.push(inOrder);
      c.hsSizesA.push(e.sizeAfterHandshakeA);
      c.hsSizesB.push(e.sizeAfterHandshakeB);
      c.prekeyBytes.push(e.prekeyMessageBytes);
    } else if (metric === 'pingPong') {
      const pingPong = await runPingPong(e.pair, budgetMs, config.maxRoundTrips);
      if (record) c.pingPong.push(pingPong);
    } else {
      const ooo = await runOutOfOrder(e.pair, config.oooCount, oooSeed(run));
      if (record) c.ooo.push(ooo);
    }
  } finally {
    e.pair.dispose?.();
  }
}

function sumCounts(maps: Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const m of maps) for (const [k, n] of Object.entries(m)) total[k] = (total[k] ?? 0) + n;
  return total;
}

/** The same shuffled order for every target within a run; a different one per run. */
const oooSeed = (run: number) => 0x5077_0000 + run;

function finish(target: BenchTarget, c: Collected): TargetResult {
  const s = <T>(rows: T[], f: (r: T) => number) => summarize(rows.map(f));
  const base = { id: target.id, name: target.name, version: target.version, pq: target.pq, notes: target.notes };
  return {
    ...base,
    status: 'ok',
    handshakesPerSec: s(c.hs, (r) => r.perSec),
    handshakeBreakdownUs: {
      setup: s(c.hs, (r) => r.setupUs),
      initiate: s(c.hs, (r) => r.initiateUs),
      encryptFirst: s(c.hs, (r) => r.encryptFirstUs),
      respond: s(c.hs, (r) => r.respondUs),
      total: s(c.hs, (r) => r.totalUs),
    },
    handshakeCount: s(c.hs, (r) => r.count),
    encryptPerSec: s(c.inOrder, (r) => r.encryptPerSec),
    decryptPerSec: s(c.inOrder, (r) => r.decryptPerSec),
    inOrderCount: s(c.inOrder, (r) => r.count),
    roundTripsPerSec: s(c.pingPong, (r) => r.perSec),
    roundTripCount: s(c.pingPong, (r) => r.count),
    outOfOrderPerSec: s(c.ooo, (r) => r.perSec),
    outOfOrderOk: s(c.ooo, (r) => r.ok),
    outOfOrderErrors: sumCounts(c.ooo.map((r) => r.errors)),
    sizes: {
      sessionAfterHandshakeA: summarize(c.hsSizesA),
      sessionAfterHandshakeB: summarize(c.hsSizesB),
      sessionAfterInOrderA: s(c.inOrder, (r) => r.sizeA),
      sessionAfterInOrderB: s(c.inOrder, (r) => r.sizeB),
      prekeyMessage: summarize(c.prekeyBytes),
      message: s(c.inOrder, (r) => r.messageBytes),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// KEM and primitive micro-benchmarks (once per run, outside the protocol tables)

interface MicroResult {
  id: string;
  label: string;
  usPerOp: Summary;
}

async function microBench(
  id: string,
  label: string,
  make: () => () => unknown,
  runs: number,
  budgetMs: number,
): Promise<MicroResult> {
  const op = make();
  const deadline = now() + Math.max(20, budgetMs / 2);
  while (now() < deadline) op(); // warm-up
  const perRun: number[] = [];
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const t0 = now();
    let t1 = t0;
    while (t1 - t0 < budgetMs) {
      op();
      n++;
      t1 = now();
    }
    perRun.push(((t1 - t0) * 1000) / n);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { id, label, usPerOp: summarize(perRun) };
}

async function runMicroBenches(libsignalOk: boolean): Promise<{ results: MicroResult[]; notes: string[] }> {
  const results: MicroResult[] = [];
  const notes: string[] = [];
  const runs = config.runs;
  const budget = config.microBudgetMs;
  if (libsignalOk) {
    const ls = await import('./targets/libsignal.js');
    const info = ls.libsignalKemInfo();
    notes.push(
      `libsignal prekeys use ${info.keyType} (public key ${info.publicKeyBytes} bytes incl. 1 type byte). Only key generation is reachable from JS: encapsulation and decapsulation run inside processPreKeyBundle / signalDecryptPreKey and cannot be isolated, so the libsignal KEM share of a handshake is not measured directly.`,
    );
    results.push(
      await microBench(
        'libsignal.kem.keygen',
        `libsignal KEMKeyPair.generate() (${info.keyType}, Rust)`,
        () => () => ls.LibsignalKEMKeyPair.generate(),
        runs,
        budget,
      ),
    );
    results.push(
      await microBench(
        'libsignal.x25519.keygen',
        'libsignal PrivateKey.generate() (X25519 key pair)',
        () => () => ls.LibsignalPrivateKey.generate().getPublicKey(),
        runs,
        budget,
      ),
    );
    results.push(
      await microBench(
        'libsignal.x25519.agree',
        'libsignal PrivateKey.agree() (one X25519 DH)',
        () => {
          const a = ls.LibsignalPrivateKey.generate();
          const b = ls.LibsignalPrivateKey.generate().getPublicKey();
          return () => a.agree(b);
        },
        runs,
        budget,
      ),
    );
    results.push(
      await microBench(
        'libsignal.xeddsa.verify',
        'libsignal PublicKey.verify() (XEdDSA, 33-byte message)',
        () => {
          const k = ls.LibsignalPrivateKey.generate();
          const m = k.getPublicKey().serialize();
          const sig = k.sign(m);
          const pub = k.getPublicKey();
          return () => pub.verify(m, sig);
        },
        runs,
        budget,
      ),
    );
  }
  for (const [name, kem] of [
    ['ML-KEM-768', ml_kem768],
    ['ML-KEM-1024', ml_kem1024],
  ] as const) {
    const key = name.toLowerCase().replace(/-/g, '');
    const keys = kem.keygen();
    const { cipherText } = kem.encapsulate(keys.publicKey);
    results.push(
      await microBench(
        `noble.${key}.keygen`,
        `@noble/post-quantum ${name} keygen`,
        () => () => kem.keygen(),
        runs,
        budget,
      ),
    );
    results.push(
      await microBench(
        `noble.${key}.encaps`,
        `@noble/post-quantum ${name} encapsulate`,
        () => () => kem.encapsulate(keys.publicKey),
        runs,
        budget,
      ),
    );
    results.push(
      await microBench(
        `noble.${key}.decaps`,
        `@noble/post-quantum ${name} decapsulate`,
        () => () => kem.decapsulate(cipherText, keys.secretKey),
        runs,
        budget,
      ),
    );
  }
  // The primitives of sotto's node provider, as its handshake calls them (fresh key arrays each
  // call where the handshake has fresh keys, so the KeyObject import is included).
  const sotto = await import('../../src/crypto/index.js');
  await sotto.nodeProviderReady;
  const p = sotto.nodeProvider;
  const kemKeys = p.mlkem768Keygen(p.randomBytes(64));
  const kemCt = p.mlkem768Encapsulate(kemKeys.publicKey).ciphertext;
  const backend = sotto.nodeMlKemBackend();
  const edSeed = p.randomBytes(32);
  const edPub = p.ed25519PublicKey(edSeed);
  const edMsg = p.randomBytes(64);
  const edSig = p.ed25519Sign(edSeed, edMsg);
  const xPub = p.x25519PublicKey(p.randomBytes(32));
  const micro: [string, string, () => () => unknown][] = [
    [
      'sotto.node.mlkem768.encaps',
      `sotto node provider ML-KEM-768 encapsulate (${backend})`,
      () => () => p.mlkem768Encapsulate(kemKeys.publicKey),
    ],
    [
      'sotto.node.mlkem768.decaps',
      `sotto node provider ML-KEM-768 decapsulate (${backend})`,
      () => () => p.mlkem768Decapsulate(kemCt, kemKeys.secretKey),
    ],
    [
      'sotto.node.x25519.keygen',
      'sotto node provider X25519 key pair (32 random bytes + public key)',
      () => () => p.x25519PublicKey(p.randomBytes(32)),
    ],
    [
      'sotto.node.x25519.agree',
      'sotto node provider X25519 DH, fresh private key array (KeyObject import included)',
      () => () => p.x25519(p.randomBytes(32), xPub),
    ],
    [
      'sotto.node.ed25519.verify',
      'sotto node provider Ed25519 verify (64-byte message, key import included)',
      () => () => p.ed25519Verify(edPub.slice(), edMsg, edSig),
    ],
  ];
  for (const [id, label, make] of micro) results.push(await microBench(id, label, make, runs, budget));
  return { results, notes };
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** Median of the run-by-run ratios, with their min–max. */
function fmtRatio(s: Summary | undefined, ref: Summary | undefined): string {
  const r = pairRatios(s, ref);
  if (!r || !Number.isFinite(r.median)) return 'n/a';
  if (r.runs.length === 1) return `${r.median.toFixed(2)}×`;
  return `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
}

interface Report {
  meta: {
    date: string;
    mode: Config['mode'];
    machine: MachineInfo;
    /** os.loadavg() (1, 5, 15 min) before and after: other processes on the machine skew the figures. */
    loadAverage: { start: number[]; end: number[] };
    node: string;
    v8: string;
    runs: number;
    budgetMsPerRun: number;
    warmup: string;
    messageBytes: number;
    outOfOrder: { count: number; seeds: number[] };
    libraries: Record<string, string>;
    wallSeconds: number;
  };
  targets: TargetResult[];
  micro: MicroResult[];
  microNotes: string[];
  measured: string[];
}

function renderMarkdown(report: Report): string {
  const { meta } = report;
  const ok = report.targets.filter((t) => t.status === 'ok');
  const ref = report.targets.find((t) => t.id === 'libsignal' && t.status === 'ok');
  const out: string[] = [];
  out.push('# Crypto benchmarks: sotto vs libsignal vs olm', '');
  out.push(`- Date: ${meta.date}${meta.mode === 'quick' ? ' — **quick smoke run, figures are rough**' : ''}`);
  out.push(machineLine(meta.machine));
  out.push(loadAverageLine(meta.loadAverage));
  out.push(`- Node ${meta.node} (V8 ${meta.v8}), single thread, sequential calls`);
  out.push(
    `- ${meta.runs} runs; each figure is the median of the per-run figures (min–max in parentheses). A run is bounded to ${meta.budgetMsPerRun} ms of timed work or a count cap. ${meta.warmup}`,
  );
  out.push(
    `- Messages: ${meta.messageBytes} random bytes (printable ASCII so that olm's string API carries exactly ${meta.messageBytes} bytes)`,
  );
  out.push(librariesLine(meta.libraries));
  out.push(`- Wall time of this run: ${meta.wallSeconds.toFixed(1)} s`, '');

  out.push(
    '## Throughput (operations per second, higher is better; ×LS = ratio to libsignal computed run by run, median (min–max) of the per-run ratios)',
    '',
  );
  out.push(
    markdownTable(
      [
        'Target',
        'PQ',
        'Handshakes/s',
        '×LS',
        'Encrypt msg/s',
        '×LS',
        'Decrypt msg/s',
        '×LS',
        'Round trips/s',
        '×LS',
        'Out-of-order msg/s',
        '×LS',
        `OOO decrypted /${meta.outOfOrder.count}`,
      ],
      ok.map((t) => [
        t.name,
        t.pq ? 'yes' : 'no',
        fmtSummary(t.handshakesPerSec),
        fmtRatio(t.handshakesPerSec, ref?.handshakesPerSec),
        fmtSummary(t.encryptPerSec),
        fmtRatio(t.encryptPerSec, ref?.encryptPerSec),
        fmtSummary(t.decryptPerSec),
        fmtRatio(t.decryptPerSec, ref?.decryptPerSec),
        fmtSummary(t.roundTripsPerSec),
        fmtRatio(t.roundTripsPerSec, ref?.roundTripsPerSec),
        fmtSummary(t.outOfOrderPerSec),
        fmtRatio(t.outOfOrderPerSec, ref?.outOfOrderPerSec),
        fmtSummary(t.outOfOrderOk),
      ]),
    ),
    '',
  );

  out.push('## Handshake breakdown (mean µs per handshake within a run; median of runs)', '');
  out.push(
    markdownTable(
      [
        'Target',
        'Setup (untimed)',
        'Initiate',
        'Encrypt first',
        'Respond + decrypt',
        'Timed total',
        'Time ×LS',
        'Handshakes per run',
      ],
      ok.map((t) => {
        const b = t.handshakeBreakdownUs;
        return [
          t.name,
          fmtSummary(b?.setup),
          fmtSummary(b?.initiate),
          fmtSummary(b?.encryptFirst),
          fmtSummary(b?.respond),
          fmtSummary(b?.total),
          fmtRatio(b?.total, ref?.handshakeBreakdownUs?.total),
          fmtSummary(t.handshakeCount),
        ];
      }),
    ),
    '',
  );

  out.push('## Sizes (bytes, lower is better)', '');
  out.push(
    markdownTable(
      [
        'Target',
        'Session A after handshake',
        'Session B after handshake',
        'Session A after in-order run',
        'Session B after in-order run',
        'Messages in in-order run',
        'First (prekey) message',
        'Regular message',
      ],
      ok.map((t) => [
        t.name,
        fmtSummary(t.sizes?.sessionAfterHandshakeA),
        fmtSummary(t.sizes?.sessionAfterHandshakeB),
        fmtSummary(t.sizes?.sessionAfterInOrderA),
        fmtSummary(t.sizes?.sessionAfterInOrderB),
        fmtSummary(t.inOrderCount),
        fmtSummary(t.sizes?.prekeyMessage),
        fmtSummary(t.sizes?.message),
      ]),
    ),
    '',
  );
  out.push(
    `Plaintext is ${meta.messageBytes} bytes in every message. "After handshake": A has processed the bundle and sent the first message, B has decrypted it.`,
    '',
  );

  if (report.micro.length > 0) {
    out.push('## KEM and primitive costs (µs per operation, lower is better)', '');
    out.push(
      markdownTable(
        ['Operation', 'µs/op'],
        report.micro.map((m) => [m.label, fmtSummary(m.usPerOp)]),
      ),
      '',
    );
    for (const n of report.microNotes) out.push(`- ${n}`);
    out.push('');
  }

  out.push('## What is measured', '');
  for (const m of report.measured) out.push(`- ${m}`);
  out.push('');

  out.push('## Per-target notes', '');
  const seen = new Set<string>();
  for (const t of report.targets) {
    for (const n of t.notes) {
      if (seen.has(n)) continue;
      seen.add(n);
      out.push(`- ${n}`);
    }
    const errs = Object.entries(t.outOfOrderErrors ?? {});
    if (errs.length > 0) {
      const list = errs.map(([m, n]) => `\`${m}\` ×${n}`).join(', ');
      out.push(`- ${t.name}: out-of-order failures over ${meta.runs} runs of ${meta.outOfOrder.count}: ${list}`);
    }
  }
  const missing = report.targets.filter((t) => t.status !== 'ok');
  if (missing.length > 0) {
    out.push('', '## Targets not measured', '');
    for (const t of missing) out.push(`- **${t.name}** (${t.status}): ${t.error ?? 'unknown error'}`);
  }
  // Collapse the blank lines that empty sections leave, as the formatter would; end with one newline.
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

// ---------------------------------------------------------------------------------------------
// Main

async function loadTargets(): Promise<{ targets: BenchTarget[]; failed: TargetResult[] }> {
  const targets: BenchTarget[] = [];
  const failed: TargetResult[] = [];
  const fail = (id: string, name: string, err: unknown, status: TargetResult['status'] = 'unavailable') =>
    failed.push({ id, name, version: 'n/a', pq: false, notes: [], status, error: errorMessage(err) });
  try {
    const { makeLibsignalTarget } = await import('./targets/libsignal.js');
    targets.push(makeLibsignalTarget());
  } catch (err) {
    fail('libsignal', '@signalapp/libsignal-client', err);
  }
  try {
    const { makeOlmTarget } = await import('./targets/olm.js');
    targets.push(makeOlmTarget());
  } catch (err) {
    fail('olm', '@matrix-org/olm', err);
  }
  try {
    const { makeSottoTarget } = await import('./targets/sotto.js');
    targets.push(makeSottoTarget('node', 'node provider'), makeSottoTarget('noble', 'noble provider'));
  } catch (err) {
    fail('sotto', 'sotto', err);
  }
  const chosen = config.only ? targets.filter((t) => config.only?.includes(t.id)) : targets;
  const ready: BenchTarget[] = [];
  for (const t of chosen) {
    try {
      await t.init?.();
      // Correctness smoke test before anything is timed.
      const e = await establish(t);
      const ct = await e.pair.encryptAtoB(msg(2));
      if (!equalBytes(await e.pair.decryptAtB(ct), msg(2))) throw new WrongPlaintext('smoke test');
      e.pair.dispose?.();
      ready.push(t);
    } catch (err) {
      failed.push({
        id: t.id,
        name: t.name,
        version: t.version,
        pq: t.pq,
        notes: t.notes,
        status: err instanceof WrongPlaintext ? 'failed' : 'unavailable',
        error: errorMessage(err),
      });
    }
  }
  return { targets: ready, failed };
}

async function main(): Promise<void> {
  const wallStart = now();
  const loadStart = os.loadavg();
  const { targets, failed } = await loadTargets();
  for (const f of failed) log(`note: ${f.name} not measured (${f.status}): ${f.error}`);
  if (targets.length === 0) throw new Error('no target could run');

  const collected = new Map(targets.map((t) => [t.id, newCollected()]));
  const broken = new Map<string, unknown>();

  log(`warm-up (${config.warmupMs} ms per metric)…`);
  const step = async (t: BenchTarget, metric: Metric, run: number, budgetMs: number, record: boolean) => {
    if (broken.has(t.id)) return;
    try {
      await runMetric(t, collected.get(t.id)!, metric, run, budgetMs, record);
    } catch (err) {
      broken.set(t.id, err);
    }
  };
  for (const t of targets) for (const metric of METRICS) await step(t, metric, -1, config.warmupMs, false);
  for (let run = 0; run < config.runs; run++) {
    // Targets take turns metric by metric, so each figure is measured within seconds of the same
    // figure of every other target: drift and bursts of other load hit the pairs alike, and the
    // ratios are computed run by run from these pairs.
    log(`run ${run + 1}/${config.runs}`);
    for (const metric of METRICS) for (const t of targets) await step(t, metric, run, config.budgetMs, true);
  }

  const results: TargetResult[] = targets.map((t) => {
    const err = broken.get(t.id);
    if (err === undefined) return finish(t, collected.get(t.id)!);
    log(`error: ${t.name} failed: ${errorMessage(err)}`);
    return {
      id: t.id,
      name: t.name,
      version: t.version,
      pq: t.pq,
      notes: t.notes,
      status: 'failed' as const,
      error: errorMessage(err),
    };
  });
  results.push(...failed);

  log('KEM and primitive micro-benchmarks…');
  const libsignalOk = results.some((r) => r.id === 'libsignal' && r.status === 'ok');
  const micro = await runMicroBenches(libsignalOk);
  const lsHandshake = results.find((r) => r.id === 'libsignal' && r.status === 'ok')?.handshakeBreakdownUs?.total;
  const enc768 = micro.results.find((m) => m.id === 'noble.mlkem768.encaps')?.usPerOp;
  const dec768 = micro.results.find((m) => m.id === 'noble.mlkem768.decaps')?.usPerOp;
  const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
  if (lsHandshake && enc768 && dec768) {
    const kem = enc768.median + dec768.median;
    micro.notes.push(
      `Parity check: pure-JS ML-KEM-768 (@noble/post-quantum, the noble provider's KEM) encapsulate + decapsulate alone take ${fmtNum(kem)} µs (medians), i.e. ${pct(kem, lsHandshake.median)} of libsignal's whole timed handshake (${fmtNum(lsHandshake.median)} µs median, which includes its own Kyber1024 encapsulation and decapsulation).`,
    );
  }
  const encNode = micro.results.find((m) => m.id === 'sotto.node.mlkem768.encaps')?.usPerOp;
  const decNode = micro.results.find((m) => m.id === 'sotto.node.mlkem768.decaps')?.usPerOp;
  if (lsHandshake && encNode && decNode) {
    const kem = encNode.median + decNode.median;
    micro.notes.push(
      `The node provider's ML-KEM-768 (liboqs WASM) encapsulate + decapsulate take ${fmtNum(kem)} µs, ${pct(kem, lsHandshake.median)} of libsignal's timed handshake.`,
    );
  }

  const report: Report = {
    meta: {
      date: new Date().toISOString(),
      mode: config.mode,
      machine: machineInfo(),
      loadAverage: { start: loadStart, end: os.loadavg() },
      node: process.version,
      v8: process.versions.v8,
      runs: config.runs,
      budgetMsPerRun: config.budgetMs,
      warmup: `Before the runs, every metric is exercised once per target for ${config.warmupMs} ms and discarded.`,
      messageBytes: config.messageSize,
      outOfOrder: { count: config.oooCount, seeds: Array.from({ length: config.runs }, (_, r) => oooSeed(r)) },
      libraries: {
        '@signalapp/libsignal-client': packageVersion('@signalapp/libsignal-client'),
        '@matrix-org/olm': packageVersion('@matrix-org/olm'),
        sotto: results.find((r) => r.id.startsWith('sotto') && r.status === 'ok')?.version ?? 'not measured',
        '@noble/post-quantum': packageVersion('@noble/post-quantum'),
        '@noble/curves': packageVersion('@noble/curves'),
        '@noble/ciphers': packageVersion('@noble/ciphers'),
        openssl: process.versions.openssl ?? 'unknown',
      },
      wallSeconds: 0,
    },
    targets: results,
    micro: micro.results,
    microNotes: micro.notes,
    measured: [
      `Handshakes/s: per handshake, untimed setup (fresh identities for both parties, the responder's prekeys and signatures, the bundle), then timed: initiator processes the bundle, encrypts the first ${config.messageSize}-byte message, responder processes it and decrypts. Prekey generation is therefore excluded; its mean cost is the "Setup (untimed)" column.`,
      `Encrypt / decrypt msg/s: a fresh pair (confirmed by one B→A message) encrypts A→B in one sending chain for ${config.budgetMs} ms (cap ${intFmt.format(config.maxMessages)}), then B decrypts those ciphertexts in order; the two loops are timed separately.`,
      'Round trips/s: A→B then B→A alternately on a fresh confirmed pair; every message follows a change of direction, so every message carries a new ratchet key (a DH ratchet step on both sides). One round trip = 2 encryptions + 2 decryptions.',
      `Out-of-order: ${config.oooCount} messages encrypted A→B (untimed), decrypted by B in a seeded random order (seed ${oooSeed(0).toString(16)}+run, the same order for every target in a run). msg/s counts all ${config.oooCount} attempts, including failures (which are caught); the last column counts messages decrypted correctly. Each library applies its own skipped-key limits.`,
      "Sizes: each library's own serialization (libsignal SessionRecord.serialize(), olm Session.pickle(), sotto Session.snapshot()); message sizes are the wire encoding each API returns.",
      'All decrypted plaintexts are compared with what was encrypted (outside the timed loops); a mismatch aborts the target.',
    ],
  };
  report.meta.wallSeconds = (now() - wallStart) / 1000;

  const markdown = renderMarkdown(report);
  const outDir = join(repoRoot, 'scripts', 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  const base = config.mode === 'quick' ? 'crypto-quick' : 'crypto';
  writeFileSync(join(outDir, `${base}.md`), markdown);
  const json = formatJson(report);
  writeFileSync(join(outDir, `${base}.json`), json);
  if (config.json) process.stdout.write(json);
  else process.stdout.write(markdown);
  log(`wrote scripts/bench/out/${base}.md and ${base}.json (${report.meta.wallSeconds.toFixed(1)} s)`);
  if (config.mode === 'normal' && !config.only) {
    updateBenchmarksPage(join(repoRoot, 'BENCHMARKS.md'), markdown);
    log('updated the crypto section of BENCHMARKS.md');
  }

  const baselineDown = results.some((r) => (r.id === 'libsignal' || r.id === 'olm') && r.status !== 'ok');
  const wrong = results.some((r) => r.status === 'failed' && r.error?.startsWith('WrongPlaintext'));
  if (baselineDown || wrong) process.exitCode = 1;
}

main().catch((err: unknown) => {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});

const PAGE_BEGIN = '<!-- crypto-results:begin (written by npm run bench:crypto; do not edit by hand) -->';
const PAGE_END = '<!-- crypto-results:end -->';

function updateBenchmarksPage(path: string, markdown: string): void {
  replaceGeneratedSection(path, markdown, PAGE_BEGIN, PAGE_END);
}
