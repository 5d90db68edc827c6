/**
 * The benchmark page: renders the scale section, the headline summary and the SVG charts from the
 * benchmarks' JSON reports, and writes them into BENCHMARKS.md between generated-section markers,
 * leaving every line outside the markers (the hand-written prose) exactly as it is.
 *
 * Used by `scripts/bench/all.ts` (`npm run bench`), `scripts/bench/scale.ts`, and the test
 * test/scripts/bench-report.test.ts. Pure functions of their inputs: no clock, no file access.
 */
import {
  fmtNum,
  fmtSummary,
  librariesLine,
  loadAverageLine,
  type MachineInfo,
  machineLine,
  markdownTable,
  pairRatios,
  percentile,
  type Summary,
} from './lib.js';
import type { MeshResult } from './mesh.js';

// ---------------------------------------------------------------------------------------------
// Report shapes (the parts of each benchmark's JSON the page reads)

/** What every benchmark report's `meta` holds. */
export interface ReportMeta {
  date: string;
  mode: 'normal' | 'quick';
  machine: MachineInfo;
  loadAverage: { start: number[]; end: number[] };
  node: string;
  runs: number;
  wallSeconds: number;
}

/** When a row was measured: its run's start (ISO) and the load average (1/5/15 min) as it began. */
export interface Measured {
  date: string;
  load: number[];
}

export interface SessionsResult {
  /** Distinct sending identities, each with its own session at the receiver. */
  sessions: number;
  /** When this S was measured (rows of a merged report can come from different runs). */
  measured?: Measured;
  senderProcesses: number;
  /**
   * Sender hosts (libp2p peers) over all sender processes: one per HANDSHAKE_BURST identities (the
   * receiver's per-peer admission of new sessions). Absent in reports from before it was recorded.
   */
  senderHosts?: number;
  /** Envelopes in flight in all (sender processes × window). */
  inFlight: number;
  setup: {
    recipientReadyMs: number;
    publishMs: number;
    publishFailures: number;
    refreshMs: number;
    refreshOk: number;
    prepareMs: number;
    firstMessagesOk: number;
  };
  /** Messages the receiver emitted per second during the sending window (receiver's clock). */
  deliveredPerSec: Summary;
  /** Acks the senders got per second (their clocks), summed over the sender processes. */
  ackedPerSec: Summary;
  failed: number;
  errors: Record<string, number>;
  /** Errors of the first (handshake) messages, by message. */
  firstMessageErrors?: Record<string, number>;
}

export interface ScaleReport {
  meta: ReportMeta & {
    v8: string;
    messageBytes: number;
    budgetSeconds: number;
    bounds: Record<string, string>;
    libraries: Record<string, string>;
    /** Set when rows of earlier runs were kept (scale.ts --merge): one line per run kept. */
    merged?: string[];
  };
  sessions: { results: SessionsResult[]; skipped: { sessions: number; reason: string }[] };
  inProcess: { results: MeshResult[]; skipped: { nodes: number; reason: string }[] };
  multiProcess: { processes: number; results: MeshResult[]; skipped: { nodes: number; reason: string }[] };
}

interface CryptoTarget {
  id: string;
  name: string;
  status: string;
  handshakesPerSec?: Summary;
  encryptPerSec?: Summary;
  decryptPerSec?: Summary;
  roundTripsPerSec?: Summary;
  sizes?: { prekeyMessage: Summary; message: Summary; sessionAfterInOrderA: Summary };
}
export interface CryptoReport {
  meta: ReportMeta;
  targets: CryptoTarget[];
}
export interface NodeReport {
  meta: ReportMeta;
  pair?: {
    figures: Record<string, Summary>;
    ratios: Record<string, Summary>;
    latencyCdf?: { levels: number[]; samples: Record<string, number>; ms: Record<string, number[]> };
    profile?: { sender: { busy: number }; recipient: { busy: number } };
  };
}
export interface OfflineReport {
  meta: ReportMeta;
  sizes: { n: number; figures: Record<string, Summary> }[];
}

// ---------------------------------------------------------------------------------------------
// Table captions

/** "2026-11-27 07:40 UTC" from an ISO date. */
export function utcMinute(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/**
 * The line every generated table carries above it: machine (CPU model, cores), Node version, run
 * date (UTC), how many runs, and the load average at the start of the run.
 */
export function captionLine(meta: ReportMeta, runs = meta.runs): string {
  const load = meta.loadAverage.start.map((x) => x.toFixed(2)).join(' / ');
  return `_${meta.machine.cpu}, ${meta.machine.cores} cores · Node ${meta.node} · ${utcMinute(meta.date)} · ${runs} run${runs === 1 ? '' : 's'}${meta.mode === 'quick' ? ' (quick)' : ''} · load ${load}_`;
}

/** True for a line `captionLine` / `rowsCaption` wrote (whatever its run count, dates or load). */
export function isCaptionLine(line: string | undefined): boolean {
  return (
    line !== undefined &&
    /^_.+ · Node \S+ · \d{4}-\d\d-\d\d \d\d:\d\d UTC( \+ \d{4}-\d\d-\d\d \d\d:\d\d UTC)* · \d+ runs?\b.* · load .+_$/.test(
      line,
    )
  );
}

/**
 * The caption of a table whose rows carry their own `measured` stamps (a report merged from several
 * runs): every distinct run date with the load average at its start, in date order, so that a
 * merged table never claims a single date. Rows without a stamp are taken as the report's own run.
 */
export function rowsCaption(meta: ReportMeta, runs: number, rows: readonly { measured?: Measured }[]): string {
  const stamps = new Map<string, Measured>();
  for (const r of rows) {
    const m = r.measured ?? { date: meta.date, load: meta.loadAverage.start };
    const key = utcMinute(m.date);
    if (!stamps.has(key)) stamps.set(key, m);
  }
  const list = [...stamps.values()].sort((a, b) => a.date.localeCompare(b.date));
  if (list.length <= 1) {
    const only = list[0];
    return captionLine(
      only ? { ...meta, date: only.date, loadAverage: { ...meta.loadAverage, start: only.load } } : meta,
      runs,
    );
  }
  const load = list.map((m) => m.load.map((x) => x.toFixed(2)).join(' / ')).join(' + ');
  return `_${meta.machine.cpu}, ${meta.machine.cores} cores · Node ${meta.node} · ${list.map((m) => utcMinute(m.date)).join(' + ')} · ${runs} run${runs === 1 ? '' : 's'}${meta.mode === 'quick' ? ' (quick)' : ''} each · load ${load}_`;
}

/** "09:03 UTC · load 0.64" for a row of a merged table (the 1-minute load average at that run's start). */
function measuredCell(meta: ReportMeta, m: Measured | undefined): string {
  const x = m ?? { date: meta.date, load: meta.loadAverage.start };
  return `${x.date.slice(11, 16)} UTC · ${(x.load[0] ?? Number.NaN).toFixed(2)}`;
}

/** True when the rows come from more than one run. */
function mixedRuns(meta: ReportMeta, rows: readonly { measured?: Measured }[]): boolean {
  return new Set(rows.map((r) => utcMinute((r.measured ?? { date: meta.date }).date))).size > 1;
}

/**
 * Inserts `caption` (and a blank line) above every markdown table of `markdown` that has none. A
 * table that already carries a caption line (e.g. "1 run" above a single-run table of a report
 * whose default is "3 runs") keeps its own: a table never gets two.
 */
export function captionTables(markdown: string, caption: string): string {
  const lines = markdown.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const prev = lines[i - 1] ?? '';
    if (line.startsWith('|') && !prev.startsWith('|')) {
      const before = out[out.length - 1] === '' ? out[out.length - 2] : out[out.length - 1];
      if (before !== caption && !isCaptionLine(before)) {
        if (out.length > 0 && out[out.length - 1] !== '') out.push('');
        out.push(caption, '');
      }
    }
    out.push(line);
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Scale section

const pct = (ok: number, all: number) => (all > 0 ? `${((ok / all) * 100).toFixed(0)}%` : 'n/a');

function meshRows(results: readonly MeshResult[]): string[][] {
  return results.map((m) => [
    String(m.nodes),
    fmtNum(m.startMs),
    `${m.lookupOk}/${m.lookups} (${pct(m.lookupOk, m.lookups)})`,
    fmtNum(m.lookupMs.p50),
    fmtNum(m.lookupMs.p99),
    m.e2eMs ? fmtNum(m.e2eMs.p50) : 'n/a',
    m.e2eMs ? fmtNum(m.e2eMs.p99) : 'n/a',
    fmtNum(m.rssPerNodeMB),
    m.firstMessage
      ? `${fmtNum(m.firstMessage.totalMs)}${m.firstMessage.state === 'delivered' ? '' : ` (${m.firstMessage.state})`}`
      : `failed: ${m.firstMessageError ?? '?'}`,
  ]);
}

/** One line per N on where the DHT time went (see MeshDiag), or undefined for reports without it. */
export function diagLine(m: MeshResult): string | undefined {
  const d = m.diag;
  if (!d) return undefined;
  const t = d.trace;
  const reached = t.putLookupMs.filter(Number.isFinite);
  const worst = (l: readonly { loopP99Ms: number; cpu: number }[]) =>
    l.length === 0
      ? 'n/a'
      : `${fmtNum(Math.max(...l.map((x) => x.loopP99Ms)))} ms (CPU ${l.map((x) => `${(x.cpu * 100).toFixed(0)}%`).join(' / ')})`;
  const errors = Object.entries(t.errors).sort((a, b) => b[1] - a[1]);
  const total = errors.reduce((x, [, v]) => x + v, 0);
  const conns = d.connectionsAfterLookups.map((c) => c.max);
  const count = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
  const load = m.loadAtStart ? ` (load ${m.loadAtStart.map((x) => x.toFixed(2)).join(' / ')} as it began)` : '';
  return (
    `- N=${m.nodes}${load}, where the DHT time went: ${reached.length} of ${t.putLookupMs.length} puts got past their closest-peers lookup to PUT_VALUE` +
    (reached.length > 0 ? ` (after ${fmtNum(percentile(reached, 0.5))} ms p50)` : '') +
    `, FIND_NODE requests per put lookup p50 ${count(percentile(t.putLookupRequests, 0.5))}, requests per get p50 ${count(percentile(t.getRequests, 0.5))}` +
    (t.closestRequests && t.closestRequests.length > 0
      ? `, per self-lookup p50 ${count(percentile(t.closestRequests, 0.5))}`
      : '') +
    `; event-loop delay p99 during the puts ${worst(d.publishLoad)}, during the lookups ${worst(d.lookupLoad)}` +
    `; most connections on one host ${conns.length > 0 ? Math.max(...conns) : 'n/a'}` +
    `; kad-dht query errors ${total}${
      errors.length > 0
        ? `: ${errors
            .slice(0, 3)
            .map(([k, v]) => `\`${k}\` ×${v}`)
            .join(', ')}`
        : ''
    }`
  );
}

const MESH_HEADER = [
  'Nodes',
  'Start all (ms)',
  'Lookups ok',
  'Lookup p50 (ms)',
  'Lookup p99 (ms)',
  'Message p50 (ms)',
  'Message p99 (ms)',
  'RSS per node (MB)',
  'start() → first delivered (ms)',
];

/** The scale benchmark's report as markdown (title, header, tables, method). */
export function renderScaleMarkdown(report: ScaleReport): string {
  const { meta } = report;
  const out: string[] = [];
  out.push('# Scale: sessions, N nodes in one process and across processes', '');
  out.push(`- Date: ${meta.date}${meta.mode === 'quick' ? ' — **quick smoke run, figures are rough**' : ''}`);
  out.push(machineLine(meta.machine));
  out.push(loadAverageLine(meta.loadAverage));
  out.push(`- Node ${meta.node} (V8 ${meta.v8}); 127.0.0.1 only`);
  out.push(`- Bounds: ${Object.values(meta.bounds).join('; ')}`);
  out.push(librariesLine(meta.libraries));
  out.push(`- Wall time of this run: ${meta.wallSeconds.toFixed(1)} s`);
  for (const m of meta.merged ?? []) out.push(`- Merged: ${m}`);
  out.push('');

  out.push('## Delivered messages per second at one node vs concurrent sessions', '');
  if (report.sessions.results.length > 0) {
    const mixed = mixedRuns(meta, report.sessions.results);
    out.push(rowsCaption(meta, meta.runs, report.sessions.results), '');
    out.push(
      markdownTable(
        [
          ...(mixed ? ['Measured (UTC · load)'] : []),
          'Sessions (sending identities)',
          'Sender processes / hosts',
          'In flight',
          'Delivered msgs/s (receiver)',
          'Acked msgs/s (senders)',
          'First messages ok',
          'Failed sends',
          'Set-up: records + lookups + handshakes (s)',
        ],
        report.sessions.results.map((r) => [
          ...(mixed ? [measuredCell(meta, r.measured)] : []),
          String(r.sessions),
          r.senderHosts === undefined ? String(r.senderProcesses) : `${r.senderProcesses} / ${r.senderHosts}`,
          String(r.inFlight),
          fmtSummary(r.deliveredPerSec),
          fmtSummary(r.ackedPerSec),
          `${r.setup.firstMessagesOk}/${r.sessions}`,
          String(r.failed),
          fmtNum((r.setup.publishMs + r.setup.refreshMs + r.setup.prepareMs) / 1000),
        ]),
      ),
      '',
    );
    for (const r of report.sessions.results) {
      const errs = Object.entries(r.errors);
      if (errs.length > 0)
        out.push(`- S=${r.sessions} send errors: ${errs.map(([k, v]) => `\`${k}\` ×${v}`).join(', ')}`);
      const first = Object.entries(r.firstMessageErrors ?? {});
      if (first.length > 0)
        out.push(`- S=${r.sessions} first-message errors: ${first.map(([k, v]) => `\`${k}\` ×${v}`).join(', ')}`);
      if (r.setup.refreshOk < r.sessions)
        out.push(
          `- S=${r.sessions}: the receiver found ${r.setup.refreshOk} of ${r.sessions} sender records before the runs`,
        );
    }
  }
  for (const s of report.sessions.skipped) out.push(`- S=${s.sessions} not measured: ${s.reason}`);
  out.push('');

  const meshSection = (title: string, part: ScaleReport['inProcess']) => {
    out.push(title, '');
    if (part.results.length > 0) {
      const mixed = mixedRuns(meta, part.results);
      out.push(rowsCaption(meta, 1, part.results), '');
      const rows = meshRows(part.results);
      out.push(
        markdownTable(
          mixed ? ['Measured (UTC · load)', ...MESH_HEADER] : MESH_HEADER,
          mixed ? rows.map((r, i) => [measuredCell(meta, part.results[i]!.measured), ...r]) : rows,
        ),
        '',
      );
      for (const m of part.results) {
        const errs = Object.entries(m.lookupErrors);
        if (errs.length > 0)
          out.push(`- N=${m.nodes} lookup failures: ${errs.map(([k, v]) => `\`${k}\` ×${v}`).join(', ')}`);
        if (!m.routingComplete) out.push(`- N=${m.nodes}: routing tables not complete after the routing wait`);
        if (m.publishFailures > 0)
          out.push(
            `- N=${m.nodes}: ${m.publishFailures} of ${m.records ?? m.nodes} records stored on no peer (putRecord p50 ${fmtNum(m.publishMs.p50)} ms)`,
          );
      }
      for (const m of part.results) {
        const line = diagLine(m);
        if (line) out.push(line);
      }
    }
    for (const s of part.skipped) out.push(`- N=${s.nodes} not measured: ${s.reason}`);
    out.push('');
  };
  meshSection('## N nodes in one process', report.inProcess);
  meshSection(`## N nodes across ${report.multiProcess.processes} processes`, report.multiProcess);

  out.push('## What is measured', '');
  out.push(
    "- Sessions: a receiving full sotto node (createNode, LevelDB store with fsync'd batches) in its own process; S sending identities spread over up to two sender processes. Each sender process runs one libp2p host built with sotto's `createHost` per 16 of its identities (the receiver admits 16 new sessions per peer at once, then one per 6 s: `HANDSHAKE_BURST`, `HANDSHAKE_REFILL_MS`; more identities behind one peer would measure that limit); every identity publishes its own identity record in the directory bound to its host (so the receiver's device-binding check passes), runs PQXDH against the receiver's record with the project's `initiateSession`, encrypts with `Session.encrypt` and sends envelopes as the node does (one pipelined `/sotto/msg/1.0.0` stream per sender host; at most 8 envelopes unacknowledged per sender process). Before the timed windows the receiver looks up every sender identity once (`refresh()`: its own lookups, where inbound ones are rate-limited per peer) and every identity sends one first message (the handshake). Timed: the senders send round-robin over their identities for the window; \"delivered msgs/s\" is the receiver's `'message'` events in that window ÷ the window on the receiver's clock. With S = 1 only one sender process sends (8 in flight); from S = 2 on, two (16 in flight).",
    '- N nodes in one process: libp2p hosts built with sotto\'s `createHost` bootstrap from node 0, at most 5 joining at once, each counted as started once it has a DHT peer (unpaced joins starve each other\'s Noise handshakes on one thread, see "The 100-node mesh"); then a bounded routing wait. A sample of hosts (spread over the N) each store one identity record signed as `publishRecord()` signs it; lookups are `getRecord` calls from a random host for a random record of another host, one at a time, validated. RSS per node: (RSS after the lookups − RSS before the first host) ÷ N, after forced garbage collections. Then two full sotto nodes join that network: start() → first delivered message is the sender\'s time from `start()` through its first DHT peer and its publish to its first `send()` resolving `delivered` (directory lookup + PQXDH); "Message p50/p99" are the warm messages that follow, one at a time, `send()` → `delivered`.',
    "- Across processes: the same with the N hosts split evenly over P child processes (the seed in the first), joins paced per process, lookups run in all processes at once (each for records of hosts in other processes), RSS per node = the sum of the processes' RSS growth ÷ N; the two full nodes run in the first and the last process.",
    "- Every N runs once (lookup and message percentiles are over that run's samples); a size is skipped with its reason when the time budget would not hold it (estimated from the previous size's wall time × (N ÷ previous N)^1.5).",
    "- Bounds as the node's own: each put is bounded by 30 s (`putRecord`'s default, what `publishRecord()` uses) and each lookup by 20 s (the node's `LOOKUP_TIMEOUT_MS`), so a put or lookup fails here only when it would fail for a node. Above N = 100, 20 records instead of 40, and the lookup budget grows as N ÷ 100.",
    '- "Where the DHT time went" (one line per N): every mesh host\'s kad-dht `put` / `get` / `getClosestPeers` is wrapped to count its query events (events pass through unchanged): FIND_NODE requests before the first PUT_VALUE of a put (its closest-peers lookup), whether a put reached PUT_VALUE at all, requests per get, kad-dht\'s QUERY_ERROR events by error; per process the event-loop delay (`perf_hooks.monitorEventLoopDelay`, 10 ms resolution) and CPU time ÷ wall time during the puts and the lookups; connections per host (`getConnections()`).',
    '- A table whose rows come from different runs (`scale.ts --merge`: one size re-measured, the others kept) names every run in its caption and each row\'s run and 1-minute load in a "Measured" column.',
  );
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// SVG charts (hand-written: axes, ticks, labels, legend; no dependencies)

export interface ChartSeries {
  name: string;
  points: [number, number][];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  logX?: boolean;
  /** Y axis from 0 (default true for linear axes). */
  yFromZero?: boolean;
  /** Draw points as markers too (for short series). */
  markers?: boolean;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

function tickLabel(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return fmtNum(v);
  return String(Number(v.toPrecision(3)));
}

/** A line chart as a standalone SVG document. */
export function lineChart(spec: ChartSpec): string {
  const W = 640;
  const H = 400;
  const m = { l: 70, r: 20, t: 40, b: 60 };
  const legendH = 18 * spec.series.length;
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b - legendH;
  const all = spec.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map(([x]) => (spec.logX ? Math.log10(Math.max(x, 1e-6)) : x));
  const ys = all.map(([, y]) => y);
  let x0 = xs.length ? Math.min(...xs) : 0;
  let x1 = xs.length ? Math.max(...xs) : 1;
  let y0 = ys.length ? Math.min(...ys) : 0;
  let y1 = ys.length ? Math.max(...ys) : 1;
  if (spec.yFromZero !== false) y0 = Math.min(0, y0);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const ystep = niceStep(y1 - y0, 5);
  y0 = Math.floor(y0 / ystep) * ystep;
  y1 = Math.ceil(y1 / ystep) * ystep;
  let xticks: number[];
  if (spec.logX) {
    x0 = Math.floor(x0);
    x1 = Math.ceil(x1);
    xticks = [];
    for (let e = x0; e <= x1; e++) xticks.push(e);
  } else {
    const xstep = niceStep(x1 - x0, 6);
    x0 = Math.floor(x0 / xstep) * xstep;
    x1 = Math.ceil(x1 / xstep) * xstep;
    xticks = [];
    for (let v = x0; v <= x1 + xstep / 2; v += xstep) xticks.push(v);
  }
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const px = (x: number) => sx(spec.logX ? Math.log10(Math.max(x, 1e-6)) : x);
  const f = (v: number) => v.toFixed(1);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(spec.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(spec.title)}</text>`,
  );
  for (let v = y0; v <= y1 + ystep / 2; v += ystep) {
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${f(sy(v))}" y2="${f(sy(v))}" stroke="#e5e5e5"/>`,
      `<text x="${m.l - 6}" y="${f(sy(v) + 4)}" text-anchor="end">${tickLabel(v)}</text>`,
    );
  }
  for (const t of xticks) {
    const label = spec.logX ? tickLabel(10 ** t) : tickLabel(t);
    out.push(
      `<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${m.t}" y2="${m.t + ph}" stroke="#e5e5e5"/>`,
      `<text x="${f(sx(t))}" y="${m.t + ph + 16}" text-anchor="middle">${label}</text>`,
    );
  }
  out.push(
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#333"/>`,
    `<line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#333"/>`,
    `<text x="${m.l + pw / 2}" y="${m.t + ph + 36}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`,
  );
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length > 0) {
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${f(px(x))},${f(sy(y))}`).join(' ')}"/>`,
      );
      if (spec.markers)
        for (const [x, y] of pts) out.push(`<circle cx="${f(px(x))}" cy="${f(sy(y))}" r="3" fill="${color}"/>`);
    }
    const ly = H - legendH - 8 + i * 18;
    out.push(
      `<line x1="${m.l}" x2="${m.l + 24}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${m.l + 30}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// The page

export interface BenchInputs {
  crypto?: { report: CryptoReport; markdown: string };
  node?: { report: NodeReport; markdown: string };
  offline?: { report: OfflineReport; markdown: string };
  scale?: { report: ScaleReport };
}

export interface Chart {
  /** File name, e.g. "latency-cdf.svg". */
  file: string;
  title: string;
  svg: string;
}

/** The charts the inputs allow. */
export function buildCharts(inputs: BenchInputs): Chart[] {
  const charts: Chart[] = [];
  const cdf = inputs.node?.report.pair?.latencyCdf;
  if (cdf) {
    const names: Record<string, string> = {
      sotto: 'sotto send() → delivered',
      durable: 'durable floor (libp2p + LevelDB fsync)',
      floor: 'floor: bare libp2p request/ack',
    };
    const series = Object.keys(names)
      .filter((k) => cdf.ms[k] !== undefined)
      .map((k) => ({
        name: `${names[k]} (${cdf.samples[k] ?? '?'} samples)`,
        points: cdf.levels.map((l, i) => [cdf.ms[k]![i]!, l] as [number, number]),
      }));
    charts.push({
      file: 'latency-cdf.svg',
      title: 'Latency CDF, one pair of node processes',
      svg: lineChart({
        title: 'Latency CDF: one sender → one recipient process (1 KiB)',
        xLabel: 'round-trip latency, ms (log scale)',
        yLabel: 'share of messages, %',
        series,
        logX: true,
      }),
    });
  }
  const scale = inputs.scale?.report;
  if (scale) {
    const parts = [
      { name: 'one process', results: scale.inProcess.results },
      { name: `${scale.multiProcess.processes} processes`, results: scale.multiProcess.results },
    ].filter((p) => p.results.length > 0);
    if (parts.length > 0) {
      charts.push({
        file: 'lookup-vs-n.svg',
        title: 'DHT lookup latency vs N',
        svg: lineChart({
          title: 'DHT lookup latency vs number of nodes',
          xLabel: 'nodes (N)',
          yLabel: 'lookup latency, ms',
          markers: true,
          series: parts.flatMap((p) => [
            { name: `p50, ${p.name}`, points: p.results.map((m) => [m.nodes, m.lookupMs.p50] as [number, number]) },
            { name: `p99, ${p.name}`, points: p.results.map((m) => [m.nodes, m.lookupMs.p99] as [number, number]) },
          ]),
        }),
      });
      charts.push({
        file: 'memory-vs-n.svg',
        title: 'RSS per node vs N',
        svg: lineChart({
          title: 'Memory: RSS per node vs number of nodes',
          xLabel: 'nodes (N)',
          yLabel: 'RSS per node, MB',
          markers: true,
          series: parts.map((p) => ({
            name: p.name,
            points: p.results.map((m) => [m.nodes, m.rssPerNodeMB] as [number, number]),
          })),
        }),
      });
    }
    if (scale.sessions.results.length > 0) {
      charts.push({
        file: 'throughput-vs-sessions.svg',
        title: 'Delivered msgs/s vs sessions',
        svg: lineChart({
          title: 'One receiving node: delivered msgs/s vs concurrent sessions',
          xLabel: 'sending identities (sessions), log scale',
          yLabel: 'delivered msgs/s (median of runs)',
          logX: true,
          markers: true,
          series: [
            {
              name: 'median',
              points: scale.sessions.results.map((r) => [r.sessions, r.deliveredPerSec.median] as [number, number]),
            },
            {
              name: 'min',
              points: scale.sessions.results.map((r) => [r.sessions, r.deliveredPerSec.min] as [number, number]),
            },
            {
              name: 'max',
              points: scale.sessions.results.map((r) => [r.sessions, r.deliveredPerSec.max] as [number, number]),
            },
          ],
        }),
      });
    }
  }
  return charts;
}

function fmtRatio(r: Summary | undefined): string {
  if (!r || !Number.isFinite(r.median)) return 'n/a';
  if (r.runs.length === 1 || r.min === r.max) return `${r.median.toFixed(2)}×`;
  return `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
}

/** The headline: how fast, how big, how costly, with the baselines of the same run. */
export function renderSummary(inputs: BenchInputs, chartsDir: string, charts: readonly Chart[]): string {
  const out: string[] = [];
  const crypto = inputs.crypto?.report;
  if (crypto) {
    const t = (id: string) => crypto.targets.find((x) => x.id === id && x.status === 'ok');
    const sotto = t('sotto-node');
    const ls = t('libsignal');
    const olm = t('olm');
    if (sotto) {
      const rows: [string, keyof CryptoTarget][] = [
        ['Handshakes/s (PQXDH; olm: 3DH)', 'handshakesPerSec'],
        ['Encrypt msgs/s (1 KiB)', 'encryptPerSec'],
        ['Decrypt msgs/s (1 KiB)', 'decryptPerSec'],
        ['Round trips/s (a DH ratchet step each way)', 'roundTripsPerSec'],
      ];
      out.push('**How fast: the crypto core** (higher is better; ratios run by run, sotto ÷ baseline)', '');
      out.push(captionLine(crypto.meta), '');
      out.push(
        markdownTable(
          ['Figure', 'sotto (node provider)', 'libsignal-client', 'sotto ÷ libsignal', 'olm', 'sotto ÷ olm'],
          rows.map(([label, k]) => {
            const s = sotto[k] as Summary | undefined;
            const l = ls?.[k] as Summary | undefined;
            const o = olm?.[k] as Summary | undefined;
            return [
              label,
              fmtSummary(s),
              fmtSummary(l),
              fmtRatio(pairRatios(s, l)),
              fmtSummary(o),
              fmtRatio(pairRatios(s, o)),
            ];
          }),
        ),
        '',
      );
      const size = (x: CryptoTarget | undefined, k: 'prekeyMessage' | 'message' | 'sessionAfterInOrderA') =>
        x?.sizes ? fmtSummary(x.sizes[k]) : 'n/a';
      out.push('**How big: bytes on the wire and at rest** (1 KiB plaintext; lower is better)', '');
      out.push(captionLine(crypto.meta), '');
      out.push(
        markdownTable(
          ['Bytes', 'sotto', 'libsignal-client', 'olm (base64)'],
          [
            [
              'First (prekey) message',
              size(sotto, 'prekeyMessage'),
              size(ls, 'prekeyMessage'),
              size(olm, 'prekeyMessage'),
            ],
            ['Regular message', size(sotto, 'message'), size(ls, 'message'), size(olm, 'message')],
            [
              'Session state (initiator, after a message run)',
              size(sotto, 'sessionAfterInOrderA'),
              size(ls, 'sessionAfterInOrderA'),
              size(olm, 'sessionAfterInOrderA'),
            ],
          ],
        ),
        '',
      );
    }
  }
  const pair = inputs.node?.report.pair;
  if (inputs.node && pair) {
    const f = pair.figures;
    const r = pair.ratios;
    out.push('**How fast: the wire** (two node processes on loopback; floor = raw libp2p request/ack, same run)', '');
    out.push(captionLine(inputs.node.report.meta), '');
    out.push(
      markdownTable(
        [
          'Figure',
          'sotto',
          'floor: bare libp2p',
          'sotto ÷ floor',
          'durable floor (LevelDB fsync)',
          'sotto ÷ durable floor',
        ],
        [
          [
            'send() → delivered p50, ms',
            fmtSummary(f.sottoP50),
            fmtSummary(f.floorP50),
            fmtRatio(r.p50),
            fmtSummary(f.durableP50),
            fmtRatio(r.p50VsDurable),
          ],
          [
            'send() → delivered p99, ms',
            fmtSummary(f.sottoP99),
            fmtSummary(f.floorP99),
            fmtRatio(r.p99),
            fmtSummary(f.durableP99),
            'n/a',
          ],
          [
            'Delivered msgs/s (4 in flight)',
            fmtSummary(f.sottoMsgsPerSec),
            fmtSummary(f.floorFramesPerSec),
            fmtRatio(r.throughput),
            fmtSummary(f.durableFramesPerSec),
            fmtRatio(r.throughputVsDurable),
          ],
        ],
      ),
      '',
    );
  }
  const scale = inputs.scale?.report;
  if (scale) {
    const rows: string[][] = [];
    const bigs: MeshResult[] = [];
    for (const [where, part] of [
      ['one process', scale.inProcess],
      [`${scale.multiProcess.processes} processes`, scale.multiProcess],
    ] as const) {
      const big = part.results[part.results.length - 1];
      if (!big) continue;
      bigs.push(big);
      rows.push([
        `N = ${big.nodes}, ${where}`,
        `${pct(big.lookupOk, big.lookups)} (${big.lookupOk}/${big.lookups})`,
        `${fmtNum(big.lookupMs.p50)} / ${fmtNum(big.lookupMs.p99)}`,
        big.e2eMs ? `${fmtNum(big.e2eMs.p50)} / ${fmtNum(big.e2eMs.p99)}` : 'n/a',
        fmtNum(big.rssPerNodeMB),
        big.firstMessage ? fmtNum(big.firstMessage.totalMs) : 'n/a',
      ]);
    }
    if (rows.length > 0) {
      out.push('**How it scales, and what a node costs** (largest N measured; single run per N)', '');
      out.push(rowsCaption(scale.meta, 1, bigs), '');
      const mixed = mixedRuns(scale.meta, bigs);
      if (mixed) {
        for (const [i, r] of rows.entries()) r.unshift(measuredCell(scale.meta, bigs[i]!.measured));
      }
      out.push(
        markdownTable(
          [
            ...(mixed ? ['Measured (UTC · load)'] : []),
            'Network',
            'Lookups ok',
            'Lookup p50 / p99 (ms)',
            'Message p50 / p99 (ms)',
            'RSS per node (MB)',
            'start() → first delivered (ms)',
          ],
          rows,
        ),
        '',
      );
    }
    if (scale.sessions.results.length > 0) {
      out.push('**How many at once: one receiving node vs concurrent sessions** (delivered msgs/s)', '');
      out.push(rowsCaption(scale.meta, scale.meta.runs, scale.sessions.results), '');
      out.push(
        markdownTable(
          ['Sessions', ...scale.sessions.results.map((r) => String(r.sessions))],
          [['Delivered msgs/s', ...scale.sessions.results.map((r) => fmtSummary(r.deliveredPerSec))]],
        ),
        '',
      );
    }
  }
  const offline = inputs.offline?.report;
  if (offline && offline.sizes.length > 0) {
    out.push('**Offline delivery through a mailbox**', '');
    out.push(captionLine(offline.meta), '');
    out.push(
      markdownTable(
        ['N messages', 'start() → N-th message (ms)', 'Fetch msgs/s', 'Mailbox bytes per message'],
        offline.sizes.map((s) => [
          String(s.n),
          fmtSummary(s.figures.startToAllMs),
          fmtSummary(s.figures.fetchPerSec),
          fmtSummary(s.figures.envelopeBytesPerMsg),
        ]),
      ),
      '',
    );
  }
  if (charts.length > 0) {
    out.push(`Charts (SVG, in \`${chartsDir}/\`):`, '');
    for (const c of charts) out.push(`- [${c.title}](${chartsDir}/${c.file})`);
    out.push('');
    for (const c of charts) out.push(`![${c.title}](${chartsDir}/${c.file})`, '');
  }
  return out.join('\n').trim();
}

/** The orchestrator's own facts about one `npm run bench`. */
export interface RunInfo {
  date: string;
  quick: boolean;
  loadStart: number[];
  loadEnd: number[];
  wallSeconds: number;
  /** Per benchmark: how it went in this run. */
  outcomes: Record<string, string | undefined>;
}

/** The outcome named for a benchmark whose figures come from an earlier run's output. */
export const EARLIER_OUTPUT = 'not run this time, figures from its earlier run (dated above its tables)';

/**
 * Outcomes for a page that shows `withOutput` (the benchmarks whose JSON it is generated from):
 * one the run did not name (`--only` / `--skip`) is marked EARLIER_OUTPUT.
 */
export function markEarlierOutputs(
  outcomes: Record<string, string | undefined>,
  withOutput: readonly string[],
): Record<string, string | undefined> {
  const out = { ...outcomes };
  for (const b of withOutput) if (out[b] === undefined) out[b] = EARLIER_OUTPUT;
  return out;
}

/** Whether an outcome means the benchmark failed this run (a kept earlier output did not). */
export function failedOutcome(outcome: string | undefined): boolean {
  return outcome !== undefined && outcome !== EARLIER_OUTPUT && !outcome.startsWith('ok');
}

/** The run line at the top of the summary: when, how loaded the machine was, what ran. */
export function renderRunInfo(run: RunInfo): string {
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const benches = Object.entries(run.outcomes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  return [
    `- Generated by \`npm run bench${run.quick ? ' -- --quick' : ''}\` started ${utcMinute(run.date)}; wall time ${(run.wallSeconds / 60).toFixed(1)} min.`,
    `- Load average (1/5/15 min, as \`uptime\` shows it) at the start ${load(run.loadStart)}, at the end ${load(run.loadEnd)}: the machine is shared with other work, so absolute figures move; the ratios are computed within the same run.`,
    `- Benchmarks: ${benches || 'none run (regenerated from existing JSON)'}.`,
  ].join('\n');
}

/** Runs (UTC minute, load at their start) whose scale rows are on the page but came after `run` ended. */
export function laterScaleRuns(run: RunInfo, scale: ScaleReport | undefined): string[] {
  if (!scale) return [];
  const end = Date.parse(run.date) + run.wallSeconds * 1000;
  const stamps = new Map<string, number[]>();
  const rows: { measured?: Measured }[] = [
    ...scale.sessions.results,
    ...scale.inProcess.results,
    ...scale.multiProcess.results,
  ];
  for (const r of rows) {
    const m = r.measured ?? { date: scale.meta.date, load: scale.meta.loadAverage.start };
    if (Date.parse(m.date) > end) stamps.set(utcMinute(m.date), m.load);
  }
  return [...stamps.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([d, load]) => `${d} (load ${load.map((x) => x.toFixed(2)).join(' / ')})`);
}

/** Section names and the markers they live between. */
export const SECTIONS = ['summary', 'crypto', 'node', 'offline', 'scale'] as const;
export type SectionName = (typeof SECTIONS)[number];

export const beginMarker = (name: SectionName) =>
  `<!-- ${name}-results:begin (written by npm run bench; do not edit by hand) -->`;
export const endMarker = (name: SectionName) => `<!-- ${name}-results:end -->`;

/** A benchmark's own markdown report as a page section: title dropped, headings demoted, tables captioned. */
export function asSection(markdown: string, meta: ReportMeta): string {
  const body = markdown
    .replace(/^# .*\n+/, '')
    .replace(/^## /gm, '### ')
    .trim();
  return captionTables(body, captionLine(meta));
}

/**
 * Replaces the body between `name`'s markers (any begin marker starting `<!-- name-results:begin`)
 * with `body`; appends the section at the end when the page has no such markers.
 */
export function replaceSection(page: string, name: SectionName, body: string): string {
  const beginRe = new RegExp(`<!-- ${name}-results:begin[^>]*-->`);
  const end = endMarker(name);
  const m = beginRe.exec(page);
  const stop = page.indexOf(end);
  if (m && stop > m.index) {
    return `${page.slice(0, m.index + m[0].length)}\n\n${body}\n\n${page.slice(stop)}`;
  }
  return `${page.trimEnd()}\n\n${beginMarker(name)}\n\n${body}\n\n${end}\n`;
}

/**
 * The page from `template` (the current BENCHMARKS.md) and the inputs: each section with an input is
 * regenerated, the others and everything outside markers are kept as they are.
 */
export function generatePage(
  template: string,
  inputs: BenchInputs,
  chartsDir: string,
  run?: RunInfo,
): { page: string; charts: Chart[] } {
  const charts = buildCharts(inputs);
  let page = template;
  const summary = renderSummary(inputs, chartsDir, charts);
  const later = run ? laterScaleRuns(run, inputs.scale?.report) : [];
  const runLines = run
    ? `${renderRunInfo(run)}${later.length > 0 ? `\n- Scale rows measured after this run (\`npm run bench:scale -- --merge\`): ${later.join(', ')}; the tables name each row's run.` : ''}`
    : '';
  page = replaceSection(page, 'summary', run ? `${runLines}\n\n${summary}` : summary);
  if (inputs.crypto)
    page = replaceSection(page, 'crypto', asSection(inputs.crypto.markdown, inputs.crypto.report.meta));
  if (inputs.node) page = replaceSection(page, 'node', asSection(inputs.node.markdown, inputs.node.report.meta));
  if (inputs.offline)
    page = replaceSection(page, 'offline', asSection(inputs.offline.markdown, inputs.offline.report.meta));
  if (inputs.scale)
    page = replaceSection(page, 'scale', asSection(renderScaleMarkdown(inputs.scale.report), inputs.scale.report.meta));
  return { page: page.endsWith('\n') ? page : `${page}\n`, charts };
}
