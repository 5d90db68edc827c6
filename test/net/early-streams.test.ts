/**
 * A peer that opens many streams on a brand-new connection at once (a burst of directory lookups
 * or sends) must not get the connection aborted: yamux counts streams that arrive before libp2p
 * has attached its stream listener as "early streams" and aborts the multiplexer beyond its limit
 * (`YAMUX_MAX_EARLY_STREAMS`, src/net/host.ts; the library default is 10).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import { type SottoHost, YAMUX_MAX_EARLY_STREAMS } from '../../src/net/index.js';
import { startNode, stopAll } from './helpers.js';

const PROTOCOL = '/sotto-test/early/1.0.0';
/** Streams opened at once on each fresh connection: well above yamux's default of 10. */
const BURST = 40;
/** Fresh connections tried (the race with connection set-up does not hit on every one). */
const ROUNDS = 8;

const hosts: SottoHost[] = [];
after(() => stopAll(hosts));

describe('streams opened at once on a new connection', () => {
  it(`${BURST} streams right after dialling: every one is served, the connection stays open (${ROUNDS} fresh connections)`, async () => {
    assert.ok(YAMUX_MAX_EARLY_STREAMS >= BURST + 10, 'the limit covers the burst and the node’s own streams');
    const server = await startNode({ listen: ['/ip4/127.0.0.1/tcp/0'] });
    hosts.push(server);
    let served = 0;
    await server.handle(
      PROTOCOL,
      (stream) => {
        served++;
        void stream.close().catch(() => stream.abort(new Error('close failed')));
      },
      { maxInboundStreams: BURST * 2 },
    );
    const addr = multiaddr(
      server
        .getMultiaddrs()
        .find((m) => m.toString().includes('/tcp/'))!
        .toString(),
    );
    for (let round = 0; round < ROUNDS; round++) {
      const client = await startNode({ listen: [] });
      hosts.push(client);
      const results = await Promise.allSettled(
        Array.from({ length: BURST }, () =>
          client.dialProtocol(addr, PROTOCOL, { signal: AbortSignal.timeout(10_000) }),
        ),
      );
      const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      assert.deepEqual(
        failed.map((f) => (f.reason as Error).name),
        [],
        `round ${round}: streams that failed`,
      );
      const connections = client.getConnections(server.peerId);
      assert.ok(
        connections.length > 0 && connections.every((c) => c.status === 'open'),
        `round ${round}: connection open`,
      );
      for (const r of results) if (r.status === 'fulfilled') await r.value.close().catch(() => undefined);
      await client.stop();
    }
    assert.ok(served >= BURST * ROUNDS, `served ${served}`);
  });
});
