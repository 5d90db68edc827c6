// Harness for /sotto/prekeys/1.0.0: real libp2p 3 nodes (TCP on 127.0.0.1 + Noise + Yamux), no DHT,
// and a home node's claim callback over a real (in-memory) sotto store.
import '../../../src/net/shim.js';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { createEnv } from '../../../src/crypto/env.js';
import { generateOneTimePrekey, type OneTimePrekey } from '../../../src/crypto/keys.js';
import {
  type ClaimPrekey,
  type PrekeyHandler,
  type PrekeysProtocolInit,
  prekeysProtocol,
} from '../../../src/protocols/prekeys/index.js';
import { createMemoryStore, type SottoStore } from '../../../src/store/index.js';

export type PrekeyNode = Libp2p<{ prekeys: PrekeyHandler }>;

const base = {
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionManager: { inboundConnectionThreshold: 1000 },
};

/** A node serving /sotto/prekeys/1.0.0 with `init`. */
export async function createNode(init: PrekeysProtocolInit): Promise<PrekeyNode> {
  return createLibp2p({ ...base, services: { prekeys: prekeysProtocol(init) } });
}

/** A node without the service (a requester, or a raw peer whose handler the test writes). */
export async function createPlainNode(): Promise<Libp2p> {
  return createLibp2p({ ...base });
}

const env = createEnv();

/**
 * One hosted identity with a pool of unclaimed one-time prekeys in a sotto store, and the claim
 * callback a home node would register. Deliberately naive (first of `ids()`, `get`, a yield, then
 * `remove()` whose result it ignores): correct only when claims run one at a time, so at-most-once
 * under concurrency must come from the handler's per-identity queue (without it the burst tests fail).
 */
export class HostedIdentity {
  readonly identity: Uint8Array;
  readonly issued = new Map<number, OneTimePrekey>();
  /** Simulated store latency between reading the ids and removing one (0 = one event-loop turn). */
  raceWindowMs = 0;
  private nextId = 1;
  private constructor(
    readonly store: SottoStore,
    identity: Uint8Array,
  ) {
    this.identity = identity;
  }

  static async create(fill: number): Promise<HostedIdentity> {
    const h = new HostedIdentity(await createMemoryStore(), new Uint8Array(32).fill(fill));
    return h;
  }

  /** Adds `n` fresh one-time prekeys to the pool. */
  async add(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const key = generateOneTimePrekey(env, this.nextId++);
      this.issued.set(key.id, key);
      await this.store.prekeys.put('one-time', key);
    }
  }

  async left(): Promise<number> {
    return this.store.prekeys.count('one-time');
  }

  readonly claim: ClaimPrekey = async (identity) => {
    if (!equal(identity, this.identity)) return 'unknown';
    const [id] = await this.store.prekeys.ids('one-time');
    if (id === undefined) return 'empty';
    const key = await this.store.prekeys.get('one-time', id);
    if (key == null) return 'empty';
    // widen the race window on purpose: a slow store between "read" and "remove"
    await new Promise((r) => (this.raceWindowMs > 0 ? setTimeout(r, this.raceWindowMs) : setImmediate(r)));
    await this.store.prekeys.remove('one-time', id);
    return { id: key.id, publicKey: key.publicKey };
  };
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

// Hand-made frames and bounded waits: the same helpers as the message protocol's tests.
export { frame, varint, waitFor, waitForClose } from '../message/helpers.js';

export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
}
