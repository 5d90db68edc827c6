/**
 * Partition then heal (issue 5), in Linux network namespaces (test/faults/netns.ts): a sender A, a
 * recipient B and B's mailbox M, each a child process (test/faults/node-child.ts) in its own
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
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createNode } from '../../src/index.js';
import { MAILBOX_FETCH_INTERVAL_MS } from '../../src/node/node.js';
import { createNetwork, destroyNetwork, heal, netnsExec, partition, requireNetns, type TestNetwork } from './netns.js';

/** Messages sent directly before the partition, and to the mailbox during it. */
const BEFORE = 3;
const DURING = 20;
/** The test network: a private /24 that exists only inside this run's namespaces; one fixed port. */
const SUBNET = '10.213.5';
const PORT = 4101;
/** Bounds. A send during the partition can take up to two message-stream attempts + one mailbox attempt. */
const START_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 60_000;
const FIRST_SEND_BUDGET_MS = 60_000;
const PARTITION_BUDGET_MS = DURING * CALL_TIMEOUT_MS;
const HEAL_BUDGET_MS = process.env.SOTTO_PARTITION_FETCH === 'auto' ? MAILBOX_FETCH_INTERVAL_MS + 60_000 : 120_000;
const SETTLE_BUDGET_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 250;
const TEST_TIMEOUT_MS = START_TIMEOUT_MS + FIRST_SEND_BUDGET_MS + PARTITION_BUDGET_MS + HEAL_BUDGET_MS + 5 * 60_000;

const CHILD = fileURLToPath(new URL('./node-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
type Role = 'a' | 'b' | 'm';
const ROLES: Role[] = ['a', 'b', 'm'];
const NAMES: Record<Role, string> = { a: 'sender A', b: 'recipient B', m: 'mailbox M' };

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}
interface Received {
  id: string;
  text: string;
  at: number;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** One node, a child process inside its namespace, driven over IPC (the fd survives `ip netns exec`). */
class NodeProcess extends EventEmitter {
  proc?: ChildProcess;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** 'message' events in arrival order. */
  readonly received: Received[] = [];

  constructor(
    readonly role: Role,
    private readonly net: TestNetwork,
    private readonly args: object,
  ) {
    super();
  }

  start(): Promise<void> {
    const [command, argv] = netnsExec(this.net, this.role, process.execPath, [
      '--import',
      'tsx',
      CHILD,
      JSON.stringify(this.args),
    ]);
    const proc = spawn(command, argv, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.proc = proc;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${NAMES[this.role]} not ready in ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${NAMES[this.role]}: could not spawn ${command}: ${err.message}`));
      });
      proc.on('message', (raw) => {
        const msg = raw as { type: string; seq?: number; value?: unknown; error?: string; id?: string; text?: string };
        if (msg.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (msg.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`${NAMES[this.role]} failed to start: ${msg.error}`));
        } else if (msg.type === 'message') {
          const m = { id: msg.id as string, text: msg.text as string, at: Date.now() };
          this.received.push(m);
          this.emit('received', m);
        } else if (msg.type === 'reply' && msg.seq !== undefined) {
          const p = this.pending.get(msg.seq);
          if (!p) return;
          this.pending.delete(msg.seq);
          clearTimeout(p.timer);
          if (msg.error) p.reject(new Error(msg.error));
          else p.resolve(msg.value);
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${NAMES[this.role]} exited (${code ?? signal}) before it was ready`));
        for (const [seq, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`${NAMES[this.role]} exited (${code ?? signal})`));
          this.pending.delete(seq);
        }
      });
    });
  }

  call<T>(op: string, extra: object = {}, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      return Promise.reject(new Error(`${NAMES[this.role]} is not running`));
    }
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`${NAMES[this.role]} ${op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject, timer });
      proc.send({ op, seq, ...extra });
    });
  }

  /** Resolves once every id in `ids` has been received (at least once); rejects after `timeoutMs`. */
  waitFor(ids: Iterable<string>, timeoutMs: number): Promise<void> {
    const missing = new Set(ids);
    for (const m of this.received) missing.delete(m.id);
    if (missing.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const on = (m: Received): void => {
        missing.delete(m.id);
        if (missing.size > 0) return;
        clearTimeout(timer);
        this.off('received', on);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('received', on);
        reject(new Error(`${NAMES[this.role]}: ${missing.size} messages missing after ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('received', on);
    });
  }

  /** SIGKILL (only this child, by its handle) and wait for it to exit, bounded. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await Promise.race([
      exited,
      delay(STOP_TIMEOUT_MS).then(() => {
        throw new Error(`${NAMES[this.role]} (pid ${proc.pid}) did not exit`);
      }),
    ]);
  }
}

/** Polls `check` until it returns true, at most `timeoutMs`; errors thrown by `check` count as false. */
async function pollUntil(label: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      if (await check()) return Date.now() - started;
    } catch (err) {
      last = err;
    }
    await delay(POLL_MS);
  }
  throw new Error(`${label}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

let network: TestNetwork | undefined;
const procs: NodeProcess[] = [];
const dirs: string[] = [];

/** Children first (a namespace lives on while a process is in it), then the namespaces, then the data. */
async function cleanup(): Promise<void> {
  const errors: unknown[] = [];
  for (const r of await Promise.allSettled(procs.splice(0).map((p) => p.stop()))) {
    if (r.status === 'rejected') errors.push(r.reason);
  }
  if (network) {
    try {
      await destroyNetwork(network);
      network = undefined;
    } catch (err) {
      errors.push(err);
    }
  }
  await Promise.allSettled(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  if (errors.length > 0) throw new AggregateError(errors, 'partition test cleanup failed');
}

after(cleanup);

describe('partition then heal (network namespaces)', () => {
  it(`recipient cut off: ${DURING} messages go to the mailbox; after the heal all arrive once`, {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await requireNetns(); // fails (not skips) without root or `ip netns`
    try {
      const dir = {} as Record<Role, string>;
      const ids = {} as Record<Role, { address: string; peerId: string }>;
      for (const r of ROLES) {
        dir[r] = await mkdtemp(join(tmpdir(), `sotto-part-${r}-`));
        dirs.push(dir[r]);
        // offline: creates the identity and the peer key, nothing goes on the network
        ids[r] = await createNode({ dataDir: dir[r] }).initialize();
      }
      network = await createNetwork({ hosts: ROLES, subnet: SUBNET });
      const net = network;
      const addr = (r: Role) => `/ip4/${net.hosts[r]?.address}/tcp/${PORT}/p2p/${ids[r].peerId}`;
      const base = (r: Role) => ({
        role: r,
        dataDir: dir[r],
        host: net.hosts[r]?.address,
        port: PORT,
        bootstrap: ROLES.filter((x) => x !== r).map(addr),
      });
      const p: Record<Role, NodeProcess> = {
        m: new NodeProcess('m', net, { ...base('m'), mailbox: { policy: 'allow-list', allow: [ids.b.address] } }),
        b: new NodeProcess('b', net, { ...base('b'), mailboxes: [ids.m.peerId] }),
        a: new NodeProcess('a', net, base('a')),
      };
      procs.push(...Object.values(p));
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
      await cleanup();
    }
  });
});
