/**
 * One node in its own process for the fault tests (test/faults/*.test.ts), driven over IPC by the
 * parent, which kills it with SIGKILL at random points. (The multi-host tests in network namespaces
 * use test/system/node-child.ts.) It listens on a fixed loopback port (the
 * same after every restart) and reports every 'message' event with its id.
 *
 * argv[2]: JSON { role, dataDir, port, host?, bootstrap, mailbox?: { allow }, mailboxes? }; `host` is the
 * IPv4 address to listen on (default 127.0.0.1).
 */
import { createNode, type MailboxRoleOptions } from '../../src/index.js';

interface ChildArgs {
  role: string;
  dataDir: string;
  port: number;
  host?: string;
  bootstrap: string[];
  mailbox?: MailboxRoleOptions;
  mailboxes?: string[];
}

type Command =
  | { op: 'send'; seq: number; to: string; text: string }
  | { op: 'retry'; seq: number }
  | { op: 'fetch'; seq: number }
  | { op: 'status'; seq: number }
  | { op: 'history'; seq: number; with: string };

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const send = (msg: unknown): void => {
  process.send?.(msg);
};
process.on('disconnect', () => process.exit(0));

const node = createNode({
  dataDir: args.dataDir,
  net: { listen: [`/ip4/${args.host ?? '127.0.0.1'}/tcp/${args.port}`], bootstrap: args.bootstrap },
  ...(args.mailbox ? { mailbox: args.mailbox } : {}),
  ...(args.mailboxes ? { mailboxes: args.mailboxes } : {}),
});
node.on('message', (m) => send({ type: 'message', id: m.id, text: m.text }));
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
