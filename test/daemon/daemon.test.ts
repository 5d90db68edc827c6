/**
 * The daemon in this process (the CLI end-to-end tests run it as child processes): readiness,
 * metrics from libp2p and sotto on one registry, the data-dir lock, daemon.json, bad input
 * through the real API leaving the store exactly as it was, and the mailbox settings: passed to the
 * node, and the mailbox list saved into config.json through the API so that a restart keeps it; the
 * metrics listener (metrics.listen): GET /metrics only, the optional token, config errors, stop.
 */
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { ConfigError } from '../../src/config/index.js';
import { DAEMON_FILE, DaemonError, type DaemonHandle, startDaemon } from '../../src/daemon/daemon.js';

const dirs: string[] = [];
const daemons: DaemonHandle[] = [];

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-daemon-'));
  dirs.push(dir);
  return dir;
}

async function start(
  dir: string,
  extra: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Promise<DaemonHandle> {
  const d = await startDaemon({
    flags: { dataDir: dir, apiPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', ...extra },
    env,
  });
  daemons.push(d);
  return d;
}

function client(d: DaemonHandle, token: string) {
  return async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(d.info.api + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body,
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
}

after(async () => {
  await Promise.allSettled(daemons.map((d) => d.stop()));
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('daemon', () => {
  it('serves health, libp2p and sotto metrics; refuses a second daemon on its data dir; cleans up on stop', async () => {
    const dir = await dataDir();
    const d = await start(dir);
    const token = (await readFile(join(dir, 'api-token'), 'utf8')).trim();
    const api = client(d, token);
    assert.deepEqual((await api('GET', '/health')).json, { ready: true });
    const info = JSON.parse(await readFile(join(dir, DAEMON_FILE), 'utf8')) as { api: string; address: string };
    assert.equal(info.api, d.info.api);
    assert.equal(info.address, d.node.address);

    const metrics = await (
      await fetch(`${d.info.api}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    ).text();
    assert.match(metrics, /^sotto_messages_received_total 0$/m);
    assert.match(metrics, /^libp2p_/m, "libp2p's own metrics are on the same registry");

    await assert.rejects(
      startDaemon({ flags: { dataDir: dir, apiPort: 0, logLevel: 'silent' }, env: {} }),
      (err: unknown) => err instanceof DaemonError && err.code === 'DATA_DIR_LOCKED' && err.message.includes(dir),
    );
    assert.equal((await api('GET', '/v1/status')).status, 200, 'the first daemon still serves');

    await d.stop();
    await assert.rejects(access(join(dir, DAEMON_FILE)), 'daemon.json is removed on stop');
    await assert.rejects(fetch(`${d.info.api}/health`), 'the API is closed');
  });

  it('is not ready while its bootstrap peers are unreachable, and says why', async () => {
    const d = await start(await dataDir(), {
      bootstrap: ['/ip4/127.0.0.1/tcp/9/p2p/12D3KooWRMCn3GjrRqTTxXbDuLgFjn4eJsm12s6Eh7DejpLZ6Bvz'],
    });
    const token = (await readFile(join(d.config.dataDir, 'api-token'), 'utf8')).trim();
    const health = await client(d, token)('GET', '/health');
    assert.equal(health.status, 503);
    assert.equal(health.json.ready, false);
    assert.match(String(health.json.reason), /no DHT peers/);
    await d.stop();
  });

  it('bad input through the API: a clear error and a status each, and nothing stored changes', async () => {
    const d = await start(await dataDir());
    const token = (await readFile(join(d.config.dataDir, 'api-token'), 'utf8')).trim();
    const api = client(d, token);
    const peer = await start(await dataDir(), { bootstrap: [d.node.multiaddrs()[0] as string] });
    assert.equal(
      (await api('POST', '/v1/contacts', JSON.stringify({ name: 'bob', address: peer.node.address }))).status,
      201,
    );
    const snapshot = async () => ({
      contacts: (await api('GET', '/v1/contacts')).json,
      history: (await api('GET', '/v1/conversations/bob')).json,
      status: ((await api('GET', '/v1/status')).json as { outbox: number }).outbox,
    });
    const before = await snapshot();

    const mistyped = `${peer.node.address.slice(0, -1)}${peer.node.address.endsWith('q') ? 'p' : 'q'}`;
    const cases: Array<[string, Awaited<ReturnType<typeof api>>, number, string]> = [
      [
        'mistyped address',
        await api('POST', '/v1/messages', JSON.stringify({ to: mistyped, text: 'x' })),
        400,
        'INVALID_ADDRESS',
      ],
      [
        'unknown contact',
        await api('POST', '/v1/messages', JSON.stringify({ to: 'carol', text: 'x' })),
        404,
        'UNKNOWN_CONTACT',
      ],
      [
        'empty message',
        await api('POST', '/v1/messages', JSON.stringify({ to: 'bob', text: '' })),
        400,
        'INVALID_REQUEST',
      ],
      [
        'oversized message',
        await api('POST', '/v1/messages', JSON.stringify({ to: 'bob', text: 'x'.repeat(40_000) })),
        400,
        'INVALID_REQUEST',
      ],
      [
        'oversized in UTF-8 bytes only',
        await api('POST', '/v1/messages', JSON.stringify({ to: 'bob', text: '🐙'.repeat(9000) })),
        400,
        'INVALID_MESSAGE',
      ],
      ['malformed JSON', await api('POST', '/v1/messages', '{"to": "bob", "text": '), 400, 'INVALID_REQUEST'],
      ['missing token', await api('GET', '/v1/contacts', undefined, { authorization: '' }), 401, 'UNAUTHORIZED'],
      [
        'wrong token',
        await api('GET', '/v1/contacts', undefined, { authorization: `Bearer ${'A'.repeat(token.length)}` }),
        401,
        'UNAUTHORIZED',
      ],
      [
        'name taken',
        await api('POST', '/v1/contacts', JSON.stringify({ name: 'bob', address: d.node.address })),
        409,
        'CONTACT_NAME_TAKEN',
      ],
    ];
    for (const [what, res, status, code] of cases) {
      assert.equal(res.status, status, what);
      assert.equal((res.json.error as { code?: string } | undefined)?.code, code, what);
    }
    assert.deepEqual(await snapshot(), before, 'contacts, history and outbox unchanged');
  });
});

describe('daemon mailbox settings', () => {
  const peerId = async () => (await generateKeyPair('Ed25519')).publicKey.toString();
  const token = async (d: DaemonHandle) => (await readFile(join(d.config.dataDir, 'api-token'), 'utf8')).trim();
  const configFile = async (dir: string) => JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as unknown;

  it('the node gets the role and the list; PUT /v1/mailboxes saves the list to config.json, and a restart keeps it', async () => {
    const dir = await dataDir();
    const [m1, m2] = [await peerId(), await peerId()];
    const original = { mailbox: { enabled: true, policy: 'open', ttlDays: 3 }, mailboxes: [m1], failAfterDays: 2 };
    await writeFile(join(dir, 'config.json'), JSON.stringify(original));
    let d = await start(dir);
    let api = client(d, await token(d));
    assert.deepEqual(d.node.mailboxes(), [m1], 'the list from config.json');
    assert.deepEqual((await api('GET', '/v1/status')).json.mailbox, { held: 0, bytes: 0 }, 'the role is on');
    assert.deepEqual((await api('GET', '/v1/mailboxes')).json, { peers: [m1] });

    const put = await api('PUT', '/v1/mailboxes', JSON.stringify({ peers: [m2, m1] }));
    assert.equal(put.status, 200, JSON.stringify(put.json));
    assert.deepEqual(put.json, { peers: [m2, m1], saved: true });
    assert.deepEqual(d.node.mailboxes(), [m2, m1]);
    assert.deepEqual(await configFile(dir), { ...original, mailboxes: [m2, m1] }, 'the other keys are kept');
    const served = (await api('GET', '/v1/config')).json as { mailboxes: string[]; sources: Record<string, string> };
    assert.deepEqual(served.mailboxes, [m2, m1], 'GET /v1/config shows the saved list');
    assert.equal(served.sources.mailboxes, 'file');

    await d.stop();
    d = await start(dir);
    api = client(d, await token(d));
    assert.deepEqual(d.node.mailboxes(), [m2, m1], 'a restart keeps the list');
    assert.equal(d.resolved.sources.mailboxes, 'file');
    assert.equal(d.config.mailbox.ttlDays, 3);

    // an empty list removes the key
    assert.deepEqual((await api('PUT', '/v1/mailboxes', '{"peers":[]}')).json, { peers: [], saved: true });
    assert.deepEqual(await configFile(dir), { mailbox: original.mailbox, failAfterDays: 2 });
    await d.stop();
  });

  it('a config.json that no longer validates is left alone: 500 CONFIG_NOT_SAVED, nothing changes', async () => {
    const dir = await dataDir();
    const d = await start(dir);
    const api = client(d, await token(d));
    assert.equal((await api('GET', '/v1/status')).json.mailbox, undefined, 'no role unless enabled');
    await writeFile(join(dir, 'config.json'), '{"api": {"port": "abc"}}');
    const put = await api('PUT', '/v1/mailboxes', JSON.stringify({ peers: [await peerId()] }));
    assert.equal(put.status, 500);
    const error = put.json.error as { code: string; message: string };
    assert.equal(error.code, 'CONFIG_NOT_SAVED');
    assert.match(error.message, /^the mailboxes were not changed: .*config\.json: api\.port: expected an integer/);
    assert.deepEqual(d.node.mailboxes(), []);
    assert.equal(await readFile(join(dir, 'config.json'), 'utf8'), '{"api": {"port": "abc"}}');
    const bad = await api('PUT', '/v1/mailboxes', JSON.stringify({ peers: ['QmNope'] }));
    assert.equal(bad.status, 400);
    assert.equal((bad.json.error as { code: string }).code, 'INVALID_PEER_ID');
    await d.stop();
  });

  it('SOTTO_MAILBOXES sets the list at every start: a change is in effect but not saved, and the API says why', async () => {
    const dir = await dataDir();
    const [m1, m2] = [await peerId(), await peerId()];
    const d = await start(dir, {}, { SOTTO_MAILBOXES: m1 });
    const api = client(d, await token(d));
    assert.deepEqual(d.node.mailboxes(), [m1]);
    const put = await api('PUT', '/v1/mailboxes', JSON.stringify({ peers: [m2] }));
    assert.equal(put.status, 200);
    assert.equal(put.json.saved, false);
    assert.match(String(put.json.reason), /^SOTTO_MAILBOXES sets the mailboxes at every start/);
    assert.deepEqual(d.node.mailboxes(), [m2]);
    await assert.rejects(access(join(dir, 'config.json')), 'no config.json was written');
    await d.stop();
  });
});

describe('daemon metrics listener (metrics.listen)', () => {
  const get = async (url: string, headers: Record<string, string> = {}, method = 'GET') => {
    const res = await fetch(url, { method, headers });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), res };
  };

  it('is off by default: no listener, and the API alone serves /metrics', async () => {
    const d = await start(await dataDir());
    assert.equal(d.config.metrics.listen, null);
    assert.equal(d.metricsListener, undefined, 'nothing listens for metrics');
    await d.stop();
  });

  it('serves GET /metrics (sotto and libp2p series, no token) and 404 for everything else; stop closes it', async () => {
    const d = await start(await dataDir(), { metricsListen: '127.0.0.1:0' });
    const listener = d.metricsListener;
    assert.ok(listener, 'the listener runs');
    assert.equal(listener.host, '127.0.0.1');
    assert.ok(listener.port > 0 && listener.port !== Number(new URL(d.info.api).port), 'a port of its own');
    const base = `http://127.0.0.1:${listener.port}`;

    const metrics = await get(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.type, /^text\/plain/);
    assert.match(metrics.text, /^sotto_messages_received_total 0$/m);
    assert.match(metrics.text, /^sotto_messages_sent_total\{state="delivered"\} 0$/m);
    // The same registry as the API's /metrics: the same series (libp2p's and the process's too).
    const types = (text: string) => [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]).sort();
    const apiToken = (await readFile(join(d.config.dataDir, 'api-token'), 'utf8')).trim();
    const viaApi = await get(`${d.info.api}/metrics`, { authorization: `Bearer ${apiToken}` });
    assert.equal(viaApi.status, 200);
    assert.deepEqual(types((await get(`${base}/metrics`)).text), types(viaApi.text));
    assert.equal((await get(`${base}/metrics?x=1`)).status, 200, 'a query string is ignored');

    // Never an API route, whatever the method.
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/health'],
      ['GET', '/v1/identity'],
      ['GET', '/v1/contacts'],
      ['GET', '/metrics/'],
      ['POST', '/metrics'],
      ['POST', '/v1/messages'],
      ['DELETE', '/v1/contacts/bob'],
    ] as const) {
      const res = await get(`${base}${path}`, {}, method);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.doesNotMatch(res.text, /sotto_/, `${method} ${path}: no metrics`);
    }

    await d.stop();
    assert.equal(d.metricsListener, listener);
    await assert.rejects(fetch(`${base}/metrics`), 'the listener is closed on stop');
  });

  it('with metrics.tokenFile: 401 without the bearer token or with a wrong one, metrics with it', async () => {
    const dir = await dataDir();
    const secret = 'metrics-token-0123456789abcdef';
    const tokenFile = join(dir, 'metrics-token');
    await writeFile(tokenFile, `${secret}\n`, { mode: 0o600 });
    const d = await start(dir, { metricsListen: '127.0.0.1:0' }, { SOTTO_METRICS_TOKEN_FILE: tokenFile });
    const base = `http://127.0.0.1:${d.metricsListener?.port}`;

    const none = await get(`${base}/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.res.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.doesNotMatch(none.text, /sotto_/);
    assert.equal((await get(`${base}/metrics`, { authorization: `Bearer ${secret.slice(0, -1)}x` })).status, 401);
    assert.equal((await get(`${base}/metrics`, { authorization: `Basic ${secret}` })).status, 401);
    const apiToken = (await readFile(join(dir, 'api-token'), 'utf8')).trim();
    assert.equal(
      (await get(`${base}/metrics`, { authorization: `Bearer ${apiToken}` })).status,
      401,
      'the API token is not the metrics token',
    );
    assert.equal((await get(`${base}/v1/identity`)).status, 401, 'no path is answered without the token');

    const ok = await get(`${base}/metrics`, { authorization: `Bearer ${secret}` });
    assert.equal(ok.status, 200);
    assert.match(ok.text, /^sotto_messages_received_total 0$/m);
    assert.equal((await get(`${base}/v1/identity`, { authorization: `Bearer ${secret}` })).status, 404);
    await d.stop();
  });

  it('config errors stop the start before anything runs: a non-loopback host without allowRemote, a bad token file', async () => {
    const dir = await dataDir();
    await assert.rejects(
      startDaemon({
        flags: { dataDir: dir, apiPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent' },
        env: { SOTTO_METRICS_LISTEN: '0.0.0.0:0' },
      }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problem === 'REMOTE_METRICS_NOT_ALLOWED' &&
        err.field === 'SOTTO_METRICS_LISTEN' &&
        /metrics\.allowRemote: true/.test(err.message),
    );
    const empty = join(dir, 'empty-token');
    await writeFile(empty, '\n');
    await assert.rejects(
      startDaemon({
        flags: { dataDir: dir, apiPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent' },
        env: { SOTTO_METRICS_LISTEN: '127.0.0.1:0', SOTTO_METRICS_TOKEN_FILE: empty },
      }),
      (err: unknown) =>
        err instanceof ConfigError && err.problem === 'EMPTY' && err.field === 'SOTTO_METRICS_TOKEN_FILE',
    );
    await assert.rejects(access(join(dir, DAEMON_FILE)), 'no daemon.json: the daemon never ran');
    // Nothing was left holding the data dir: a correct start works.
    const d = await start(dir, { metricsListen: 'localhost:0' });
    assert.ok(d.metricsListener);
    await d.stop();
  });

  it('an address in use is a DaemonError naming it, and the node is stopped again', async () => {
    const first = await start(await dataDir(), { metricsListen: '127.0.0.1:0' });
    const taken = `127.0.0.1:${first.metricsListener?.port}`;
    const dir = await dataDir();
    await assert.rejects(
      startDaemon({
        flags: { dataDir: dir, apiPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', metricsListen: taken },
        env: {},
      }),
      (err: unknown) =>
        err instanceof DaemonError && err.code === 'METRICS_ADDRESS_IN_USE' && err.message.includes(taken),
    );
    const again = await start(dir);
    assert.equal(again.metricsListener, undefined);
    await again.stop();
    await first.stop();
  });
});
