/**
 * Keeps libp2p's random walk from starving the event loop.
 *
 * libp2p's random walk (circuit relay discovery uses it for a `/p2p-circuit` listen address; AutoNAT
 * v2 once a minute, for up to 10 s, while one of our public addresses is unverified, to find peers
 * to ask) calls `peerRouting.getClosestPeers` in a loop with no pause. With an empty DHT routing
 * table kad-dht answers at once (sotto sets `allowQueryWithZeroPeers`), so that loop runs on
 * promise callbacks alone and never lets timers or sockets run: the node hangs. Seen in test/system/nat.test.ts: a node listening on `/p2p-circuit`
 * never completed the dial to its bootstrap peer.
 *
 * This peer router takes part in every `getClosestPeers` that goes through libp2p's peer routing
 * (the random walk's; sotto's own DHT calls go to kad-dht directly). libp2p waits for all routers,
 * so while the routing table is empty each walk step takes at least EMPTY_TABLE_PACE_MS; once the
 * table has a peer the pacer answers at once and kad-dht's network round trips pace the walk.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AbortOptions, PeerInfo, PeerRouting } from '@libp2p/interface';

/** A random walk step with an empty routing table waits this long (rule: at most one spin per second). */
export const EMPTY_TABLE_PACE_MS = 1_000;

export interface WalkPacerInit {
  /** Peers in the DHT routing table now. */
  readonly routingTableSize: () => number;
  /** Default EMPTY_TABLE_PACE_MS. */
  readonly paceMs?: number;
}

export class WalkPacer implements Pick<PeerRouting, 'getClosestPeers'> {
  readonly #init: WalkPacerInit;

  constructor(init: WalkPacerInit) {
    this.#init = init;
  }

  readonly [Symbol.toStringTag] = 'sotto/walk-pacer';

  /** Finds nothing; with an empty routing table it first waits (until the signal aborts). */
  getClosestPeers(_key: Uint8Array, options?: AbortOptions): AsyncIterable<PeerInfo> {
    const wait = this.#init.routingTableSize() > 0 ? 0 : (this.#init.paceMs ?? EMPTY_TABLE_PACE_MS);
    const done = async (): Promise<IteratorResult<PeerInfo>> => {
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal: options?.signal });
        } catch {
          // aborted: the walk is over
        }
      }
      return { done: true, value: undefined };
    };
    return { [Symbol.asyncIterator]: () => ({ next: done }) };
  }
}

/**
 * For libp2p's `peerRouters` option. The pacer has no `findPeer`: libp2p asks a router for that
 * only when it has one (libp2p/src/peer-routing.ts filters on it), hence the cast.
 */
export function walkPacer(init: WalkPacerInit): () => PeerRouting {
  return () => new WalkPacer(init) as unknown as PeerRouting;
}
