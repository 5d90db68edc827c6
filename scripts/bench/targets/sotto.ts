/**
 * sotto's own PQXDH (X25519 + ML-KEM-768) + Double Ratchet, through the public API of
 * src/crypto/index.ts, with either provider.
 */
import {
  type CryptoEnv,
  type CryptoProvider,
  createEnv,
  generateIdentity,
  generatePrekeys,
  initiateSession,
  nobleProvider,
  nodeCurveBackend,
  nodeMlKemBackend,
  nodeProvider,
  nodeProviderReady,
  respondToSession,
  type Session,
} from '../../../src/crypto/index.js';
import { projectVersion } from '../lib.js';
import type { BenchTarget, Handshake, Pair } from './types.js';

const CONTEXT = { initiator: 'peer-a', responder: 'peer-b' };

function pairOf(a: Session, b: Session): Pair {
  return {
    encryptAtoB: (pt) => a.encrypt(pt),
    decryptAtB: (ct) => b.decrypt(ct as Uint8Array),
    encryptBtoA: (pt) => b.encrypt(pt),
    decryptAtA: (ct) => a.decrypt(ct as Uint8Array),
    sessionSizeA: () => a.snapshot().length,
    sessionSizeB: () => b.snapshot().length,
    ciphertextSize: (ct) => (ct as Uint8Array).length,
  };
}

/** A sotto row for one provider. */
export function makeSottoTarget(which: 'node' | 'noble', label: string): BenchTarget {
  const version = projectVersion();
  const provider: CryptoProvider = which === 'node' ? nodeProvider : nobleProvider;
  let env: CryptoEnv | undefined;
  const notes = [
    'sotto: PQXDH with X25519 + ML-KEM-768 (one signed prekey, one KEM prekey, one one-time prekey); initiate = initiateSession (3 signature checks, 4 DHs, KEM encapsulation, first DH-ratchet step); respond = respondToSession (1 signature check, 4 DHs, KEM decapsulation, DH-ratchet step, decrypt). Sessions live in JS objects; size = snapshot().length.',
  ];
  return {
    id: `sotto-${which}`,
    name: `sotto ${version} (${label})`,
    version,
    pq: true,
    notes,
    async init() {
      if (which === 'node') {
        await nodeProviderReady;
        notes.push(
          `sotto (node provider): ML-KEM-768 decapsulation and encapsulation on ${nodeMlKemBackend()}, X25519, Ed25519 verification, ChaCha20-Poly1305 and SHA-256 on ${nodeCurveBackend()}, everything else on OpenSSL (node:crypto).`,
        );
      } else {
        notes.push('sotto (noble provider): everything in pure JS, ML-KEM-768 on @noble/post-quantum.');
      }
      env = createEnv({ provider });
    },
    setupHandshake(): Handshake {
      if (!env) throw new Error('sotto target not initialised');
      const e = env;
      const alice = generateIdentity(e);
      const bob = generateIdentity(e);
      const { bundle, store } = generatePrekeys(e, bob, { signedPrekeyId: 1, kemPrekeyId: 1, oneTimePrekeyIds: [1] });
      let a: Session | undefined;
      let b: Session | undefined;
      return {
        initiate: () => {
          a = initiateSession(e, { identity: alice, bundle, context: CONTEXT });
        },
        encryptFirst: (pt) => {
          if (!a) throw new Error('initiate() first');
          return a.encrypt(pt);
        },
        respond: (ct) => {
          const r = respondToSession(e, { identity: bob, prekeys: store, message: ct as Uint8Array, context: CONTEXT });
          b = r.session;
          return r.plaintext;
        },
        pair: () => {
          if (!a || !b) throw new Error('handshake not complete');
          return pairOf(a, b);
        },
      };
    },
  };
}
