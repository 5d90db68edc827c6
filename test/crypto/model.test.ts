/**
 * Model-based tests of a whole conversation: fast-check generates schedules of sends, deliveries in
 * any order, drops, re-deliveries and snapshot/restore of either party, and checks them against a
 * trivial model:
 *
 * - every message delivered for the first time decrypts, exactly once, to the bytes that were sent
 *   (schedules are ≤ 60 commands, so neither MAX_SKIP nor MAX_SKIPPED_KEYS can be reached and no
 *   clock moves: no message may legitimately be lost);
 * - every re-delivery of a decrypted message is rejected with a typed error and leaves the
 *   receiver's state (its snapshot bytes) exactly as it was;
 * - Alice's messages carry the handshake until she has heard from Bob; the first one delivered
 *   creates Bob's session (respondToSession), later ones go to `bob.decrypt`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type CryptoProvider,
  initiateSession,
  nobleProvider,
  nodeProvider,
  peekMessage,
  respondToSession,
  Session,
  SottoCryptoError,
} from '../../src/crypto/index.js';
import { CONTEXT, makeParties, testEnv, text } from './helpers.js';

type Party = 'A' | 'B';

type Command =
  | { t: 'send'; from: Party; len: number }
  | { t: 'deliver'; i: number }
  | { t: 'drop'; i: number }
  | { t: 'dup'; i: number }
  | { t: 'restore'; who: Party };

interface Sent {
  id: number;
  from: Party;
  ct: Uint8Array;
  pt: Uint8Array;
  /** Whether Alice was still sending the handshake header (she had not heard from Bob). */
  handshake: boolean;
  decryptions: number;
}

interface Stats {
  runs: number;
  sent: number;
  decrypted: number;
  duplicatesRejected: number;
  restores: number;
  /** Deliveries that overtook an older message still in flight. */
  reordered: number;
  rejectionCodes: Map<string, number>;
}

const party = fc.constantFrom<Party>('A', 'B');
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('send' as const), from: party, len: fc.nat(48) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('deliver' as const), i: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('drop' as const), i: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('dup' as const), i: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restore' as const), who: party }) },
);
const schedule = fc.array(command, { minLength: 1, maxLength: 60, size: 'max' });
const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

/** Handshake reordering: Bob's session is created from Alice's third message; then the first two arrive. */
const HANDSHAKE_REORDER: Command[] = [
  { t: 'send', from: 'A', len: 3 },
  { t: 'send', from: 'A', len: 4 },
  { t: 'send', from: 'A', len: 5 },
  { t: 'deliver', i: 2 },
  { t: 'send', from: 'B', len: 6 },
  { t: 'dup', i: 0 },
  { t: 'deliver', i: 0 },
  { t: 'restore', who: 'B' },
  { t: 'deliver', i: 1 },
  { t: 'send', from: 'A', len: 7 },
  { t: 'deliver', i: 0 },
  { t: 'dup', i: 1 },
  { t: 'send', from: 'A', len: 8 },
  { t: 'deliver', i: 0 },
  { t: 'dup', i: 0 },
];

function runSchedule(provider: CryptoProvider, seed: number, commands: readonly Command[], stats: Stats): void {
  const env = testEnv(seed, provider);
  const parties = makeParties(env);
  let alice = initiateSession(env, { identity: parties.alice, bundle: parties.bundle, context: CONTEXT });
  let bob: Session | undefined;
  const inFlight: Sent[] = [];
  const delivered: Sent[] = [];
  let nextId = 0;

  const send = (from: Party, len: number): void => {
    const sender = from === 'A' ? alice : bob;
    if (sender === undefined) return; // Bob cannot talk before the handshake reached him.
    const id = nextId++;
    const pt = text(`${from}#${id}|${'x'.repeat(len)}`);
    const handshake = from === 'A' && alice.awaitingReply;
    inFlight.push({ id, from, ct: sender.encrypt(pt), pt, handshake, decryptions: 0 });
    stats.sent++;
  };

  const receive = (m: Sent): void => {
    const kind = peekMessage(m.ct);
    assert.equal(kind.type, m.handshake ? 'prekey' : 'ratchet', `message ${m.id}: wire type`);
    let plaintext: Uint8Array;
    if (m.from === 'B') {
      plaintext = alice.decrypt(m.ct);
    } else if (bob === undefined) {
      assert.equal(kind.type, 'prekey', 'Bob is created from a handshake message');
      const res = respondToSession(env, {
        identity: parties.bob,
        prekeys: parties.store,
        message: m.ct,
        context: CONTEXT,
      });
      bob = res.session;
      // The caller stores the session, then deletes the one-time prekey it used.
      assert.equal(res.usedOneTimePrekeyId, 100);
      assert.ok(parties.store.removeOneTimePrekey(100));
      plaintext = res.plaintext;
    } else {
      // A repeat of the handshake of Bob's session (same base key) or a ratchet message: bob.decrypt.
      if (kind.type === 'prekey') assert.deepEqual(kind.baseKey, bob.baseKey);
      plaintext = bob.decrypt(m.ct);
    }
    m.decryptions++;
    assert.equal(m.decryptions, 1, `message ${m.id} decrypted more than once`);
    assert.deepEqual(plaintext, m.pt, `message ${m.id}: plaintext differs`);
    stats.decrypted++;
  };

  const redeliver = (m: Sent): void => {
    const receiver = m.from === 'A' ? bob : alice;
    assert.ok(receiver !== undefined);
    const before = receiver.snapshot();
    let error: unknown;
    try {
      receiver.decrypt(m.ct);
    } catch (err) {
      error = err;
    }
    assert.ok(error !== undefined, `message ${m.id} (from ${m.from}) decrypted a second time`);
    assert.ok(error instanceof SottoCryptoError, `untyped error on re-delivery: ${String(error)}`);
    assert.deepEqual(receiver.snapshot(), before, `failed re-delivery of ${m.id} changed the state`);
    stats.rejectionCodes.set(error.code, (stats.rejectionCodes.get(error.code) ?? 0) + 1);
    stats.duplicatesRejected++;
  };

  const restore = (s: Session): Session => {
    const bytes = s.snapshot();
    const restored = Session.restore(env, bytes);
    assert.deepEqual(restored.snapshot(), bytes, 'restore(snapshot) re-encodes differently');
    stats.restores++;
    return restored;
  };

  for (const c of commands) {
    switch (c.t) {
      case 'send':
        send(c.from, c.len);
        break;
      case 'deliver': {
        if (inFlight.length === 0) break;
        const index = c.i % inFlight.length;
        if (index > 0) stats.reordered++;
        const [m] = inFlight.splice(index, 1);
        assert.ok(m);
        receive(m);
        delivered.push(m);
        break;
      }
      case 'drop':
        if (inFlight.length > 0) inFlight.splice(c.i % inFlight.length, 1);
        break;
      case 'dup': {
        const m = delivered[c.i % Math.max(1, delivered.length)];
        if (m) redeliver(m);
        break;
      }
      case 'restore':
        if (c.who === 'A') alice = restore(alice);
        else if (bob !== undefined) bob = restore(bob);
        break;
    }
  }
  // Everything still in flight arrives late, oldest first: all of it must decrypt too.
  for (const m of inFlight.splice(0)) {
    receive(m);
    delivered.push(m);
  }
  // …and then every message once more, newest first: all rejected, state untouched.
  for (const m of delivered.reverse()) redeliver(m);
  stats.runs++;
}

function newStats(): Stats {
  return {
    runs: 0,
    sent: 0,
    decrypted: 0,
    duplicatesRejected: 0,
    restores: 0,
    reordered: 0,
    rejectionCodes: new Map(),
  };
}

function report(name: string, s: Stats): void {
  const codes = [...s.rejectionCodes].map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(
    `model[${name}]: ${s.runs} runs, ${s.sent} messages sent, ${s.decrypted} decrypted exactly once (${s.reordered} out of order), ` +
      `${s.duplicatesRejected} re-deliveries rejected (${codes}), ${s.restores} snapshot/restores`,
  );
}

describe('conversation model (fast-check)', () => {
  const cases: { provider: CryptoProvider; numRuns: number }[] = [
    { provider: nodeProvider, numRuns: 500 },
    { provider: nobleProvider, numRuns: 50 },
  ];
  for (const { provider, numRuns } of cases) {
    it(`${provider.name} provider: every delivered message decrypts exactly once; replays are rejected`, () => {
      const stats = newStats();
      fc.assert(
        fc.property(seedArb, schedule, (seed, commands) => {
          runSchedule(provider, seed, commands, stats);
        }),
        { numRuns, examples: [[1, HANDSHAKE_REORDER]] },
      );
      report(provider.name, stats);
      assert.ok(stats.decrypted > 0);
    });
  }
});
