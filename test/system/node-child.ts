/**
 * One sotto node in its own process, driven over IPC by the parent: the system tests run it inside
 * a network namespace (`ip netns exec`, test/system/cluster.ts); the fault tests
 * (test/faults/sigkill.test.ts) run it on loopback and kill it with SIGKILL at random points.
 * It reports every 'message' event with its id and, at that moment, its connections (so a test can
 * tell whether a message came over a relayed connection).
 *
 * argv[2]: JSON { role, dataDir, net, mailbox?, mailboxes? }; `net` is passed to createNode as is
 * (listen addresses in the namespace, bootstrap peers, dhtMode, relay, …).
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { createNode, type MailboxRoleOptions } from '../../src/index.js';
import { type SottoHost, transportReport } from '../../src/net/index.js';

interface ChildArgs {
  role: string;
  dataDir: string;
  net: Record<string, unknown>;
  /** Write the node's own log lines to stderr as `sotto:<level> …` (for a test to capture). */
  log?: boolean;
  mailbox?: MailboxRoleOptions;
  mailboxes?: string[];
}

type Command =
  | { op: 'send'; seq: number; to: string; text: string }
  | { op: 'retry'; seq: number }
  | { op: 'fetch'; seq: number }
  | { op: 'status'; seq: number }
  | { op: 'transport'; seq: number }
  | { op: 'peer-addresses'; seq: number; peer: string }
  | { op: 'history'; seq: number; with: string };

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const send = (msg: unknown): void => {
  process.send?.(msg);
};
process.on('disconnect', () => process.exit(0));

const line =
  (level: string) =>
  (message: string, ...rest: unknown[]): void => {
    process.stderr.write(`sotto:${level} ${[message, ...rest.map((r) => String(r))].join(' ')}\n`);
  };
const node = createNode({
  dataDir: args.dataDir,
  net: args.net,
  ...(args.log
    ? { logger: { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') } }
    : {}),
  ...(args.mailbox ? { mailbox: args.mailbox } : {}),
  ...(args.mailboxes ? { mailboxes: args.mailboxes } : {}),
});
/** The node keeps its libp2p host private; the tests read the transport's state through it. */
const host = (): SottoHost => {
  const h = (node as unknown as { host?: SottoHost }).host;
  if (!h) throw new Error('node not started');
  return h;
};
node.on('message', (m) => {
  let connections: unknown[] = [];
  try {
    connections = transportReport(host()).connections as unknown[];
  } catch (err) {
    process.stderr.write(`sotto:error node-child: no transport report: ${(err as Error).stack}\n`);
  }
  send({ type: 'message', id: m.id, from: m.from, text: m.text, connections });
});
// Commands that arrive while starting wait for it.
const started = node.start();

process.on('message', (raw) => {
  const cmd = raw as Command;
  void (async () => {
    try {
      await started;
      switch (cmd.op) {
        case 'send': {
          const r = await node.send(cmd.to, cmd.text);
          send({ type: 'reply', seq: cmd.seq, value: r });
          break;
        }
        case 'retry':
          send({ type: 'reply', seq: cmd.seq, value: await node.retryOutbox({ force: true }) });
          break;
        case 'fetch':
          send({ type: 'reply', seq: cmd.seq, value: await node.fetchMailboxes() });
          break;
        case 'status':
          send({ type: 'reply', seq: cmd.seq, value: await node.status() });
          break;
        case 'transport':
          send({ type: 'reply', seq: cmd.seq, value: transportReport(host()) });
          break;
        case 'peer-addresses': {
          // what this node's peer store holds for `peer` (what its DHT answers hand out)
          const entry = await host()
            .peerStore.get(peerIdFromString(cmd.peer))
            .catch(() => undefined);
          send({ type: 'reply', seq: cmd.seq, value: entry?.addresses.map((a) => a.multiaddr.toString()) ?? [] });
          break;
        }
        case 'history': {
          const all: Array<{ id: string; body: string; direction: string; state: string }> = [];
          let before: { timestamp: number; id: string } | undefined;
          for (let page = 0; page < 100; page++) {
            const rows = await node.conversation(cmd.with, { limit: 1000, ...(before ? { before } : {}) });
            all.push(...rows.map((r) => ({ id: r.id, body: r.body, direction: r.direction, state: r.state })));
            const last = rows.at(-1);
            if (rows.length < 1000 || last === undefined) break;
            before = { timestamp: last.timestamp, id: last.id };
          }
          send({ type: 'reply', seq: cmd.seq, value: all });
          break;
        }
      }
    } catch (err) {
      send({ type: 'reply', seq: cmd.seq, error: `${(err as Error)?.name}: ${(err as Error)?.message}` });
    }
  })();
});

started.then(
  () => send({ type: 'ready', address: node.address, peerId: node.peerId }),
  (err: unknown) => {
    send({ type: 'failed', error: String(err) });
    process.exit(1);
  },
);
