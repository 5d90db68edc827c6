/**
 * A connection whose stream multiplexer died while its socket stayed open (yamux can end that
 * way: a GoAway, or too many early streams) must not strand a peer's messages: libp2p would hand
 * the same connection out again and every new stream fail with ConnectionClosedError. The node
 * aborts such a connection on the failed attempt (`abortDeadConnections`, src/net/host.ts) and
 * its retry dials a fresh one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { peerIdFromString } from '@libp2p/peer-id';
import { createNode, type SottoNode } from '../../src/index.js';
import type { SottoHost } from '../../src/net/index.js';
import { tcpAddr } from './helpers.js';

const dirs: string[] = [];
const nodes: SottoNode[] = [];

after(async () => {
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function start(bootstrap: string[] = []): Promise<SottoNode> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-dead-muxer-'));
  dirs.push(dir);
  const node = createNode({ dataDir: dir, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap } });
  await node.start();
  nodes.push(node);
  return node;
}

/** The node's libp2p host (private to SottoNode). */
const hostOf = (node: SottoNode): SottoHost => (node as unknown as { running: { host: SottoHost } }).running.host;

describe('a connection whose multiplexer died under an open socket', () => {
  it('the next send aborts it and delivers over a fresh connection, on its first attempt', async () => {
    const a = await start();
    const b = await start([tcpAddr(a)]);
    await a.publishRecord();
    await b.publishRecord();
    const got: string[] = [];
    b.on('message', (m) => got.push(m.text));
    assert.equal((await a.send(b.address, 'before')).state, 'delivered');

    const bPeer = peerIdFromString(b.peerId);
    const before = hostOf(a).getConnections(bPeer);
    assert.ok(before.length > 0);
    for (const conn of before) {
      // what yamux does to itself on a GoAway or too many early streams: streams end, socket stays
      (conn as unknown as { muxer: { abort(err: Error): void } }).muxer.abort(new Error('test: the muxer died'));
      assert.equal(conn.status, 'open', 'the socket is still open');
    }

    const sent = await a.send(b.address, 'after');
    assert.equal(sent.state, 'delivered', 'delivered on the first attempt, not queued for a later retry');
    assert.deepEqual(got, ['before', 'after']);
    for (const conn of before) assert.notEqual(conn.status, 'open', 'the dead connection was aborted');
    const now = hostOf(a).getConnections(bPeer);
    assert.ok(now.length > 0 && now.every((c) => !before.includes(c)), 'a fresh connection carries the peer');
  });
});
