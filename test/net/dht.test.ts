import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PeerId } from '@libp2p/interface';
import {
  getRecord,
  NoValidatorError,
  putRecord,
  RecordNotFoundError,
  RecordValidationError,
  type SottoHost,
  StaleRecordError,
} from '../../src/net/index.js';
import { key, parseTestRecord, routingTableSize, startNode, stopAll, testRecord, waitFor } from './helpers.js';

const N = 5;

function isLoopback(addr: string): boolean {
  return addr.startsWith('/ip4/127.0.0.1/') || addr.startsWith('/ip6/::1/');
}

describe('five nodes on 127.0.0.1', () => {
  const nodes: SottoHost[] = [];
  let bootMs = 0;

  before(async () => {
    const t0 = performance.now();
    const seed = await startNode();
    nodes.push(seed);
    const seedAddr = seed.getMultiaddrs().find((a) => !a.toString().includes('/ws'));
    assert.ok(seedAddr, 'seed listens on TCP');
    for (const a of seed.getMultiaddrs()) assert.ok(isLoopback(a.toString()), `loopback only: ${a}`);
    const rest = await Promise.all(
      Array.from({ length: N - 1 }, () => startNode({ bootstrap: [seedAddr.toString()] })),
    );
    nodes.push(...rest);
    await Promise.all(rest.map((n) => n.services.bootstrap.ready));
    // Every node knows at least one other DHT server; the seed knows them all.
    await waitFor(
      'routing tables to fill',
      () => routingTableSize(seed) === N - 1 && rest.every((n) => routingTableSize(n) >= 1),
    );
    bootMs = performance.now() - t0;
    console.log(`# ${N} nodes started and bootstrapped in ${bootMs.toFixed(0)} ms`);
  });

  after(async () => {
    await stopAll(nodes);
  });

  it('node 4 finds node 1 by peer id through the DHT and reaches it', async () => {
    const [, n1, , , n4] = nodes as [SottoHost, SottoHost, SottoHost, SottoHost, SottoHost];
    const target: PeerId = n1.peerId;
    // n4 was only told the seed's address; whatever it knows of n1 it learnt through the DHT.
    const knewBefore = (await n4.peerStore.has(target)) ? 'already in peer store' : 'unknown';
    const t0 = performance.now();
    const info = await n4.peerRouting.findPeer(target, { signal: AbortSignal.timeout(10_000) });
    const findMs = performance.now() - t0;
    assert.ok(info.id.equals(target));
    assert.ok(info.multiaddrs.length > 0, 'peer info carries addresses');
    for (const a of info.multiaddrs) assert.ok(isLoopback(a.toString()), `loopback only: ${a}`);
    const rtt = await n4.services.ping.ping(target, { signal: AbortSignal.timeout(5_000) });
    console.log(`# findPeer ${findMs.toFixed(1)} ms (n1 was ${knewBefore}), then ping ${rtt} ms`);
  });

  it('routing tables converge: every node knows every other DHT server', async () => {
    const t0 = performance.now();
    await waitFor('full routing tables', () => nodes.every((n) => routingTableSize(n) === N - 1), 15_000);
    console.log(`# full routing tables ${(performance.now() - t0 + bootMs).toFixed(0)} ms after the first start`);
  });

  it('a record put from node 1 is fetched from node 4', async () => {
    const n1 = nodes[1]!;
    const n4 = nodes[4]!;
    const k = key('/sotto/id/alice');
    const t0 = performance.now();
    const put = await putRecord(n1, k, testRecord(1, 'alice-v1'));
    const putMs = performance.now() - t0;
    assert.ok(put.complete);
    assert.equal(put.accepted, N - 1, `every other server stored it (accepted ${put.accepted}/${put.attempted})`);
    const t1 = performance.now();
    const got = await getRecord(n4, k, { timeoutMs: 10_000 });
    const getMs = performance.now() - t1;
    assert.deepEqual(parseTestRecord(got.value), { seq: 1, body: 'alice-v1' });
    console.log(`# put ${putMs.toFixed(1)} ms (${put.accepted}/${put.attempted} peers), get ${getMs.toFixed(1)} ms`);
  });

  it('a record that fails the validator is refused and never stored', async () => {
    const n1 = nodes[1]!;
    const n2 = nodes[2]!;
    const k = key('/sotto/id/mallory');
    await assert.rejects(putRecord(n1, k, testRecord(1, 'bad')), (err: unknown) => {
      assert.ok(err instanceof RecordValidationError);
      assert.equal(err.code, 'DHT_RECORD_INVALID');
      return true;
    });
    // Malformed bytes too.
    await assert.rejects(putRecord(n1, k, new Uint8Array([1, 2, 3])), RecordValidationError);
    // Stored nowhere: neither locally on n1 nor on any peer.
    for (const n of [n1, n2]) {
      await assert.rejects(getRecord(n, k, { timeoutMs: 10_000 }), RecordNotFoundError);
    }
  });

  it('a key outside any configured namespace is refused', async () => {
    await assert.rejects(putRecord(nodes[1]!, key('/other/x'), testRecord(1, 'x')), (err: unknown) => {
      assert.ok(err instanceof NoValidatorError);
      assert.equal(err.code, 'DHT_NO_VALIDATOR');
      return true;
    });
  });

  it('the selector picks the higher sequence', async () => {
    const n1 = nodes[1]!;
    const n3 = nodes[3]!;
    const n4 = nodes[4]!;
    const k = key('/sotto/id/bob');
    const p1 = await putRecord(n1, k, testRecord(1, 'bob-v1'));
    assert.equal(p1.accepted, N - 1);
    const p2 = await putRecord(n1, k, testRecord(2, 'bob-v2'));
    assert.equal(p2.accepted, N - 1);
    const got = await getRecord(n4, k, { timeoutMs: 10_000 });
    assert.equal(parseTestRecord(got.value).seq, 2);
    // A later put of an older version (a rollback) is refused: n3 already stores seq 2 itself
    // (it is one of the closest DHT servers), and every other server refuses it too.
    try {
      const rollback = await putRecord(n3, k, testRecord(1, 'bob-v1'));
      assert.equal(rollback.accepted, 0, 'no server accepts the older record');
    } catch (err) {
      assert.ok(err instanceof StaleRecordError, `expected StaleRecordError, got ${String(err)}`);
      assert.equal(err.code, 'DHT_RECORD_STALE');
    }
    // A newer one replaces it everywhere.
    const p3 = await putRecord(n3, k, testRecord(3, 'bob-v3'));
    assert.equal(p3.accepted, N - 1);
    assert.equal(parseTestRecord((await getRecord(n4, k)).value).seq, 3);
    const again = await getRecord(n4, k, { timeoutMs: 10_000 });
    assert.equal(
      parseTestRecord(again.value).seq,
      3,
      `got seq ${parseTestRecord(again.value).seq} from ${again.candidates} candidates`,
    );
  });

  it('with seq 1 and seq 2 both in the network, a getter holding a stale seq 1 gets seq 2 from the network', async () => {
    const [seed, n1, n2] = nodes as [SottoHost, SottoHost, SottoHost];
    const k = key('/sotto/id/dave');
    assert.equal((await putRecord(n1, k, testRecord(1, 'dave-v1'))).accepted, N - 1);
    // n2 goes offline holding seq 1 and misses the update to seq 2.
    await n2.stop();
    const p2 = await putRecord(n1, k, testRecord(2, 'dave-v2'));
    assert.ok(p2.accepted >= 1 && p2.accepted <= N - 2, `n2 missed it (${p2.accepted}/${p2.attempted})`);
    await n2.start();
    const [boot] = await n2.services.bootstrap.ready;
    assert.equal(boot?.ok, true);
    await waitFor('n2 to rejoin the DHT', () => routingTableSize(n2) >= 1 && routingTableSize(seed) === N - 1);
    const got = await getRecord(n2, k, { timeoutMs: 10_000 });
    assert.deepEqual(parseTestRecord(got.value), { seq: 2, body: 'dave-v2' });
  });
});
