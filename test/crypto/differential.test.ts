/**
 * Differential test: the node:crypto and noble providers must produce byte-identical transcripts
 * for the same seeded inputs, over many random sessions and schedules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type CryptoProvider,
  createEnv,
  deterministicRng,
  generateIdentity,
  generatePrekeys,
  initiateSession,
  manualClock,
  nobleProvider,
  nodeProvider,
  respondToSession,
  toHex,
} from '../../src/crypto/index.js';

type Step = { from: 'a' | 'b'; size: number };

function transcript(provider: CryptoProvider, seed: Uint8Array, withOneTime: boolean, steps: Step[]): string[] {
  const env = createEnv({ provider, rng: deterministicRng(seed), clock: manualClock(1_700_000_000_000) });
  const alice = generateIdentity(env);
  const bob = generateIdentity(env);
  const { bundle, store } = generatePrekeys(env, bob, {
    signedPrekeyId: 1,
    kemPrekeyId: 2,
    oneTimePrekeyIds: withOneTime ? [3] : [],
  });
  const ctx = { initiator: 'a', responder: 'b' };
  const a = initiateSession(env, { identity: alice, bundle, context: ctx });
  const out: string[] = [];
  const first = a.encrypt(env.rng(17));
  out.push(toHex(first));
  const r = respondToSession(env, { identity: bob, prekeys: store, message: first, context: ctx });
  out.push(toHex(r.plaintext));
  const b = r.session;
  for (const step of steps) {
    const [sender, receiver] = step.from === 'a' ? [a, b] : [b, a];
    const ct = sender.encrypt(env.rng(step.size));
    out.push(toHex(ct), toHex(receiver.decrypt(ct)));
  }
  out.push(toHex(a.snapshot()), toHex(b.snapshot()));
  return out;
}

describe('differential: node:crypto vs noble', () => {
  it('byte-identical transcripts over random seeded sessions', () => {
    let sessions = 0;
    let messages = 0;
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.boolean(),
        fc.array(fc.record({ from: fc.constantFrom<'a' | 'b'>('a', 'b'), size: fc.integer({ min: 0, max: 300 }) }), {
          maxLength: 12,
        }),
        (seed, withOneTime, steps) => {
          const x = transcript(nodeProvider, seed, withOneTime, steps);
          const y = transcript(nobleProvider, seed, withOneTime, steps);
          assert.deepEqual(x, y);
          sessions++;
          messages += steps.length + 1;
        },
      ),
      { numRuns: 40 },
    );
    console.log(`# differential: ${sessions} sessions, ${messages} messages, transcripts identical`);
  });
});
