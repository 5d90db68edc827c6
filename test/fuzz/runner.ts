/**
 * Runs fuzz targets (test/fuzz/targets.ts) with fast-check: random bytes and mutated seeds (bit
 * flips, overwrites with boundary bytes, truncation, insertion, deletion) for byte decoders, values
 * of an arbitrary for the others. An input passes when the decoder returns or throws a typed
 * refusal; any other throw is a finding (fast-check shrinks it and the run fails with it).
 * `npm test` runs a CI-sized campaign (test/fuzz/fuzz.test.ts), `npm run fuzz` a long one
 * (scripts/fuzz.ts).
 */
import fc from 'fast-check';
import type { FuzzTarget } from './targets.js';

/** A decoder that takes longer than this on one input is reported as a hang (not a speed target: decoders take µs). */
export const HANG_BOUND_MS = 2_000;
/** Largest random input for byte targets: above every frame limit that reads a length first. */
const MAX_RANDOM_BYTES = 4096;
/** Boundary bytes worth planting: varint continuation, protobuf wire types, sign bits, all-ones. */
const INTERESTING = [0x00, 0x01, 0x02, 0x07, 0x08, 0x0a, 0x10, 0x12, 0x1a, 0x22, 0x7f, 0x80, 0xfe, 0xff];

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...INTERESTING), fc.nat(255)),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
);

/** Applies mutations to a copy of `seed`. */
export function mutate(seed: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(seed);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.op === 'insert' ? 1 : 0));
    switch (m.op) {
      case 'flip':
        if (b.length > 0) b[at] = (b[at] as number) ^ (1 << m.bit);
        break;
      case 'set':
        if (b.length > 0) b[at] = m.value;
        break;
      case 'truncate':
        b = b.slice(0, at);
        break;
      case 'insert':
        b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
        break;
      case 'delete':
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.count)]);
        break;
    }
  }
  return b;
}

/** Inputs for a byte target: one in five random, the rest mutated seeds. */
export function bytesArbitrary(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const random = fc.uint8Array({ maxLength: MAX_RANDOM_BYTES });
  if (seeds.length === 0) return random;
  const mutated = fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 8 }))
    .map(([seed, ms]) => mutate(seed, ms));
  return fc.oneof({ weight: 1, arbitrary: random }, { weight: 4, arbitrary: mutated });
}

export interface TargetReport {
  name: string;
  inputs: number;
  /** Inputs the decoder accepted (returned normally). */
  accepted: number;
  /** Inputs refused with a typed error. */
  refused: number;
  /** Slowest single input, ms. */
  maxMs: number;
  /** Wall time of the whole target, ms. */
  wallMs: number;
  /** The first finding, shrunk by fast-check: the input and what went wrong. */
  finding?: { input: unknown; error: string };
}

/** Checks one input against a target: returns 'accepted' / 'refused', throws on a finding. */
export function check<T>(target: FuzzTarget<T>, input: T): 'accepted' | 'refused' {
  try {
    target.run(input);
    return 'accepted';
  } catch (err) {
    if (target.expected(err)) return 'refused';
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new Error(`${target.name}: untyped error ${what}`, { cause: err });
  }
}

/**
 * Runs `runs` inputs through `target`. Stops at the first finding or hang and returns it shrunk
 * (the report's `finding`); the caller decides whether that fails a test or lands in regressions.
 */
export function runTarget<T>(target: FuzzTarget<T>, runs: number, seed?: number): TargetReport {
  const arbitrary = (
    target.input.kind === 'bytes' ? bytesArbitrary(target.input.seeds) : target.input.arbitrary
  ) as fc.Arbitrary<T>;
  const report: TargetReport = { name: target.name, inputs: 0, accepted: 0, refused: 0, maxMs: 0, wallMs: 0 };
  const started = performance.now();
  const result = fc.check(
    fc.property(arbitrary, (input) => {
      const t0 = performance.now();
      const outcome = check(target, input);
      const ms = performance.now() - t0;
      report.inputs++;
      report[outcome]++;
      if (ms > report.maxMs) report.maxMs = ms;
      if (ms > HANG_BOUND_MS) {
        throw new Error(`${target.name}: one input took ${ms.toFixed(0)} ms (hang bound ${HANG_BOUND_MS} ms)`);
      }
    }),
    { numRuns: runs, ...(seed === undefined ? {} : { seed }) },
  );
  report.wallMs = performance.now() - started;
  if (result.failed && result.counterexample !== null) {
    const error = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
    report.finding = { input: result.counterexample[0], error };
  }
  return report;
}

/** How a finding is written to regressions.json: bytes as hex, values as JSON. */
export function encodeFindingInput(input: unknown): string {
  return input instanceof Uint8Array ? Buffer.from(input).toString('hex') : JSON.stringify(input);
}
