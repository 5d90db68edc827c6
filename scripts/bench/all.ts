/**
 * `npm run bench`: runs the crypto, node, offline and scale benchmarks, each as a child process with
 * its own flags, collects their JSON (and markdown) outputs and writes BENCHMARKS.md from the page
 * itself as template (generated sections between markers, prose kept) plus SVG charts.
 *
 *   node --import tsx scripts/bench/all.ts [--quick] [--only a,b] [--skip a,b] [--report-only]
 *
 * A normal run writes BENCHMARKS.md and docs/bench/*.svg; `--quick` (a smoke run, a few minutes)
 * writes scripts/bench/out/quick/BENCHMARKS.md and its charts there, leaving the real page alone.
 * `--report-only` runs nothing and regenerates the page from the JSON already in scripts/bench/out/.
 * Each benchmark is bounded in time and ended by its PID if it overruns; one that fails or overruns
 * leaves its section of the page as it was, and the page says so.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage, formatJson, repoRoot } from './lib.js';
import {
  type BenchInputs,
  type CryptoReport,
  failedOutcome,
  generatePage,
  markEarlierOutputs,
  type NodeReport,
  type OfflineReport,
  type RunInfo,
  type ScaleReport,
} from './report.js';

const BENCHES = ['crypto', 'node', 'offline', 'scale'] as const;
type Bench = (typeof BENCHES)[number];

/** Flags each benchmark gets from the orchestrator (the node one leaves N nodes to the scale one). */
const BENCH_ARGS: Record<Bench, string[]> = {
  crypto: [],
  node: ['--no-mesh', '--no-page'],
  offline: [],
  scale: [],
};
/** Longest a benchmark may run (normal, quick), minutes; it is ended by PID beyond that. */
const BENCH_LIMIT_MIN: Record<Bench, [number, number]> = {
  crypto: [8, 2],
  node: [15, 3],
  offline: [15, 3],
  scale: [25, 6],
};

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(repoRoot, 'scripts', 'bench', 'out');
const log = (msg: string) => process.stderr.write(`${msg}\n`);

function parseList(v: string | undefined): Bench[] {
  const list = String(v).split(',').filter(Boolean) as Bench[];
  for (const b of list) if (!BENCHES.includes(b)) throw new Error(`unknown benchmark ${b} (${BENCHES.join(', ')})`);
  return list;
}

function parseArgs(argv: string[]) {
  const config = { quick: false, reportOnly: false, benches: [...BENCHES] as Bench[] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    switch (flag) {
      case '--quick':
        config.quick = true;
        break;
      case '--report-only':
        config.reportOnly = true;
        break;
      case '--only':
        config.benches = parseList(inline ?? argv[++i]);
        break;
      case '--skip': {
        const skip = parseList(inline ?? argv[++i]);
        config.benches = config.benches.filter((b) => !skip.includes(b));
        break;
      }
      case '--help':
      case '-h':
        console.log(
          'usage: node --import tsx scripts/bench/all.ts [--quick] [--only crypto,node,offline,scale] [--skip ...] [--report-only]',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  return config;
}

/** Runs one benchmark as a child process; resolves with its exit code (null when ended for overrunning). */
function runBench(bench: Bench, quick: boolean): Promise<{ code: number | null; seconds: number; overran: boolean }> {
  const args = ['--import', 'tsx', join(here, `${bench}.ts`), ...(quick ? ['--quick'] : []), ...BENCH_ARGS[bench]];
  const limitMs = BENCH_LIMIT_MIN[bench][quick ? 1 : 0] * 60_000;
  const t0 = performance.now();
  return new Promise((resolve) => {
    // its markdown on stdout is not needed (the JSON and .md files are read); its progress goes to stderr
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
    log(`== ${bench} (PID ${child.pid}, at most ${limitMs / 60_000} min)`);
    let overran = false;
    const timer = setTimeout(() => {
      overran = true;
      log(`${bench} overran its ${limitMs / 60_000} min: ending PID ${child.pid}`);
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }, limitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, seconds: (performance.now() - t0) / 1000, overran });
    });
  });
}

function readOutput<T>(bench: Bench, quick: boolean, since: number): { report: T; markdown: string } | undefined {
  const base = join(outDir, quick ? `${bench}-quick` : bench);
  const json = `${base}.json`;
  const md = `${base}.md`;
  if (!existsSync(json) || statSync(json).mtimeMs < since) return undefined;
  return {
    report: JSON.parse(readFileSync(json, 'utf8')) as T,
    markdown: existsSync(md) ? readFileSync(md, 'utf8') : '',
  };
}

async function main(): Promise<void> {
  const config = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const loadStart = os.loadavg();
  const outcomes: Partial<Record<Bench, string>> = {};
  if (!config.reportOnly) {
    for (const bench of config.benches) {
      const r = await runBench(bench, config.quick);
      outcomes[bench] = r.overran
        ? `ended after ${r.seconds.toFixed(0)} s (time limit)`
        : r.code === 0
          ? `ok, ${r.seconds.toFixed(0)} s`
          : `exit code ${r.code}, ${r.seconds.toFixed(0)} s`;
      log(`== ${bench}: ${outcomes[bench]}`);
    }
  }
  // A benchmark's output counts only when this run wrote it (or, with --report-only, whatever is there).
  const since = config.reportOnly ? 0 : started;
  const inputs: BenchInputs = {};
  const benches = config.reportOnly ? [...BENCHES] : config.benches;
  const read = (b: Bench, after: number): void => {
    if (b === 'crypto') inputs.crypto = readOutput<CryptoReport>('crypto', config.quick, after);
    if (b === 'node') inputs.node = readOutput<NodeReport>('node', config.quick, after);
    if (b === 'offline') inputs.offline = readOutput<OfflineReport>('offline', config.quick, after);
    if (b === 'scale') {
      const s = readOutput<ScaleReport>('scale', config.quick, after);
      if (s) inputs.scale = { report: s.report };
    }
  };
  for (const b of benches) read(b, since);
  for (const b of benches) {
    if (inputs[b] === undefined) {
      outcomes[b] = `${outcomes[b] ?? 'not run'}; no output from this run, its section is left as it was`;
    }
  }
  // --only / --skip: a benchmark not run keeps its figures from its last output, summary rows
  // included (each table's caption names the run it comes from)
  if (!config.reportOnly) for (const b of BENCHES) if (!benches.includes(b)) read(b, 0);
  const shown = BENCHES.filter((b) => inputs[b] !== undefined);

  const pagePath = config.quick ? join(outDir, 'quick', 'BENCHMARKS.md') : join(repoRoot, 'BENCHMARKS.md');
  const chartsPath = config.quick ? join(outDir, 'quick', 'charts') : join(repoRoot, 'docs', 'bench');
  const template = readFileSync(join(repoRoot, 'BENCHMARKS.md'), 'utf8');
  // The run's own facts are kept next to the JSON, so that --report-only regenerates the same page.
  const runPath = join(outDir, config.quick ? 'bench-run-quick.json' : 'bench-run.json');
  let run: RunInfo = {
    date: new Date(started).toISOString(),
    quick: config.quick,
    loadStart,
    loadEnd: os.loadavg(),
    wallSeconds: (Date.now() - started) / 1000,
    outcomes: markEarlierOutputs(outcomes, shown),
  };
  if (!config.reportOnly) writeFileSync(runPath, formatJson(run));
  else if (existsSync(runPath)) run = JSON.parse(readFileSync(runPath, 'utf8')) as RunInfo;
  // --report-only: outputs on disk that the recorded run did not make (it ran with --only / --skip)
  if (config.reportOnly) run = { ...run, outcomes: markEarlierOutputs(run.outcomes, shown) };
  const { page, charts } = generatePage(template, inputs, relative(dirname(pagePath), chartsPath), run);
  mkdirSync(chartsPath, { recursive: true });
  for (const c of charts) writeFileSync(join(chartsPath, c.file), c.svg);
  mkdirSync(dirname(pagePath), { recursive: true });
  writeFileSync(pagePath, page);
  log(`wrote ${relative(repoRoot, pagePath)} and ${charts.length} charts in ${relative(repoRoot, chartsPath)}/`);
  if (Object.values(outcomes).some(failedOutcome)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  log(`bench failed: ${errorMessage(err)}`);
  process.exit(1);
});
