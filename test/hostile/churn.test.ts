/**
 * Churn (TESTING.md matrix: "churn: nodes leaving and joining — lookups and delivery still
 * succeed — success %"). A network of in-process nodes bootstrapped from one loses and gains nodes
 * every round — some leave for good, some new ones join, some come back from their data dirs — and
 * after each round live nodes send to other live nodes they never talked to: every message must be
 * found (DHT lookup of the recipient's record) and delivered. Loopback only; bounded rounds.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createNode, type SottoNode } from '../../src/index.js';
import { tcpAddr } from './peers.js';

const INITIAL = 10;
const ROUNDS = 4;
/** Nodes that leave each round (one of them comes back in the next round from its data dir). */
const LEAVE = 3;
/** New nodes that join each round. */
const JOIN = 2;
const SENDS_PER_ROUND = 3;

const dirs: string[] = [];
const running = new Set<SottoNode>();

/** Deterministic choices, so a failure can be replayed. */
let seed = 0x5eed;
const random = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(from: T[]): T => from.splice(Math.floor(random() * from.length), 1)[0] as T;

async function start(dir: string, bootstrap: string[]): Promise<SottoNode> {
  const node = createNode({ dataDir: dir, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap } });
  await node.start();
  running.add(node);
  return node;
}

async function stop(node: SottoNode): Promise<void> {
  running.delete(node);
  await node.stop();
}

async function newDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-churn-'));
  dirs.push(dir);
  return dir;
}

after(async () => {
  await Promise.allSettled([...running].map((n) => n.stop()));
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('churn', () => {
  it(`${ROUNDS} rounds of ${LEAVE} leaving and ${JOIN} + 1 joining: every lookup and delivery succeeds`, async () => {
    const first = await start(await newDir(), []);
    const bootstrap = [tcpAddr(first)];
    const dirOf = new Map<SottoNode, string>();
    const members: SottoNode[] = [];
    for (let i = 0; i < INITIAL; i++) {
      const dir = await newDir();
      const n = await start(dir, bootstrap);
      dirOf.set(n, dir);
      members.push(n);
    }
    let left: { dir: string; address: string } | undefined;
    let sent = 0;
    let delivered = 0;
    let joined = 0;
    let rejoined = 0;
    let departed = 0;
    const t0 = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      // leave
      const leaving: SottoNode[] = [];
      for (let i = 0; i < LEAVE; i++) leaving.push(pick(members));
      for (const n of leaving) await stop(n);
      departed += leaving.length;
      // the one that left last round comes back from its data dir, with the same address
      if (left !== undefined) {
        const back = await start(left.dir, bootstrap);
        assert.equal(back.address, left.address);
        dirOf.set(back, left.dir);
        members.push(back);
        rejoined++;
      }
      const goer = leaving[0] as SottoNode;
      left = { dir: dirOf.get(goer) as string, address: goer.address };
      // join
      for (let i = 0; i < JOIN; i++) {
        const dir = await newDir();
        const n = await start(dir, bootstrap);
        dirOf.set(n, dir);
        members.push(n);
        joined++;
      }
      // live nodes send to live nodes
      for (let i = 0; i < SENDS_PER_ROUND; i++) {
        const pool = [...members];
        const from = pick(pool);
        const to = pick(pool);
        const got = new Promise<string>((resolve) => {
          const on = (m: { id: string; text: string }) => {
            if (m.text !== `round ${round} #${i}`) return;
            to.off('message', on);
            resolve(m.id);
          };
          to.on('message', on);
        });
        const r = await from.send(to.address, `round ${round} #${i}`);
        sent++;
        if (r.state === 'delivered') {
          assert.equal(await got, r.id);
          delivered++;
        }
      }
    }
    console.log(
      `# churn: ${ROUNDS} rounds, ${INITIAL} nodes at first, ${departed} departures, ${joined} new nodes, ${rejoined} returns from their data dirs; ` +
        `sends between live nodes: ${delivered}/${sent} delivered at once (${((100 * delivered) / sent).toFixed(0)}%); ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    assert.equal(delivered, sent, 'every send found its recipient and was delivered');
  });
});
