/**
 * Assembles the libp2p 3 host from a validated `NetConfig`: TCP + WebSockets, Noise, Yamux,
 * identify, ping, and kad-dht on sotto's private protocol id with the caller's record validators
 * and selectors. Bootstrap peers come only from the config. No mDNS, no UPnP, no autoNAT, no relay.
 */
import './shim.js';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { type Identify, identify } from '@libp2p/identify';
import type { ConnectionGater, PrivateKey } from '@libp2p/interface';
import {
  type KadDHT,
  kadDHT,
  passthroughMapper,
  removePrivateAddressesMapper,
  type Selectors,
  type Validators,
} from '@libp2p/kad-dht';
import { type Ping, ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { isPrivate } from '@libp2p/utils';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p';
import { type BootstrapDialer, bootstrapDialer } from './bootstrap.js';
import type { NetConfig } from './config.js';
import { HostAssemblyError, InvalidDhtNamespaceError } from './errors.js';
import type { NetLogger } from './logger.js';
import { noiseCrypto } from './noise-crypto.js';
import { guardDhtRecords, type PutGetDatastore } from './record-guard.js';

/** sotto's private Kademlia protocol id: a sotto node never joins (or pollutes) the public IPFS DHT. */
export const DHT_PROTOCOL = '/sotto/kad/1.0.0';

/**
 * kad-dht 16 picks a record's validator and selector by the *first* path segment of its key:
 * `/sotto/id/<identity>` → `validators.sotto`. Every sotto record lives under this namespace.
 */
export const DHT_NAMESPACE = 'sotto';

/**
 * How often kad-dht runs its self-query once it is warmed up (libp2p's default is 5 min). Its first
 * one runs on a timer soon after start, often before any peer is connected; the bootstrap service
 * therefore starts a self-lookup after its first connection (`selfLookup`).
 */
export const DHT_QUERY_SELF_INTERVAL_MS = 5 * 60_000;

export interface SottoServices extends Record<string, unknown> {
  dht: KadDHT;
  identify: Identify;
  ping: Ping;
  bootstrap: BootstrapDialer;
}

export type SottoHost = Libp2p<SottoServices>;

export interface DhtRecordRules {
  /** Keyed by kad-dht namespace (the first key segment), e.g. `{ sotto: validateSottoRecord }`. */
  readonly validators: Validators;
  /** Same keys as `validators`: kad-dht refuses to `get` a key without a selector, even for one record. */
  readonly selectors: Selectors;
}

export interface CreateHostOptions {
  readonly privateKey: PrivateKey;
  readonly config: NetConfig;
  readonly dht: DhtRecordRules;
  readonly logger?: NetLogger;
  /** Start the node before returning (default true). Pass false to register handlers first. */
  readonly start?: boolean;
  /** libp2p's metrics implementation, e.g. `prometheusMetrics({ registry })` (default: none). */
  readonly metrics?: Libp2pOptions<SottoServices>['metrics'];
}

const NAMESPACE_RE = /^[A-Za-z0-9_-]+$/;

function checkRecordRules(rules: DhtRecordRules): void {
  for (const ns of Object.keys(rules.validators)) {
    if (!NAMESPACE_RE.test(ns)) throw new InvalidDhtNamespaceError(ns, 'validator key must be a bare namespace');
    if (typeof rules.selectors[ns] !== 'function') throw new InvalidDhtNamespaceError(ns, 'validator without selector');
  }
  for (const ns of Object.keys(rules.selectors)) {
    if (typeof rules.validators[ns] !== 'function')
      throw new InvalidDhtNamespaceError(ns, 'selector without validator');
  }
}

/** A public deployment neither dials nor advertises private/loopback addresses. */
function privateAddressGater(): ConnectionGater {
  return { denyDialMultiaddr: (ma) => isPrivate(ma) };
}

/**
 * How often libp2p's connection monitor pings each open connection (its default is 10 s). Each ping
 * is a new stream with protocol negotiation; measured with 100 nodes in one process (≈ 1,800
 * connections), the default pings alone kept more than one core busy while nothing else happened.
 * A dead connection is still found within a minute, and any message or DHT query on it fails fast.
 */
export const CONNECTION_PING_INTERVAL_MS = 60_000;

/** How often `waitForDhtPeer` looks at the routing table. */
const DHT_PEER_POLL_MS = 20;

/** Peers in the host's DHT routing table (kad-dht does not put its size on the public interface). */
export function routingTableSize(host: SottoHost): number {
  const dht = host.services.dht as unknown as { routingTable?: { size?: number } };
  return dht.routingTable?.size ?? 0;
}

/**
 * Resolves true once the routing table has a peer, false when `timeoutMs` passed, the signal was
 * aborted or the host stopped first. A new connection's peer enters the table only after identify.
 */
export async function waitForDhtPeer(host: SottoHost, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (routingTableSize(host) === 0) {
    if (Date.now() >= until || signal?.aborted === true || host.status !== 'started') return false;
    await new Promise((resolve) => setTimeout(resolve, DHT_PEER_POLL_MS));
  }
  return true;
}

/** Bound of the self-lookup after the first bootstrap connection. */
export const SELF_LOOKUP_TIMEOUT_MS = 15_000;

/**
 * Looks up our own peer id once we have a first peer: the peers closest to us answer and land in
 * the routing table. kad-dht's own first self-query runs on a timer shortly after start, usually
 * before the bootstrap connection exists, and then only every DHT_QUERY_SELF_INTERVAL_MS: measured
 * with 100 nodes in one process, most routing tables held only the bootstrap peer for minutes.
 */
function selfLookup(node: SottoHost, logger: NetLogger | undefined): void {
  void (async () => {
    const signal = AbortSignal.timeout(SELF_LOOKUP_TIMEOUT_MS);
    // the connection is open, but kad-dht adds the peer only after identify: wait for it
    if (!(await waitForDhtPeer(node, SELF_LOOKUP_TIMEOUT_MS, signal))) return;
    let found = 0;
    for await (const event of node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes, { signal })) {
      if (event.name === 'FINAL_PEER') found++;
    }
    logger?.debug?.(`self-lookup found ${found} peers`);
  })().catch((err: unknown) => logger?.debug?.(`self-lookup ended: ${(err as Error).name}`));
}

export async function createHost(options: CreateHostOptions): Promise<SottoHost> {
  const { config, privateKey, dht, logger } = options;
  checkRecordRules(dht);
  const { limits } = config;

  const node = await createLibp2p<SottoServices>({
    privateKey,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    start: false,
    addresses: {
      listen: [...config.listen],
      announce: config.announce.length > 0 ? [...config.announce] : undefined,
    },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux()],
    connectionGater: config.allowPrivateAddresses ? {} : privateAddressGater(),
    connectionMonitor: { pingInterval: CONNECTION_PING_INTERVAL_MS },
    connectionManager: {
      maxConnections: limits.maxConnections,
      inboundConnectionThreshold: limits.inboundConnectionThreshold,
      maxIncomingPendingConnections: limits.maxIncomingPendingConnections,
      dialTimeout: limits.dialTimeoutMs,
    },
    // No peerDiscovery modules: peers come from config.bootstrap and from the DHT itself.
    peerDiscovery: [],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        // The default (client until a public address is confirmed) never serves on a devnet.
        clientMode: config.dhtMode === 'client',
        // The default mapper drops private/loopback addresses, which makes a devnet unroutable.
        peerInfoMapper: config.allowPrivateAddresses ? passthroughMapper : removePrivateAddressesMapper,
        validators: { ...dht.validators },
        selectors: { ...dht.selectors },
        // Otherwise every query waits for the first self-query, i.e. forever on a lone node.
        allowQueryWithZeroPeers: true,
        querySelfInterval: DHT_QUERY_SELF_INTERVAL_MS,
      }),
      bootstrap: bootstrapDialer({
        addresses: config.bootstrap,
        logger,
        onFirstConnection: () => selfLookup(node, logger),
      }),
    },
  });
  // kad-dht reads its datastore through libp2p's components; patching `put` there covers both
  // remote PUT_VALUE requests and our own puts. Fail now if libp2p's shape ever changes.
  const datastore = (node as unknown as { components?: { datastore?: PutGetDatastore } }).components?.datastore;
  if (datastore == null || typeof datastore.put !== 'function' || typeof datastore.get !== 'function') {
    await node.stop();
    throw new HostAssemblyError('libp2p components.datastore is not reachable: cannot guard DHT records');
  }
  guardDhtRecords(datastore, node.services.dht.validators, node.services.dht.selectors);
  if (options.start ?? true) await node.start();
  return node;
}
