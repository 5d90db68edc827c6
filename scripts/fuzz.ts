/**
 * The long fuzz campaign (issue 7): every target of test/fuzz/targets.ts gets `--runs` inputs
 * (default 10^6) and the API `--api-runs` requests (default 10^6), with fast-check shrinking the
 * first finding of each. Prints one line per target (inputs, accepted, refused, slowest input,
 * wall time, heap before/after) and a summary; a finding is appended to
 * test/fuzz/regressions.json (which `npm test` replays) and the exit code is 1.
 *
 *   npm run fuzz [-- --runs N] [--api-runs N] [--target <substring>] [--seed N]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fuzzApi } from '../test/fuzz/api.js';
import { encodeFindingInput, runTarget } from '../test/fuzz/runner.js';
import { type FuzzTarget, targets } from '../test/fuzz/targets.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000000' },
    'api-runs': { type: 'string', default: '1000000' },
    target: { type: 'string' },
    seed: { type: 'string' },
  },
});
const count = (name: string, text: string | undefined): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
  return n;
};
const runs = count('runs', values.runs);
const apiRuns = count('api-runs', values['api-runs']);
const seed = values.seed === undefined ? undefined : count('seed', values.seed);
const regressionsFile = new URL('../test/fuzz/regressions.json', import.meta.url);

const gc = (globalThis as { gc?: () => void }).gc;
const heapMb = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const selected = (targets as FuzzTarget<unknown>[]).filter(
  (t) => values.target === undefined || t.name.includes(values.target),
);
console.log(
  `fuzz: ${selected.length} targets × ${runs.toLocaleString('en')} inputs, API × ${apiRuns.toLocaleString('en')}; node ${process.version}${gc ? '' : ' (run with --expose-gc for exact heap figures)'}`,
);
console.log('| target | inputs | accepted | refused | slowest input ms | wall s | heap MB before → after | finding |');
console.log('|---|---:|---:|---:|---:|---:|---|---|');
let findings = 0;
const started = performance.now();
for (const target of selected) {
  const before = heapMb();
  const r = runTarget(target, runs, seed);
  const after = heapMb();
  console.log(
    `| ${r.name} | ${r.inputs.toLocaleString('en')} | ${r.accepted.toLocaleString('en')} | ${r.refused.toLocaleString('en')} | ${r.maxMs.toFixed(2)} | ${(r.wallMs / 1000).toFixed(1)} | ${before.toFixed(1)} → ${after.toFixed(1)} | ${r.finding ? r.finding.error : 'none'} |`,
  );
  if (r.finding) {
    findings++;
    const list = JSON.parse(readFileSync(regressionsFile, 'utf8')) as unknown[];
    list.push({
      target: r.name,
      input: encodeFindingInput(r.finding.input),
      found: `${new Date().toISOString()}: ${r.finding.error}`,
    });
    writeFileSync(regressionsFile, `${JSON.stringify(list, null, 2)}\n`);
  }
}
if (values.target === undefined || 'api'.includes(values.target)) {
  const before = heapMb();
  const t0 = performance.now();
  try {
    const statuses = await fuzzApi(apiRuns, seed);
    const byStatus = [...statuses.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    console.log(
      `| API requests | ${apiRuns.toLocaleString('en')} | ${byStatus} | | | ${((performance.now() - t0) / 1000).toFixed(1)} | ${before.toFixed(1)} → ${heapMb().toFixed(1)} | none |`,
    );
  } catch (err) {
    findings++;
    console.log(
      `| API requests | | | | | ${((performance.now() - t0) / 1000).toFixed(1)} | | ${(err as Error).message.split('\n')[0]} |`,
    );
  }
}
console.log(
  `\n${findings} finding(s); ${((performance.now() - started) / 1000).toFixed(0)} s in all; RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB at the end`,
);
process.exit(findings > 0 ? 1 : 0);
