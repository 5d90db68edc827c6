/**
 * The markdown report of the node benchmark (scripts/bench/node.ts): the report's JSON shape and
 * `renderMarkdown`, which turns it into scripts/bench/out/node.md and the node section of
 * BENCHMARKS.md. Pure functions of their inputs: no clock, no file access, nothing runs on import
 * (test/scripts/bench-node-render.test.ts imports it).
 */
import {
  fmtNum,
  fmtSummary,
  intFmt,
  librariesLine,
  loadAverageLine,
  type MachineInfo,
  machineLine,
  markdownTable,
  type Summary,
  summarize,
} from '../lib.js';
import type { MeshResult } from '../mesh.js';
import { captionLine } from '../report.js';
import type { ProfileSummary } from './profile.js';

// ---------------------------------------------------------------------------------------------
// Report shape (what node.ts measures and writes to node.json)

export interface PairRun {
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

export interface PairResult {
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

/** The figures (median, min–max of the runs) and the ratios (computed run by run) of the pair runs. */
export function pairSummaries(runs: readonly PairRun[]): Pick<PairResult, 'figures' | 'ratios'> {
  const pick = (k: keyof PairRun) => summarize(runs.map((r) => r[k]));
  const ratio = (k: keyof PairRun, ref: keyof PairRun) => summarize(runs.map((r) => r[k] / r[ref]));
  const figures: (keyof PairRun)[] = [
    'floorP50',
    'floorP99',
    'floorNewP50',
    'floorNewP99',
    'durableP50',
    'durableP99',
    'durableFramesPerSec',
    'sottoP50',
    'sottoP99',
    'oneWayP50',
    'oneWayP99',
    'floorFramesPerSec',
    'floorLockstepPerSec',
    'sottoMsgsPerSec',
    'sottoThroughputMessages',
  ];
  return {
    figures: Object.fromEntries(figures.map((k) => [k, pick(k)])),
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
  };
}

export interface Report {
  meta: {
    date: string;
    mode: 'normal' | 'quick';
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

/**
 * The per-run bounds the "What is measured" section names. They are not in the report's JSON:
 * node.ts passes its configuration (which depends only on --quick, as does the file it renders).
 */
export interface RenderSettings {
  latencyCount: number;
  latencyBudgetMs: number;
  sottoMaxCount: number;
  sottoBudgetMs: number;
  floorMaxCount: number;
  floorBudgetMs: number;
  lookups: number;
  lookupTimeoutMs: number;
  lookupBudgetMs: number;
}

// ---------------------------------------------------------------------------------------------
// Formatting

function fmtRatio(s: Summary | undefined): string {
  if (!s || !Number.isFinite(s.median)) return 'n/a';
  if (s.min === s.max) return `${s.median.toFixed(2)}×`;
  return `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

export function renderMarkdown(report: Report, settings: RenderSettings): string {
  const { meta, pair } = report;
  const out: string[] = [];
  out.push('# Node benchmarks: sotto message path vs bare libp2p, and the DHT directory', '');
  out.push(`- Date: ${meta.date}${meta.mode === 'quick' ? ' — **quick smoke run, figures are rough**' : ''}`);
  out.push(machineLine(meta.machine));
  out.push(loadAverageLine(meta.loadAverage));
  out.push(`- Node ${meta.node} (V8 ${meta.v8}); 127.0.0.1 only`);
  out.push(
    `- ${meta.runs} runs of the two-process figures after a discarded warm-up pass of the same size; each figure is the median of the per-run figures (min–max in parentheses); ratios are computed run by run against the floor measured in the same run`,
  );
  out.push(`- Messages: ${meta.messageBytes} bytes of ASCII text; floor acks: 2 bytes`);
  // a run without the N-node part names no bound for it (older JSON wrote "N = ; …" there); one
  // where every N failed keeps it
  const meshRan = report.mesh.length > 0 || Object.keys(report.meshErrors).length > 0;
  const bounds = Object.entries(meta.bounds).filter(([k]) => k !== 'mesh' || meshRan);
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
        // measured once by hand (issue 3 note, 2026-11-27); the sampler's bias is not re-measured per run
        "- Read with care: V8's sampler gives too much weight to native calls that enter the kernel (socket writes, libsodium's `randombytes_buf`, LevelDB's batch write). In a check on 2026-11-27 (two nodes in one process, warm, Linux `perf` with call graphs on the same message path), socket writes took about 7 % of the main thread's CPU, libsodium about 1 % and LevelDB's native code about 1 % (its batch-write call about 4 %), while the V8 runtime and builtins running sotto's and libp2p's JavaScript took 55 %.",
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

  if (meshRan) {
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
  // only what this run measured (a --no-mesh run has no N-node part, --no-profile no profile)
  if (pair) {
    out.push(
      `- Two processes: two child processes each run one sotto node (createNode, LevelDB store in a temporary data dir, TCP on 127.0.0.1); the sender bootstraps from the recipient and both publish their identity record. The first message (directory lookup, PQXDH handshake, delivery) is timed once; the session and the directory cache are then warm.`,
      `- sotto latency: ${settings.latencyCount} messages per run (at most ${settings.latencyBudgetMs / 1000} s), one at a time; the time from calling \`send()\` to its resolution with \`delivered\`, i.e. encrypt + store the outbox batch + the envelope on the message stream the sender keeps open to that peer (one per peer, reused for up to 1,024 envelopes; opened once, by the first message) → the recipient decrypts, stores one batch and acks → the sender stores the delivered state. The one-way figure is the recipient's \`'message'\` event time minus the send time written into the text, on the two processes' wall clocks (the same machine clock, so comparable to well under 0.1 ms).`,
      `- Floor: two other child processes run bare libp2p ${meta.libraries.libp2p} hosts (TCP + Noise + Yamux, no identify, no DHT); the client writes a ${meta.messageBytes}-byte length-prefixed frame with lpStream on one long-lived stream and waits for a 2-byte length-prefixed ack (${settings.latencyCount * 3} round trips per run). "New stream per request" opens a stream on the existing connection for every request (multistream-select included) and closes it after the ack: what a stream per message would cost (sotto's \`send()\` did that before it kept one stream per peer).`,
      `- Throughput: sotto keeps ${meta.window} \`send()\` calls in flight to the same recipient for ${settings.sottoBudgetMs / 1000} s or ${intFmt.format(settings.sottoMaxCount)} messages per run, whichever comes first (the message protocol allows 8 concurrent streams per connection); the floor writes up to ${meta.window} frames ahead of their acks on its one stream for ${settings.floorBudgetMs / 1000} s or ${intFmt.format(settings.floorMaxCount)} frames.`,
      "- Persistence: every sotto message goes through LevelDB batches on both sides (sender: outbox + session before the frame leaves, delivered state after the ack; recipient: session + message + dedupe mark before the ack); batches are written with `sync: true` (one fsync per group commit), except the sender's `delivered` mark after the ack.",
    );
  }
  if (meshRan) {
    out.push(
      `- N nodes: in this process, libp2p hosts built with sotto's \`createHost\` (the node's own transport and DHT configuration) bootstrap from node 0, ${'≤'} 5 joining at once, each counted as started once it has a DHT peer (at most 15 s; unpaced joins starve each other's handshakes on this one thread); the routing wait ends when node 0 knows every node and every node knows at least 2 (bounded to 30 s). Each node then signs an identity record exactly as \`publishRecord()\` does and stores it with \`putRecord\` (5 at a time). Lookups: ${settings.lookups} \`getRecord\` calls (at most ${settings.lookupBudgetMs / 1000} s, ${settings.lookupTimeoutMs / 1000} s each) from a random node for a random other node's record, one at a time, each validated; success = the right identity's valid record.`,
      `- RSS per node: (RSS after the lookups − RSS before the first host) ÷ N, ${report.mesh[0]?.gcAvailable ? 'each after forced garbage collections' : 'without forced GC (gc unavailable)'}; node stores are not part of these hosts.`,
      "- Start → first delivered: two full sotto nodes (createNode) join that network: the recipient starts, waits for a DHT peer and publishes; then the sender is timed from `start()` through its first DHT peer and its own publish (the recipient checks the sender's device binding in the directory) to `send()` resolving.",
    );
  }
  if (pair?.profile) {
    out.push(
      '- CPU profile: node:inspector sampling (200 µs) in both sotto children during an extra latency + throughput pass after the runs; self time grouped by package (node_modules), sotto src/ folder, or V8/Node internals. The raw `.cpuprofile` files are in scripts/bench/out/.',
    );
  }
  return `${out.join('\n')}\n`;
}
