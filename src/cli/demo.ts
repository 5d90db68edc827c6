/**
 * `sotto demo`: two identities on this machine run a PQXDH handshake and a Double Ratchet
 * conversation in process, printing what crosses the wire and the safety number. No network, no
 * data dir.
 */
import {
  createEnv,
  generateIdentity,
  generatePrekeys,
  initiateSession,
  respondToSession,
  SottoCryptoError,
  safetyNumber,
  toHex,
} from '../crypto/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Runs the demo, writing each line with `out`. */
export function runDemo(out: (line?: string) => void): void {
  const env = createEnv();
  const alice = generateIdentity(env);
  const bob = generateIdentity(env);
  const { bundle, store } = generatePrekeys(env, bob, { signedPrekeyId: 1, kemPrekeyId: 1, oneTimePrekeyIds: [1] });
  const context = { initiator: 'alice-node', responder: 'bob-node' };
  out(`alice  ${toHex(alice.signingKey)}`);
  out(`bob    ${toHex(bob.signingKey)}`);
  out(`safety number: ${safetyNumber(env.provider, alice.signingKey, bob.signingKey)}`);
  out();
  const a = initiateSession(env, { identity: alice, bundle, context });
  const first = a.encrypt(enc.encode('Hi Bob, nobody in between can read this.'));
  out(`alice → bob  prekey message, ${first.length} bytes (PQXDH header with ML-KEM-768 ciphertext)`);
  const { session: b, plaintext } = respondToSession(env, { identity: bob, prekeys: store, message: first, context });
  store.removeOneTimePrekey(1);
  out(`bob reads:   "${dec.decode(plaintext)}"`);
  const reply = b.encrypt(enc.encode('Hi Alice. Forward secrecy from here on.'));
  out(`bob → alice  ${reply.length} bytes`);
  out(`alice reads: "${dec.decode(a.decrypt(reply))}"`);
  try {
    a.decrypt(reply);
  } catch (err) {
    if (err instanceof SottoCryptoError) out(`replaying bob's message: rejected (${err.code})`);
  }
  out(`alice's session snapshot: ${a.snapshot().length} bytes`);
}
