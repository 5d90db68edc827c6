/**
 * The connection gater of src/net/host.ts: a banned peer is refused on every hook (dial, inbound and
 * outbound after the handshake, relay), others pass; private addresses stay refused unless allowed;
 * a ban check that throws refuses nothing. Then on real hosts (loopback): a host whose `isBanned`
 * names a peer neither dials it nor keeps its inbound connection, and both sides settle at once.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { connectionGater, createHost, disconnectPeer, parseNetConfig, type SottoHost } from '../../src/net/index.js';
import { testRules, waitFor } from './helpers.js';

async function peer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
}

const DEADLINE_MS = 10_000;

describe('connectionGater', () => {
  it('refuses a banned peer on every hook and lets the others through', async () => {
    const bad = await peer();
    const good = await peer();
    const g = connectionGater({ allowPrivateAddresses: true, isBanned: (p) => p.equals(bad) });
    const conn = {} as never;
    for (const [p, expected] of [
      [bad, true],
      [good, false],
    ] as const) {
      assert.equal(await g.denyDialPeer?.(p), expected);
      assert.equal(await g.denyOutboundConnection?.(p, conn), expected);
      assert.equal(await g.denyInboundEncryptedConnection?.(p, conn), expected);
      assert.equal(await g.denyOutboundEncryptedConnection?.(p, conn), expected);
      assert.equal(await g.denyInboundUpgradedConnection?.(p, conn), expected);
      assert.equal(await g.denyOutboundUpgradedConnection?.(p, conn), expected);
      assert.equal(await g.denyInboundRelayReservation?.(p), expected);
    }
    assert.equal(await g.denyOutboundRelayedConnection?.(good, bad), true, 'relaying to a banned peer');
    assert.equal(await g.denyOutboundRelayedConnection?.(bad, good), true, 'relaying for a banned peer');
    assert.equal(await g.denyOutboundRelayedConnection?.(good, good), false);
    assert.equal(await g.denyInboundRelayedConnection?.(bad, good), true, 'through a banned relay');
    assert.equal(await g.denyInboundRelayedConnection?.(good, bad), true, 'from a banned peer');
    assert.equal(g.denyDialMultiaddr, undefined, 'private addresses allowed');
  });

  it('keeps refusing private addresses when they are not allowed; a throwing ban check refuses nothing', async () => {
    const g = connectionGater({
      allowPrivateAddresses: false,
      isBanned: () => {
        throw new Error('broken');
      },
    });
    assert.equal(await g.denyDialMultiaddr?.(multiaddr('/ip4/127.0.0.1/tcp/1')), true);
    assert.equal(await g.denyDialPeer?.(await peer()), false);
    assert.deepEqual(Object.keys(connectionGater({ allowPrivateAddresses: true })), [], 'no ban list: no hooks');
  });
});

describe('a host with a ban list (loopback)', () => {
  const hosts: SottoHost[] = [];
  after(async () => {
    await Promise.allSettled(hosts.map((h) => h.stop()));
  });

  async function host(isBanned?: (p: PeerId) => boolean): Promise<SottoHost> {
    const h = await createHost({
      privateKey: await generateKeyPair('Ed25519'),
      config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], allowPrivateAddresses: true }),
      dht: testRules,
      isBanned,
    });
    hosts.push(h);
    return h;
  }

  it('disconnects a peer when it gets banned, then refuses it both ways; each attempt settles', async () => {
    const banned = new Set<string>();
    const bob = await host((p) => banned.has(p.toString()));
    const mallory = await host();
    const bobAddr = bob.getMultiaddrs()[0];
    const malloryAddr = mallory.getMultiaddrs()[0];
    assert.ok(bobAddr && malloryAddr);
    await mallory.dial(bobAddr, { signal: AbortSignal.timeout(DEADLINE_MS) });
    await waitFor('Bob sees the connection', () => bob.getConnections(mallory.peerId).length > 0, DEADLINE_MS);

    banned.add(mallory.peerId.toString());
    assert.ok(disconnectPeer(bob, mallory.peerId, new Error('banned')) >= 1);
    assert.equal(bob.getConnections(mallory.peerId).length, 0);
    await waitFor('Mallory disconnected', () => mallory.getConnections(bob.peerId).length === 0, DEADLINE_MS);
    assert.equal(disconnectPeer(bob, mallory.peerId, new Error('banned')), 0, 'nothing left to abort');

    // inbound: the dial settles (fails, or yields a connection Bob closes at once), never hangs
    const inbound = await mallory
      .dial(bobAddr, { signal: AbortSignal.timeout(DEADLINE_MS) })
      .then((conn) => `connected:${conn.status}`)
      .catch((err: Error) => err.name);
    assert.notEqual(inbound, 'TimeoutError');
    assert.notEqual(inbound, 'AbortError');
    await waitFor('Mallory disconnected', () => mallory.getConnections(bob.peerId).length === 0, DEADLINE_MS);
    assert.equal(bob.getConnections(mallory.peerId).length, 0);
    // outbound: refused before any packet leaves
    await assert.rejects(bob.dial(malloryAddr, { signal: AbortSignal.timeout(DEADLINE_MS) }), {
      name: 'DialDeniedError',
    });

    banned.clear();
    await mallory.dial(bobAddr, { signal: AbortSignal.timeout(DEADLINE_MS) });
    await waitFor('Bob sees the connection', () => bob.getConnections(mallory.peerId).length > 0, DEADLINE_MS);
  });
});
