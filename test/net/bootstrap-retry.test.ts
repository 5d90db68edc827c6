/**
 * A node started while its bootstrap peer is down joins once the peer comes up, without a restart
 * (the bootstrap service retries with backoff), and then fills its routing table beyond the
 * bootstrap peer (the self-lookup after the first connection).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { createHost, parseNetConfig, type SottoHost } from '../../src/net/index.js';
import { routingTableSize, stopAll, testRules, waitFor } from './helpers.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('bootstrap', () => {
  it('retries an unreachable bootstrap peer and joins when it comes up; then learns peers beyond it', async () => {
    const seedKey = await generateKeyPair('Ed25519');
    const port = await freePort();
    const seedAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPrivateKey(seedKey).toString()}`;
    const hosts: SottoHost[] = [];
    try {
      const joiner = await createHost({
        privateKey: await generateKeyPair('Ed25519'),
        config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [seedAddr] }),
        dht: testRules,
      });
      hosts.push(joiner);
      const first = await joiner.services.bootstrap.ready; // the first dial has failed
      assert.deepEqual(
        first.map((r) => r.ok),
        [false],
        'the bootstrap peer is down',
      );
      assert.equal(joiner.getConnections().length, 0);

      const seed = await createHost({
        privateKey: seedKey,
        config: parseNetConfig({ listen: [`/ip4/127.0.0.1/tcp/${port}`] }),
        dht: testRules,
      });
      hosts.push(seed);
      // a third node already known to the seed: the joiner can only learn it through the DHT
      const other = await createHost({
        privateKey: await generateKeyPair('Ed25519'),
        config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [seedAddr] }),
        dht: testRules,
      });
      hosts.push(other);
      await waitFor('the other node is in the seed routing table', () => routingTableSize(seed) >= 1, 10_000);

      await waitFor('the joiner reconnects by itself', () => joiner.getConnections().length > 0, 15_000);
      await waitFor('the joiner learns a peer beyond the seed', () => routingTableSize(joiner) >= 2, 15_000);
      assert.ok(
        joiner.getPeers().some((p) => p.equals(other.peerId)),
        'connected to the other node, found through the self-lookup',
      );
    } finally {
      await stopAll(hosts);
    }
  });
});
