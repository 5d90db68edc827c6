/**
 * scripts/bench/node/render.ts, the markdown of the node benchmark (`npm run bench:node`): from a
 * small but complete report it must (1) name the N-node bound only when the N-node part ran (a run
 * with --no-mesh must not print an empty "N = ; …" bound, nor an empty "; ;" segment), (2) print
 * "Not measured: <error>" when the two-process part failed, and (3) put the two-process figures into
 * their tables as median (min–max), with the ratios computed run by run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MeshResult } from '../../scripts/bench/mesh.js';
import {
  type PairResult,
  type PairRun,
  pairSummaries,
  type RenderSettings,
  type Report,
  renderMarkdown,
} from '../../scripts/bench/node/render.js';
import { hasRow } from './markdown.js';

/** The quick run's bounds (what node.ts passes as its configuration). */
const settings: RenderSettings = {
  latencyCount: 100,
  latencyBudgetMs: 2_000,
  sottoMaxCount: 500,
  sottoBudgetMs: 1_500,
  floorMaxCount: 10_000,
  floorBudgetMs: 500,
  lookups: 40,
  lookupTimeoutMs: 10_000,
  lookupBudgetMs: 10_000,
};

const LATENCY_BOUND = 'latency 100 messages or 2 s per run';
const THROUGHPUT_BOUND = 'sotto throughput 500 messages or 1.5 s per run, floor 10,000 frames or 0.5 s';
const MESH_BOUND = 'N = 10; 40 lookups or 10 s per N';

/** One two-process run; `i` (0 or 1) picks the figures of the first or second run. */
function pairRun(i: 0 | 1): PairRun {
  return {
    floorP50: [0.25, 0.5][i]!,
    floorP99: [0.75, 1][i]!,
    floorNewP50: [1, 2][i]!,
    floorNewP99: [4, 6][i]!,
    durableP50: [1, 1][i]!,
    durableP99: [3, 3][i]!,
    durableFramesPerSec: [2000, 2000][i]!,
    sottoP50: [2.5, 3.5][i]!,
    sottoP99: [6, 8][i]!,
    sottoQueued: [0, 1][i]!,
    sottoMessages: [100, 100][i]!,
    oneWayP50: [2, 3][i]!,
    oneWayP99: [5, 7][i]!,
    floorFramesPerSec: [8000, 9000][i]!,
    floorLockstepPerSec: [3000, 2000][i]!,
    sottoMsgsPerSec: [800, 1800][i]!,
    sottoThroughputMessages: [450, 500][i]!,
    sottoThroughputQueued: [2, 0][i]!,
    receivedByRecipient: [450, 500][i]!,
  };
}

/** The two-process part as node.ts's runPair builds it: figures and run-by-run ratios of the runs. */
function pairResult(): PairResult {
  const runs = [pairRun(0), pairRun(1)];
  return {
    setup: {
      recipientStartMs: 175,
      senderStartMs: 253,
      publishPeersStored: 1,
      firstMessageMs: 91.25,
      firstMessageState: 'delivered',
    },
    runs,
    ...pairSummaries(runs),
  };
}

const mesh = (nodes: number): MeshResult => ({
  nodes,
  startMs: 1234,
  routingWaitMs: 10,
  routingComplete: true,
  routingTableMedian: 5,
  records: nodes,
  publishMs: { p50: 5, p99: 9 },
  publishAcceptedMedian: 3,
  publishFailures: 0,
  lookups: 40,
  lookupOk: 39,
  lookupMs: { p50: 12.5, p99: 40, max: 41 },
  lookupErrors: { 'Error: timeout': 1 },
  rssPerNodeMB: 5.5,
  rssTotalDeltaMB: 5.5 * nodes,
  gcAvailable: true,
  firstMessage: {
    recipientReadyMs: 100,
    senderStartMs: 50,
    senderRoutingMs: 5,
    senderPublishMs: 20,
    sendMs: 30,
    totalMs: 205,
    state: 'delivered',
  },
});

/** A report of a quick run: the two-process part measured, no N-node part (as with --no-mesh). */
function report(bounds: Record<string, string> = { latency: LATENCY_BOUND, throughput: THROUGHPUT_BOUND }): Report {
  return {
    meta: {
      date: '2026-11-27T16:01:47.155Z',
      mode: 'quick',
      large: false,
      machine: { cpu: 'Test CPU 9000', cores: 2, platform: 'linux', arch: 'x64', release: '6.0', totalMemGiB: 8 },
      loadAverage: { start: [0.5, 0.25, 0.125], end: [1, 0.5, 0.25] },
      node: 'v20.20.2',
      v8: '11.3',
      runs: 2,
      messageBytes: 1024,
      window: 4,
      bounds,
      libraries: { sotto: '0.1.0', libp2p: '3.3.11' },
      wallSeconds: 16.75,
    },
    pair: pairResult(),
    mesh: [],
    meshErrors: {},
  };
}

/** The "- Bounds: …" line of a rendered report. */
function boundsLine(markdown: string): string {
  const lines = markdown.split('\n').filter((l) => l.startsWith('- Bounds:'));
  assert.equal(lines.length, 1, 'exactly one Bounds line');
  return lines[0]!;
}

describe('node bench markdown', () => {
  it('names no N-node bound when the N-node part did not run, and leaves no empty segment', () => {
    // as node.ts writes it now with --no-mesh (no mesh key), and as older JSON has it ("N = ; …")
    const cases: Record<string, string>[] = [
      { latency: LATENCY_BOUND, throughput: THROUGHPUT_BOUND },
      { latency: LATENCY_BOUND, throughput: THROUGHPUT_BOUND, mesh: 'N = ; 40 lookups or 10 s per N' },
    ];
    for (const bounds of cases) {
      const line = boundsLine(renderMarkdown(report(bounds), settings));
      assert.equal(line, `- Bounds: ${LATENCY_BOUND}; ${THROUGHPUT_BOUND}`);
      assert.ok(!line.includes('N = '), line);
      assert.ok(!line.includes('; ;') && !line.endsWith('; ') && !line.endsWith(';'), line);
      // nor does "What is measured" describe the N-node part, or a profile the run did not take
      const measured = renderMarkdown(report(bounds), settings).split('## What is measured')[1] ?? '';
      assert.ok(measured.includes('- Two processes:'), 'the two-process part is described');
      assert.ok(!measured.includes('- N nodes:') && !measured.includes('- RSS per node:'), measured);
      assert.ok(!measured.includes('- CPU profile:'), measured);
    }
  });

  it('names the N-node bound when the N-node part ran, and renders its tables', () => {
    const r = report({ latency: LATENCY_BOUND, throughput: THROUGHPUT_BOUND, mesh: MESH_BOUND });
    r.mesh = [mesh(10)];
    const markdown = renderMarkdown(r, settings);
    assert.equal(boundsLine(markdown), `- Bounds: ${LATENCY_BOUND}; ${THROUGHPUT_BOUND}; ${MESH_BOUND}`);
    assert.ok(markdown.includes('## N nodes in one process (DHT directory)'));
    assert.ok((markdown.split('## What is measured')[1] ?? '').includes('- N nodes: in this process'));
    hasRow(markdown, ['10', '1,234', '10.0', '5.00 / 9.00', '3.00', '39/40 (98%)', '12.5', '40.0', '5.50']);
    assert.ok(markdown.includes('- N=10 lookup failures: `Error: timeout` ×1'));
    // without it, no N-node section at all
    assert.ok(!renderMarkdown(report(), settings).includes('## N nodes in one process'));
    // every N failed: the bound of what was attempted is still named
    const failed = report({ latency: LATENCY_BOUND, throughput: THROUGHPUT_BOUND, mesh: MESH_BOUND });
    failed.meshErrors = { '10': 'Error: routing wait timed out' };
    assert.equal(
      boundsLine(renderMarkdown(failed, settings)),
      `- Bounds: ${LATENCY_BOUND}; ${THROUGHPUT_BOUND}; ${MESH_BOUND}`,
    );
  });

  it('prints the error of a two-process part that failed, and no tables for it', () => {
    const r = report();
    delete r.pair;
    r.pairError = 'Error: children ready timed out after 60000 ms';
    const markdown = renderMarkdown(r, settings);
    assert.ok(
      markdown.includes(
        '## Two node processes on loopback\n\nNot measured: Error: children ready timed out after 60000 ms\n',
      ),
      markdown,
    );
    assert.ok(!markdown.includes('| Path (1 KiB request → ack)'));
    assert.ok(!markdown.includes('Throughput (window'));
  });

  it('puts the two-process figures into their tables: median (min–max), ratios run by run', () => {
    const markdown = renderMarkdown(report(), settings);
    // floor p50 0.25 / 0.5 ms; sotto p50 2.5 / 3.5 ms → per-run ratios 10 and 7
    hasRow(markdown, [
      'floor: bare libp2p, one reused stream, lpStream',
      '0.375 (0.250–0.500)',
      '0.875 (0.750–1.00)',
      '1.00×',
      '1.00×',
    ]);
    hasRow(markdown, [
      'sotto send() → delivered',
      '3.00 (2.50–3.50)',
      '7.00 (6.00–8.00)',
      '8.50× (7.00–10.00)',
      '8.00×',
    ]);
    // sotto 800 / 1,800 msgs/s against floor 8,000 / 9,000 frames/s → per-run ratios 0.1 and 0.2
    hasRow(markdown, [
      'sotto: delivered msgs/s (LevelDB store, send() calls in flight)',
      '1,300 (800–1,800)',
      '0.15× (0.10–0.20)',
    ]);
    hasRow(markdown, ['floor: frames/s, pipelined on one stream', '8,500 (8,000–9,000)', '1.00×']);
    assert.ok(markdown.includes('- **sotto p50 ÷ floor p50: 8.50× (7.00–10.00)** (target ≤ 3×)'));
    // queued: 0 + 2 in run 1, 1 + 0 in run 2
    assert.ok(markdown.includes('100 sequential, 475 (450–500) in the throughput window; 3 came back `queued`'));
    assert.ok(markdown.includes('the first message (directory lookup + PQXDH handshake + delivery) took 91.3 ms'));
  });
});
