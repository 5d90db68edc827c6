/**
 * scripts/bench/report.ts, the generator behind `npm run bench`: from a small fixture of benchmark
 * JSON reports it must (1) write every generated section between its markers, with figures equal to
 * the JSON (medians, min–max, run-by-run ratios), and a caption naming machine, cores, Node version,
 * UTC run date and runs above every table; (2) produce the SVG charts (well-formed, with axes labels,
 * legend and one polyline per series); (3) keep every line outside the markers (the hand-written
 * prose) byte for byte, and give the same page when regenerated from its own output.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize } from '../../scripts/bench/lib.js';
import type { MeshResult } from '../../scripts/bench/mesh.js';
import {
  type BenchInputs,
  beginMarker,
  captionTables,
  EARLIER_OUTPUT,
  endMarker,
  failedOutcome,
  generatePage,
  lineChart,
  markEarlierOutputs,
  SECTIONS,
} from '../../scripts/bench/report.js';
import { hasRow } from './markdown.js';

const machine = { cpu: 'Test CPU 9000', cores: 2, platform: 'linux', arch: 'x64', release: '6.0', totalMemGiB: 8 };
const meta = (runs: number) => ({
  date: '2026-11-27T07:40:00.000Z',
  mode: 'normal' as const,
  machine,
  loadAverage: { start: [1.5, 1.25, 1], end: [2, 1.5, 1] },
  node: 'v20.20.2',
  runs,
  wallSeconds: 12,
});

const mesh = (nodes: number, p50: number, p99: number, rss: number): MeshResult => ({
  nodes,
  startMs: nodes * 100,
  routingWaitMs: 10,
  routingComplete: true,
  routingTableMedian: 5,
  records: 10,
  publishMs: { p50: 5, p99: 9 },
  publishAcceptedMedian: 3,
  publishFailures: 0,
  lookups: 40,
  lookupOk: 39,
  lookupMs: { p50, p99, max: p99 + 1 },
  lookupErrors: { 'Error: timeout': 1 },
  rssPerNodeMB: rss,
  rssTotalDeltaMB: rss * nodes,
  gcAvailable: true,
  firstMessage: {
    recipientReadyMs: 100,
    senderStartMs: 50,
    senderRoutingMs: 5,
    senderPublishMs: 20,
    sendMs: 30,
    totalMs: 1234,
    state: 'delivered',
  },
  e2eMs: { p50: 3.25, p99: 7.5, count: 20, notDelivered: 0 },
  wallSeconds: 30,
});

const target = (id: string, hs: number[], enc: number[]) => ({
  id,
  name: id,
  status: 'ok',
  handshakesPerSec: summarize(hs),
  encryptPerSec: summarize(enc),
  decryptPerSec: summarize(enc.map((x) => x / 2)),
  roundTripsPerSec: summarize(enc.map((x) => x / 10)),
  sizes: {
    prekeyMessage: summarize([2343]),
    message: summarize([1081]),
    sessionAfterInOrderA: summarize([505]),
  },
});

function fixture(): BenchInputs {
  return {
    crypto: {
      report: {
        meta: meta(3),
        targets: [
          target('libsignal', [100, 200, 400], [1000, 1000, 1000]),
          target('olm', [50, 50, 50], [2000, 2000, 2000]),
          target('sotto-node', [300, 300, 300], [3000, 2500, 4000]),
        ],
      },
      markdown: '# Crypto\n\n## Throughput\n\n| Target | x |\n| :-- | --: |\n| a | 1 |\n',
    },
    node: {
      report: {
        meta: meta(2),
        pair: {
          figures: {
            sottoP50: summarize([2.5, 3.5]),
            sottoP99: summarize([6, 8]),
            floorP50: summarize([0.25, 0.5]),
            floorP99: summarize([0.75, 1]),
            durableP50: summarize([1, 1]),
            durableP99: summarize([3, 3]),
            sottoMsgsPerSec: summarize([600, 700]),
            floorFramesPerSec: summarize([8000, 9000]),
            durableFramesPerSec: summarize([2000, 2000]),
          },
          ratios: {
            p50: summarize([10, 7]),
            p99: summarize([8, 8]),
            p50VsDurable: summarize([2.5, 3.5]),
            throughput: summarize([0.075, 0.0778]),
            throughputVsDurable: summarize([0.3, 0.35]),
          },
          latencyCdf: {
            levels: [0, 50, 99, 100],
            samples: { floor: 4, durable: 4, sotto: 4 },
            ms: { floor: [0.1, 0.2, 0.5, 0.6], durable: [0.5, 1, 2, 3], sotto: [1, 2.5, 6, 9] },
          },
        },
      },
      markdown: '# Node\n\n## Two processes\n\n| Path | p50 |\n| :-- | --: |\n| sotto | 2.5 |\n',
    },
    offline: {
      report: {
        meta: meta(3),
        sizes: [
          {
            n: 100,
            figures: {
              startToAllMs: summarize([320, 300, 335]),
              fetchPerSec: summarize([518, 497, 531]),
              envelopeBytesPerMsg: summarize([1383]),
            },
          },
        ],
      },
      markdown: '# Offline\n\n## Results\n\n| Figure | N |\n| :-- | --: |\n| a | 1 |\n',
    },
    scale: {
      report: {
        meta: {
          ...meta(3),
          v8: '11.3',
          messageBytes: 1024,
          budgetSeconds: 600,
          bounds: { mesh: 'N = 10, 20' },
          libraries: { libp2p: '3.3.11' },
        },
        sessions: {
          results: [1, 10, 100, 1000].map((s, i) => ({
            sessions: s,
            senderProcesses: Math.min(2, s),
            // one host per 16 identities; reports from before it was recorded have no count
            ...(s === 1000 ? { senderHosts: 63 } : {}),
            inFlight: Math.min(2, s) * 8,
            setup: {
              recipientReadyMs: 1,
              publishMs: 1000,
              publishFailures: 0,
              refreshMs: 1000,
              refreshOk: s,
              prepareMs: 1000,
              firstMessagesOk: s,
            },
            deliveredPerSec: summarize([400 + i * 10, 410 + i * 10, 390 + i * 10]),
            ackedPerSec: summarize([400, 400, 400]),
            failed: 0,
            errors: {},
          })),
          skipped: [],
        },
        inProcess: {
          results: [mesh(10, 12.5, 40, 5.5), mesh(20, 17.25, 61, 6.25)],
          skipped: [{ nodes: 200, reason: 'time budget: 3 s left for this part' }],
        },
        multiProcess: { processes: 2, results: [mesh(20, 14, 45, 7.75)], skipped: [] },
      },
    },
  };
}

const PROSE_TOP = '# Benchmarks\n\nHand-written intro: *keep me* exactly.\n\n';
const PROSE_MID =
  '\n\n## What was found\n\nProse about a finding, with a table of its own:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n';
const template = () =>
  `${PROSE_TOP}${beginMarker('summary')}\nold summary\n${endMarker('summary')}${PROSE_MID}` +
  `<!-- crypto-results:begin (written by npm run bench:crypto; do not edit by hand) -->\nold crypto 1,234\n<!-- crypto-results:end -->\n\nTrailing prose.\n`;

/** The generated body between a section's markers. */
function section(page: string, name: string): string {
  const start = page.search(new RegExp(`<!-- ${name}-results:begin[^>]*-->`));
  const stop = page.indexOf(`<!-- ${name}-results:end -->`);
  assert.ok(start >= 0 && stop > start, `section ${name} present`);
  return page.slice(start, stop);
}

describe('bench report generator', () => {
  it('writes every section, with the figures of the JSON and run-by-run ratios', () => {
    const { page } = generatePage(template(), fixture(), 'docs/bench');
    for (const name of SECTIONS) section(page, name);
    assert.ok(!page.includes('old crypto 1,234') && !page.includes('old summary'));
    const summary = section(page, 'summary');
    // handshakes: sotto 300 in every run, libsignal 100/200/400 → per-run ratios 3, 1.5, 0.75; olm 50 → 6
    hasRow(summary, ['Handshakes/s (PQXDH; olm: 3DH)', '300', '200 (100–400)', '1.50× (0.75–3.00)', '50.0', '6.00×']);
    // encrypt: sotto 3000/2500/4000, libsignal 1000 → 3, 2.5, 4; olm 2000 → 1.5, 1.25, 2
    hasRow(summary, [
      'Encrypt msgs/s (1 KiB)',
      '3,000 (2,500–4,000)',
      '1,000',
      '3.00× (2.50–4.00)',
      '2,000',
      '1.50× (1.25–2.00)',
    ]);
    hasRow(summary, ['First (prekey) message', '2,343', '2,343', '2,343']);
    // wire: figures and the JSON's per-run ratios
    hasRow(summary, [
      'send() → delivered p50, ms',
      '3.00 (2.50–3.50)',
      '0.375 (0.250–0.500)',
      '8.50× (7.00–10.00)',
      '1.00',
      '3.00× (2.50–3.50)',
    ]);
    hasRow(summary, [
      'Delivered msgs/s (4 in flight)',
      '650 (600–700)',
      '8,500 (8,000–9,000)',
      '0.08× (0.07–0.08)',
      '2,000',
      '0.32× (0.30–0.35)',
    ]);
    // scale: the largest N of each part
    hasRow(summary, ['N = 20, one process', '98% (39/40)', '17.3 / 61.0', '3.25 / 7.50', '6.25', '1,234']);
    hasRow(summary, ['N = 20, 2 processes', '98% (39/40)', '14.0 / 45.0', '3.25 / 7.50', '7.75', '1,234']);
    // sessions: medians with min–max
    hasRow(summary, ['Delivered msgs/s', '400 (390–410)', '410 (400–420)', '420 (410–430)', '430 (420–440)']);
    hasRow(summary, ['100', '320 (300–335)', '518 (497–531)', '1,383']);
    const scale = section(page, 'scale');
    hasRow(scale, ['10', '1,000', '39/40 (98%)', '12.5', '40.0', '3.25', '7.50', '5.50', '1,234']);
    hasRow(scale, ['1000', '2 / 63', '16', '430 (420–440)', '400', '1000/1000', '0', '3.00']);
    hasRow(scale, ['100', '2', '16', '420 (410–430)', '400', '100/100', '0', '3.00']);
    assert.match(scale, /N=200 not measured: time budget: 3 s left for this part/);
    hasRow(section(page, 'offline'), ['a', '1']);
  });

  it('a run of some benchmarks (--only) names the others as from their earlier run; only real failures fail', () => {
    const outcomes = markEarlierOutputs({ node: 'ok, 59 s' }, ['crypto', 'node', 'scale']);
    assert.deepEqual(outcomes, { node: 'ok, 59 s', crypto: EARLIER_OUTPUT, scale: EARLIER_OUTPUT });
    const run = {
      date: '2026-11-27T14:02:00.000Z',
      quick: false,
      loadStart: [0.5, 1, 1.5],
      loadEnd: [2, 1.5, 1.5],
      wallSeconds: 60,
      outcomes,
    };
    const summary = section(generatePage(template(), fixture(), 'docs/bench', run).page, 'summary');
    assert.ok(
      summary.includes(`- Benchmarks: node: ok, 59 s; crypto: ${EARLIER_OUTPUT}; scale: ${EARLIER_OUTPUT}.`),
      summary,
    );
    // the summary rows of a benchmark not run this time are still there, from its output
    hasRow(summary, ['Handshakes/s (PQXDH; olm: 3DH)', '300', '200 (100–400)', '1.50× (0.75–3.00)', '50.0', '6.00×']);
    assert.equal(failedOutcome(EARLIER_OUTPUT), false);
    assert.equal(failedOutcome('ok, 59 s'), false);
    assert.equal(failedOutcome(undefined), false);
    assert.equal(failedOutcome('exit code 1, 12 s'), true);
    assert.equal(failedOutcome('ended after 900 s (time limit)'), true);
  });

  it('puts the machine, Node version, UTC date and runs above every generated table', () => {
    const { page } = generatePage(template(), fixture(), 'docs/bench');
    for (const name of SECTIONS) {
      const lines = section(page, name).split('\n');
      let tables = 0;
      for (let i = 0; i < lines.length; i++) {
        if (!lines[i]!.startsWith('|') || lines[i - 1]!.startsWith('|')) continue;
        tables++;
        assert.equal(lines[i - 1], '', `blank line before a table in ${name}`);
        assert.match(
          lines[i - 2]!,
          /^_Test CPU 9000, 2 cores · Node v20\.20\.2 · 2026-11-27 07:40 UTC · \d+ runs? · load 1\.50 \/ 1\.25 \/ 1\.00_$/,
          `caption above table ${tables} of ${name}`,
        );
      }
      assert.ok(tables > 0, `${name} has tables`);
    }
  });

  it('gives every table exactly one caption, naming its own run count', () => {
    const { page } = generatePage(template(), fixture(), 'docs/bench');
    const isCaption = (l: string) => /^_Test CPU 9000, .* · \d+ runs? · load .*_$/.test(l);
    for (const name of SECTIONS) {
      const lines = section(page, name).split('\n');
      for (let i = 0; i < lines.length; i++) {
        if (!lines[i]!.startsWith('|') || lines[i - 1]!.startsWith('|')) continue;
        // the caption lines in the block above this table (up to the previous other content)
        let captions = 0;
        for (let j = i - 1; j >= 0 && (lines[j] === '' || isCaption(lines[j]!)); j--)
          if (isCaption(lines[j]!)) captions++;
        assert.equal(captions, 1, `one caption above "${lines[i]}" in ${name}`);
      }
    }
    // the N-node tables are single runs per N, the sessions table three runs, in the page too
    const scale = section(page, 'scale');
    const captionAbove = (heading: string) => {
      const rest = scale.slice(scale.indexOf(heading));
      return rest.split('\n').find(isCaption);
    };
    assert.match(captionAbove('### N nodes in one process') ?? '', / · 1 run · /);
    assert.match(captionAbove('### N nodes across 2 processes') ?? '', / · 1 run · /);
    assert.match(captionAbove('### Delivered messages per second') ?? '', / · 3 runs · /);
  });

  it('names every run of a merged table: dates and loads in the caption, a Measured column per row', () => {
    const inputs = fixture();
    const scale = inputs.scale!.report;
    // N = 20 in one process kept from an earlier run (scale.ts --merge), N = 10 from this one
    scale.inProcess.results[1]!.measured = { date: '2026-11-27T06:05:00.000Z', load: [4.25, 3, 2] };
    const page = generatePage(template(), inputs, 'docs/bench').page;
    const body = section(page, 'scale');
    const rest = body.slice(body.indexOf('### N nodes in one process'));
    const lines = rest.split('\n');
    const table = lines.findIndex((l) => l.startsWith('|'));
    assert.equal(
      lines[table - 2],
      '_Test CPU 9000, 2 cores · Node v20.20.2 · 2026-11-27 06:05 UTC + 2026-11-27 07:40 UTC · 1 run each · load 4.25 / 3.00 / 2.00 + 1.50 / 1.25 / 1.00_',
    );
    assert.ok(!/^_Test CPU/.test(lines[table - 4] ?? ''), 'no second caption');
    hasRow(rest, ['07:40 UTC · 1.50', '10', '1,000', '39/40 (98%)', '12.5', '40.0', '3.25', '7.50', '5.50', '1,234']);
    hasRow(rest, ['06:05 UTC · 4.25', '20', '2,000', '39/40 (98%)', '17.3', '61.0', '3.25', '7.50', '6.25', '1,234']);
    // the summary's largest-N rows come from two runs as well
    const summary = section(page, 'summary');
    assert.match(summary, /2026-11-27 06:05 UTC \+ 2026-11-27 07:40 UTC · 1 run each/);
    hasRow(summary, [
      '06:05 UTC · 4.25',
      'N = 20, one process',
      '98% (39/40)',
      '17.3 / 61.0',
      '3.25 / 7.50',
      '6.25',
      '1,234',
    ]);
    // a table from a single run keeps the plain caption and no Measured column
    assert.ok(
      !section(generatePage(template(), fixture(), 'docs/bench').page, 'scale').includes('| Measured (UTC · load)'),
    );
  });

  it('writes one "where the DHT time went" line per N from its trace', () => {
    const inputs = fixture();
    const m = inputs.scale!.report.multiProcess.results[0]!;
    const load = (p99: number, cpu: number) => ({ loopP50Ms: 1, loopP99Ms: p99, loopMaxMs: p99, cpu, ms: 1000 });
    m.loadAtStart = [2.5, 2, 1];
    m.diag = {
      publishLoad: [load(5600, 0.16), load(13300, 0.18)],
      lookupLoad: [load(1100, 0.46), load(2200, 0.47)],
      connectionsAfterPublish: [{ median: 20, max: 75 }],
      connectionsAfterLookups: [
        { median: 23, max: 99 },
        { median: 21, max: 72 },
      ],
      trace: {
        // NaN: the put never sent PUT_VALUE (null once written to JSON)
        putLookupMs: [Number.NaN, 18000, Number.NaN, null as unknown as number],
        putLookupRequests: [6, 20, 4, 5],
        putValueSends: [0, 2, 0, 0],
        getRequests: [33, 56, 14],
        closestRequests: [17, 19],
        closestMs: [11000, 12000],
        errors: { 'put: TimeoutError: timeout': 559, 'put: EncryptionFailedError: timeout': 143, 'get: X: y': 1 },
      },
    };
    const scale = section(generatePage(template(), inputs, 'docs/bench').page, 'scale');
    const line = scale.split('\n').find((l) => l.startsWith('- N=20 (load 2.50 / 2.00 / 1.00 as it began), where'));
    assert.ok(line, 'diag line present');
    assert.match(line, /1 of 4 puts got past their closest-peers lookup to PUT_VALUE \(after 18,000 ms p50\)/);
    assert.match(line, /FIND_NODE requests per put lookup p50 5, requests per get p50 33, per self-lookup p50 17/);
    assert.match(line, /during the puts 13,300 ms \(CPU 16% \/ 18%\)/);
    assert.match(line, /most connections on one host 99/);
    assert.match(
      line,
      /kad-dht query errors 703: `put: TimeoutError: timeout` ×559, `put: EncryptionFailedError: timeout` ×143, `get: X: y` ×1$/,
    );
  });

  it('produces the SVG charts and links them from the page', () => {
    const { page, charts } = generatePage(template(), fixture(), 'docs/bench');
    assert.deepEqual(
      charts.map((c) => c.file),
      ['latency-cdf.svg', 'lookup-vs-n.svg', 'memory-vs-n.svg', 'throughput-vs-sessions.svg'],
    );
    for (const c of charts) {
      assert.match(c.svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      assert.ok(c.svg.trimEnd().endsWith('</svg>'));
      assert.equal(c.svg.split('<svg').length, 2);
      assert.ok(!c.svg.includes('NaN'), `${c.file} has no NaN coordinates`);
      assert.ok(page.includes(`](docs/bench/${c.file})`), `${c.file} linked`);
    }
    const cdf = charts[0]!.svg;
    assert.equal(cdf.match(/<polyline/g)?.length, 3);
    assert.match(cdf, /sotto send\(\) → delivered \(4 samples\)/);
    assert.match(cdf, /round-trip latency, ms \(log scale\)/);
    const lookups = charts[1]!.svg;
    assert.equal(lookups.match(/<polyline/g)?.length, 4); // p50 and p99 for each part
    assert.match(lookups, /p99, 2 processes/);
  });

  it('keeps the prose outside the markers and is stable when regenerated', () => {
    const first = generatePage(template(), fixture(), 'docs/bench').page;
    assert.ok(first.startsWith(PROSE_TOP));
    assert.ok(first.includes(PROSE_MID));
    assert.ok(first.includes('<!-- crypto-results:end -->\n\nTrailing prose.\n'));
    // the sections the template lacked are appended after the prose
    assert.ok(first.indexOf('Trailing prose.') < first.indexOf(beginMarker('scale')));
    const second = generatePage(first, fixture(), 'docs/bench').page;
    assert.equal(second, first);
    // a section without input this time is left exactly as it was
    const partial = generatePage(first, { scale: fixture().scale }, 'docs/bench').page;
    assert.equal(section(partial, 'crypto'), section(first, 'crypto'));
  });

  it('captions only uncaptioned tables and draws series with axis ticks', () => {
    const once = captionTables('x\n\n| a |\n| - |\n', '_cap_');
    assert.equal(once, 'x\n\n_cap_\n\n| a |\n| - |\n');
    assert.equal(captionTables(once, '_cap_'), once);
    const svg = lineChart({
      title: 'T',
      xLabel: 'X',
      yLabel: 'Y',
      series: [
        {
          name: 'only',
          points: [
            [1, 10],
            [2, 20],
          ],
        },
      ],
    });
    assert.match(svg, />20</);
    assert.match(svg, />only</);
  });
});
