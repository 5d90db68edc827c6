/**
 * Builds the golden transcript: fixed seeds and clock → every key, every random draw, every
 * message byte. `npm run vectors:golden` writes it to protocols/session/vectors/; the golden test
 * rebuilds it with both providers and compares. Regenerating it is a protocol change, not a fix.
 */
import {
  type CryptoProvider,
  createEnv,
  deterministicRng,
  generateIdentity,
  generateKemPrekey,
  generateOneTimePrekey,
  generateSignedPrekey,
  initiateSession,
  MemoryPrekeyStore,
  manualClock,
  type PrekeyBundle,
  respondToSession,
  type Session,
  toHex,
} from '../../src/crypto/index.js';

export const TRANSCRIPT_SEED = new Uint8Array(32).fill(0x42);
export const TRANSCRIPT_CLOCK_MS = Date.UTC(2026, 10, 26, 12, 0, 0);
export const TRANSCRIPT_CONTEXT = {
  initiator: '12D3KooWAliceNodePeerIdForGoldenTranscript',
  responder: '12D3KooWBobNodePeerIdForGoldenTranscript',
};

const enc = new TextEncoder();

export interface Transcript {
  description: string;
  rngSeed: string;
  clockMs: number;
  context: { initiator: string; responder: string };
  rngDraws: { length: number; hex: string }[];
  alice: Record<string, string>;
  bob: Record<string, string>;
  bundle: Record<string, string | number>;
  associatedData: string;
  messages: { from: 'alice' | 'bob'; plaintext: string; ciphertext: string }[];
  snapshots: { alice: string; bob: string };
}

export function buildTranscript(provider: CryptoProvider): Transcript {
  const draws: { length: number; hex: string }[] = [];
  const base = deterministicRng(TRANSCRIPT_SEED);
  const rng = (n: number) => {
    const out = base(n);
    draws.push({ length: n, hex: toHex(out) });
    return out;
  };
  const env = createEnv({ provider, rng, clock: manualClock(TRANSCRIPT_CLOCK_MS) });

  const alice = generateIdentity(env);
  const bob = generateIdentity(env);
  const spk = generateSignedPrekey(env, bob, 1);
  const kem = generateKemPrekey(env, bob, 2);
  const opk = generateOneTimePrekey(env, 3);
  const store = new MemoryPrekeyStore();
  store.addSignedPrekey(spk);
  store.addKemPrekey(kem);
  store.addOneTimePrekey(opk);
  const bundle: PrekeyBundle = {
    identity: { signingKey: bob.signingKey, dhKey: bob.dhKey },
    signedPrekey: { id: spk.id, publicKey: spk.publicKey, signature: spk.signature },
    kemPrekey: { id: kem.id, publicKey: kem.publicKey, signature: kem.signature },
    oneTimePrekey: { id: opk.id, publicKey: opk.publicKey },
  };

  const messages: Transcript['messages'] = [];
  const a = initiateSession(env, { identity: alice, bundle, context: TRANSCRIPT_CONTEXT });
  const send = (from: 'alice' | 'bob', s: Session, text: string) => {
    const plaintext = enc.encode(text);
    const ciphertext = s.encrypt(plaintext);
    messages.push({ from, plaintext: toHex(plaintext), ciphertext: toHex(ciphertext) });
    return ciphertext;
  };
  const m0 = send('alice', a, 'hello bob, this is the first message');
  const m1 = send('alice', a, 'a second message before any reply');
  const r = respondToSession(env, { identity: bob, prekeys: store, message: m0, context: TRANSCRIPT_CONTEXT });
  const b = r.session;
  b.decrypt(m1);
  a.decrypt(send('bob', b, 'hi alice'));
  const m3 = send('alice', a, 'third (new chain after a DH ratchet step)');
  const m4 = send('alice', a, 'fourth (delivered before the third)');
  b.decrypt(m4);
  b.decrypt(m3);
  a.decrypt(send('bob', b, 'both arrived'));

  return {
    description:
      'sotto session protocol v1 golden transcript. All randomness comes from rngDraws, in order; the clock is fixed. Rebuilt by test/crypto/golden.test.ts with both providers.',
    rngSeed: toHex(TRANSCRIPT_SEED),
    clockMs: TRANSCRIPT_CLOCK_MS,
    context: TRANSCRIPT_CONTEXT,
    rngDraws: draws,
    alice: {
      signingSeed: toHex(alice.signingSeed),
      signingKey: toHex(alice.signingKey),
      dhPrivateKey: toHex(alice.dhPrivateKey),
      dhKey: toHex(alice.dhKey),
      dhSignature: toHex(alice.dhSignature),
    },
    bob: {
      signingSeed: toHex(bob.signingSeed),
      signingKey: toHex(bob.signingKey),
      dhPrivateKey: toHex(bob.dhPrivateKey),
      dhKey: toHex(bob.dhKey),
      dhSignature: toHex(bob.dhSignature),
    },
    bundle: {
      signedPrekeyId: spk.id,
      signedPrekeyPrivate: toHex(spk.privateKey),
      signedPrekeyPublic: toHex(spk.publicKey),
      signedPrekeySignature: toHex(spk.signature),
      kemPrekeyId: kem.id,
      kemPrekeyPublic: toHex(kem.publicKey),
      kemPrekeySignature: toHex(kem.signature),
      oneTimePrekeyId: opk.id,
      oneTimePrekeyPrivate: toHex(opk.privateKey),
      oneTimePrekeyPublic: toHex(opk.publicKey),
    },
    associatedData: toHex(a.state.ad),
    messages,
    snapshots: { alice: toHex(a.snapshot()), bob: toHex(b.snapshot()) },
  };
}
