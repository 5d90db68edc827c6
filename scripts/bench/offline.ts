/**
 * Offline-delivery benchmark (issue 5): a mailbox node M, a sender A and a recipient B, each in its
 * own child process on 127.0.0.1. While B is stopped, A sends N messages (they are deposited at M);
 * then B starts and fetches them. Measures the time from B's start() to all N messages delivered,
 * the deposit and fetch throughput, the mailbox's bytes per stored message, and checks that every
 * message arrived exactly once.
 *
 *   node --import tsx scripts/bench/offline.ts [--quick] [--runs N] [--sizes 100,1000] [--json]
 *
 * Prints a markdown report (or JSON with --json) and writes scripts/bench/out/offline.{md,json}
 * (offline-quick.* with --quick). A normal run also rewrites the offline section of BENCHMARKS.md.
 * Benchmarks print figures; they never fail on speed. Every loop is bounded in count and time;
 * only the child processes started here are ended, by PID.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MAILBOX_DEPOSIT_BURST,
  MAILBOX_DEPOSIT_REFILL_MS,
  MAILBOX_FETCH_INTERVAL_MS,
  MAX_FETCH_SESSIONS,
  RETRY_BASE_MS,
  RETRY_BATCH,
  RETRY_INTERVAL_MS,
} from '../../src/index.js';
import { MAX_BATCH_ENVELOPES } from '../../src/protocols/mailbox/constants.js';
import {
  errorMessage,
  fmtNum,
  fmtSummary,
  formatJson,
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
import { BenchChild, withTimeout } from './rpc.js';

// ---------------------------------------------------------------------------------------------
// Configuration

interface Config {
  mode: 'normal' | 'quick';
  runs: number;
  sizes: number[];
  messageSize: number;
  /** send() calls in flight while depositing. */
  window: number;
  json: boolean;
}

/** Largest N accepted by --sizes (the mailbox's default quota is 10 000 envelopes per identity). */
const MAX_N = 5_000;
/** Deposit (send loop + waiting for every ack, outbox retries included) budget per pass. */
const depositBudgetMs = (n: number) => 60_000 + 300 * n;
/** Budget from B's start() call to the N-th message per pass. */
const collectBudgetMs = (n: number) => 60_000 + 150 * n;
/** After the last expected message, B listens this much longer for duplicates. */
const SETTLE_MS = 1_000;
/** Wait for the mailbox to have deleted the fetched envelopes (acks in flight), bounded. */
const RESIDUAL_WAIT_MS = 10_000;
/** Pause before each deposit so the mailbox's per-sender deposit bucket is full again. */
const BUCKET_REFILL_MS = MAILBOX_DEPOSIT_BURST * MAILBOX_DEPOSIT_REFILL_MS + 300;

function parseArgs(argv: string[]): Config {
  const quick = argv.includes('--quick');
  const config: Config = {
    mode: quick ? 'quick' : 'normal',
    runs: quick ? 1 : 3,
    sizes: quick ? [50, 200] : [100, 1000],
    messageSize: 1024,
    window: 4,
    json: argv.includes('--json'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    switch (flag) {
      case '--quick':
      case '--json':
        break;
      case '--runs': {
        const n = Number(inline ?? argv[++i]);
        if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error('--runs must be an integer 1..20');
        config.runs = n;
        break;
      }
      case '--sizes': {
        const sizes = String(inline ?? argv[++i])
          .split(',')
          .map((x) => Number(x));
        if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_N)) {
          throw new Error(`--sizes takes message counts 1..${MAX_N}, comma-separated`);
        }
        config.sizes = sizes;
        break;
      }
      case '--help':
      case '-h':
        console.log(
          'usage: node --import tsx scripts/bench/offline.ts [--quick] [--runs N] [--sizes N[,N...]] [--json]',
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

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sum of the apparent sizes of the files under `dir` (0 when it does not exist). */
function dirBytes(dir: string): number {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    try {
      if (e.isDirectory()) total += dirBytes(p);
      else if (e.isFile()) total += statSync(p).size;
    } catch {
      // a LevelDB file removed by a compaction meanwhile
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Child processes (scripts/bench/offline/child.ts), ended by PID only

type Child = BenchChild;
/** One offline child (mailbox, sender or recipient); NaN survives the advanced IPC serialization. */
const newChild = (name: string): Child =>
  new BenchChild(name, join(here, 'offline', 'child.ts'), [name], { serialization: 'advanced', stopCommand: 'exit' });

// ---------------------------------------------------------------------------------------------
// One pass: deposit N while B is stopped, then start B and time the fetch

interface DepositReply {
  started: number;
  sent: number;
  sendPhaseMs: number;
  firstTry: Record<string, number>;
  errors: Record<string, number>;
  stored: number;
  deliveredDirect: number;
  allFinalMs: number;
  /** The first `burstCount` acks (the deposit bucket's size): time from the first send() call. */
  burstCount: number;
  burstMs: number;
  waitedMs: number;
  complete: boolean;
  retryEvents: number;
  outboxAfter: number;
}

interface CollectReply {
  startMs: number;
  firstMs: number;
  allMs: number;
  lastMs: number;
  waitedMs: number;
  events: number;
  distinct: number;
  duplicates: number;
  missing: number;
  missingSeqs: number[];
  outOfOrder: number;
  stale: Record<string, number>;
  foreign: number;
  complete: boolean;
}

interface NodeStatus {
  outbox: number;
  mailbox?: { held: number; bytes: number };
}

interface PassResult {
  label: string;
  n: number;
  senderOutboxBefore: number;
  deposit: DepositReply & {
    /** N ÷ time until every message was acked stored at the mailbox (retries included). */
    perSec: number;
    /** Messages stored at the first attempt ÷ the send() phase. */
    firstTryPerSec: number;
    /** The limiter's bound on first-attempt deposits: burst + send() phase ÷ refill interval. */
    limiterBound: number;
    /** burstCount ÷ burstMs: deposits while the limiter cannot refuse any. */
    burstPerSec: number;
  };
  mailbox: {
    heldBefore: number;
    heldAfter: number;
    envelopeBytesBefore: number;
    envelopeBytesAfter: number;
    envelopeBytesPerMsg: number;
    dirBytesBefore: number;
    dirBytesAfter: number;
    dirBytesPerMsg: number;
    heldAfterFetch: number;
    residualWaitMs: number;
  };
  fetch: CollectReply & {
    /** N ÷ (N-th distinct message − first message). */
    perSec: number;
  };
  ok: boolean;
  /** Delivery problems: incomplete, duplicates, missing, left at the mailbox… */
  problems: string[];
  /** Problems of the nodes outside the delivery path seen during the pass (see child.ts). */
  nodeProblems: string[];
}

interface Roles {
  m: Child;
  a: Child;
  b: Child;
  bAddress: string;
  dirs: { m: string; a: string; b: string };
  mMultiaddr: string;
  mPeerId: string;
}

let lastDepositEnd = 0;

interface ChildProblems {
  staleFetchTimerErrors: number;
  firstStack: string;
}
/** Per role, what the child reported at its last `problems` call. */
const childProblems: Record<string, ChildProblems> = {};

/** Asks every child for problems seen outside commands; returns the new ones as lines. */
async function newChildProblems(all: Child[]): Promise<string[]> {
  const out: string[] = [];
  for (const c of all) {
    const p = await c.call<ChildProblems>('problems');
    const before = childProblems[c.name]?.staleFetchTimerErrors ?? 0;
    if (p.staleFetchTimerErrors > before) {
      out.push(
        `${c.name}: ${p.staleFetchTimerErrors - before} uncaught NodeNotStartedError from a stopped node's mailbox fetch timer`,
      );
    }
    childProblems[c.name] = p;
  }
  return out;
}

async function runPass(roles: Roles, n: number, label: string): Promise<PassResult> {
  const { m, a, b } = roles;
  const mStore = join(roles.dirs.m, 'store');
  const problems: string[] = [];

  const aBefore = await a.call<NodeStatus>('status');
  if (aBefore.outbox > 0) problems.push(`sender outbox held ${aBefore.outbox} entries before the pass`);
  const mBefore = await m.call<NodeStatus>('status');
  if ((mBefore.mailbox?.held ?? 0) > 0) problems.push(`mailbox held ${mBefore.mailbox?.held} envelopes before`);
  const wait = BUCKET_REFILL_MS - (now() - lastDepositEnd);
  if (wait > 0) await sleep(wait);
  const dirBefore = dirBytes(mStore);

  const budget = depositBudgetMs(n);
  const dep = await a.call<DepositReply>(
    'deposit',
    {
      to: roles.bAddress,
      tag: label,
      n,
      size: config.messageSize,
      window: config.window,
      budgetMs: budget,
      burst: MAILBOX_DEPOSIT_BURST,
    },
    budget + 30_000,
  );
  lastDepositEnd = now();
  const mAfter = await m.call<NodeStatus>('status');
  const dirAfter = dirBytes(mStore);
  const heldBefore = mBefore.mailbox?.held ?? 0;
  const heldAfter = mAfter.mailbox?.held ?? 0;
  const envBefore = mBefore.mailbox?.bytes ?? 0;
  const envAfter = mAfter.mailbox?.bytes ?? 0;
  const heldDelta = heldAfter - heldBefore;
  const storedFirst = dep.firstTry['stored-at-mailbox'] ?? 0;
  const limiterBound = MAILBOX_DEPOSIT_BURST + Math.floor(dep.sendPhaseMs / MAILBOX_DEPOSIT_REFILL_MS);
  log(
    `  ${label}: ${dep.sent}/${n} send() calls in ${fmtNum(dep.sendPhaseMs)} ms (first attempt: ${Object.entries(
      dep.firstTry,
    )
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}${Object.keys(dep.errors).length > 0 ? `; errors ${JSON.stringify(dep.errors)}` : ''}); ` +
      `all acked stored after ${fmtNum(dep.allFinalMs)} ms${dep.complete ? '' : ' — INCOMPLETE'}; mailbox holds ${heldAfter} (${envAfter} envelope bytes)`,
  );
  if (!dep.complete) {
    problems.push(
      `deposit incomplete: ${dep.stored + dep.deliveredDirect}/${n} acked within ${budget / 1000} s (sender outbox still ${dep.outboxAfter})`,
    );
  }
  if (dep.deliveredDirect > 0) problems.push(`${dep.deliveredDirect} delivered directly although B was stopped`);
  if (heldDelta !== dep.stored) problems.push(`mailbox held +${heldDelta} but the sender saw ${dep.stored} acks`);

  const cb = collectBudgetMs(n);
  const col = await b.call<CollectReply>(
    'collect',
    {
      dataDir: roles.dirs.b,
      bootstrap: roles.mMultiaddr,
      mailboxes: [roles.mPeerId],
      tag: label,
      n,
      budgetMs: cb,
      settleMs: SETTLE_MS,
    },
    cb + SETTLE_MS + 60_000,
  );
  // The fetch acks delete the envelopes at the mailbox; the last ack may still be in flight.
  const tr = now();
  let heldAfterFetch = heldAfter;
  while (now() - tr < RESIDUAL_WAIT_MS) {
    heldAfterFetch = (await m.call<NodeStatus>('status')).mailbox?.held ?? 0;
    if (heldAfterFetch === 0) break;
    await sleep(100);
  }
  const residualWaitMs = now() - tr;
  await b.call('stopNode', {}, 30_000);
  const nodeProblems = await newChildProblems([m, a, b]);
  for (const p of nodeProblems) log(`  ${label}: ${p}`);
  const fetchPerSec = col.complete ? n / ((col.allMs - col.firstMs) / 1000) : Number.NaN;
  log(
    `  ${label}: B start() ${fmtNum(col.startMs)} ms, first message ${fmtNum(col.firstMs)} ms, all ${col.distinct}/${n} at ${fmtNum(col.allMs)} ms` +
      ` (fetch ${fmtNum(fetchPerSec)} msgs/s); duplicates ${col.duplicates}, missing ${col.missing}, out of order ${col.outOfOrder}` +
      `${Object.keys(col.stale).length > 0 ? `, from other passes ${JSON.stringify(col.stale)}` : ''}; mailbox left ${heldAfterFetch}`,
  );
  if (!col.complete) {
    problems.push(
      `fetch incomplete: ${col.distinct}/${n} arrived within ${cb / 1000} s (first missing seq ${col.missingSeqs.join(', ')})`,
    );
  }
  if (col.duplicates > 0) problems.push(`${col.duplicates} duplicate 'message' events`);
  const staleCount = Object.values(col.stale).reduce((x, y) => x + y, 0);
  if (staleCount > 0) problems.push(`${staleCount} messages of earlier passes arrived in this one`);
  if (col.foreign > 0) problems.push(`${col.foreign} messages that are not benchmark texts`);
  if (heldAfterFetch > 0)
    problems.push(`mailbox still held ${heldAfterFetch} envelopes ${RESIDUAL_WAIT_MS / 1000} s after`);

  return {
    label,
    n,
    senderOutboxBefore: aBefore.outbox,
    deposit: {
      ...dep,
      perSec: dep.complete ? n / (dep.allFinalMs / 1000) : Number.NaN,
      firstTryPerSec: storedFirst / (dep.sendPhaseMs / 1000),
      limiterBound,
      burstPerSec: dep.burstCount / (dep.burstMs / 1000),
    },
    mailbox: {
      heldBefore,
      heldAfter,
      envelopeBytesBefore: envBefore,
      envelopeBytesAfter: envAfter,
      envelopeBytesPerMsg: heldDelta > 0 ? (envAfter - envBefore) / heldDelta : Number.NaN,
      dirBytesBefore: dirBefore,
      dirBytesAfter: dirAfter,
      dirBytesPerMsg: heldDelta > 0 ? (dirAfter - dirBefore) / heldDelta : Number.NaN,
      heldAfterFetch,
      residualWaitMs,
    },
    fetch: { ...col, perSec: fetchPerSec },
    ok: problems.length === 0,
    problems,
    nodeProblems,
  };
}

// ---------------------------------------------------------------------------------------------

interface SizeResult {
  n: number;
  runs: PassResult[];
  figures: Record<string, Summary>;
}

interface Report {
  meta: {
    date: string;
    mode: Config['mode'];
    machine: MachineInfo;
    loadAverage: { start: number[]; end: number[] };
    node: string;
    v8: string;
    git: { commit: string; dirtyFiles: number };
    runs: number;
    sizes: number[];
    messageBytes: number;
    window: number;
    bounds: Record<string, string>;
    nodeConstants: {
      MAILBOX_DEPOSIT_BURST: number;
      MAILBOX_DEPOSIT_REFILL_MS: number;
      RETRY_INTERVAL_MS: number;
      RETRY_BATCH: number;
      RETRY_BASE_MS: number;
      MAX_BATCH_ENVELOPES: number;
      MAX_FETCH_SESSIONS: number;
    };
    libraries: Record<string, string>;
    wallSeconds: number;
  };
  setup?: { mailboxStartMs: number; recipientStartMs: number; senderStartMs: number; recipientPublishMs: number };
  warmup?: PassResult;
  sizes: SizeResult[];
  errors: string[];
  /** Per child role, uncaught errors of the node the child caught and counted (see child.ts). */
  nodeProblems: Record<string, ChildProblems>;
}

function summarizeSize(n: number, runs: PassResult[]): SizeResult {
  const pick = (f: (r: PassResult) => number) => summarize(runs.map(f));
  return {
    n,
    runs,
    figures: {
      onlineToAllMs: pick((r) => (r.fetch.complete ? r.fetch.allMs : Number.NaN)),
      startMs: pick((r) => r.fetch.startMs),
      firstMs: pick((r) => r.fetch.firstMs),
      startToAllMs: pick((r) => (r.fetch.complete ? r.fetch.allMs - r.fetch.startMs : Number.NaN)),
      fetchPerSec: pick((r) => r.fetch.perSec),
      sendPhaseMs: pick((r) => r.deposit.sendPhaseMs),
      firstTryStored: pick((r) => r.deposit.firstTry['stored-at-mailbox'] ?? 0),
      firstTryQueued: pick((r) => r.deposit.firstTry.queued ?? 0),
      firstTryPerSec: pick((r) => r.deposit.firstTryPerSec),
      burstPerSec: pick((r) => r.deposit.burstPerSec),
      depositAllMs: pick((r) => r.deposit.allFinalMs),
      depositPerSec: pick((r) => r.deposit.perSec),
      envelopeBytesPerMsg: pick((r) => r.mailbox.envelopeBytesPerMsg),
      dirBytesPerMsg: pick((r) => r.mailbox.dirBytesPerMsg),
    },
  };
}

function gitInfo(): { commit: string; dirtyFiles: number } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repoRoot, encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '').length;
    return { commit, dirtyFiles: dirty };
  } catch {
    return { commit: 'unknown', dirtyFiles: -1 };
  }
}

async function runAll(report: Report, root: string): Promise<void> {
  const m = newChild('mailbox');
  const a = newChild('sender');
  const b = newChild('recipient');
  const all = [m, a, b];
  log(`child PIDs: ${all.map((c) => `${c.name}=${c.pid}`).join(', ')}`);
  try {
    await withTimeout('children ready', 60_000, Promise.all(all.map((c) => c.ready)));
    const dirs = { m: join(root, 'mailbox'), a: join(root, 'sender'), b: join(root, 'recipient') };
    type Started = { address: string; peerId: string; multiaddr: string; startMs: number };
    // B's address is needed for the mailbox's allow list: B's identity is created offline first.
    const bId = await b.call<{ address: string; peerId: string }>('init', { dataDir: dirs.b });
    const ms = await m.call<Started>('start', {
      dataDir: dirs.m,
      mailbox: { policy: 'allow-list', allow: [bId.address] },
    });
    const bs = await b.call<Started>('start', { dataDir: dirs.b, bootstrap: ms.multiaddr, mailboxes: [ms.peerId] });
    const as = await a.call<Started>('start', { dataDir: dirs.a, bootstrap: ms.multiaddr });
    // B published at start(); again now that A is in the DHT too, as the mailbox test does.
    const pub = await b.call<{ ms: number }>('publish');
    await b.call('stopNode', {}, 30_000);
    report.setup = {
      mailboxStartMs: ms.startMs,
      recipientStartMs: bs.startMs,
      senderStartMs: as.startMs,
      recipientPublishMs: pub.ms,
    };
    log(`set-up: M start ${fmtNum(ms.startMs)} ms, B start ${fmtNum(bs.startMs)} ms, A start ${fmtNum(as.startMs)} ms`);
    const roles: Roles = { m, a, b, bAddress: bId.address, dirs, mMultiaddr: ms.multiaddr, mPeerId: ms.peerId };

    const warmN = config.sizes[0]!;
    log(`warm-up pass, N = ${warmN} (discarded; includes the first-contact handshake)`);
    report.warmup = await runPass(roles, warmN, 'warmup');
    for (const n of config.sizes) {
      const runs: PassResult[] = [];
      for (let r = 0; r < config.runs; r++) {
        log(`N = ${n}, run ${r + 1}/${config.runs}`);
        runs.push(await runPass(roles, n, `n${n}r${r + 1}`));
      }
      report.sizes.push(summarizeSize(n, runs));
    }
  } finally {
    await Promise.all(all.map((c) => c.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

const ms = (s: Summary | undefined) => fmtSummary(s);

/** "median (min–max)" of counts: whole numbers (a median of an even number of runs may end in .5). */
function counts(s: Summary | undefined): string {
  if (!s || !Number.isFinite(s.median)) return 'n/a';
  const f = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
  return s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function renderMarkdown(report: Report): string {
  const { meta } = report;
  const out: string[] = [];
  out.push('# Offline delivery: mailbox deposit, fetch, and time to catch up', '');
  out.push(`- Date: ${meta.date}${meta.mode === 'quick' ? ' — **quick smoke run, figures are rough**' : ''}`);
  out.push(machineLine(meta.machine));
  out.push(loadAverageLine(meta.loadAverage));
  out.push(
    `- Node ${meta.node} (V8 ${meta.v8}); 127.0.0.1 only; three child processes (mailbox M, sender A, recipient B)`,
  );
  out.push(
    `- Code: ${meta.git.commit}${meta.git.dirtyFiles > 0 ? ` with ${meta.git.dirtyFiles} uncommitted file(s) under src/` : ''}`,
  );
  out.push(
    `- ${meta.runs} run${meta.runs === 1 ? '' : 's'} per N after one discarded warm-up pass; each figure is the median of the per-run figures (min–max in parentheses)`,
  );
  out.push(
    `- Messages: ${meta.messageBytes} bytes of ASCII text; ${meta.window} send() calls in flight while depositing`,
  );
  out.push(`- Bounds: ${Object.values(meta.bounds).join('; ')}`);
  out.push(librariesLine(meta.libraries));
  out.push(`- Wall time of this run: ${meta.wallSeconds.toFixed(1)} s`, '');

  out.push('## Results', '');
  if (report.sizes.length > 0) {
    const cols = report.sizes.map((s) => `N = ${s.n}`);
    const row = (name: string, f: (s: SizeResult) => string) => [name, ...report.sizes.map(f)];
    out.push(
      markdownTable(
        ['Figure', ...cols],
        [
          row("**B start() called → N-th message ('message' event), ms**", (s) => `**${ms(s.figures.onlineToAllMs)}**`),
          row('B start() itself (DHT peer, publish), ms', (s) => ms(s.figures.startMs)),
          row('B start() called → first message, ms', (s) => ms(s.figures.firstMs)),
          row('B start() resolved → N-th message, ms', (s) => ms(s.figures.startToAllMs)),
          row('**Fetch throughput, msgs/s** (N ÷ first → N-th message)', (s) => `**${ms(s.figures.fetchPerSec)}**`),
          row('Deposit: N send() calls, ms', (s) => ms(s.figures.sendPhaseMs)),
          row('Deposit: send() → `stored-at-mailbox` at the first attempt', (s) => counts(s.figures.firstTryStored)),
          row('Deposit: send() → `queued` at the first attempt', (s) => counts(s.figures.firstTryQueued)),
          row(
            `Deposit: first ${MAILBOX_DEPOSIT_BURST} acks (or N if fewer; within M's rate-limit burst), msgs/s`,
            (s) => ms(s.figures.burstPerSec),
          ),
          row('Deposit: first-attempt throughput, msgs/s (stored at once ÷ N send() calls)', (s) =>
            ms(s.figures.firstTryPerSec),
          ),
          row('Deposit: all N acked stored at M (outbox retries included), ms', (s) => ms(s.figures.depositAllMs)),
          row('**Deposit throughput, msgs/s** (N ÷ all acked)', (s) => `**${ms(s.figures.depositPerSec)}**`),
          row(
            '**Mailbox envelope bytes per message** (`status().mailbox.bytes`)',
            (s) => `**${ms(s.figures.envelopeBytesPerMsg)}**`,
          ),
          row("Mailbox LevelDB directory growth per message, bytes (files' apparent size)", (s) =>
            ms(s.figures.dirBytesPerMsg),
          ),
        ],
      ),
      '',
    );
  }
  for (const e of report.errors) out.push(`- **Not measured / failed:** ${e}`);
  if (report.errors.length > 0) out.push('');

  const stale = Object.entries(report.nodeProblems).filter(([, p]) => p.staleFetchTimerErrors > 0);
  if (stale.length > 0) {
    out.push('## Node problem seen during the run (not a delivery problem)', '');
    out.push(
      `- **${stale.map(([role, p]) => `${role}: ${p.staleFetchTimerErrors}`).join(', ')} uncaught \`NodeNotStartedError\`** thrown by *stopped* node objects' mailbox fetch timers (\`fetchFromInBackground\`, from the \`setInterval\` that \`start()\` creates, every ${MAILBOX_FETCH_INTERVAL_MS / 1000} s). \`stop()\` does not clear that timer, so a process that stops a node with mailboxes and keeps running throws from a timer callback once a minute per stopped node object, which ends a Node.js process (the first full run of this benchmark died that way, in B's process). The benchmark's child counts exactly this error and goes on (any other uncaught error still ends it); the delivery figures are unaffected, but an application would have crashed.`,
      '',
    );
  }
  out.push('## Delivery check (every run, and the discarded warm-up)', '');
  const passes = [...(report.warmup ? [report.warmup] : []), ...report.sizes.flatMap((s) => s.runs)];
  if (passes.length > 0) {
    out.push(
      markdownTable(
        [
          'Pass',
          'N',
          'Acked at M',
          'Envelope bytes/msg',
          'Arrived at B',
          'Duplicates',
          'Missing',
          'Earlier passes',
          'Out of call order',
          'Left at M',
        ],
        passes.map((p) => [
          p.label === 'warmup' ? 'warm-up (discarded)' : p.label,
          String(p.n),
          `${p.deposit.stored}${p.deposit.deliveredDirect > 0 ? ` (+${p.deposit.deliveredDirect} direct)` : ''}`,
          fmtNum(p.mailbox.envelopeBytesPerMsg),
          `${p.fetch.distinct}${p.fetch.complete ? '' : ' (incomplete)'}`,
          String(p.fetch.duplicates),
          String(p.fetch.missing),
          String(Object.values(p.fetch.stale).reduce((x, y) => x + y, 0)),
          String(p.fetch.outOfOrder),
          String(p.mailbox.heldAfterFetch),
        ]),
      ),
      '',
    );
    const problems = passes.flatMap((p) => p.problems.map((x) => `${p.label}: ${x}`));
    if (problems.length === 0) {
      out.push('- Every pass: every message acked at the mailbox arrived exactly once; none left at the mailbox.');
    } else {
      out.push('- **Delivery problems:**');
      for (const p of problems) out.push(`  - ${p}`);
    }
    const dirFigures = passes.filter((p) => p.label !== 'warmup').map((p) => p.mailbox.dirBytesPerMsg);
    const dirSummary = summarize(dirFigures);
    if (Number.isFinite(dirSummary.median) && dirSummary.min < 0.9 * dirSummary.max) {
      out.push(
        `- LevelDB directory growth varies (${fmtNum(dirSummary.min)}–${fmtNum(dirSummary.max)} bytes per message): in the lower passes LevelDB turned its write-ahead log into a table during the deposit and deleted the log, so the directory grew by less than was written; the upper figure is what the log takes per deposit.`,
      );
    }
    const w = report.warmup;
    const typical = summarize(report.sizes.flatMap((x) => x.runs.map((r) => r.mailbox.envelopeBytesPerMsg))).median;
    if (w && Number.isFinite(typical) && w.mailbox.envelopeBytesPerMsg > 1.2 * typical) {
      out.push(
        `- The warm-up's envelopes are larger (${fmtNum(w.mailbox.envelopeBytesPerMsg)} against ${fmtNum(typical)} bytes per message): it is A's first contact with B, and an initiator sends the PQXDH handshake header with every message until it has received something from B (here B's delivery receipts after the first fetch).`,
      );
    }
    const queued = passes.filter((p) => (p.deposit.firstTry.queued ?? 0) > 0);
    if (queued.length > 0) {
      out.push(
        `- In ${queued.length} of ${passes.length} passes some \`send()\` calls came back \`queued\` at the first attempt. The mailbox limits deposits per sending peer (a token bucket of ${meta.nodeConstants.MAILBOX_DEPOSIT_BURST}, one token back every ${meta.nodeConstants.MAILBOX_DEPOSIT_REFILL_MS} ms, i.e. ${1000 / meta.nodeConstants.MAILBOX_DEPOSIT_REFILL_MS}/s sustained); the first-attempt successes per pass vs that bound (burst + send() phase ÷ refill): ${queued
          .map((p) => `${p.label} ${p.deposit.firstTry['stored-at-mailbox'] ?? 0} ≤ ${p.deposit.limiterBound}`)
          .join(
            ', ',
          )}. The refused ones stay in the sender's outbox and go out with its retries (every ${meta.nodeConstants.RETRY_INTERVAL_MS / 1000} s, at most ${meta.nodeConstants.RETRY_BATCH} per pass, first retry ≥ ${(2 * meta.nodeConstants.RETRY_BASE_MS) / 1000} s after the attempt), so "all acked" is set by that schedule rather than by the mailbox's write speed.`,
      );
    }
    out.push('');
  }

  out.push('## Method: what is timed', '');
  out.push(
    `- Set-up (once): B's identity is created offline (\`initialize()\`); M starts with \`mailbox: { policy: 'allow-list', allow: [B] }\`; B starts with \`mailboxes: [M]\` bootstrapping from M, A starts bootstrapping from M, B publishes its record again and stops. The three nodes keep their data dirs (LevelDB) for the whole benchmark; the session A → B is created in the warm-up pass (first contact, PQXDH), so the measured runs use an existing session.`,
    `- Deposit (in A's process): ${config.window} workers call \`send(B, text)\` until N calls were started (at most the deposit budget). B is stopped, so each call first fails to reach B's node and then deposits at M (\`/sotto/msg/1.0.0\`). "N send() calls" is the time until the last call resolved; "all acked" runs from the first call until A's node emitted \`'delivery'\` with \`stored-at-mailbox\` for every one of the N ids — calls that resolved \`queued\` are retried by A's own outbox timer, the benchmark does not resend anything. "First ${MAILBOX_DEPOSIT_BURST} acks" is the time from the first call to the ${MAILBOX_DEPOSIT_BURST}th \`stored-at-mailbox\` event, while M's bucket still holds enough tokens for every deposit. Before each deposit the benchmark waits until ${BUCKET_REFILL_MS} ms have passed since the previous one, so M's per-sender deposit bucket starts full in every pass.`,
    `- Bytes per stored message (after the deposit, before B starts): \`status().mailbox.bytes\` (the envelope bytes M accounts for) and, separately, the growth of the apparent size of the files in M's LevelDB directory (\`<dataDir>/store\`: write-ahead log and tables, no compaction forced; M's other data is idle meanwhile), each divided by the increase of \`status().mailbox.held\`.`,
    "- Fetch (in B's process): a new node object on B's data dir with a `'message'` listener; the clock starts when `start()` is called. `start()` itself waits for a DHT peer (M) and publishes B's record, then the node fetches from its mailboxes by itself (no `fetchMailboxes()` call by the benchmark) and, as the node does for fetched texts, sends delivery receipts back to A meanwhile. \"N-th message\" is the `'message'` event that completes the set of the pass's N sequence numbers (each text carries its pass tag and sequence number); fetch throughput = N ÷ (that time − the first message's time). After that B listens " +
      `${SETTLE_MS / 1000} s more for duplicates, the benchmark waits (≤ ${RESIDUAL_WAIT_MS / 1000} s) until M holds nothing, and B stops.`,
    `- Exactly once: per pass, duplicates (a sequence number seen again), missing (never seen within the budget), messages tagged with an earlier pass, and the number that arrived after a higher sequence number (out of the order the send() calls were started: with 4 calls in flight and retried deposits this is expected, it is not an error). A pass that misses its budget is reported with what arrived; figures of incomplete passes are left out of the medians (n/a).`,
    `- Node constants at the time of the run: deposit bucket ${meta.nodeConstants.MAILBOX_DEPOSIT_BURST} / ${meta.nodeConstants.MAILBOX_DEPOSIT_REFILL_MS} ms per token; outbox retry every ${meta.nodeConstants.RETRY_INTERVAL_MS} ms, ≤ ${meta.nodeConstants.RETRY_BATCH} per pass, base delay ${meta.nodeConstants.RETRY_BASE_MS} ms doubling; fetch batches ≤ ${meta.nodeConstants.MAX_BATCH_ENVELOPES} envelopes, ≤ ${meta.nodeConstants.MAX_FETCH_SESSIONS} sessions in a row.`,
  );
  if (report.setup) {
    out.push(
      `- Set-up times: M start() ${fmtNum(report.setup.mailboxStartMs)} ms, B start() ${fmtNum(report.setup.recipientStartMs)} ms, A start() ${fmtNum(report.setup.senderStartMs)} ms, B publish ${fmtNum(report.setup.recipientPublishMs)} ms.`,
    );
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------

const PAGE_BEGIN = '<!-- offline-results:begin (written by npm run bench:offline; do not edit by hand) -->';
const PAGE_END = '<!-- offline-results:end -->';

async function main(): Promise<void> {
  const wallStart = now();
  const loadStart = os.loadavg();
  const root = mkdtempSync(join(os.tmpdir(), 'sotto-bench-offline-'));
  const report: Report = {
    meta: {
      date: new Date().toISOString(),
      mode: config.mode,
      machine: machineInfo(),
      loadAverage: { start: loadStart, end: [] },
      node: process.version,
      v8: process.versions.v8,
      git: gitInfo(),
      runs: config.runs,
      sizes: config.sizes,
      messageBytes: config.messageSize,
      window: config.window,
      bounds: {
        deposit: `deposit ${config.sizes.map((n) => `${depositBudgetMs(n) / 1000} s`).join(' / ')} per pass (N = ${config.sizes.join(' / ')})`,
        fetch: `B start() → N-th message ${config.sizes.map((n) => `${collectBudgetMs(n) / 1000} s`).join(' / ')}, then ${SETTLE_MS / 1000} s for duplicates`,
      },
      nodeConstants: {
        MAILBOX_DEPOSIT_BURST,
        MAILBOX_DEPOSIT_REFILL_MS,
        RETRY_INTERVAL_MS,
        RETRY_BATCH,
        RETRY_BASE_MS,
        MAX_BATCH_ENVELOPES,
        MAX_FETCH_SESSIONS,
      },
      libraries: {
        libp2p: packageVersion('libp2p'),
        '@libp2p/tcp': packageVersion('@libp2p/tcp'),
        level: packageVersion('level'),
      },
      wallSeconds: 0,
    },
    sizes: [],
    errors: [],
    nodeProblems: childProblems,
  };
  const cleanup = () => {
    BenchChild.killAll();
    rmSync(root, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: ending the child processes`);
      cleanup();
      process.exit(130);
    });
  }
  try {
    await runAll(report, root);
  } catch (err) {
    report.errors.push(errorMessage(err).split('\n')[0] ?? 'error');
    log(`benchmark failed: ${errorMessage(err)}`);
    process.exitCode = 1;
  } finally {
    cleanup();
  }
  report.meta.loadAverage.end = os.loadavg();
  report.meta.wallSeconds = (now() - wallStart) / 1000;

  const markdown = renderMarkdown(report);
  mkdirSync(outDir, { recursive: true });
  const base = config.mode === 'quick' ? 'offline-quick' : 'offline';
  writeFileSync(join(outDir, `${base}.md`), markdown);
  const json = formatJson(report);
  writeFileSync(join(outDir, `${base}.json`), json);
  if (config.json) process.stdout.write(json);
  else process.stdout.write(markdown);
  log(`wrote scripts/bench/out/${base}.md and ${base}.json (${report.meta.wallSeconds.toFixed(1)} s)`);
  const measured = report.sizes.length === config.sizes.length && report.sizes.every((s) => s.runs.length > 0);
  if (config.mode === 'normal' && measured) {
    replaceGeneratedSection(join(repoRoot, 'BENCHMARKS.md'), markdown, PAGE_BEGIN, PAGE_END);
    log('updated the offline section of BENCHMARKS.md');
  }
}

main().then(
  // libp2p may leave unref'd handles behind; the report is written, so leave now.
  () => setTimeout(() => process.exit(), 200).unref(),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    BenchChild.killAll();
    process.exit(1);
  },
);
