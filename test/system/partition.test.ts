/**
 * Partition then heal (issue 5; moved here from test/faults in issue 6), in Linux network
 * namespaces (test/system/netns.ts): a sender A, a recipient B and B's mailbox M, each a child
 * process (test/system/node-child.ts, driven through test/system/cluster.ts) in its own
 * namespace on a bridge, listening on its namespace address. With all up, A's messages to B are
 * delivered directly. Then B's port on the switch goes down: A's messages now end at the mailbox
 * (stored-at-mailbox). After the heal B fetches, every message arrives exactly once, the mailbox is
 * empty, and the session works both ways. Prints sent, stored-at-mailbox, delivered after heal,
 * duplicates and the times it took (how long the sender needed to notice B was gone, how long
 * delivery took after the heal).
 *
 * Needs root and `ip netns` (iproute2); fails, never skips, without them. The test network's
 * addresses are only ever dialled from inside its namespaces: this process starts no node, it only
 * creates identities offline and talks to the children over IPC.
 *
 * SOTTO_PARTITION_FETCH=auto: after the heal, do not call fetch; wait for B's own fetch (on
 * connecting to its mailbox, or its periodic one) instead.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MAILBOX_FETCH_INTERVAL_MS } from '../../src/node/node.js';
import {
  CALL_TIMEOUT_MS,
  Cluster,
  delay,
  NodeProcess,
  POLL_MS,
  pollUntil,
  START_TIMEOUT_MS,
  seconds,
} from './cluster.js';
import { createNetwork, heal, partition, requireNetns } from './netns.js';

/** Messages sent directly before the partition, and to the mailbox during it. */
const BEFORE = 3;
const DURING = 20;
/** The test network: a private /24 that exists only inside this run's namespaces; one fixed port. */
const SUBNET = '10.213.5';
const PORT = 4101;
/** Bounds. A send during the partition can take up to two message-stream attempts + one mailbox attempt. */
const FIRST_SEND_BUDGET_MS = 60_000;
const PARTITION_BUDGET_MS = DURING * CALL_TIMEOUT_MS;
const HEAL_BUDGET_MS = process.env.SOTTO_PARTITION_FETCH === 'auto' ? MAILBOX_FETCH_INTERVAL_MS + 60_000 : 120_000;
const SETTLE_BUDGET_MS = 90_000;
const TEST_TIMEOUT_MS = START_TIMEOUT_MS + FIRST_SEND_BUDGET_MS + PARTITION_BUDGET_MS + HEAL_BUDGET_MS + 5 * 60_000;

type Role = 'a' | 'b' | 'm';
const ROLES: Role[] = ['a', 'b', 'm'];

const cluster = new Cluster();
after(() => cluster.cleanup());

describe('partition then heal (network namespaces)', () => {
  it(`recipient cut off: ${DURING} messages go to the mailbox; after the heal all arrive once`, {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await requireNetns(); // fails (not skips) without root or `ip netns`
    try {
      const ids = {} as Record<Role, { dataDir: string; address: string; peerId: string }>;
      // offline: creates the identities and the peer keys, nothing goes on the network
      for (const r of ROLES) ids[r] = await cluster.identity(`part-${r}`);
      cluster.network = await createNetwork({ hosts: ROLES, subnet: SUBNET });
      const net = cluster.network;
      const addr = (r: Role) => `/ip4/${net.hosts[r]?.address}/tcp/${PORT}/p2p/${ids[r].peerId}`;
      const base = (r: Role) => ({
        role: r,
        dataDir: ids[r].dataDir,
        net: {
          listen: [`/ip4/${net.hosts[r]?.address}/tcp/${PORT}`],
          bootstrap: ROLES.filter((x) => x !== r).map(addr),
        },
      });
      const p: Record<Role, NodeProcess> = {
        m: cluster.add(
          new NodeProcess('m', net, { ...base('m'), mailbox: { policy: 'allow-list', allow: [ids.b.address] } }),
        ),
        b: cluster.add(new NodeProcess('b', net, { ...base('b'), mailboxes: [ids.m.peerId] })),
        a: cluster.add(new NodeProcess('a', net, base('a'))),
      };
      const t0 = Date.now();
      await Promise.all(ROLES.map((r) => p[r].start()));
      const startedMs = Date.now() - t0;

      // 1. All up: direct delivery. The first send may have to wait for B's record in the DHT.
      type Sent = { id: string; state: string };
      const direct: Sent[] = [];
      await pollUntil('first direct send A→B', FIRST_SEND_BUDGET_MS, async () => {
        direct.push(await p.a.call<Sent>('send', { to: ids.b.address, text: 'before 0' }));
        return true;
      });
      for (let i = 1; i < BEFORE; i++) {
        direct.push(await p.a.call<Sent>('send', { to: ids.b.address, text: `before ${i}` }));
      }
      assert.deepEqual(
        direct.map((s) => s.state),
        Array(BEFORE).fill('delivered'),
        'before the partition: delivered directly',
      );
      await p.b.waitFor(
        direct.map((s) => s.id),
        CALL_TIMEOUT_MS,
      );

      // 2. B cut off: A's messages go to M.
      await partition(net, 'b');
      const during: Array<Sent & { ms: number }> = [];
      const tPartition = Date.now();
      for (let i = 0; i < DURING; i++) {
        const t = Date.now();
        const s = await p.a.call<Sent>('send', { to: ids.b.address, text: `during ${i}` });
        during.push({ ...s, ms: Date.now() - t });
      }
      const partitionSendsMs = Date.now() - tPartition;
      const stored = during.filter((s) => s.state === 'stored-at-mailbox').length;
      const perSend = during.map((s) => s.ms);
      console.log(
        `# partition: per-send ms ${perSend.join(' ')}; states ${[...new Set(during.map((s) => s.state))].join(',')}`,
      );
      const heldBefore = (await p.m.call<{ mailbox?: { held: number } }>('status')).mailbox?.held ?? 0;
      const earlyArrivals = p.b.received.filter((m) => during.some((s) => s.id === m.id)).length;

      // 3. Heal; B fetches (or, with SOTTO_PARTITION_FETCH=auto, fetches by itself).
      await heal(net, 'b');
      const tHeal = Date.now();
      const wanted = during.map((s) => s.id);
      const arrivals = p.b.waitFor(wanted, HEAL_BUDGET_MS);
      if (process.env.SOTTO_PARTITION_FETCH !== 'auto') {
        let done = false;
        arrivals.then(
          () => {
            done = true;
          },
          () => {
            done = true;
          },
        );
        while (!done && Date.now() - tHeal < HEAL_BUDGET_MS) {
          await p.b.call('fetch').catch(() => undefined);
          await Promise.race([arrivals.catch(() => undefined), delay(POLL_MS)]);
        }
      }
      await arrivals;
      const lastArrival = Math.max(...p.b.received.filter((m) => wanted.includes(m.id)).map((m) => m.at));
      const healToDeliveredMs = lastArrival - tHeal;
      await pollUntil('mailbox M empty after the fetch', SETTLE_BUDGET_MS, async () => {
        const s = await p.m.call<{ mailbox?: { held: number } }>('status');
        return (s.mailbox?.held ?? -1) === 0;
      });
      const mailboxEmptyMs = Date.now() - tHeal;
      // End to end: B's delivery receipts move A's copies to 'delivered'.
      type Row = { id: string; direction: string; state: string };
      let receiptsMs: number | undefined;
      let receiptStates = '';
      try {
        await pollUntil("A's messages marked delivered (receipts)", SETTLE_BUDGET_MS, async () => {
          const rows = await p.a.call<Row[]>('history', { with: ids.b.address });
          const mine = rows.filter((r) => wanted.includes(r.id));
          receiptStates = [...new Set(mine.map((r) => r.state))].join(',');
          return mine.length === DURING && mine.every((r) => r.state === 'delivered' || r.state === 'read');
        });
        receiptsMs = Date.now() - tHeal;
      } catch {
        receiptsMs = undefined;
      }

      // 4. Both ways, directly, after the heal.
      const back = await p.b.call<Sent>('send', { to: ids.a.address, text: 'B after heal' });
      const forth = await p.a.call<Sent>('send', { to: ids.b.address, text: 'A after heal' });
      await p.a.waitFor([back.id], CALL_TIMEOUT_MS);
      await p.b.waitFor([forth.id], CALL_TIMEOUT_MS);

      const counts = new Map<string, number>();
      for (const m of p.b.received) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
      for (const m of p.a.received) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
      const duplicates = [...counts.values()].filter((c) => c > 1).length;
      const deliveredAfterHeal = wanted.filter((id) => counts.has(id)).length;
      const sentIds = new Set([...direct, ...during, forth].map((s) => s.id));
      const stray = p.b.received.filter((m) => !sentIds.has(m.id));
      console.log(
        `# partition: sent ${BEFORE}+${DURING}+1 (before/during/after), stored-at-mailbox ${stored}/${DURING} ` +
          `(held ${heldBefore}), delivered after heal ${deliveredAfterHeal}/${DURING}, duplicates ${duplicates}; ` +
          `partitioned sends ${seconds(partitionSendsMs)} s (first ${seconds(perSend[0] ?? 0)} s, max ${seconds(Math.max(...perSend))} s); ` +
          `time to deliver after heal ${seconds(healToDeliveredMs)} s (fetch: ${process.env.SOTTO_PARTITION_FETCH === 'auto' ? 'auto' : 'called'}), ` +
          `mailbox empty at ${seconds(mailboxEmptyMs)} s, receipts at A ${receiptsMs === undefined ? `not within ${seconds(SETTLE_BUDGET_MS)} s (${receiptStates})` : `at ${seconds(receiptsMs)} s`}; ` +
          `after heal B→A ${back.state}, A→B ${forth.state}; nodes up in ${seconds(startedMs)} s`,
      );

      assert.equal(
        stored,
        DURING,
        `during the partition every send ends at the mailbox (${during.map((s) => s.state)})`,
      );
      assert.equal(heldBefore, DURING, 'the mailbox holds them until B fetches');
      assert.equal(earlyArrivals, 0, 'nothing reached B while it was cut off');
      assert.equal(deliveredAfterHeal, DURING, 'every message arrives after the heal');
      assert.equal(duplicates, 0, 'no message reached the app twice');
      assert.deepEqual(stray, [], 'nothing arrived that was not sent');
      assert.ok(receiptsMs !== undefined, `A's copies not all marked delivered (states: ${receiptStates})`);
      assert.equal(back.state, 'delivered', 'B→A after the heal');
      assert.equal(forth.state, 'delivered', 'A→B after the heal');
    } finally {
      await cluster.cleanup();
    }
  });
});
