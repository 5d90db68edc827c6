/**
 * sotto's own PQXDH (X25519 + ML-KEM-768) + Double Ratchet, through the public API of
 * src/crypto/index.ts. That module is being written alongside this harness, so it is loaded
 * lazily in `init()` through a specifier TypeScript does not resolve, and typed here by the
 * expected contract (`SottoApi`). If the module is missing or differs, `init()` rejects and the
 * harness prints a note and runs the baselines alone.
 *
 * Once src/crypto/index.ts exists, `SottoApi` can be replaced by
 * `typeof import('../../../src/crypto/index.js')`.
 */
import { projectVersion } from '../lib.js';
import { type Awaitable, type BenchTarget, type Handshake, mapAwaitable, type Pair } from './types.js';

/** The contract this target is written against (see the module comment). */
export interface SottoSession {
  encrypt(plaintext: Uint8Array): unknown;
  decrypt(message: unknown): unknown;
  snapshot(): Uint8Array;
}

export interface SottoContext {
  initiator: string;
  responder: string;
}

export interface SottoApi {
  createEnv(options: { provider: unknown }): unknown;
  nodeProvider: unknown;
  nobleProvider: unknown;
  generateIdentity(env: unknown): unknown;
  generatePrekeys(
    env: unknown,
    identity: unknown,
    options: { signedPrekeyId: number; kemPrekeyId: number; oneTimePrekeyIds: number[] },
  ): Awaitable<{ bundle: unknown; store: unknown }>;
  initiateSession(
    env: unknown,
    options: { identity: unknown; bundle: unknown; context: SottoContext },
  ): Awaitable<SottoSession>;
  respondToSession(
    env: unknown,
    options: { identity: unknown; prekeys: unknown; message: unknown; context: SottoContext },
  ): Awaitable<{ session: SottoSession; plaintext: Uint8Array }>;
}

const MODULE_URL = new URL('../../../src/crypto/index.js', import.meta.url).href;
const CONTEXT: SottoContext = { initiator: 'peer-a', responder: 'peer-b' };

let apiPromise: Promise<SottoApi> | undefined;

/** Imports src/crypto/index.ts once and checks that it exports what the contract needs. */
export function loadSottoApi(): Promise<SottoApi> {
  apiPromise ??= (async () => {
    const specifier: string = MODULE_URL; // a plain string: tsc must not try to resolve a file that may not exist yet
    const mod = (await import(specifier)) as Record<string, unknown>;
    const needed = ['createEnv', 'generateIdentity', 'generatePrekeys', 'initiateSession', 'respondToSession'];
    const missing = needed.filter((name) => typeof mod[name] !== 'function');
    if (missing.length > 0) throw new Error(`src/crypto/index.ts does not export ${missing.join(', ')}`);
    return mod as unknown as SottoApi;
  })();
  return apiPromise;
}

/** A session's decrypt result may be the plaintext or an object carrying it. */
function plaintextOf(result: unknown): Uint8Array {
  if (result instanceof Uint8Array) return result;
  const inner = (result as { plaintext?: unknown } | null)?.plaintext;
  if (inner instanceof Uint8Array) return inner;
  throw new Error('sotto decrypt returned neither bytes nor { plaintext }');
}

/** Wire size of a message: its length when it is bytes, else a serializer if the object has one. */
function wireSize(message: unknown): number {
  if (message instanceof Uint8Array) return message.length;
  const m = message as { bytes?: unknown; encode?: unknown; serialize?: unknown; toBytes?: unknown } | null;
  if (m?.bytes instanceof Uint8Array) return m.bytes.length;
  for (const method of ['encode', 'serialize', 'toBytes'] as const) {
    const f = m?.[method];
    if (typeof f === 'function') {
      const out = (f as () => unknown).call(m);
      if (out instanceof Uint8Array) return out.length;
    }
  }
  return Number.NaN;
}

function pairOf(a: SottoSession, b: SottoSession): Pair {
  return {
    encryptAtoB: (pt) => a.encrypt(pt),
    decryptAtB: (ct) => mapAwaitable(b.decrypt(ct) as Awaitable<unknown>, plaintextOf),
    encryptBtoA: (pt) => b.encrypt(pt),
    decryptAtA: (ct) => mapAwaitable(a.decrypt(ct) as Awaitable<unknown>, plaintextOf),
    sessionSizeA: () => a.snapshot().length,
    sessionSizeB: () => b.snapshot().length,
    ciphertextSize: wireSize,
  };
}

/**
 * A sotto row. `provider` selects the crypto provider exported by src/crypto/index.ts
 * ('node' → nodeProvider, 'noble' → nobleProvider) or is passed to createEnv as is.
 */
export function makeSottoTarget(provider: 'node' | 'noble' | object, label: string): BenchTarget {
  const version = projectVersion();
  const id = typeof provider === 'string' ? `sotto-${provider}` : `sotto-${label}`;
  let api: SottoApi | undefined;
  let env: unknown;
  return {
    id,
    name: `sotto ${version} (${label})`,
    version,
    pq: true,
    notes: [
      'sotto: PQXDH with X25519 + ML-KEM-768 (one signed prekey, one KEM prekey, one one-time prekey); initiate = initiateSession (bundle verification, DHs, KEM encapsulation); respond = respondToSession (DHs, KEM decapsulation, decrypt). Sessions live in JS objects; size = snapshot().length.',
    ],
    async init() {
      api = await loadSottoApi();
      const chosen = provider === 'node' ? api.nodeProvider : provider === 'noble' ? api.nobleProvider : provider;
      if (chosen === undefined) throw new Error(`src/crypto/index.ts does not export the ${String(provider)} provider`);
      env = api.createEnv({ provider: chosen });
    },
    setupHandshake(): Awaitable<Handshake> {
      const sotto = api;
      if (!sotto) throw new Error('sotto target not initialised');
      const alice = sotto.generateIdentity(env);
      const bob = sotto.generateIdentity(env);
      const prekeys = sotto.generatePrekeys(env, bob, { signedPrekeyId: 1, kemPrekeyId: 1, oneTimePrekeyIds: [1] });
      return mapAwaitable(prekeys, ({ bundle, store }): Handshake => {
        let a: SottoSession | undefined;
        let b: SottoSession | undefined;
        return {
          initiate: () =>
            mapAwaitable(sotto.initiateSession(env, { identity: alice, bundle, context: CONTEXT }), (s) => {
              a = s;
            }),
          encryptFirst: (pt) => {
            if (!a) throw new Error('initiate() first');
            return a.encrypt(pt);
          },
          respond: (ct) =>
            mapAwaitable(
              sotto.respondToSession(env, { identity: bob, prekeys: store, message: ct, context: CONTEXT }),
              (r) => {
                b = r.session;
                return r.plaintext;
              },
            ),
          pair: () => {
            if (!a || !b) throw new Error('handshake not complete');
            return pairOf(a, b);
          },
        };
      });
    },
  };
}
