/**
 * Two nodes that send each other their first message at the same moment both start a handshake;
 * each answers the other's, which replaces its own session. Messages still in flight on a replaced
 * session decrypt with the previous session it keeps (SessionRecord.previous), and the two converge
 * on one session: nothing is lost, nothing is delivered twice, and it survives a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createNode, type SottoNode } from '../../src/index.js';
import { waitFor } from '../net/helpers.js';
import { tcpAddr } from './helpers.js';

const dirs: string[] = [];
const nodes: SottoNode[] = [];

async function start(dir: string, bootstrap: string[] = []): Promise<SottoNode> {
  const node = createNode({ dataDir: dir, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap } });
  await node.start();
  nodes.push(node);
  return node;
}

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-crossed-'));
  dirs.push(dir);
  return dir;
}

/** Every message text the node's app saw, in order. */
function inbox(node: SottoNode): string[] {
  const texts: string[] = [];
  node.on('message', (m) => texts.push(m.text));
  return texts;
}

function handshakes(node: SottoNode): string[] {
  const roles: string[] = [];
  node.on('handshake', (h) => roles.push(h.role));
  return roles;
}

after(async () => {
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('crossed handshakes', () => {
  it('first messages sent by both sides at once: both sessions answered, every message arrives once, the pair converges', async () => {
    const dirA = await dataDir();
    const dirB = await dataDir();
    let a = await start(dirA);
    let b = await start(dirB, [tcpAddr(a)]);
    await a.publishRecord();
    await b.publishRecord();
    await a.addContact('bob', b.address);
    await b.addContact('alice', a.address);
    const atA = inbox(a);
    const atB = inbox(b);
    const shakesA = handshakes(a);
    const shakesB = handshakes(b);

    const [a1, b1] = await Promise.all([a.send(b.address, 'a1'), b.send(a.address, 'b1')]);
    assert.deepEqual([a1.state, b1.state], ['delivered', 'delivered']);
    // The race is real: each side started a handshake and answered the other's.
    assert.deepEqual(shakesA.sort(), ['initiator', 'responder']);
    assert.deepEqual(shakesB.sort(), ['initiator', 'responder']);

    // Follow-ups from both sides, interleaved and concurrent: each side now sends on the session it
    // answered, which the other side has replaced.
    const results = await Promise.all(
      [2, 3, 4, 5].flatMap((i) => [a.send(b.address, `a${i}`), b.send(a.address, `b${i}`)]),
    );
    assert.deepEqual(
      results.map((r) => r.state),
      Array(8).fill('delivered'),
    );
    await waitFor('every message at both apps', async () => atA.length >= 5 && atB.length >= 5, 10_000);
    assert.deepEqual([...atB].sort(), ['a1', 'a2', 'a3', 'a4', 'a5']);
    assert.deepEqual([...atA].sort(), ['b1', 'b2', 'b3', 'b4', 'b5']);
    assert.equal(shakesA.length + shakesB.length, 4, 'no handshake after the crossed pair');

    // Restart both: the converged session and the previous ones come back from the store.
    await a.stop();
    await b.stop();
    a = await start(dirA);
    b = await start(dirB, [tcpAddr(a)]);
    await a.publishRecord();
    await b.publishRecord();
    const after = [inbox(a), inbox(b)] as const;
    const shakesAfter = [handshakes(a), handshakes(b)];
    assert.equal((await a.send(b.address, 'a6')).state, 'delivered');
    assert.equal((await b.send(a.address, 'b6')).state, 'delivered');
    await waitFor('the messages after the restart', async () => after[0].length + after[1].length >= 2, 10_000);
    assert.deepEqual(after, [['b6'], ['a6']]);
    assert.deepEqual(shakesAfter, [[], []], 'the same session continues after the restart');
  });
});
