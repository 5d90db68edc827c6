/**
 * Mailboxes end to end with the `sotto` command: real daemons (`sotto start`) as child processes on
 * loopback. M serves as bob's mailbox (`--mailbox-enabled --mailbox-allow <bob>`); bob (B) lists M
 * with `sotto mailbox add`, which the daemon saves to bob's config.json, so a restart keeps it;
 * alice (A) sends while bob is offline and M holds the message until bob's node fetches it. Every
 * wait is bounded; every child is killed by PID in `after`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT } from '../../src/cli/errors.js';
import { cli, collect, exited, killAll, oneErrorLine, spawnCli, waitFor } from './helpers.js';

interface StartInfo {
  address: string;
  peerId: string;
  multiaddrs: string[];
  api: string;
}

interface Daemon {
  child: ChildProcess;
  info: StartInfo;
  stderr: () => string;
}

const dirs: Record<'m' | 'a' | 'b', string> = { m: '', a: '', b: '' };
const daemons: Partial<Record<'m' | 'a' | 'b', Daemon>> = {};

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

async function startNode(dir: string, extra: string[] = []): Promise<Daemon> {
  const args = ['start', '--json', '--data-dir', dir, '--api-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0'];
  args.push('--allow-private-addresses', '--log-level', 'warn', ...extra);
  const child = spawnCli(args);
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  await waitFor(() => tryJson(out.text()) !== undefined || child.exitCode !== null, 'the daemon to start', 30_000);
  if (child.exitCode !== null) throw new Error(`sotto start exited ${child.exitCode}: ${err.text()}`);
  return { child, info: tryJson(out.text()) as StartInfo, stderr: err.text };
}

async function stopNode(daemon: Daemon): Promise<void> {
  daemon.child.kill('SIGTERM');
  assert.deepEqual(await exited(daemon.child, 10_000), { code: 0, signal: null });
}

function json<T>(result: { stdout: string; stderr: string; code: number | null }): T {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Runs `check` (each run spawns the CLI, which paces the loop) until it holds; bounded by `timeoutMs`. */
async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

const A = (...args: string[]) => cli([...args, '--data-dir', dirs.a]);
const B = (...args: string[]) => cli([...args, '--data-dir', dirs.b]);
const M = (...args: string[]) => cli([...args, '--data-dir', dirs.m]);
const bootstrap = () => ['--bootstrap', daemons.m!.info.multiaddrs[0]!];

before(async () => {
  for (const key of Object.keys(dirs) as (keyof typeof dirs)[]) {
    dirs[key] = await mkdtemp(join(tmpdir(), `sotto-mailbox-e2e-${key}-`));
  }
});

after(async () => {
  killAll();
  await Promise.allSettled(Object.values(dirs).map((d) => (d ? rm(d, { recursive: true, force: true }) : undefined)));
});

describe('sotto mailbox end to end', { timeout: 180_000 }, () => {
  let bob = '';

  it('a node serves as a mailbox for the addresses it allows; status shows what it holds', async () => {
    bob = json<{ address: string }>(await B('init', '--json')).address;
    daemons.m = await startNode(dirs.m, ['--mailbox-enabled', '--mailbox-allow', bob]);
    daemons.b = await startNode(dirs.b, bootstrap());
    const status = json<{ mailbox?: { held: number; bytes: number } }>(await M('status', '--json'));
    assert.deepEqual(status.mailbox, { held: 0, bytes: 0 });
    const config = json<{ mailbox: { enabled: boolean; allow: string[] }; sources: Record<string, string> }>(
      await M('config', '--json'),
    );
    assert.equal(config.mailbox.enabled, true);
    assert.deepEqual(config.mailbox.allow, [bob]);
    assert.equal(config.sources['mailbox.allow'], 'flag');
    assert.equal(json<{ mailbox?: unknown }>(await B('status', '--json')).mailbox, undefined);
  });

  it('mailbox add lists M in bob’s record and saves it to config.json; fetch asks it', async () => {
    const m = daemons.m!.info.peerId;
    assert.deepEqual(json<{ peers: string[] }>(await B('mailbox', '--json')), { peers: [] });
    const added = await B('mailbox', 'add', m);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, `added mailbox ${m} (1 in all); your identity record is republished\n`);
    assert.equal(added.stderr, '', 'saved: no note');
    assert.deepEqual(JSON.parse(await readFile(join(dirs.b, 'config.json'), 'utf8')), { mailboxes: [m] });
    const [list, fetched, config] = await Promise.all([
      B('mailbox', 'list'),
      B('mailbox', 'fetch', '--json'),
      B('config', '--json'),
    ]);
    assert.equal(list.stdout, `1 mailbox (senders try them in this order)\n  ${m}\n`);
    assert.deepEqual(json(fetched), { fetched: 0, mailboxes: 1 });
    const c = json<{ mailboxes: string[]; sources: Record<string, string> }>(config);
    assert.deepEqual(c.mailboxes, [m]);
    assert.equal(c.sources.mailboxes, 'file');
  });

  it('errors: one line and the documented exit codes', async () => {
    const m = daemons.m!.info.peerId;
    const [again, bad, missing, retry, badId] = await Promise.all([
      B('mailbox', 'add', m),
      B('mailbox', 'add', 'not-a-peer'),
      B('mailbox', 'remove', daemons.b!.info.peerId),
      B('retry', randomBytes(16).toString('hex')),
      B('retry', 'xyz'),
    ]);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, `${m} is already one of your mailboxes\n`);
    assert.equal(bad.code, EXIT.USAGE);
    assert.match(oneErrorLine(bad), /^sotto: not a libp2p peer id: "not-a-peer"/);
    assert.equal(missing.code, EXIT.NOT_FOUND);
    assert.equal(
      oneErrorLine(missing),
      `sotto: ${daemons.b!.info.peerId} is not one of your mailboxes (see sotto mailbox list)`,
    );
    assert.equal(retry.code, EXIT.NOT_FOUND);
    assert.match(oneErrorLine(retry), /^sotto: no failed outgoing message with id [0-9a-f]{32} \(only a failed/);
    assert.equal(badId.code, EXIT.USAGE);
    assert.match(oneErrorLine(badId), /^sotto: not a message id: "xyz"/);
  });

  it('a restart keeps the list (from config.json, no flag)', async () => {
    await stopNode(daemons.b!);
    daemons.b = await startNode(dirs.b, bootstrap());
    assert.deepEqual(json<{ peers: string[] }>(await B('mailbox', '--json')), { peers: [daemons.m!.info.peerId] });
  });

  it('while bob is offline, alice’s message is stored at M; bob’s node fetches it when it is back', async () => {
    daemons.a = await startNode(dirs.a, bootstrap());
    // bob knows alice: otherwise her first message would be held as a contact request (contacts.requests: ask)
    const known = await B('contacts', 'add', 'alice', daemons.a.info.address);
    assert.equal(known.code, 0, known.stderr);
    await stopNode(daemons.b!);
    const sent = await A('send', bob, 'while you were away');
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /^[0-9a-f]{32} stored at a mailbox\n$/);
    const held = async () => json<{ mailbox: { held: number } }>(await M('status', '--json')).mailbox.held;
    assert.equal(await held(), 1);
    daemons.b = await startNode(dirs.b, bootstrap());
    // bob's node fetches at start (and every minute); ask as well until the message is there
    await until('the message from the mailbox', 30_000, async () => {
      await B('mailbox', 'fetch');
      const page = json<{ messages: { text: string }[] }>(await B('chat', daemons.a!.info.address, '--json'));
      return page.messages.some((x) => x.text === 'while you were away');
    });
    await until('the mailbox to delete what bob acknowledged', 15_000, async () => (await held()) === 0);
  });

  it('mailbox remove takes M out of the record and out of config.json', async () => {
    const m = daemons.m!.info.peerId;
    const removed = await B('mailbox', 'remove', m, '--json');
    assert.deepEqual(json(removed), { peers: [], saved: true, removed: m });
    assert.deepEqual(JSON.parse(await readFile(join(dirs.b, 'config.json'), 'utf8')), {});
  });
});
