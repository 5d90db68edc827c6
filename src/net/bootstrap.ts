/**
 * A libp2p service that dials the configured bootstrap peers once the node has started. It is the
 * only source of initial peers: no mDNS, no public bootstrap list. Dial failures are logged and
 * reported through `ready`, never thrown: a node whose bootstrap peers are down still starts (and
 * an empty list is a valid lone node).
 */
import type { AbortOptions, ComponentLogger, Connection, PeerId, Startable } from '@libp2p/interface';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { type NetLogger, netLoggerFrom } from './logger.js';

export interface BootstrapDialResult {
  readonly address: string;
  readonly ok: boolean;
  readonly peerId?: PeerId;
}

export interface BootstrapDialerInit {
  readonly addresses: readonly string[];
  readonly logger?: NetLogger;
  /**
   * Called once, after the first bootstrap connection succeeds (the host runs a DHT self-lookup
   * there, so the routing table fills without waiting for kad-dht's periodic self-query).
   */
  readonly onFirstConnection?: () => void;
  /** First retry delay of a failed bootstrap dial (ms); doubles up to BOOTSTRAP_RETRY_MAX_MS. */
  readonly retryMinMs?: number;
}

/**
 * A bootstrap peer that cannot be reached is dialled again, first after this long, then after
 * twice as long each time: a node started while its bootstrap peer is down joins when the peer
 * comes back, without a restart.
 */
export const BOOTSTRAP_RETRY_MIN_MS = 2_000;
/** Up to this fraction of the retry delay is added at random. */
export const BOOTSTRAP_RETRY_JITTER = 0.5;
/** Longest wait between two dials of an unreachable bootstrap peer (before jitter). */
export const BOOTSTRAP_RETRY_MAX_MS = 60_000;

/** The narrow slice of libp2p's components this service uses. */
export interface BootstrapDialerComponents {
  connectionManager: { openConnection(peer: Multiaddr, options?: AbortOptions): Promise<Connection> };
  logger: ComponentLogger;
}

export class BootstrapDialer implements Startable {
  readonly #addresses: readonly Multiaddr[];
  readonly #components: BootstrapDialerComponents;
  readonly #log: NetLogger;
  #controller: AbortController | undefined;
  readonly #init: BootstrapDialerInit;
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  #connectedOnce = false;
  #ready: Promise<BootstrapDialResult[]> = Promise.resolve([]);

  constructor(components: BootstrapDialerComponents, init: BootstrapDialerInit) {
    this.#components = components;
    this.#init = init;
    this.#addresses = init.addresses.map((a) => multiaddr(a));
    this.#log = init.logger ?? netLoggerFrom(components.logger, 'sotto:net:bootstrap');
  }

  readonly [Symbol.toStringTag] = 'sotto/bootstrap-dialer';

  start(): void {
    this.#controller = new AbortController();
  }

  /** Runs after every transport listens, so the identify exchange can carry our addresses. */
  afterStart(): void {
    const signal = this.#controller?.signal;
    this.#ready = Promise.all(this.#addresses.map((address) => this.#dial(address, signal)));
  }

  stop(): void {
    this.#controller?.abort();
    this.#controller = undefined;
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
  }

  /** Settles when the dials started by the last `start()` have finished (one result per address). */
  get ready(): Promise<BootstrapDialResult[]> {
    return this.#ready;
  }

  async #dial(address: Multiaddr, signal: AbortSignal | undefined, attempt = 0): Promise<BootstrapDialResult> {
    try {
      const connection = await this.#components.connectionManager.openConnection(address, { signal });
      this.#log.debug('connected to bootstrap peer %s', connection.remotePeer.toString());
      if (!this.#connectedOnce) {
        this.#connectedOnce = true;
        this.#init.onFirstConnection?.();
      }
      return { address: address.toString(), ok: true, peerId: connection.remotePeer };
    } catch (err) {
      if (signal?.aborted !== true) {
        const base = Math.min(
          (this.#init.retryMinMs ?? BOOTSTRAP_RETRY_MIN_MS) * 2 ** Math.min(attempt, 16),
          BOOTSTRAP_RETRY_MAX_MS,
        );
        // up to +50% at random, so nodes started together do not retry together
        const delay = Math.round(base * (1 + Math.random() * BOOTSTRAP_RETRY_JITTER));
        this.#log.warn(
          'bootstrap dial to %s failed: %s (retry in %d ms)',
          address.toString(),
          (err as Error).name,
          delay,
        );
        const timer = setTimeout(() => {
          this.#retryTimers.delete(timer);
          if (signal?.aborted !== true) void this.#dial(address, signal, attempt + 1);
        }, delay);
        timer.unref();
        this.#retryTimers.add(timer);
      }
      return { address: address.toString(), ok: false };
    }
  }
}

export function bootstrapDialer(init: BootstrapDialerInit): (components: BootstrapDialerComponents) => BootstrapDialer {
  return (components) => new BootstrapDialer(components, init);
}
