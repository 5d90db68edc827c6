import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import {
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_LISTEN,
  NetConfigError,
  type NetConfigProblem,
  parseNetConfig,
} from '../../src/net/index.js';

const peerId = (await generateKeyPair('Ed25519')).publicKey.toString();
const BOOT = `/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`;

function rejects(input: unknown, field: string, problem: NetConfigProblem): void {
  assert.throws(
    () => parseNetConfig(input),
    (err: unknown) => {
      assert.ok(err instanceof NetConfigError, `expected NetConfigError, got ${String(err)}`);
      assert.equal(err.code, 'NET_CONFIG_INVALID');
      assert.equal(err.name, 'NetConfigError');
      assert.equal(err.field, field);
      assert.equal(err.problem, problem);
      return true;
    },
  );
}

describe('parseNetConfig', () => {
  it('fills in loopback-only defaults for a lone node', () => {
    for (const input of [undefined, {}]) {
      const c = parseNetConfig(input);
      assert.deepEqual(c.listen, DEFAULT_LISTEN);
      assert.deepEqual(c.announce, []);
      assert.deepEqual(c.bootstrap, []);
      assert.equal(c.dhtMode, 'server');
      assert.equal(c.allowPrivateAddresses, true);
      assert.equal(c.limits.inboundConnectionThreshold, DEFAULT_INBOUND_CONNECTION_THRESHOLD);
      assert.ok(Object.isFrozen(c) && Object.isFrozen(c.listen) && Object.isFrozen(c.limits));
    }
  });

  it('accepts a full config', () => {
    const c = parseNetConfig({
      listen: ['/ip4/127.0.0.1/tcp/4002', '/ip6/::1/tcp/4003/ws'],
      announce: ['/dns4/node.example/tcp/4002'],
      bootstrap: [BOOT],
      dhtMode: 'client',
      allowPrivateAddresses: true,
      limits: { maxConnections: 50, dialTimeoutMs: 2_000 },
    });
    assert.deepEqual(c.bootstrap, [BOOT]);
    assert.equal(c.dhtMode, 'client');
    assert.equal(c.limits.maxConnections, 50);
    assert.equal(c.limits.dialTimeoutMs, 2_000);
    assert.ok(c.limits.maxIncomingPendingConnections > 0);
  });

  it('names the bad field', () => {
    rejects([], '(root)', 'WRONG_TYPE');
    rejects({ listn: [] }, 'listn', 'UNKNOWN_KEY');
    rejects({ listen: '/ip4/127.0.0.1/tcp/0' }, 'listen', 'WRONG_TYPE');
    rejects({ listen: ['/ip4/127.0.0.1/tcp/0', 42] }, 'listen[1]', 'WRONG_TYPE');
    rejects({ listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/999.1.1.1/tcp/0'] }, 'listen[1]', 'BAD_MULTIADDR');
    rejects({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] }, 'listen[0]', 'UNSUPPORTED_LISTEN_ADDRESS');
    rejects({ listen: [`${BOOT}`] }, 'listen[0]', 'UNSUPPORTED_LISTEN_ADDRESS');
    rejects({ announce: ['not a multiaddr'] }, 'announce[0]', 'BAD_MULTIADDR');
    rejects({ bootstrap: [BOOT, '/ip4/127.0.0.1/tcp/4001'] }, 'bootstrap[1]', 'MISSING_PEER_ID');
    rejects({ bootstrap: [BOOT, 'garbage'] }, 'bootstrap[1]', 'BAD_MULTIADDR');
    rejects({ bootstrap: [`/p2p/${peerId}`] }, 'bootstrap[0]', 'BAD_MULTIADDR');
    rejects({ bootstrap: [BOOT], allowPrivateAddresses: false }, 'bootstrap[0]', 'PRIVATE_ADDRESS_NOT_ALLOWED');
    rejects({ bootstrap: Array(65).fill(BOOT) }, 'bootstrap', 'OUT_OF_RANGE');
    rejects({ dhtMode: 'full' }, 'dhtMode', 'BAD_VALUE');
    rejects({ dhtMode: 1 }, 'dhtMode', 'WRONG_TYPE');
    rejects({ allowPrivateAddresses: 'yes' }, 'allowPrivateAddresses', 'WRONG_TYPE');
    rejects({ limits: 5 }, 'limits', 'WRONG_TYPE');
    rejects({ limits: { maxConns: 5 } }, 'limits.maxConns', 'UNKNOWN_KEY');
    rejects({ limits: { maxConnections: 0 } }, 'limits.maxConnections', 'OUT_OF_RANGE');
    rejects({ limits: { maxConnections: 1.5 } }, 'limits.maxConnections', 'WRONG_TYPE');
    rejects({ limits: { dialTimeoutMs: '10s' } }, 'limits.dialTimeoutMs', 'WRONG_TYPE');
    rejects({ limits: { inboundConnectionThreshold: 1e9 } }, 'limits.inboundConnectionThreshold', 'OUT_OF_RANGE');
  });
});
