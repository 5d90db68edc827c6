/**
 * The CI-sized fuzz campaign (issue 7): every target in test/fuzz/targets.ts gets FUZZ_CI_RUNS
 * inputs (random and mutated seeds); any untyped throw or hang fails with fast-check's shrunk
 * counterexample. Findings of longer runs (`npm run fuzz`) are replayed from regressions.json.
 * Each target's seeds must themselves decode (checked first), so mutations start from valid frames.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fuzzApi } from './api.js';
import { check, runTarget } from './runner.js';
import { type FuzzTarget, targets } from './targets.js';

/** Inputs per target in `npm test` (the long campaign runs ≥ 10^6, scripts/fuzz.ts). */
const FUZZ_CI_RUNS = 3_000;
/** Requests in `npm test` against the API (each is an HTTP inject, ≈ 1 ms). */
const FUZZ_CI_API_RUNS = 500;

interface Regression {
  target: string;
  /** Hex of the input bytes (byte targets) or the JSON of the value. */
  input: string;
  found: string;
}

const regressions = JSON.parse(readFileSync(new URL('./regressions.json', import.meta.url), 'utf8')) as Regression[];

describe('fuzz: every decoder refuses bad input with a typed error (CI-sized campaign)', () => {
  for (const target of targets as FuzzTarget<unknown>[]) {
    it(target.name, () => {
      if (target.input.kind === 'bytes') {
        for (const seed of target.input.seeds) assert.equal(check(target, seed), 'accepted', 'a seed decodes');
      }
      const report = runTarget(target, FUZZ_CI_RUNS);
      assert.equal(report.finding, undefined, `finding: ${report.finding?.error}`);
      assert.equal(report.inputs, FUZZ_CI_RUNS);
      assert.ok(report.refused > 0, 'the campaign reached the refusal paths');
    });
  }

  it('API: random bodies, parameters and content types get a success or a documented error', async () => {
    const statuses = await fuzzApi(FUZZ_CI_API_RUNS);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, FUZZ_CI_API_RUNS);
    assert.ok(
      [...statuses.keys()].some((s) => s >= 400),
      'refusals were reached',
    );
  });

  it('the runner reports an untyped throw as a finding (a decoder that would crash)', () => {
    const crashing = {
      name: 'crashes on 0xff',
      input: { kind: 'bytes' as const, seeds: [Uint8Array.of(1, 2, 3)] },
      run: (b: Uint8Array) => {
        if (b.includes(0xff)) throw new RangeError('index out of range');
        if (b.length > 3) throw Object.assign(new Error('typed'), { code: 'ERR_TYPED' });
      },
      expected: (err: unknown) => (err as { code?: string }).code === 'ERR_TYPED',
    };
    const report = runTarget(crashing, 2_000);
    assert.ok(report.finding, 'found');
    assert.match(report.finding.error, /untyped error RangeError/);
    assert.ok((report.finding.input as Uint8Array).includes(0xff), 'the counterexample is a crashing input');
  });

  it('regressions from earlier campaigns still pass', () => {
    for (const r of regressions) {
      const target = (targets as FuzzTarget<unknown>[]).find((t) => t.name === r.target);
      assert.ok(target, `target ${r.target} exists`);
      const input = target.input.kind === 'bytes' ? Uint8Array.from(Buffer.from(r.input, 'hex')) : JSON.parse(r.input);
      check(target, input);
    }
  });
});
