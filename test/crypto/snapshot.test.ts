/**
 * Session snapshots: `restore(snapshot(s))` is exact (same bytes, same behaviour) at every point of
 * random conversations; restored sessions keep interoperating; truncated, extended and corrupted
 * snapshots fail with a typed error (SNAPSHOT_INVALID / UNSUPPORTED_VERSION), never anything else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type CryptoEnv,
  initiateSession,
  MAX_PREVIOUS_RECEIVING_KEYS,
  MAX_SKIPPED_KEYS,
  respondToSession,
  Session,
  SNAPSHOT_VERSION,
  SottoCryptoError,
} from '../../src/crypto/index.js';
import {
  CONTEXT,
  cryptoErrorOf,
  establishedPair,
  expectCryptoError,
  makeParties,
  str,
  testEnv,
  text,
} from './helpers.js';

const SNAPSHOT_CODES = ['SNAPSHOT_INVALID', 'UNSUPPORTED_VERSION'] as const;

/** `Session.restore` must succeed and re-encode to exactly `bytes`. */
function roundTrip(env: CryptoEnv, s: Session): Session {
  const bytes = s.snapshot();
  const restored = Session.restore(env, bytes);
  assert.deepEqual(restored.snapshot(), bytes, 'restore(snapshot(s)).snapshot() differs from snapshot(s)');
  assert.deepEqual(restored.info(), s.info());
  return restored;
}

/** A stored skipped key: ratchet key (32) | n (u32) | seed (32) | storedAt (u64). */
const SKIPPED_ENTRY_BYTES = 32 + 4 + 32 + 8;

/** Offsets of the structural fields of a v1 snapshot, parsed here independently of src/. */
interface Layout {
  magic: number;
  version: number;
  role: number;
  adLength: number;
  flags: number;
  /** ns, nr, pn. */
  counters: number;
  pendingLength: number | undefined;
  previousCount: number;
  skippedCount: number;
  skippedEntries: number;
  end: number;
}

function layout(b: Uint8Array): Layout {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const adLength = 6;
  let at = adLength + 2 + view.getUint16(adLength) + 32 * 6; // ad, local, remote, base, root, dhs priv, dhs pub
  const flags = at;
  const f = b[flags] as number;
  at += 1 + 32 * (((f >> 0) & 1) + ((f >> 1) & 1) + ((f >> 2) & 1));
  const counters = at;
  at += 12;
  let pendingLength: number | undefined;
  if (f & 8) {
    pendingLength = at;
    at += 2 + view.getUint16(at);
  }
  if (f & 16) at += 32; // responder's handshake digest
  const previousCount = at;
  at += 1 + 32 * (b[at] as number);
  const skippedCount = at;
  const n = view.getUint32(at);
  at += 4;
  const end = at + n * SKIPPED_ENTRY_BYTES;
  assert.equal(end, b.length, 'test layout parser out of step with the snapshot format');
  return {
    magic: 0,
    version: 4,
    role: 5,
    adLength,
    flags,
    counters,
    pendingLength,
    previousCount,
    skippedCount,
    skippedEntries: at,
    end,
  };
}

const flipBit = (bytes: Uint8Array, bit: number): Uint8Array => {
  const out = bytes.slice();
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
};

/** Sessions in interesting states, with their snapshots. */
function sampleSessions(): { name: string; session: Session; env: CryptoEnv }[] {
  const env = testEnv(31);
  const parties = makeParties(env);
  const fresh = initiateSession(env, { identity: parties.alice, bundle: parties.bundle, context: CONTEXT });
  const first = fresh.encrypt(text('one'));
  fresh.encrypt(text('two'));

  const p = establishedPair(env);
  const alice = p.aliceSession;
  const bob = p.bobSession;
  // Several ratchet steps (Bob remembers previous receiving keys), and skipped keys on both chains.
  for (let i = 0; i < 4; i++) {
    assert.ok(alice.decrypt(bob.encrypt(text(`b${i}`))));
    assert.ok(bob.decrypt(alice.encrypt(text(`a${i}`))));
  }
  // Three skipped keys with n = 1, 2, 3 on one chain (2 and 3 differ in one bit).
  for (const m of ['lost 0', 'lost 1', 'lost 2']) alice.encrypt(text(m));
  assert.ok(bob.decrypt(alice.encrypt(text('after lost'))));
  const bobLost = [bob.encrypt(text('b lost 0'))];
  assert.ok(alice.decrypt(bob.encrypt(text('b after lost'))));
  assert.ok(bobLost.length === 1);
  assert.ok(bob.info().skippedKeys >= 3 && alice.info().skippedKeys >= 1);

  const responderEnv = testEnv(32);
  const fresher = respondToSession(responderEnv, {
    identity: parties.bob,
    prekeys: parties.store,
    message: first,
    context: CONTEXT,
  }).session;
  return [
    { name: 'initiator awaiting a reply', session: fresh, env },
    { name: 'responder just created', session: fresher, env: responderEnv },
    { name: 'initiator mid-conversation', session: alice, env },
    { name: 'responder mid-conversation', session: bob, env },
  ];
}

type Party = 'A' | 'B';
type Command =
  | { t: 'send'; from: Party; viaCopy: boolean }
  | { t: 'deliver'; i: number }
  | { t: 'drop'; i: number }
  | { t: 'restore'; who: Party };

const party = fc.constantFrom<Party>('A', 'B');
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('send' as const), from: party, viaCopy: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('deliver' as const), i: fc.nat(100) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('drop' as const), i: fc.nat(100) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('restore' as const), who: party }) },
);

describe('session snapshots', () => {
  it('restore(snapshot(s)) is exact at every point of random conversations, and restored sessions interoperate', () => {
    let runs = 0;
    let checks = 0;
    let equalCiphertexts = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.array(command, { minLength: 1, maxLength: 50, size: 'max' }),
        (seed, commands) => {
          const env = testEnv(seed);
          const parties = makeParties(env);
          let alice = initiateSession(env, { identity: parties.alice, bundle: parties.bundle, context: CONTEXT });
          let bob: Session | undefined;
          const inFlight: { from: Party; ct: Uint8Array; pt: Uint8Array }[] = [];
          let id = 0;
          const check = () => {
            roundTrip(env, alice);
            if (bob) roundTrip(env, bob);
            checks++;
          };
          const receive = (m: { from: Party; ct: Uint8Array; pt: Uint8Array }) => {
            if (m.from === 'B') assert.deepEqual(alice.decrypt(m.ct), m.pt);
            else if (bob) assert.deepEqual(bob.decrypt(m.ct), m.pt);
            else {
              const res = respondToSession(env, {
                identity: parties.bob,
                prekeys: parties.store,
                message: m.ct,
                context: CONTEXT,
              });
              parties.store.removeOneTimePrekey(100);
              assert.deepEqual(res.plaintext, m.pt);
              bob = res.session;
            }
          };
          check();
          for (const c of commands) {
            if (c.t === 'send') {
              const sender = c.from === 'A' ? alice : bob;
              if (!sender) continue;
              const pt = text(`${c.from} ${id++}`);
              if (c.viaCopy) {
                // A copy restored from the pre-send snapshot encrypts to the very same bytes and ends in
                // the same state; the copy carries on in place of the live session.
                const copy = Session.restore(env, sender.snapshot());
                const ct = sender.encrypt(pt);
                assert.deepEqual(copy.encrypt(pt), ct);
                assert.deepEqual(copy.snapshot(), sender.snapshot());
                equalCiphertexts++;
                if (c.from === 'A') alice = copy;
                else bob = copy;
                inFlight.push({ from: c.from, ct, pt });
                continue;
              }
              const ct = sender.encrypt(pt);
              inFlight.push({ from: c.from, ct, pt });
            } else if (c.t === 'deliver' && inFlight.length > 0) {
              const [m] = inFlight.splice(c.i % inFlight.length, 1);
              if (m) receive(m);
            } else if (c.t === 'drop' && inFlight.length > 0) {
              inFlight.splice(c.i % inFlight.length, 1);
            } else if (c.t === 'restore') {
              if (c.who === 'A') alice = roundTrip(env, alice);
              else if (bob) bob = roundTrip(env, bob);
            }
            check();
          }
          for (const m of inFlight.splice(0)) {
            receive(m);
            check();
          }
          // Whatever happened, the (restored) sessions still talk both ways.
          alice = roundTrip(env, alice);
          if (!bob) receive({ from: 'A', pt: text('hello'), ct: alice.encrypt(text('hello')) });
          assert.ok(bob);
          bob = roundTrip(env, bob);
          const ct = alice.encrypt(text('final A'));
          assert.equal(str(bob.decrypt(ct)), 'final A');
          assert.equal(str(alice.decrypt(bob.encrypt(text('final B')))), 'final B');
          check();
          runs++;
        },
      ),
      { numRuns: 120 },
    );
    console.log(`snapshot round trips: ${runs} runs, ${checks} checkpoints, ${equalCiphertexts} copy/live equal`);
  });

  it('a restored session produces the same ciphertexts as the live one', () => {
    for (const { name, session, env } of sampleSessions()) {
      const copy = Session.restore(env, session.snapshot());
      for (let i = 0; i < 3; i++) {
        const m = text(`same ${i}`);
        assert.deepEqual(copy.encrypt(m), session.encrypt(m), name);
      }
      assert.deepEqual(copy.snapshot(), session.snapshot(), name);
    }
  });

  it('every truncation and extension is rejected with a typed error', () => {
    const counts = new Map<string, number>();
    let total = 0;
    for (const { session, env } of sampleSessions()) {
      const bytes = session.snapshot();
      layout(bytes);
      for (let len = 0; len < bytes.length; len++) {
        const err = expectCryptoError(() => Session.restore(env, bytes.subarray(0, len)), SNAPSHOT_CODES);
        counts.set(err.code, (counts.get(err.code) ?? 0) + 1);
        total++;
      }
      for (const extra of [Uint8Array.of(0), Uint8Array.of(1, 2, 3), new Uint8Array(SKIPPED_ENTRY_BYTES)]) {
        const longer = new Uint8Array(bytes.length + extra.length);
        longer.set(bytes);
        longer.set(extra, bytes.length);
        expectCryptoError(() => Session.restore(env, longer), ['SNAPSHOT_INVALID']);
        total++;
      }
    }
    console.log(
      `truncated/extended snapshots: ${total} rejected (${[...counts].map(([k, v]) => `${k}=${v}`).join(' ')})`,
    );
  });

  it('bit flips in the header, flags and counts are rejected; other flips never throw untyped errors', () => {
    let structural = 0;
    let other = 0;
    let otherAccepted = 0;
    let otherInexact = 0;
    const codes = new Map<string, number>();
    for (const { name, session, env } of sampleSessions()) {
      const bytes = session.snapshot();
      const l = layout(bytes);
      const structuralBytes = new Set<number>([
        0,
        1,
        2,
        3,
        l.version,
        l.role,
        l.adLength,
        l.adLength + 1,
        l.flags,
        l.previousCount,
        l.skippedCount,
        l.skippedCount + 1,
        l.skippedCount + 2,
        l.skippedCount + 3,
        ...(l.pendingLength === undefined ? [] : [l.pendingLength, l.pendingLength + 1]),
      ]);
      for (let bit = 0; bit < bytes.length * 8; bit++) {
        const mutant = flipBit(bytes, bit);
        let restored: Session | undefined;
        const err = cryptoErrorOf(() => {
          restored = Session.restore(env, mutant);
        });
        if (structuralBytes.has(bit >> 3)) {
          structural++;
          assert.ok(err, `${name}: flip of structural byte ${bit >> 3} bit ${bit & 7} was accepted`);
          assert.ok((SNAPSHOT_CODES as readonly string[]).includes(err.code), `${name}: ${err.code}`);
          codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
          continue;
        }
        other++;
        if (err) {
          assert.ok(err instanceof SottoCryptoError);
          assert.ok((SNAPSHOT_CODES as readonly string[]).includes(err.code), `${name}: ${err.code}`);
          continue;
        }
        otherAccepted++;
        // Accepted: the restored session is exactly what the bytes say.
        if (!Buffer.from(restored!.snapshot()).equals(mutant)) otherInexact++;
      }
    }
    console.log(
      `snapshot bit flips: ${structural} structural flips rejected (${[...codes].map(([k, v]) => `${k}=${v}`).join(' ')}); ` +
        `${other} other flips: ${other - otherAccepted} rejected, ${otherAccepted} accepted (key/counter bits), ` +
        `${otherInexact} accepted but re-encoded differently`,
    );
    assert.equal(otherInexact, 0, 'an accepted snapshot must re-encode to its own bytes');
  });

  it('unknown versions are rejected with UNSUPPORTED_VERSION', () => {
    const { session, env } = sampleSessions()[0] as { session: Session; env: CryptoEnv };
    const bytes = session.snapshot();
    assert.equal(bytes[4], SNAPSHOT_VERSION);
    for (const version of [0, 2, 3, 0x7f, 0xff]) {
      const mutant = bytes.slice();
      mutant[4] = version;
      const err = expectCryptoError(() => Session.restore(env, mutant), ['UNSUPPORTED_VERSION']);
      assert.equal((err as SottoCryptoError & { version?: number }).version, version);
    }
  });

  it('a snapshot at the skipped-key cap restores; one entry more is rejected', () => {
    const env = testEnv(33);
    const p = establishedPair(env);
    const { aliceSession: alice, bobSession: bob } = p;
    assert.ok(alice.decrypt(bob.encrypt(text('r'))));
    for (let chain = 0; chain < 2; chain++) {
      let last: Uint8Array | undefined;
      for (let i = 0; i <= 1000; i++) last = alice.encrypt(text(`c${chain} m${i}`));
      assert.ok(bob.decrypt(last as Uint8Array));
      assert.ok(alice.decrypt(bob.encrypt(text(`reply ${chain}`))));
    }
    assert.equal(bob.info().skippedKeys, MAX_SKIPPED_KEYS);
    const bytes = bob.snapshot();
    const restored = roundTrip(env, bob);
    assert.equal(restored.info().skippedKeys, MAX_SKIPPED_KEYS);
    // Claim one more entry (and supply one): over the cap.
    const l = layout(bytes);
    const over = new Uint8Array(bytes.length + SKIPPED_ENTRY_BYTES);
    over.set(bytes);
    over.set(bytes.subarray(l.skippedEntries, l.skippedEntries + SKIPPED_ENTRY_BYTES), bytes.length);
    new DataView(over.buffer).setUint32(l.skippedCount, MAX_SKIPPED_KEYS + 1);
    expectCryptoError(() => Session.restore(env, over), ['SNAPSHOT_INVALID']);
    // Too many previous receiving keys.
    const prev = bytes.slice();
    prev[l.previousCount] = MAX_PREVIOUS_RECEIVING_KEYS + 1;
    expectCryptoError(() => Session.restore(env, prev), ['SNAPSHOT_INVALID']);
  });

  it('a snapshot listing the same skipped key twice is rejected as inconsistent', () => {
    const { session, env } = sampleSessions()[3] as { session: Session; env: CryptoEnv };
    const bytes = session.snapshot();
    const l = layout(bytes);
    const count = (l.end - l.skippedEntries) / SKIPPED_ENTRY_BYTES;
    assert.ok(count >= 2);
    // Entry 1 replaced by a copy of entry 0: the count still matches, the content is inconsistent.
    const dup = bytes.slice();
    dup.set(
      bytes.subarray(l.skippedEntries, l.skippedEntries + SKIPPED_ENTRY_BYTES),
      l.skippedEntries + SKIPPED_ENTRY_BYTES,
    );
    let restored: Session | undefined;
    const err = cryptoErrorOf(() => {
      restored = Session.restore(env, dup);
    });
    if (err === undefined) {
      console.log(
        `duplicate skipped-key entry: accepted; ${count} entries in the bytes, ` +
          `${restored?.info().skippedKeys} after restore, re-encoded ${restored?.snapshot().length} of ${dup.length} bytes`,
      );
    }
    assert.ok(err, 'a snapshot with a duplicated skipped-key entry was accepted');
    assert.equal(err.code, 'SNAPSHOT_INVALID');
  });

  it('arbitrary bytes never produce an untyped error', () => {
    const { session, env } = sampleSessions()[0] as { session: Session; env: CryptoEnv };
    const header = session.snapshot().subarray(0, 6);
    let typed = 0;
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: 600 }), (withHeader, tail) => {
        const bytes = withHeader ? new Uint8Array([...header, ...tail]) : tail;
        const err = cryptoErrorOf(() => Session.restore(env, bytes));
        assert.ok(err, 'random bytes restored');
        assert.ok((SNAPSHOT_CODES as readonly string[]).includes(err.code), err.code);
        typed++;
      }),
      { numRuns: 2000 },
    );
    console.log(`random snapshots: ${typed} rejected with typed errors`);
  });
});
