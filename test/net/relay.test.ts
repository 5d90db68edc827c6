/**
 * The relay part of the transport stack on loopback, in one process: circuit relay v2 (a node with
 * `relay.enabled` relays; every node can dial and listen through relays), AutoNAT v2 and DCUtR on
 * every node, sotto's protocols allowed over relayed (limited) connections and nothing else, the
 * relay's limits, and the walk pacer (src/net/walk-pacer.ts). The multi-host NAT case, and the
 * event-loop starvation the pacer prevents (a NATed DHT client on `/p2p-circuit` never finished
 * starting without it; it does not show in one process on loopback), are in test/system/nat.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import {
  AUTONAT_MAX_DIAL_DATA_BYTES,
  AUTONAT_MAX_INBOUND_STREAMS,
  AUTONAT_MAX_MESSAGE_BYTES,
  AUTONAT_TIMEOUT_MS,
  DEFAULT_RELAY_MAX_DATA_BYTES,
  DEFAULT_RELAY_MAX_DURATION_MS,
  DEFAULT_RELAY_MAX_RESERVATIONS,
  EMPTY_TABLE_PACE_MS,
  LIMITED_CONNECTION_PROTOCOLS,
  type SottoHost,
  transportReport,
  WalkPacer,
} from '../../src/net/index.js';
import { PROTOCOL_ID as MAILBOX_PROTOCOL } from '../../src/protocols/mailbox/constants.js';
import { PROTOCOL_ID as MESSAGE_PROTOCOL } from '../../src/protocols/message/constants.js';
import { PROTOCOL_ID as PREKEYS_PROTOCOL } from '../../src/protocols/prekeys/constants.js';
import { startNode, stopAll, waitFor } from './helpers.js';

const HOP = '/libp2p/circuit/relay/0.2.0/hop';
/** AutoNAT v2: the server handles dial requests, the client the dial-backs it asked for. */
const AUTONAT_DIAL_REQUEST = '/libp2p/autonat/2/dial-request';
const AUTONAT_DIAL_BACK = '/libp2p/autonat/2/dial-back';
/** AutoNAT v1's id: no sotto node speaks it any more. */
const AUTONAT_V1 = '/libp2p/autonat/1.0.0';

/** The fields of @libp2p/autonat-v2's service that hold sotto's limits (not on its public type). */
interface AutoNATv2View {
  client?: { timeout?: number; maxInboundStreams?: number; maxMessageSize?: number; maxDialDataBytes?: bigint };
  server?: { timeout?: number; maxInboundStreams?: number; maxMessageSize?: number };
}
const STOP = '/libp2p/circuit/relay/0.2.0/stop';
const ONLY_TCP = ['/ip4/127.0.0.1/tcp/0'];

/** A relay R, a node N holding a reservation on it, and a node P that knows only R. */
async function relayTrio(relay: object = {}): Promise<{ r: SottoHost; n: SottoHost; p: SottoHost }> {
  const r = await startNode({ listen: ONLY_TCP, relay: { enabled: true, ...relay } });
  const rAddr = r.getMultiaddrs()[0]?.toString() as string;
  const n = await startNode({ listen: [...ONLY_TCP, `${rAddr}/p2p-circuit`], dhtMode: 'client' });
  const p = await startNode({ listen: ONLY_TCP, dhtMode: 'client' });
  await waitFor('N reserved on R', () => transportReport(n).relayAddresses.length > 0);
  return { r, n, p };
}

function circuitAddress(n: SottoHost): string {
  const a = transportReport(n).relayAddresses[0];
  if (a === undefined) throw new Error('no relay address');
  return a;
}

describe('the relay transport stack', () => {
  it('every node runs AutoNAT v2, DCUtR and the relay transport; only a relay serves HOP', async () => {
    const plain = await startNode();
    const relay = await startNode({ relay: { enabled: true } });
    try {
      for (const node of [plain, relay]) {
        const protocols = node.getProtocols();
        for (const p of [AUTONAT_DIAL_REQUEST, AUTONAT_DIAL_BACK, '/libp2p/dcutr', STOP]) {
          assert.ok(protocols.includes(p), p);
        }
        assert.ok(!protocols.includes(AUTONAT_V1), 'AutoNAT v1 is gone');
        assert.ok(node.services.autoNAT !== undefined && node.services.dcutr !== undefined);
        assert.equal(Object.prototype.toString.call(node.services.autoNAT), '[object @libp2p/autonat-v2]');
        // sotto's limits reach both roles of the library
        const { client, server } = node.services.autoNAT as AutoNATv2View;
        for (const role of [client, server]) {
          assert.equal(role?.timeout, AUTONAT_TIMEOUT_MS);
          assert.equal(role?.maxInboundStreams, AUTONAT_MAX_INBOUND_STREAMS);
          assert.equal(role?.maxMessageSize, AUTONAT_MAX_MESSAGE_BYTES);
        }
        assert.equal(client?.maxDialDataBytes, BigInt(AUTONAT_MAX_DIAL_DATA_BYTES));
      }
      assert.ok(!plain.getProtocols().includes(HOP), 'relaying is off by default');
      assert.equal(plain.services.relay, undefined);
      assert.ok(relay.getProtocols().includes(HOP));
      assert.equal(transportReport(relay).relayReservations, 0);
    } finally {
      await stopAll([plain, relay]);
    }
  });

  it('a relay applies its configured limits to each reservation', async () => {
    const { r, n, p } = await relayTrio({ maxReservations: 3, maxDurationMs: 7_000, maxDataBytes: 200_000 });
    try {
      const reservation = r.services.relay?.reservations.get(n.peerId);
      assert.ok(reservation, 'R holds N’s reservation');
      assert.equal(reservation.limit?.duration, 7_000);
      assert.equal(reservation.limit?.data, 200_000n);
      assert.equal(transportReport(r).relayReservations, 1);
    } finally {
      await stopAll([p, n, r]);
    }
  });

  it('defaults: off, libp2p’s reservation count, circuit v2 duration, 1 MiB per relayed connection', () => {
    assert.equal(DEFAULT_RELAY_MAX_RESERVATIONS, 15);
    assert.equal(DEFAULT_RELAY_MAX_DURATION_MS, 120_000);
    assert.equal(DEFAULT_RELAY_MAX_DATA_BYTES, 1024 * 1024);
  });

  it('sotto’s message and prekey protocols run over a relayed connection; other protocols do not', async () => {
    assert.deepEqual([...LIMITED_CONNECTION_PROTOCOLS].sort(), [MESSAGE_PROTOCOL, PREKEYS_PROTOCOL].sort());
    assert.ok(!LIMITED_CONNECTION_PROTOCOLS.includes(MAILBOX_PROTOCOL), 'mailbox transfers stay off relays');
    const { r, n, p } = await relayTrio();
    try {
      const echo = async (stream: import('@libp2p/interface').Stream) => {
        for await (const chunk of stream) stream.send(chunk.subarray());
        await stream.close();
      };
      await n.handle(MESSAGE_PROTOCOL, echo);
      await n.handle('/sotto/test-only/1.0.0', echo);
      const target = multiaddr(circuitAddress(n));
      const stream = await p.dialProtocol(target, MESSAGE_PROTOCOL);
      const connection = p.getConnections(n.peerId)[0];
      assert.ok(connection?.limits !== undefined, 'the only connection P–N is relayed (limited)');
      assert.ok(connection.remoteAddr.toString().includes('/p2p-circuit'));
      stream.send(new TextEncoder().encode('ping'));
      const reply = await new Promise<string>((resolve, reject) => {
        stream.addEventListener('message', (evt) => resolve(new TextDecoder().decode(evt.data.subarray())), {
          once: true,
        });
        setTimeout(() => reject(new Error('no echo over the relay')), 5_000);
      });
      assert.equal(reply, 'ping');
      await stream.close();
      await assert.rejects(
        p.dialProtocol(target, '/sotto/test-only/1.0.0'),
        (err: Error) => err.name === 'LimitedConnectionError',
        'a protocol outside the list is refused on a limited connection',
      );
    } finally {
      await stopAll([p, n, r]);
    }
  });

  it('a STOP stream from a relay we hold no reservation on is refused: it does not become our relay', async () => {
    // S runs a relay server; N is configured with no relay at all. Unguarded, circuit relay v2
    // answers S's STOP by listening through S (a reservation on S: S would see who dials N).
    const s = await startNode({ listen: ONLY_TCP, relay: { enabled: true } });
    const n = await startNode({ listen: ONLY_TCP, dhtMode: 'client' });
    try {
      // Unguarded, the library's STOP handler calls transportManager.listen(<S>/p2p-circuit) before
      // it reads anything: count the calls instead of waiting for a reservation that should not come.
      const { transportManager } = (
        n as unknown as { components: { transportManager: { listen(addrs: unknown[]): Promise<void> } } }
      ).components;
      const listen = transportManager.listen.bind(transportManager);
      const listened: string[] = [];
      transportManager.listen = (addrs) => {
        listened.push(...addrs.map(String));
        return listen(addrs);
      };
      const stream = await s.dialProtocol(n.getMultiaddrs()[0] as import('@multiformats/multiaddr').Multiaddr, STOP);
      // nothing to send: the library would have acted before reading a byte (and N may abort the
      // stream before anything could be written)
      await waitFor('N to abort the STOP stream', () => stream.status !== 'open', 5_000);
      assert.notEqual(stream.status, 'open', 'N aborted the STOP stream');
      assert.deepEqual(listened, [], 'N never started listening through S');
      assert.deepEqual(transportReport(n).relayAddresses, [], 'N listens through no relay');
      assert.equal(transportReport(s).relayReservations, 0, 'S holds no reservation for N');
      assert.equal(s.services.relay?.reservations.get(n.peerId), undefined);
    } finally {
      await stopAll([n, s]);
    }
  });

  it('a STOP stream from the relay we hold a reservation on goes through (a dial through it connects)', async () => {
    const { r, n, p } = await relayTrio();
    try {
      await p.dial(multiaddr(circuitAddress(n)));
      const connection = p.getConnections(n.peerId)[0];
      assert.ok(connection?.remoteAddr.toString().includes('/p2p-circuit'), 'P reached N through R');
      assert.deepEqual(
        transportReport(n).relayAddresses.every((a) => a.includes(r.peerId.toString())),
        true,
        'N still listens through R only',
      );
    } finally {
      await stopAll([p, n, r]);
    }
  });
});

describe('the walk pacer', () => {
  it('waits on an empty routing table, answers at once with peers, stops when aborted', async () => {
    let size = 0;
    const pacer = new WalkPacer({ routingTableSize: () => size, paceMs: 200 });
    const drain = async (signal?: AbortSignal) => {
      const t = performance.now();
      for await (const _ of pacer.getClosestPeers(new Uint8Array(32), { signal })) assert.fail('finds nothing');
      return performance.now() - t;
    };
    assert.ok((await drain()) >= 190, 'empty table: paced');
    size = 3;
    assert.ok((await drain()) < 50, 'peers: no pause');
    size = 0;
    assert.ok((await drain(AbortSignal.timeout(20))) < 150, 'abort ends the wait');
    assert.ok(EMPTY_TABLE_PACE_MS >= 100);
  });
});
