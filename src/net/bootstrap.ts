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
}

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
  #ready: Promise<BootstrapDialResult[]> = Promise.resolve([]);

  constructor(components: BootstrapDialerComponents, init: BootstrapDialerInit) {
    this.#components = components;
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
  }

  /** Settles when the dials started by the last `start()` have finished (one result per address). */
  get ready(): Promise<BootstrapDialResult[]> {
    return this.#ready;
  }

  async #dial(address: Multiaddr, signal: AbortSignal | undefined): Promise<BootstrapDialResult> {
    try {
      const connection = await this.#components.connectionManager.openConnection(address, { signal });
      this.#log.debug('connected to bootstrap peer %s', connection.remotePeer.toString());
      return { address: address.toString(), ok: true, peerId: connection.remotePeer };
    } catch (err) {
      if (signal?.aborted !== true) {
        this.#log.warn('bootstrap dial to %s failed: %s', address.toString(), (err as Error).name);
      }
      return { address: address.toString(), ok: false };
    }
  }
}

export function bootstrapDialer(init: BootstrapDialerInit): (components: BootstrapDialerComponents) => BootstrapDialer {
  return (components) => new BootstrapDialer(components, init);
}
