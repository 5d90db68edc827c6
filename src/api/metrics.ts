/**
 * sotto's own Prometheus metrics, fed by the node's events and, at scrape time, by `status()`.
 * libp2p's metrics (@libp2p/prometheus-metrics) go into the same registry: the daemon passes the
 * registry to both, and GET /metrics serves it.
 *
 * Series:
 *   sotto_messages_sent_total{state}          'delivery' events reporting progress, by state:
 *                                             `sent` (the frame left), `delivered` (the recipient's
 *                                             node acknowledged storing it), `stored-at-mailbox`,
 *                                             `read`; one message passes several states, so count
 *                                             messages with {state="delivered"}
 *   sotto_messages_failed_total{state}        'delivery' events reporting no progress: `queued`
 *                                             (an attempt failed, the outbox retries) or `failed`
 *   sotto_messages_received_total             'message' events (decrypted, stored, new)
 *   sotto_outbox_depth                        outgoing messages waiting for an ack (status())
 *   sotto_peers                               connected peers (status())
 *   sotto_dht_routing_table_size              peers in the DHT routing table (status())
 *   sotto_one_time_prekeys{state}             one-time prekeys `available` / `claimed` (status())
 *   sotto_handshakes_total{role}              completed PQXDH handshakes as initiator / responder
 *   sotto_dht_lookups_total{result,cached}    identity record lookups: result ok|error, cached true|false
 *   sotto_dht_lookup_duration_seconds{cached} lookup latency histogram
 *   sotto_banned_peers                        peers banned right now for protocol violations (status())
 *   sotto_peer_bans_total                     bans issued since the node started (status(), counted
 *                                             forward at each scrape)
 *
 * No label carries an address, peer id or anything else per contact: cardinality stays fixed.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DeliveryUpdate } from '../node/node.js';
import type { ApiNode, ApiNodeStatus, HandshakeEvent, LookupEvent } from './types.js';

/** Delivery states that count as a failed attempt rather than progress. */
const FAILED_STATES: ReadonlySet<string> = new Set(['queued', 'failed']);

/** Lookup latency buckets (seconds): cache hits take microseconds, DHT queries up to the 20 s timeout. */
export const LOOKUP_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20];

export interface NodeMetrics {
  /** The registry the metrics live in (serve it, or add libp2p's metrics to it). */
  readonly registry: Registry;
  /** Stops listening to the node and removes sotto's metrics from the registry. */
  dispose(): void;
}

/** The names of every metric `createNodeMetrics` registers. */
export const NODE_METRIC_NAMES = [
  'sotto_messages_sent_total',
  'sotto_messages_failed_total',
  'sotto_messages_received_total',
  'sotto_outbox_depth',
  'sotto_peers',
  'sotto_dht_routing_table_size',
  'sotto_one_time_prekeys',
  'sotto_handshakes_total',
  'sotto_dht_lookups_total',
  'sotto_dht_lookup_duration_seconds',
  'sotto_banned_peers',
  'sotto_peer_bans_total',
] as const;

/**
 * The ban facts `SottoNode.status()` adds (src/node/ban-list.ts). Optional here: the API's node
 * interface does not require them, and a node without them reports no bans.
 */
interface BanStatus {
  banned?: readonly unknown[];
  bansTotal?: number;
}

/**
 * Registers sotto's metrics in `registry` (a new one by default) and starts counting the node's
 * events. Gauges read `node.status()` once per scrape; if it fails (node stopping), they keep their
 * last values. Call `dispose()` before creating metrics for the same registry again.
 */
export function createNodeMetrics(node: ApiNode, registry: Registry = new Registry()): NodeMetrics {
  const registers = [registry];

  const sent = new Counter({
    name: 'sotto_messages_sent_total',
    help: 'Outgoing messages whose delivery progressed, by the state reported (delivered: the recipient node stored it).',
    labelNames: ['state'] as const,
    registers,
  });
  const failed = new Counter({
    name: 'sotto_messages_failed_total',
    help: 'Delivery attempts that did not get through, by state (queued: retried later; failed: given up).',
    labelNames: ['state'] as const,
    registers,
  });
  const received = new Counter({
    name: 'sotto_messages_received_total',
    help: 'Incoming messages decrypted, stored and handed to the app.',
    registers,
  });
  const handshakes = new Counter({
    name: 'sotto_handshakes_total',
    help: 'Completed PQXDH handshakes, by the role of this node.',
    labelNames: ['role'] as const,
    registers,
  });
  const lookups = new Counter({
    name: 'sotto_dht_lookups_total',
    help: 'Identity record lookups, by result (ok, error) and whether the cache answered.',
    labelNames: ['result', 'cached'] as const,
    registers,
  });
  const lookupDuration = new Histogram({
    name: 'sotto_dht_lookup_duration_seconds',
    help: 'Identity record lookup latency, by whether the cache answered.',
    labelNames: ['cached'] as const,
    buckets: LOOKUP_DURATION_BUCKETS,
    registers,
  });

  // One status() call per scrape, shared by the gauges (prom-client collects them concurrently).
  let pending: Promise<ApiNodeStatus | undefined> | undefined;
  const snapshot = (): Promise<ApiNodeStatus | undefined> => {
    if (!pending) {
      pending = node.status().then(
        (status) => status,
        () => undefined,
      );
      const current = pending;
      void current.then(() => {
        if (pending === current) pending = undefined;
      });
    }
    return pending;
  };

  new Gauge({
    name: 'sotto_outbox_depth',
    help: 'Outgoing messages waiting for an acknowledgement.',
    registers,
    async collect() {
      const status = await snapshot();
      if (status) this.set(status.outbox);
    },
  });
  new Gauge({
    name: 'sotto_peers',
    help: 'Connected libp2p peers.',
    registers,
    async collect() {
      const status = await snapshot();
      if (status) this.set(status.peers);
    },
  });
  new Gauge({
    name: 'sotto_dht_routing_table_size',
    help: 'Peers in the DHT routing table.',
    registers,
    async collect() {
      const status = await snapshot();
      if (status) this.set(status.routingTable);
    },
  });
  new Gauge({
    name: 'sotto_one_time_prekeys',
    help: 'One-time prekeys this node holds, by state (available: never handed out; claimed: handed out, unused).',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const status = await snapshot();
      if (!status) return;
      this.set({ state: 'available' }, status.oneTimePrekeys.available);
      this.set({ state: 'claimed' }, status.oneTimePrekeys.claimed);
    },
  });

  new Gauge({
    name: 'sotto_banned_peers',
    help: 'Peers banned right now for protocol violations (their connections refused both ways).',
    registers,
    async collect() {
      const status = (await snapshot()) as (ApiNodeStatus & BanStatus) | undefined;
      if (status && Array.isArray(status.banned)) this.set(status.banned.length);
    },
  });
  // The node counts bans; the counter catches up with that total at each scrape (never goes back).
  let bansCounted = 0;
  new Counter({
    name: 'sotto_peer_bans_total',
    help: 'Peers banned for protocol violations since the node started (a peer banned twice counts twice).',
    registers,
    async collect() {
      const status = (await snapshot()) as (ApiNodeStatus & BanStatus) | undefined;
      const total = status?.bansTotal;
      if (typeof total === 'number' && Number.isSafeInteger(total) && total > bansCounted) {
        this.inc(total - bansCounted);
        bansCounted = total;
      }
    },
  });

  // Every known label combination starts at zero, so the series exist before the first event.
  sent.inc({ state: 'delivered' }, 0);
  for (const state of FAILED_STATES) failed.inc({ state }, 0);
  for (const role of ['initiator', 'responder']) handshakes.inc({ role }, 0);
  for (const result of ['ok', 'error']) {
    for (const cached of ['true', 'false']) lookups.inc({ result, cached }, 0);
  }
  for (const cached of ['true', 'false']) lookupDuration.zero({ cached });

  const onDelivery = (update: DeliveryUpdate) => {
    if (FAILED_STATES.has(update.state)) failed.inc({ state: update.state });
    else sent.inc({ state: update.state });
  };
  const onMessage = () => received.inc();
  const onHandshake = (event: HandshakeEvent) => handshakes.inc({ role: event.role });
  const onLookup = (event: LookupEvent) => {
    const cached = String(event.cached);
    lookups.inc({ result: event.ok ? 'ok' : 'error', cached });
    lookupDuration.observe({ cached }, Math.max(0, event.durationMs) / 1000);
  };

  node.on('delivery', onDelivery);
  node.on('message', onMessage);
  node.on('handshake', onHandshake);
  node.on('lookup', onLookup);

  let disposed = false;
  return {
    registry,
    dispose() {
      if (disposed) return;
      disposed = true;
      node.off('delivery', onDelivery);
      node.off('message', onMessage);
      node.off('handshake', onHandshake);
      node.off('lookup', onLookup);
      for (const name of NODE_METRIC_NAMES) registry.removeSingleMetric(name);
    },
  };
}
