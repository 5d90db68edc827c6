import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import {
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_LISTEN,
  DEFAULT_RELAY,
  MAX_RELAY_DATA_BYTES,
  MAX_RELAY_DURATION_MS,
  MAX_RELAY_RESERVATIONS_LIMIT,
  MIN_RELAY_DATA_BYTES,
  MIN_RELAY_DURATION_MS,
  NetConfigError,
  type NetConfigProblem,
  parseNetConfig,
} from '../../src/net/index.js';
import { MAX_FRAME_BYTES } from '../../src/protocols/message/constants.js';

const peerId = (await generateKeyPair('Ed25519')).publicKey.toString();
const BOOT = `/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`;
const PUBLIC_RELAY = `/dns4/relay.example/tcp/4001/p2p/${peerId}`;

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

  it('relay: off by default; every field validated; limits are named constants', () => {
    const c = parseNetConfig({});
    assert.deepEqual(c.relay, DEFAULT_RELAY);
    assert.equal(c.relay.enabled, false);
    assert.ok(Object.isFrozen(c.relay));
    const r = parseNetConfig({
      relay: {
        enabled: true,
        maxReservations: 3,
        maxDurationMs: MIN_RELAY_DURATION_MS,
        maxDataBytes: MAX_RELAY_DATA_BYTES,
      },
    }).relay;
    assert.deepEqual(r, {
      enabled: true,
      maxReservations: 3,
      maxDurationMs: MIN_RELAY_DURATION_MS,
      maxDataBytes: MAX_RELAY_DATA_BYTES,
    });
    assert.equal(parseNetConfig({ relay: { enabled: true } }).relay.maxReservations, DEFAULT_RELAY.maxReservations);
    rejects({ relay: true }, 'relay', 'WRONG_TYPE');
    rejects({ relay: { on: true } }, 'relay.on', 'UNKNOWN_KEY');
    rejects({ relay: { enabled: 'true' } }, 'relay.enabled', 'WRONG_TYPE');
    rejects({ relay: { maxReservations: 0 } }, 'relay.maxReservations', 'OUT_OF_RANGE');
    rejects({ relay: { maxReservations: MAX_RELAY_RESERVATIONS_LIMIT + 1 } }, 'relay.maxReservations', 'OUT_OF_RANGE');
    rejects({ relay: { maxReservations: 2.5 } }, 'relay.maxReservations', 'WRONG_TYPE');
    rejects({ relay: { maxDurationMs: MIN_RELAY_DURATION_MS - 1 } }, 'relay.maxDurationMs', 'OUT_OF_RANGE');
    rejects({ relay: { maxDurationMs: MAX_RELAY_DURATION_MS + 1 } }, 'relay.maxDurationMs', 'OUT_OF_RANGE');
    rejects({ relay: { maxDataBytes: MIN_RELAY_DATA_BYTES - 1 } }, 'relay.maxDataBytes', 'OUT_OF_RANGE');
    rejects({ relay: { maxDataBytes: MAX_RELAY_DATA_BYTES + 1 } }, 'relay.maxDataBytes', 'OUT_OF_RANGE');
    // every reservation holds a connection open
    rejects(
      { limits: { maxConnections: 10 }, relay: { maxReservations: 11 } },
      'relay.maxReservations',
      'OUT_OF_RANGE',
    );
  });

  it('relay: a relayed connection can always carry one largest envelope', () => {
    assert.ok(MIN_RELAY_DATA_BYTES >= MAX_FRAME_BYTES + 32 * 1024, 'room for the frame plus Noise, yamux and identify');
    assert.ok(DEFAULT_RELAY.maxDataBytes >= MIN_RELAY_DATA_BYTES && DEFAULT_RELAY.maxDataBytes <= MAX_RELAY_DATA_BYTES);
    assert.ok(
      DEFAULT_RELAY.maxDurationMs >= MIN_RELAY_DURATION_MS && DEFAULT_RELAY.maxDurationMs <= MAX_RELAY_DURATION_MS,
    );
  });

  it('listen: through any relay (/p2p-circuit) or a given one (<relay>/p2p/<id>/p2p-circuit)', () => {
    const c = parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0', '/p2p-circuit', `${BOOT}/p2p-circuit`] });
    assert.deepEqual(c.listen, ['/ip4/127.0.0.1/tcp/0', '/p2p-circuit', `${BOOT}/p2p-circuit`]);
    assert.deepEqual(parseNetConfig({ listen: [`${PUBLIC_RELAY}/p2p-circuit`], allowPrivateAddresses: false }).listen, [
      `${PUBLIC_RELAY}/p2p-circuit`,
    ]);
    rejects({ listen: ['/ip4/127.0.0.1/tcp/4001/p2p-circuit'] }, 'listen[0]', 'MISSING_PEER_ID');
    rejects({ listen: [`${BOOT}/p2p-circuit/p2p/${peerId}`] }, 'listen[0]', 'UNSUPPORTED_LISTEN_ADDRESS');
    rejects({ listen: ['/p2p-circuit/p2p-circuit'] }, 'listen[0]', 'UNSUPPORTED_LISTEN_ADDRESS');
    rejects(
      { listen: [`${BOOT}/p2p-circuit`], allowPrivateAddresses: false },
      'listen[0]',
      'PRIVATE_ADDRESS_NOT_ALLOWED',
    );
  });
});
