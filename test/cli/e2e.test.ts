/**
 * The `sotto` command end to end: real daemons (`sotto start`) as child processes on loopback and
 * the CLI as child processes against them. Three nodes: alice (A), bob (B, bootstraps from A) and
 * carol (C, bootstraps from A, never a contact). Every wait is bounded; every child is killed by PID
 * in `after`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT } from '../../src/cli/errors.js';
import { cleanEnv, cli, collect, exited, killAll, oneErrorLine, spawnCli, waitFor } from './helpers.js';

interface StartInfo {
  address: string;
  peerId: string;
  multiaddrs: string[];
  api: string;
  dataDir: string;
  pid: number;
  created: boolean;
}

interface Daemon {
  child: ChildProcess;
  info: StartInfo;
  stderr: () => string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape sequences is the point
const ESC = /[\u001b\u009b]/;
const MESSAGE_ID = /^[0-9a-f]{32}$/;

const dirs: Record<'a' | 'b' | 'c' | 'empty', string> = { a: '', b: '', c: '', empty: '' };
const daemons: Partial<Record<'a' | 'b' | 'c', Daemon>> = {};

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** `sotto start --json` on loopback with an ephemeral API port; resolves once it printed its JSON. */
async function startNode(dir: string, bootstrap?: Daemon): Promise<Daemon> {
  const args = ['start', '--json', '--data-dir', dir, '--api-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0'];
  args.push('--allow-private-addresses', '--log-level', 'warn');
  if (bootstrap) args.push('--bootstrap', bootstrap.info.multiaddrs[0]!);
  const child = spawnCli(args);
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  await waitFor(() => tryJson(out.text()) !== undefined || child.exitCode !== null, 'the daemon to start', 30_000);
  if (child.exitCode !== null) throw new Error(`sotto start exited ${child.exitCode}: ${err.text()}`);
  return { child, info: tryJson(out.text()) as StartInfo, stderr: err.text };
}

function json<T>(result: { stdout: string; stderr: string; code: number | null }): T {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  assert.doesNotMatch(result.stdout, ESC);
  return JSON.parse(result.stdout) as T;
}

/**
 * The API port a command falls back to when its data dir has no daemon.json: one nothing listens
 * on (not the default 7373, where the tester may well run a daemon of their own).
 */
let fallbackEnv: Record<string, string> = cleanEnv();
const A = (...args: string[]) => cli([...args, '--data-dir', dirs.a], { env: fallbackEnv });
const B = (...args: string[]) => cli([...args, '--data-dir', dirs.b], { env: fallbackEnv });
const C = (...args: string[]) => cli([...args, '--data-dir', dirs.c], { env: fallbackEnv });

/** A loopback TCP port that was free a moment ago (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

before(async () => {
  fallbackEnv = cleanEnv({ SOTTO_API_PORT: String(await closedPort()) });
  for (const key of Object.keys(dirs) as (keyof typeof dirs)[]) {
    dirs[key] = await mkdtemp(join(tmpdir(), `sotto-e2e-${key}-`));
  }
});

after(async () => {
  killAll();
  await Promise.allSettled(Object.values(dirs).map((d) => (d ? rm(d, { recursive: true, force: true }) : undefined)));
});

describe('sotto CLI end to end', { timeout: 300_000 }, () => {
  const addresses: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };

  it('init creates each identity offline', async () => {
    const results = await Promise.all([A('init', '--json'), B('init', '--json'), C('init', '--json')]);
    for (const [i, key] of (['a', 'b', 'c'] as const).entries()) {
      const r = json<{ address: string; peerId: string; created: boolean; dataDir: string }>(results[i]!);
      assert.equal(r.created, true);
      assert.match(r.address, /^sotto1/);
      assert.equal(r.dataDir, dirs[key]);
      addresses[key] = r.address;
    }
  });

  it('start prints the address, peer id, multiaddrs, API URL and data dir; nodes bootstrap from alice', async () => {
    daemons.a = await startNode(dirs.a);
    [daemons.b, daemons.c] = await Promise.all([startNode(dirs.b, daemons.a), startNode(dirs.c, daemons.a)]);
    for (const key of ['a', 'b', 'c'] as const) {
      const { info } = daemons[key]!;
      assert.equal(info.address, addresses[key], 'the identity init created');
      assert.equal(info.created, false);
      assert.equal(info.dataDir, dirs[key]);
      assert.match(info.api, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(info.multiaddrs.length > 0);
      for (const ma of info.multiaddrs)
        assert.match(ma, new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${info.peerId}$`));
      assert.ok(existsSync(join(dirs[key], 'daemon.json')));
    }
    const id = json<{ address: string; multiaddrs: string[]; online: boolean; fingerprint: string }>(
      await A('id', '--json'),
    );
    assert.equal(id.address, addresses.a);
    assert.equal(id.online, true);
    assert.deepEqual(id.multiaddrs, daemons.a.info.multiaddrs);
    assert.match(id.fingerprint, /^\d{5}( \d{5}){5}$/);
  });

  it('contacts: add both ways, list, and a taken name is a conflict (exit 5)', async () => {
    const [added, back] = await Promise.all([
      A('contacts', 'add', 'bob', addresses.b, '--json'),
      B('contacts', 'add', 'alice', addresses.a),
    ]);
    assert.equal(json<{ name: string; created: boolean }>(added).created, true);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /^added alice \(sotto1/);
    const [list, taken] = await Promise.all([
      A('contacts', 'list', '--json'),
      A('contacts', 'add', 'bob', addresses.c),
    ]);
    const { contacts } = json<{ contacts: { name: string; address: string; verified: boolean }[] }>(list);
    assert.deepEqual(
      contacts.map((c) => [c.name, c.address, c.verified]),
      [['bob', addresses.b, false]],
    );
    assert.equal(taken.code, EXIT.CONFLICT);
    assert.equal(oneErrorLine(taken), 'sotto: the name "bob" belongs to another contact');
  });

  it('send: by name and by address, delivered (exit 0), the message id printed', async () => {
    const byName = await A('send', 'bob', 'hello', 'bob');
    assert.equal(byName.code, 0, byName.stderr);
    const [id, state] = byName.stdout.trim().split(' ');
    assert.match(id!, MESSAGE_ID);
    assert.equal(state, 'delivered');
    const byAddress = json<{ id: string; to: string; state: string }>(
      await B('send', addresses.a, 'hi alice', '--json'),
    );
    assert.equal(byAddress.state, 'delivered');
    assert.equal(byAddress.to, addresses.a);
  });

  it('chat shows the history on both sides', async () => {
    const [a, b] = await Promise.all([A('chat', 'bob'), B('chat', 'alice', '--json')]);
    assert.equal(a.code, 0, a.stderr);
    const lines = a.stdout.trim().split('\n');
    assert.equal(lines[0], `conversation with bob (${addresses.b})`);
    assert.match(lines[1]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}→ hello bob$/);
    assert.match(lines[2]!, /← hi alice$/);
    const page = json<{ name: string; messages: { direction: string; text: string }[] }>(b);
    assert.equal(page.name, 'alice');
    assert.deepEqual(
      page.messages.map((m) => [m.direction, m.text]),
      [
        ['out', 'hi alice'],
        ['in', 'hello bob'],
      ],
    );
  });

  it('watch prints an incoming message as it arrives and exits 0 on SIGINT', async () => {
    const watch = spawnCli(['watch', '--data-dir', dirs.b]);
    const out = collect(watch.stdout);
    const err = collect(watch.stderr);
    await waitFor(() => err.text().includes('watching '), 'watch to connect', 15_000);
    const sent = await A('send', 'bob', 'live \u001b[31mmessage');
    assert.equal(sent.code, 0, sent.stderr);
    await waitFor(() => out.text().includes('← alice: live'), 'the message in watch', 15_000);
    assert.match(out.text(), /^\d\d:\d\d:\d\d ← alice: live \\u\{1b\}\[31mmessage\n$/);
    watch.kill('SIGINT');
    assert.deepEqual(await exited(watch, 5_000), { code: 0, signal: null });
  });

  it('verify: both sides show the same safety number; --confirm marks the contact verified', async () => {
    type View = { safetyNumber: string; verified: boolean; name: string };
    const [a, b] = await Promise.all([A('verify', 'bob', '--json'), B('verify', 'alice')]);
    const viewA = json<View>(a);
    assert.equal(viewA.verified, false);
    assert.match(viewA.safetyNumber, /^\d{5}( \d{5}){11}$/);
    assert.equal(b.code, 0, b.stderr);
    const digits = viewA.safetyNumber.split(' ');
    for (let row = 0; row < 3; row++)
      assert.ok(b.stdout.includes(`    ${digits.slice(row * 4, row * 4 + 4).join(' ')}\n`));
    assert.match(b.stdout, /not verified: .* sotto verify alice --confirm\n$/);
    const confirmed = json<View>(await A('verify', 'bob', '--confirm', '--json'));
    assert.deepEqual(confirmed, { ...viewA, verified: true });
    const { contacts } = json<{ contacts: { name: string; verified: boolean }[] }>(await A('contacts', '--json'));
    assert.deepEqual(
      contacts.map((c) => [c.name, c.verified]),
      [['bob', true]],
    );
  });

  it('status, peers and config (--json and human)', async () => {
    const [status, peers, config, human] = await Promise.all([
      A('status', '--json'),
      A('peers', '--json'),
      B('config', '--json'),
      A('status'),
    ]);
    const s = json<{ peers: number; routingTable: number; outbox: number; uptimeMs: number; version: string }>(status);
    assert.ok(s.peers >= 2, `peers ${s.peers}`);
    assert.ok(s.routingTable >= 1);
    assert.equal(s.outbox, 0);
    assert.ok(s.uptimeMs > 0);
    const p = json<{ peers: { peerId: string; addresses: string[] }[] }>(peers);
    const ids = p.peers.map((x) => x.peerId);
    assert.ok(ids.includes(daemons.b!.info.peerId) && ids.includes(daemons.c!.info.peerId));
    const c = json<{
      dataDir: string;
      api: { port: number };
      net: { bootstrap: string[] };
      sources: Record<string, string>;
    }>(config);
    assert.equal(c.dataDir, dirs.b);
    assert.equal(c.api.port, 0);
    assert.deepEqual(c.net.bootstrap, [daemons.a!.info.multiaddrs[0]]);
    assert.equal(c.sources['api.port'], 'flag');
    assert.equal(c.sources['net.dhtMode'], 'default');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^uptime +(\d+h )?(\d+m )?\d+s \(since /m);
  });

  it('errors: one line, meaningful exit codes; a second daemon on a data dir is refused', async () => {
    const [unknown, unknownChat, noDaemon, second, badFlag, initAgain, empty] = await Promise.all([
      A('send', 'carol', 'hi'),
      A('chat', 'carol', '--json'),
      cli(['status', '--data-dir', dirs.empty]),
      cli(['start', '--data-dir', dirs.a, '--api-port', '0', '--log-level', 'warn']),
      cli(['start', '--data-dir', dirs.empty, '--api-port', 'abc']),
      A('init'),
      A('send', 'bob', ''),
    ]);
    assert.equal(unknown.code, EXIT.NOT_FOUND);
    assert.equal(oneErrorLine(unknown), 'sotto: unknown contact "carol" (see sotto contacts list)');
    assert.equal(unknown.stdout, '');
    assert.equal(unknownChat.code, EXIT.NOT_FOUND);
    assert.equal(unknownChat.stdout, '');
    assert.equal(noDaemon.code, EXIT.NO_DAEMON);
    assert.equal(oneErrorLine(noDaemon), `sotto: no daemon is running for ${dirs.empty} (start one with: sotto start)`);
    assert.equal(second.code, EXIT.LOCKED);
    assert.equal(
      oneErrorLine(second),
      `sotto: a sotto daemon is already running for ${dirs.a}: pid ${daemons.a!.info.pid}, API ${daemons.a!.info.api} ` +
        '(stop it first, or pass another --data-dir)',
    );
    assert.equal(badFlag.code, EXIT.CONFIG);
    assert.equal(oneErrorLine(badFlag), 'sotto: command line: --api-port: expected an integer 0..65535, got "abc"');
    assert.equal(initAgain.code, 0, initAgain.stderr);
    assert.match(initAgain.stdout, /^identity already exists in .* \(its daemon is running\)\n/);
    assert.equal(empty.code, EXIT.USAGE);
    assert.equal(oneErrorLine(empty), 'sotto: the message is empty');
    for (const r of [unknown, noDaemon, second, badFlag]) assert.doesNotMatch(r.stderr, /\n\s+at /);
    // the first daemon still serves, untouched
    const still = json<{ peers: number }>(await A('status', '--json'));
    assert.ok(still.peers >= 1);
    assert.equal(daemons.a!.child.exitCode, null);
  });

  it('a third node reaches bob by address through the DHT: a contact request until bob accepts it; block and unblock', async () => {
    const sent = json<{ state: string }>(await C('send', addresses.b, 'carol here', '--json'));
    assert.equal(sent.state, 'delivered');
    // contacts.requests defaults to ask: carol is a stranger to bob
    const pending = json<{ requests: { address: string; held: number }[] }>(await B('requests', '--json'));
    assert.deepEqual(
      pending.requests.map((r) => [r.address, r.held]),
      [[addresses.c, 1]],
    );
    const held = json<{ messages: unknown[] }>(await B('chat', addresses.c, '--json'));
    assert.deepEqual(held.messages, [], 'held apart until accepted');
    assert.match((await B('requests', 'show', addresses.c)).stdout, /← carol here\n/);
    assert.equal((await B('requests', 'reject', addresses.a)).code, EXIT.NOT_FOUND);
    const accepted = await B('requests', 'accept', addresses.c, 'carol');
    assert.equal(accepted.code, 0, accepted.stderr);
    const page = json<{ name?: string; messages: { direction: string; text: string }[] }>(
      await B('chat', 'carol', '--json'),
    );
    assert.equal(page.name, 'carol');
    assert.deepEqual(
      page.messages.map((m) => [m.direction, m.text]),
      [['in', 'carol here']],
    );
    // blocked: carol's message is acked (she cannot tell) but never shown; bob cannot send to her
    assert.equal((await B('block', 'carol')).code, 0);
    assert.equal(json<{ state: string }>(await C('send', addresses.b, 'blocked?', '--json')).state, 'delivered');
    assert.equal((await B('send', 'carol', 'hi')).code, EXIT.CONFLICT);
    const after = json<{ messages: { text: string }[] }>(await B('chat', 'carol', '--json'));
    assert.deepEqual(
      after.messages.map((m) => m.text),
      ['carol here'],
    );
    assert.equal((await B('unblock', 'carol')).code, 0);
    assert.equal((await B('unblock', 'carol')).code, EXIT.NOT_FOUND);
  });

  it('SIGTERM stops gracefully (exit 0, daemon.json removed); sending meanwhile queues (exit 75); a restart keeps identity and history', async () => {
    const b = daemons.b!;
    const stopping = Date.now();
    b.child.kill('SIGTERM');
    assert.deepEqual(await exited(b.child, 10_000), { code: 0, signal: null });
    assert.ok(Date.now() - stopping < 5_000, `stopped in ${Date.now() - stopping} ms`);
    assert.equal(existsSync(join(dirs.b, 'daemon.json')), false);
    assert.match(b.stderr(), /stopped/);
    const [down, queued] = await Promise.all([B('status'), A('send', 'bob', 'while you were away')]);
    assert.equal(down.code, EXIT.NO_DAEMON, down.stderr);
    assert.equal(oneErrorLine(down), `sotto: no daemon is running for ${dirs.b} (start one with: sotto start)`);
    assert.equal(queued.code, EXIT.QUEUED, queued.stderr);
    assert.match(queued.stdout, /^[0-9a-f]{32} queued \(will retry\)\n$/);
    assert.equal(json<{ outbox: number }>(await A('status', '--json')).outbox, 1, 'the queue depth');

    daemons.b = await startNode(dirs.b, daemons.a);
    assert.equal(daemons.b.info.address, addresses.b);
    const page = json<{ messages: { direction: string; text: string }[] }>(await B('chat', 'alice', '--json'));
    const texts = page.messages.map((m) => m.text).reverse();
    assert.deepEqual(texts.slice(0, 3), ['hello bob', 'hi alice', 'live \u001b[31mmessage']);
    // the conversation continues after the restart, on the same session, both ways
    const again = await B('send', 'alice', 'back again');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, / delivered\n$/);
  });

  it('a second signal during the stop forces the exit (130)', async () => {
    const c = daemons.c!;
    c.child.kill('SIGINT');
    c.child.kill('SIGTERM');
    assert.deepEqual(await exited(c.child, 10_000), { code: EXIT.FORCED, signal: null });
    assert.match(c.stderr(), /stop forced/);
  });
});
