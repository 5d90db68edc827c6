import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { createNodeMetrics } from '../../src/api/metrics.js';
import { formatOpenApi } from '../../src/api/openapi.js';
import { MAX_MAILBOXES as API_MAX_MAILBOXES, MAX_TEXT_BYTES } from '../../src/api/schemas.js';
import { API_VERSION, apiRoutes, BODY_LIMIT_BYTES } from '../../src/api/server.js';
import type { MailboxesSaved } from '../../src/api/types.js';
import { DirectoryError } from '../../src/directory/errors.js';
import { MAX_MAILBOXES } from '../../src/directory/record.js';
import { InvalidMailboxOptionsError, NodeNotStartedError, RecipientNotFoundError } from '../../src/node/errors.js';
import { badChecksum, FakeNode, messageId, randomAddress, randomPeerId } from './fake-node.js';
import { errorOf, fillParams, type Harness, harness } from './helpers.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('API authentication', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(() => h.app.close());

  it('has the routes the CLI needs', () => {
    const table = apiRoutes(h.app).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(table.sort(), [
      'DELETE /v1/blocked/:contact',
      'DELETE /v1/contacts/:contact',
      'GET /health',
      'GET /metrics',
      'GET /v1/blocked',
      'GET /v1/config',
      'GET /v1/contacts',
      'GET /v1/contacts/:contact',
      'GET /v1/contacts/:contact/safety-number',
      'GET /v1/conversations/:contact',
      'GET /v1/events',
      'GET /v1/identity',
      'GET /v1/mailboxes',
      'GET /v1/openapi.json',
      'GET /v1/peers',
      'GET /v1/requests',
      'GET /v1/requests/:address',
      'GET /v1/status',
      'PATCH /v1/contacts/:contact',
      'POST /v1/blocked',
      'POST /v1/contacts',
      'POST /v1/contacts/:contact/verify',
      'POST /v1/mailboxes/fetch',
      'POST /v1/messages',
      'POST /v1/messages/:id/retry',
      'POST /v1/requests/:address/accept',
      'POST /v1/requests/:address/block',
      'POST /v1/requests/:address/reject',
      'PUT /v1/mailboxes',
    ]);
  });

  it('answer 401 UNAUTHORIZED on every route without the token, with a wrong one, or with it in the query', async () => {
    const wrong = `${h.token.slice(0, -1)}${h.token.endsWith('A') ? 'B' : 'A'}`;
    const attempts: Array<{ name: string; headers: Record<string, string>; query?: string }> = [
      { name: 'no token', headers: {} },
      { name: 'wrong token', headers: { authorization: `Bearer ${wrong}` } },
      { name: 'shorter token', headers: { authorization: `Bearer ${h.token.slice(0, 10)}` } },
      { name: 'empty bearer', headers: { authorization: 'Bearer ' } },
      { name: 'other scheme', headers: { authorization: `Basic ${h.token}` } },
      { name: 'token without scheme', headers: { authorization: h.token } },
      { name: 'token in the query', headers: {}, query: `?token=${h.token}&access_token=${h.token}` },
      { name: 'subprotocol on plain HTTP', headers: { 'sec-websocket-protocol': `sotto.bearer.${h.token}` } },
    ];
    for (const route of apiRoutes(h.app)) {
      for (const attempt of attempts) {
        const response = await h.app.inject({
          method: route.method as 'GET',
          url: `${fillParams(route.url)}${attempt.query ?? ''}`,
          headers: attempt.headers,
          ...(route.method === 'POST' || route.method === 'PATCH' || route.method === 'PUT' ? { payload: {} } : {}),
        });
        assert.equal(response.statusCode, 401, `${route.method} ${route.url} with ${attempt.name}`);
        assert.equal(errorOf(response).code, 'UNAUTHORIZED');
        assert.match(String(response.headers['www-authenticate']), /^Bearer/);
      }
    }
  });

  it('let the right token through on every route', async () => {
    await h.node.addContact('bob', randomAddress());
    for (const route of apiRoutes(h.app)) {
      const response = await h.call({
        method: route.method as 'GET',
        url: fillParams(route.url),
        ...(route.method === 'POST' && route.url === '/v1/messages' ? { payload: { to: 'bob', text: 'hi' } } : {}),
        ...(route.method === 'PATCH' ? { payload: { name: 'bobby' } } : {}),
        ...(route.method === 'PUT' ? { payload: { peers: [] } } : {}),
        ...(route.method === 'POST' && route.url === '/v1/contacts'
          ? { payload: { name: 'carol', address: randomAddress() } }
          : {}),
      });
      assert.notEqual(response.statusCode, 401, `${route.method} ${route.url}: ${response.body}`);
      assert.ok(response.statusCode < 500, `${route.method} ${route.url}: ${response.body}`);
      // the PATCH renamed bob: put him back for the routes after it
      if (route.method === 'PATCH')
        await h.call({ method: 'PATCH', url: '/v1/contacts/bobby', payload: { name: 'bob' } });
    }
  });

  it('answer unknown routes 401 without the token and 404 NOT_FOUND with it', async () => {
    const anonymous = await h.app.inject({ url: '/v1/nothing-here' });
    assert.equal(anonymous.statusCode, 401);
    for (const [method, url] of [
      ['GET', '/v1/nothing-here'],
      ['GET', '/'],
      ['POST', '/v1/status'],
      ['PUT', '/v1/contacts/bob'],
      ['GET', '/v2/status'],
    ] as const) {
      const response = await h.call({ method, url });
      assert.equal(response.statusCode, 404, `${method} ${url}`);
      assert.equal(errorOf(response).code, 'NOT_FOUND');
      assert.match(String(response.headers['content-type']), /^application\/json/);
    }
  });

  it('mark every response no-store and nosniff', async () => {
    for (const url of ['/v1/status', '/v1/nothing']) {
      for (const headers of [{}, { authorization: '' }]) {
        const response = await h.call({ url, headers });
        assert.equal(response.headers['cache-control'], 'no-store');
        assert.equal(response.headers['x-content-type-options'], 'nosniff');
      }
    }
  });
});

describe('API identity and node routes', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(() => h.app.close());

  it('GET /v1/identity: address, peer id, multiaddrs, fingerprint', async () => {
    const response = await h.call({ url: '/v1/identity' });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body.address, h.node.address);
    assert.equal(body.peerId, '12D3KooWFakeNodePeerId');
    assert.deepEqual(body.multiaddrs, h.node.multiaddrs());
    assert.match(body.fingerprint, /^\d{5}( \d{5}){5}$/);
  });

  it('GET /v1/status adds uptime and version to the node status', async () => {
    const response = await h.call({ url: '/v1/status' });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.deepEqual(
      { peers: body.peers, routingTable: body.routingTable, outbox: body.outbox, oneTimePrekeys: body.oneTimePrekeys },
      h.node.statusValue,
    );
    assert.ok(body.uptimeMs >= 5_000 && body.uptimeMs < 60_000, String(body.uptimeMs));
    assert.equal(body.version, pkg.version);
    assert.equal(typeof body.startedAt, 'number');
  });

  it('GET /v1/peers lists connected peers', async () => {
    const response = await h.call({ url: '/v1/peers' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { peers: h.node.peerList });
  });

  it('GET /v1/config shows the effective configuration', async () => {
    const response = await h.call({ url: '/v1/config' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { dataDir: '/var/lib/sotto', net: { listen: ['/ip4/0.0.0.0/tcp/4001'] } });
  });

  it('GET /health: 200 when ready, 503 with the reason when not', async () => {
    let response = await h.call({ url: '/health' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { ready: true });
    h.readiness.ready = false;
    h.readiness.reason = 'bootstrapping the DHT';
    response = await h.call({ url: '/health' });
    assert.equal(response.statusCode, 503);
    assert.deepEqual(response.json(), { ready: false, reason: 'bootstrapping the DHT' });
    h.readiness.ready = true;
    delete h.readiness.reason;
  });

  it('GET /health: a readiness check that throws is not ready', async () => {
    const broken = await harness({
      ready: () => {
        throw new Error('boom');
      },
    });
    const response = await broken.call({ url: '/health' });
    assert.equal(response.statusCode, 503);
    assert.equal(response.json().ready, false);
    await broken.app.close();
  });

  it('GET /v1/events without an upgrade is 426 UPGRADE_REQUIRED', async () => {
    const response = await h.call({ url: '/v1/events' });
    assert.equal(response.statusCode, 426);
    assert.equal(errorOf(response).code, 'UPGRADE_REQUIRED');
  });

  it('a stopped node is 503 NOT_READY on the routes that need it', async () => {
    h.node.running = false;
    try {
      for (const url of ['/v1/identity', '/v1/status', '/v1/peers', '/v1/contacts', '/v1/conversations/bob']) {
        const response = await h.call({ url });
        assert.equal(response.statusCode, 503, url);
        assert.equal(errorOf(response).code, 'NOT_READY');
      }
      const sent = await h.call({ method: 'POST', url: '/v1/messages', payload: { to: randomAddress(), text: 'x' } });
      assert.equal(sent.statusCode, 503);
      // health, config and metrics do not need the node
      assert.equal((await h.call({ url: '/v1/config' })).statusCode, 200);
      assert.equal((await h.call({ url: '/metrics' })).statusCode, 200);
    } finally {
      h.node.running = true;
    }
  });
});

describe('API contacts', () => {
  let h: Harness;
  const bob = randomAddress();
  const carol = randomAddress();
  before(async () => {
    h = await harness();
  });
  after(() => h.app.close());

  it('POST /v1/contacts adds (201), repeats idempotently (200), and lists by name', async () => {
    let response = await h.call({ method: 'POST', url: '/v1/contacts', payload: { name: 'bob', address: bob } });
    assert.equal(response.statusCode, 201);
    const created = response.json();
    assert.equal(created.name, 'bob');
    assert.equal(created.address, bob);
    assert.equal(created.verified, false);
    assert.match(created.identityKey, /^[0-9a-f]{64}$/);
    assert.deepEqual(created.previousKeys, []);

    response = await h.call({ method: 'POST', url: '/v1/contacts', payload: { name: 'bob', address: bob } });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), created);

    // upper case and whitespace are the same address (QR codes, pasting)
    response = await h.call({
      method: 'POST',
      url: '/v1/contacts',
      payload: { name: 'carol', address: ` ${carol.toUpperCase()}\n` },
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().address, carol);
    await h.call({ method: 'POST', url: '/v1/contacts', payload: { name: 'alice', address: randomAddress() } });

    response = await h.call({ url: '/v1/contacts' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(
      response.json().contacts.map((c: { name: string }) => c.name),
      ['alice', 'bob', 'carol'],
    );
  });

  it('409 CONTACT_NAME_TAKEN for a name of another address; 409 CONTACT_EXISTS for a known address', async () => {
    let response = await h.call({
      method: 'POST',
      url: '/v1/contacts',
      payload: { name: 'bob', address: randomAddress() },
    });
    assert.equal(response.statusCode, 409);
    assert.equal(errorOf(response).code, 'CONTACT_NAME_TAKEN');
    response = await h.call({ method: 'POST', url: '/v1/contacts', payload: { name: 'robert', address: bob } });
    assert.equal(response.statusCode, 409);
    assert.equal(errorOf(response).code, 'CONTACT_EXISTS');
    // names are case-sensitive
    response = await h.call({
      method: 'POST',
      url: '/v1/contacts',
      payload: { name: 'Bob', address: randomAddress() },
    });
    assert.equal(response.statusCode, 201);
    await h.call({ method: 'DELETE', url: '/v1/contacts/Bob' });
  });

  it('concurrent adds of one name to two addresses: exactly one wins', async () => {
    const responses = await Promise.all(
      [randomAddress(), randomAddress(), randomAddress()].map((address) =>
        h.call({ method: 'POST', url: '/v1/contacts', payload: { name: 'dave', address } }),
      ),
    );
    assert.deepEqual(responses.map((r) => r.statusCode).sort(), [201, 409, 409]);
    await h.call({ method: 'DELETE', url: '/v1/contacts/dave' });
  });

  it('400 INVALID_ADDRESS for a malformed address, naming the field', async () => {
    const typo = bob.slice(0, 20) + (bob[20] === 'q' ? 'p' : 'q') + bob.slice(21);
    for (const address of [typo, 'sotto1qqqq', 'hello', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq']) {
      const response = await h.call({ method: 'POST', url: '/v1/contacts', payload: { name: 'eve', address } });
      assert.equal(response.statusCode, 400, address);
      const error = errorOf(response);
      assert.equal(error.code, 'INVALID_ADDRESS');
      assert.equal(error.field, 'body.address');
    }
  });

  it('400 INVALID_REQUEST for names that are empty, too long, control characters or address-like', async () => {
    const bad = [
      '',
      'x'.repeat(65),
      'a\nb',
      'tab\there',
      'nul\u0000',
      'bidi\u202Eevil',
      'sotto1bob',
      'SOTTO1x',
      '😀'.repeat(65),
    ];
    for (const name of bad) {
      const response = await h.call({
        method: 'POST',
        url: '/v1/contacts',
        payload: { name, address: randomAddress() },
      });
      assert.equal(response.statusCode, 400, JSON.stringify(name));
      const error = errorOf(response);
      assert.equal(error.code, 'INVALID_REQUEST');
      assert.equal(error.field, 'body.name');
    }
    for (const name of ['x'.repeat(64), '😀'.repeat(64), 'Zoë O’Brien', 'sotto', '名前']) {
      const response = await h.call({
        method: 'POST',
        url: '/v1/contacts',
        payload: { name, address: randomAddress() },
      });
      assert.equal(response.statusCode, 201, JSON.stringify(name));
      assert.equal(response.json().name, name);
    }
  });

  it('400 INVALID_REQUEST for extra properties, wrong types and missing fields', async () => {
    const cases: Array<[unknown, string]> = [
      [{ name: 'x', address: bob, verified: true }, 'body.verified'],
      [{ name: 5, address: bob }, 'body.name'],
      [{ name: 'x' }, 'body.address'],
      [{ address: bob }, 'body.name'],
      [[], 'body'],
    ];
    for (const [payload, field] of cases) {
      const response = await h.call({ method: 'POST', url: '/v1/contacts', payload: payload as object });
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.equal(errorOf(response).code, 'INVALID_REQUEST');
      assert.equal(errorOf(response).field, field);
      assert.ok(errorOf(response).message.startsWith(`${field}:`), errorOf(response).message);
    }
  });

  it('GET /v1/contacts/:contact by name or address; 404 UNKNOWN_CONTACT otherwise', async () => {
    let response = await h.call({ url: '/v1/contacts/bob' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().address, bob);
    response = await h.call({ url: `/v1/contacts/${bob}` });
    assert.equal(response.json().name, 'bob');
    response = await h.call({ url: '/v1/contacts/nobody' });
    assert.equal(response.statusCode, 404);
    assert.deepEqual(errorOf(response), { code: 'UNKNOWN_CONTACT', message: 'unknown contact "nobody"' });
    response = await h.call({ url: `/v1/contacts/${randomAddress()}` });
    assert.equal(response.statusCode, 404);
    assert.equal(errorOf(response).code, 'UNKNOWN_CONTACT');
    response = await h.call({ url: '/v1/contacts/sotto1notanaddress' });
    assert.equal(response.statusCode, 400);
    assert.equal(errorOf(response).code, 'INVALID_ADDRESS');
    // a name with a space and a non-ASCII character, percent-encoded
    await h.call({ method: 'POST', url: '/v1/contacts', payload: { name: 'Zoë B', address: randomAddress() } });
    response = await h.call({ url: `/v1/contacts/${encodeURIComponent('Zoë B')}` });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().name, 'Zoë B');
  });

  it('PATCH /v1/contacts/:contact renames; 409 when the new name is taken; 400 for a bad name', async () => {
    let response = await h.call({ method: 'PATCH', url: '/v1/contacts/carol', payload: { name: 'caroline' } });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().name, 'caroline');
    assert.equal(response.json().address, carol);
    response = await h.call({ method: 'PATCH', url: `/v1/contacts/${carol}`, payload: { name: 'caroline' } });
    assert.equal(response.statusCode, 200);
    response = await h.call({ method: 'PATCH', url: '/v1/contacts/caroline', payload: { name: 'bob' } });
    assert.equal(response.statusCode, 409);
    assert.equal(errorOf(response).code, 'CONTACT_NAME_TAKEN');
    response = await h.call({ method: 'PATCH', url: '/v1/contacts/caroline', payload: { name: '' } });
    assert.equal(errorOf(response).field, 'body.name');
    response = await h.call({ method: 'PATCH', url: '/v1/contacts/caroline', payload: { name: 'c', extra: 1 } });
    assert.equal(errorOf(response).field, 'body.extra');
    response = await h.call({ method: 'PATCH', url: '/v1/contacts/nobody', payload: { name: 'somebody' } });
    assert.equal(response.statusCode, 404);
    assert.equal(errorOf(response).code, 'UNKNOWN_CONTACT');
  });

  it('safety number by name or by any address; verify marks a contact verified', async () => {
    let response = await h.call({ url: '/v1/contacts/bob/safety-number' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      address: bob,
      name: 'bob',
      safetyNumber: h.node.safetyNumber(bob),
      verified: false,
    });
    const stranger = randomAddress();
    response = await h.call({ url: `/v1/contacts/${stranger}/safety-number` });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().name, undefined);
    assert.match(response.json().safetyNumber, /^\d{5}( \d{5}){11}$/);

    response = await h.call({ method: 'POST', url: '/v1/contacts/bob/verify' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().verified, true);
    response = await h.call({ url: '/v1/contacts/bob/safety-number' });
    assert.equal(response.json().verified, true);
    response = await h.call({ method: 'POST', url: `/v1/contacts/${stranger}/verify` });
    assert.equal(response.statusCode, 404);
    assert.equal(errorOf(response).code, 'UNKNOWN_CONTACT');
  });

  it('409 AMBIGUOUS_CONTACT when two contacts share a name (added around the API)', async () => {
    await h.node.addContact('twin', randomAddress());
    await h.node.addContact('twin', randomAddress());
    const response = await h.call({ url: '/v1/contacts/twin' });
    assert.equal(response.statusCode, 409);
    assert.equal(errorOf(response).code, 'AMBIGUOUS_CONTACT');
  });

  it('DELETE /v1/contacts/:contact removes (204), then 404', async () => {
    let response = await h.call({ method: 'DELETE', url: '/v1/contacts/caroline' });
    assert.equal(response.statusCode, 204);
    assert.equal(response.body, '');
    response = await h.call({ method: 'DELETE', url: '/v1/contacts/caroline' });
    assert.equal(response.statusCode, 404);
    assert.deepEqual(errorOf(response), { code: 'UNKNOWN_CONTACT', message: 'unknown contact "caroline"' });
    response = await h.call({ method: 'DELETE', url: `/v1/contacts/${bob}` });
    assert.equal(response.statusCode, 204);
  });
});

describe('API messages', () => {
  let h: Harness;
  const bob = randomAddress();
  before(async () => {
    h = await harness();
    await h.node.addContact('bob', bob);
  });
  after(() => h.app.close());

  it('POST /v1/messages to a contact name: 201 with the id and state', async () => {
    const response = await h.call({ method: 'POST', url: '/v1/messages', payload: { to: 'bob', text: 'hello bob' } });
    assert.equal(response.statusCode, 201);
    const body = response.json();
    assert.match(body.id, /^[0-9a-f]{32}$/);
    assert.equal(body.state, 'delivered');
    assert.equal(body.to, bob);
    assert.deepEqual(h.node.sent.at(-1), { address: bob, text: 'hello bob' });
  });

  it('POST /v1/messages to an address that is not a contact, reported queued', async () => {
    h.node.sendState = 'queued';
    const stranger = randomAddress();
    const response = await h.call({ method: 'POST', url: '/v1/messages', payload: { to: stranger, text: 'hi' } });
    h.node.sendState = 'delivered';
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().state, 'queued');
    assert.equal(response.json().to, stranger);
  });

  it('404 UNKNOWN_CONTACT for an unknown name; 400 INVALID_ADDRESS for a malformed address', async () => {
    let response = await h.call({ method: 'POST', url: '/v1/messages', payload: { to: 'alice', text: 'hi' } });
    assert.equal(response.statusCode, 404);
    assert.deepEqual(errorOf(response), { code: 'UNKNOWN_CONTACT', message: 'unknown contact "alice"' });
    response = await h.call({ method: 'POST', url: '/v1/messages', payload: { to: `${bob}x`, text: 'hi' } });
    assert.equal(response.statusCode, 400);
    assert.equal(errorOf(response).code, 'INVALID_ADDRESS');
    assert.equal(errorOf(response).field, 'body.to');
    // a name with a newline cannot break the one-line message
    response = await h.call({ method: 'POST', url: '/v1/messages', payload: { to: 'a\nb', text: 'hi' } });
    assert.equal(errorOf(response).message, 'unknown contact "a\\nb"');
  });

  it('400 INVALID_REQUEST naming the field: empty text, wrong types, extra or missing properties', async () => {
    const cases: Array<[unknown, string]> = [
      [{ to: 'bob', text: '' }, 'body.text'],
      [{ to: 'bob', text: 5 }, 'body.text'],
      [{ to: 'bob', text: ['a'] }, 'body.text'],
      [{ to: 'bob', text: null }, 'body.text'],
      [{ to: 7, text: 'x' }, 'body.to'],
      [{ to: '', text: 'x' }, 'body.to'],
      [{ text: 'x' }, 'body.to'],
      [{ to: 'bob' }, 'body.text'],
      [{ to: 'bob', text: 'x', priority: 'high' }, 'body.priority'],
      [{ to: 'bob', text: 'x', __proto__x: 1 }, 'body.__proto__x'],
    ];
    for (const [payload, field] of cases) {
      const response = await h.call({ method: 'POST', url: '/v1/messages', payload: payload as object });
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.equal(errorOf(response).code, 'INVALID_REQUEST');
      assert.equal(errorOf(response).field, field, JSON.stringify(payload));
    }
    const sentBefore = h.node.sent.length;
    for (const payload of [
      'not json',
      '{"to":"bob","text":"x"',
      '',
      'null',
      '{"__proto__":{"x":1},"to":"bob","text":"x"}',
    ]) {
      const response = await h.call({
        method: 'POST',
        url: '/v1/messages',
        payload,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(response.statusCode, 400, payload);
      assert.equal(errorOf(response).code, 'INVALID_REQUEST');
      assert.ok(!errorOf(response).message.includes('not json'), 'the body is not echoed');
    }
    assert.equal(h.node.sent.length, sentBefore);
  });

  it('415 UNSUPPORTED_MEDIA_TYPE for bodies that are not JSON', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const response = await h.call({
        method: 'POST',
        url: '/v1/messages',
        payload: 'to=bob&text=hi',
        headers: { 'content-type': type },
      });
      assert.equal(response.statusCode, 415, type);
      assert.equal(errorOf(response).code, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('400 INVALID_MESSAGE for a text longer than the node takes (bytes, not characters)', async () => {
    const text = 'é'.repeat(MAX_TEXT_BYTES / 2 + 1); // 2 bytes each: one byte too many
    const response = await h.call({ method: 'POST', url: '/v1/messages', payload: { to: 'bob', text } });
    assert.equal(response.statusCode, 400);
    assert.equal(errorOf(response).code, 'INVALID_MESSAGE');
  });

  it('the body limit admits the longest text even when every character is escaped', async () => {
    const text = '\u0001'.repeat(MAX_TEXT_BYTES);
    const payload = JSON.stringify({ to: 'bob', text });
    assert.ok(payload.length > 6 * MAX_TEXT_BYTES);
    const response = await h.call({
      method: 'POST',
      url: '/v1/messages',
      payload,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(response.statusCode, 201, response.body);
    assert.equal(h.node.sent.at(-1)?.text, text);
  });

  it('413 BODY_TOO_LARGE above the body limit, before the node sees it', async () => {
    const sentBefore = h.node.sent.length;
    const response = await h.call({
      method: 'POST',
      url: '/v1/messages',
      payload: JSON.stringify({ to: 'bob', text: 'x'.repeat(BODY_LIMIT_BYTES) }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(response.statusCode, 413);
    assert.equal(errorOf(response).code, 'BODY_TOO_LARGE');
    assert.equal(h.node.sent.length, sentBefore);
    // a smaller configured limit applies too
    const small = await harness({ bodyLimit: 100 });
    const refused = await small.call({
      method: 'POST',
      url: '/v1/contacts',
      payload: { name: 'x'.repeat(64), address: bob },
    });
    assert.equal(refused.statusCode, 413);
    await small.app.close();
  });

  it('maps node errors: RECIPIENT_NOT_FOUND 404, DIRECTORY_ERROR 502, NOT_READY 503, INTERNAL 500', async () => {
    const cases: Array<[Error, number, string]> = [
      [new RecipientNotFoundError(), 404, 'RECIPIENT_NOT_FOUND'],
      [new DirectoryError('RECORD_ROLLBACK', 'older record'), 502, 'DIRECTORY_ERROR'],
      [new NodeNotStartedError(), 503, 'NOT_READY'],
    ];
    for (const [error, status, code] of cases) {
      h.node.sendError = error;
      const response = await h.call({ method: 'POST', url: '/v1/messages', payload: { to: 'bob', text: 'x' } });
      assert.equal(response.statusCode, status, code);
      assert.equal(errorOf(response).code, code);
    }
  });

  it('500 INTERNAL says nothing about the failure; the log has no message text or detail', async () => {
    const secretText = 'the-secret-message-text';
    const failure = new TypeError(`cannot read ${secretText}`);
    h.node.sendError = failure;
    const response = await h.call({ method: 'POST', url: '/v1/messages', payload: { to: 'bob', text: secretText } });
    assert.equal(response.statusCode, 500);
    assert.deepEqual(errorOf(response), { code: 'INTERNAL', message: 'internal error' });
    assert.ok(!response.body.includes(secretText));
    assert.ok(!response.body.includes('at '), 'no stack trace');
    assert.ok(h.logs.some((l) => l.startsWith('error ') && l.includes('TypeError')));
    assert.ok(!h.logs.some((l) => l.includes(secretText)), 'the log does not carry the text');
  });

  it('logs one line per request without bodies, texts, names or the token', async () => {
    const text = 'a-private-message';
    await h.call({ method: 'POST', url: '/v1/messages', payload: { to: 'bob', text } });
    await h.call({ url: '/v1/conversations/bob' });
    await h.app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${h.token}x` } });
    assert.ok(h.logs.some((l) => l.includes('POST /v1/messages 201')));
    assert.ok(h.logs.some((l) => l.includes('GET /v1/conversations/:contact 200')));
    for (const line of h.logs) {
      assert.ok(!line.includes(text), line);
      assert.ok(!line.includes(h.token), line);
      assert.ok(!line.includes('bob'), line);
    }
  });
});

describe('API conversations', () => {
  let h: Harness;
  const bob = randomAddress();
  before(async () => {
    h = await harness();
    await h.node.addContact('bob', bob);
    for (let i = 0; i < 5; i++) h.node.receive(bob, `message ${i}`, 1_000 + i);
  });
  after(() => h.app.close());

  it('pages newest first with a cursor until the last page', async () => {
    const seen: string[] = [];
    let query = 'limit=2';
    for (let page = 0; page < 10; page++) {
      const response = await h.call({ url: `/v1/conversations/bob?${query}` });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json();
      assert.equal(body.address, bob);
      assert.equal(body.name, 'bob');
      for (const m of body.messages) {
        assert.equal(m.direction, 'in');
        assert.equal(m.state, 'received');
        seen.push(m.text);
      }
      if (!body.next) break;
      assert.equal(body.messages.length, 2);
      query = `limit=2&beforeTimestamp=${body.next.beforeTimestamp}&beforeId=${body.next.beforeId}`;
    }
    assert.deepEqual(seen, ['message 4', 'message 3', 'message 2', 'message 1', 'message 0']);
  });

  it('defaults to 50 and answers for addresses that are not contacts', async () => {
    let response = await h.call({ url: '/v1/conversations/bob' });
    assert.equal(response.json().messages.length, 5);
    assert.equal(response.json().next, undefined);
    const stranger = randomAddress();
    h.node.receive(stranger, 'hi from a stranger');
    response = await h.call({ url: `/v1/conversations/${stranger}` });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().name, undefined);
    assert.deepEqual(
      response.json().messages.map((m: { text: string }) => m.text),
      ['hi from a stranger'],
    );
  });

  it('400 INVALID_REQUEST naming the query field', async () => {
    const cases: Array<[string, string]> = [
      ['limit=abc', 'query.limit'],
      ['limit=0', 'query.limit'],
      ['limit=201', 'query.limit'],
      ['limit=1.5', 'query.limit'],
      ['limit=1e3', 'query.limit'],
      ['limit=0x10', 'query.limit'],
      ['limit=', 'query.limit'],
      ['limit=1&limit=2', 'query.limit'],
      ['beforeTimestamp=5', 'query.beforeId'],
      [`beforeId=${messageId()}`, 'query.beforeTimestamp'],
      ['beforeTimestamp=5&beforeId=XYZ', 'query.beforeId'],
      [`beforeTimestamp=-1&beforeId=${messageId()}`, 'query.beforeTimestamp'],
      ['order=asc', 'query.order'],
    ];
    for (const [query, field] of cases) {
      const response = await h.call({ url: `/v1/conversations/bob?${query}` });
      assert.equal(response.statusCode, 400, query);
      assert.equal(errorOf(response).code, 'INVALID_REQUEST', query);
      assert.equal(errorOf(response).field, field, query);
    }
  });

  it('404 UNKNOWN_CONTACT for an unknown name, 400 INVALID_ADDRESS for a malformed address', async () => {
    let response = await h.call({ url: '/v1/conversations/nobody' });
    assert.equal(response.statusCode, 404);
    assert.equal(errorOf(response).code, 'UNKNOWN_CONTACT');
    response = await h.call({ url: '/v1/conversations/sotto1zzz' });
    assert.equal(response.statusCode, 400);
    assert.equal(errorOf(response).code, 'INVALID_ADDRESS');
    assert.equal(errorOf(response).field, 'params.contact');
    response = await h.call({ url: `/v1/conversations/${'x'.repeat(300)}` });
    assert.equal(response.statusCode, 400);
    assert.equal(errorOf(response).field, 'params.contact');
  });
});

describe('API mailboxes', () => {
  let h: Harness;
  /** What the saver was given, in order; `saveResult`/`saveError` decide its answer. */
  const saves: string[][] = [];
  let saveResult: MailboxesSaved = { saved: true };
  let saveError: Error | undefined;
  let p1: string;
  let p2: string;
  before(async () => {
    h = await harness({
      saveMailboxes: async (peers) => {
        saves.push([...peers]);
        // saved before the node changes: the node still has the old list
        assert.notDeepEqual(h.node.mailboxList, peers);
        if (saveError) throw saveError;
        return saveResult;
      },
    });
    [p1, p2] = [await randomPeerId(), await randomPeerId()];
  });
  after(() => h.app.close());

  it("the API's MAX_MAILBOXES is the record's", () => {
    assert.equal(API_MAX_MAILBOXES, MAX_MAILBOXES);
  });

  it('GET /v1/mailboxes lists them; PUT replaces them (saved first), canonical and in order', async () => {
    let response = await h.call({ url: '/v1/mailboxes' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { peers: [] });
    const { peerIdFromString } = await import('@libp2p/peer-id');
    const cid = peerIdFromString(p1).toCID().toString();
    response = await h.call({ method: 'PUT', url: '/v1/mailboxes', payload: { peers: [p2, ` ${cid}`] } });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { peers: [p2, p1], saved: true });
    assert.deepEqual(saves.at(-1), [p2, p1]);
    assert.deepEqual(h.node.mailboxList, [p2, p1]);
    assert.deepEqual((await h.call({ url: '/v1/mailboxes' })).json(), { peers: [p2, p1] });
    response = await h.call({ method: 'PUT', url: '/v1/mailboxes', payload: { peers: [] } });
    assert.deepEqual(response.json(), { peers: [], saved: true });
    assert.deepEqual(h.node.mailboxList, []);
  });

  it('PUT says when the list was not saved, and why', async () => {
    saveResult = { saved: false, reason: 'SOTTO_MAILBOXES sets the mailboxes at every start' };
    try {
      const response = await h.call({ method: 'PUT', url: '/v1/mailboxes', payload: { peers: [p1] } });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), {
        peers: [p1],
        saved: false,
        reason: 'SOTTO_MAILBOXES sets the mailboxes at every start',
      });
      assert.deepEqual(h.node.mailboxList, [p1], 'in effect all the same');
    } finally {
      saveResult = { saved: true };
    }
    // without a saver (a library, not the daemon): in effect, not saved
    const bare = await harness();
    const response = await bare.call({ method: 'PUT', url: '/v1/mailboxes', payload: { peers: [p2] } });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().saved, false);
    assert.match(response.json().reason, /lasts until the node stops/);
    await bare.app.close();
  });

  it('500 CONFIG_NOT_SAVED when saving fails: nothing changes, the reason on one line', async () => {
    const before = [...h.node.mailboxList];
    saveError = new Error('/srv/sotto/config.json: invalid JSON:\nUnexpected token (line 2 column 5)');
    try {
      const response = await h.call({ method: 'PUT', url: '/v1/mailboxes', payload: { peers: [p2] } });
      assert.equal(response.statusCode, 500);
      const error = errorOf(response);
      assert.equal(error.code, 'CONFIG_NOT_SAVED');
      assert.equal(
        error.message,
        'the mailboxes were not changed: /srv/sotto/config.json: invalid JSON: Unexpected token (line 2 column 5)',
      );
      assert.deepEqual(h.node.mailboxList, before);
      assert.ok(!h.logs.some((l) => l.startsWith('error ')), 'not an internal error');
    } finally {
      saveError = undefined;
    }
  });

  it('400 for a bad list, naming the entry, before anything is saved or changed', async () => {
    const before = [...h.node.mailboxList];
    const saved = saves.length;
    const peers8 = await Promise.all(Array.from({ length: 9 }, () => randomPeerId()));
    const cases: Array<[unknown, number, string, string]> = [
      [{ peers: [p1, 'QmNope'] }, 400, 'INVALID_PEER_ID', 'body.peers.1'],
      [{ peers: ['hello world'] }, 400, 'INVALID_PEER_ID', 'body.peers.0'],
      [{ peers: [p1, p2, p1] }, 400, 'INVALID_REQUEST', 'body.peers.2'],
      [{ peers: peers8 }, 400, 'INVALID_REQUEST', 'body.peers'],
      [{ peers: [''] }, 400, 'INVALID_REQUEST', 'body.peers.0'],
      [{ peers: ['x'.repeat(129)] }, 400, 'INVALID_REQUEST', 'body.peers.0'],
      [{ peers: p1 }, 400, 'INVALID_REQUEST', 'body.peers'],
      [{ peers: [5] }, 400, 'INVALID_REQUEST', 'body.peers.0'],
      [{ peers: [], extra: 1 }, 400, 'INVALID_REQUEST', 'body.extra'],
      [{}, 400, 'INVALID_REQUEST', 'body.peers'],
    ];
    for (const [payload, status, code, field] of cases) {
      const response = await h.call({ method: 'PUT', url: '/v1/mailboxes', payload: payload as object });
      assert.equal(response.statusCode, status, JSON.stringify(payload));
      const error = errorOf(response);
      assert.equal(error.code, code, JSON.stringify(payload));
      assert.equal(error.field, field, JSON.stringify(payload));
      assert.ok(!error.message.includes('QmNope') && !error.message.includes('hello'), 'the value is not echoed');
    }
    assert.equal(saves.length, saved, 'nothing was saved');
    assert.deepEqual(h.node.mailboxList, before);
  });

  it('a list the node refuses after all is 400 INVALID_REQUEST', async () => {
    const node = new FakeNode();
    node.setMailboxes = async () => {
      throw new InvalidMailboxOptionsError('mailbox listed twice');
    };
    const other = await harness({ node });
    const response = await other.call({ method: 'PUT', url: '/v1/mailboxes', payload: { peers: [p1] } });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(errorOf(response), {
      code: 'INVALID_REQUEST',
      message: 'body.peers: not a valid mailbox list',
      field: 'body.peers',
    });
    await other.app.close();
  });

  it('POST /v1/mailboxes/fetch: how many messages arrived from how many mailboxes', async () => {
    await h.call({ method: 'PUT', url: '/v1/mailboxes', payload: { peers: [] } });
    let response = await h.call({ method: 'POST', url: '/v1/mailboxes/fetch' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { fetched: 0, mailboxes: 0 });
    await h.call({ method: 'PUT', url: '/v1/mailboxes', payload: { peers: [p1, p2] } });
    h.node.fetchCount = 3;
    const fetches = h.node.fetches;
    response = await h.call({ method: 'POST', url: '/v1/mailboxes/fetch' });
    assert.deepEqual(response.json(), { fetched: 3, mailboxes: 2 });
    assert.equal(h.node.fetches, fetches + 1);
  });

  it('503 NOT_READY while the node is not running; nothing is saved', async () => {
    h.node.running = false;
    const saved = saves.length;
    try {
      for (const [method, url, payload] of [
        ['PUT', '/v1/mailboxes', { peers: [p1] }],
        ['POST', '/v1/mailboxes/fetch', undefined],
      ] as const) {
        const response = await h.call({ method, url, ...(payload ? { payload } : {}) });
        assert.equal(response.statusCode, 503, url);
        assert.equal(errorOf(response).code, 'NOT_READY');
      }
      assert.equal(saves.length, saved);
    } finally {
      h.node.running = true;
    }
  });

  it('GET /v1/status includes what the node holds as a mailbox, only when it is one', async () => {
    assert.equal((await h.call({ url: '/v1/status' })).json().mailbox, undefined);
    h.node.statusValue = { ...h.node.statusValue, mailbox: { held: 4, bytes: 12_345 } };
    try {
      const body = (await h.call({ url: '/v1/status' })).json();
      assert.deepEqual(body.mailbox, { held: 4, bytes: 12_345 });
    } finally {
      delete h.node.statusValue.mailbox;
    }
  });
});

describe('API retry', () => {
  let h: Harness;
  const bob = randomAddress();
  before(async () => {
    h = await harness();
  });
  after(() => h.app.close());

  it('POST /v1/messages/:id/retry queues a failed message again (200), once', async () => {
    const failed = h.node.outgoing(bob, 'lost', 'failed');
    const events: unknown[] = [];
    h.node.on('delivery', (d) => events.push(d));
    let response = await h.call({ method: 'POST', url: `/v1/messages/${failed.id}/retry` });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { id: failed.id, state: 'queued' });
    assert.equal(h.node.messages.find((m) => m.id === failed.id)?.state, 'queued');
    assert.deepEqual(events, [{ id: failed.id, to: bob, state: 'queued' }]);
    response = await h.call({ method: 'POST', url: `/v1/messages/${failed.id}/retry` });
    assert.equal(response.statusCode, 404);
    assert.deepEqual(errorOf(response), {
      code: 'FAILED_MESSAGE_NOT_FOUND',
      message: `no failed outgoing message with id ${failed.id}`,
    });
  });

  it('404 FAILED_MESSAGE_NOT_FOUND for an unknown id, a delivered or an incoming message', async () => {
    const delivered = h.node.outgoing(bob, 'fine', 'delivered');
    const incoming = h.node.receive(bob, 'hello');
    for (const id of [messageId(), delivered.id, incoming.id]) {
      const response = await h.call({ method: 'POST', url: `/v1/messages/${id}/retry` });
      assert.equal(response.statusCode, 404, id);
      assert.equal(errorOf(response).code, 'FAILED_MESSAGE_NOT_FOUND');
    }
  });

  it('400 INVALID_REQUEST naming params.id for anything but 32 lowercase hex characters', async () => {
    const id = messageId();
    for (const bad of ['xyz', id.toUpperCase(), id.slice(1), `${id}0`, `${id.slice(1)}g`]) {
      const response = await h.call({ method: 'POST', url: `/v1/messages/${encodeURIComponent(bad)}/retry` });
      assert.equal(response.statusCode, 400, bad);
      const error = errorOf(response);
      assert.equal(error.code, 'INVALID_REQUEST');
      assert.equal(error.field, 'params.id');
      assert.match(error.message, /^params\.id: must be 16 random bytes, lowercase hex$/);
    }
  });

  it('503 NOT_READY while the node is not running', async () => {
    h.node.running = false;
    try {
      const response = await h.call({ method: 'POST', url: `/v1/messages/${messageId()}/retry` });
      assert.equal(response.statusCode, 503);
      assert.equal(errorOf(response).code, 'NOT_READY');
    } finally {
      h.node.running = true;
    }
  });
});

describe('API contact requests and blocking', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(() => h.app.close());

  /** What the fake node holds, to show that a refused request changed nothing. */
  const state = () =>
    JSON.stringify({
      requests: [...h.node.requestsByKey.values()],
      blocked: [...h.node.blockedByKey.values()],
      contacts: [...h.node.contactsByKey.values()],
      messages: h.node.messages,
    });

  it('GET /v1/requests lists pending requests; GET /v1/requests/:address shows one with its messages', async () => {
    const stranger = randomAddress();
    h.node.hold(stranger, 'hi, we met at the conference');
    h.node.hold(stranger, 'it is carol');
    const list = await h.call({ url: '/v1/requests' });
    assert.equal(list.statusCode, 200);
    const [summary] = list.json().requests;
    assert.equal(summary.address, stranger);
    assert.equal(summary.held, 2);
    assert.equal(summary.messages, undefined, 'the list has no message texts');
    const one = await h.call({ url: `/v1/requests/${stranger}` });
    assert.equal(one.statusCode, 200);
    assert.deepEqual(
      one.json().messages.map((m: { text: string }) => m.text),
      ['hi, we met at the conference', 'it is carol'],
    );
  });

  it('accept: 200 with the new contact, the held messages join the conversation; a name taken is 409 and changes nothing', async () => {
    const carol = (await h.call({ url: '/v1/requests' })).json().requests[0].address as string;
    await h.node.addContact('dave', randomAddress());
    const before = state();
    const taken = await h.call({
      method: 'POST',
      url: `/v1/requests/${carol}/accept`,
      payload: { name: 'dave' },
    });
    assert.equal(taken.statusCode, 409);
    assert.equal(errorOf(taken).code, 'CONTACT_NAME_TAKEN');
    assert.equal(state(), before);
    const events: unknown[] = [];
    h.node.on('message', (m) => events.push(m.text));
    const accepted = await h.call({ method: 'POST', url: `/v1/requests/${carol}/accept`, payload: { name: 'carol' } });
    assert.equal(accepted.statusCode, 200, accepted.body);
    assert.equal(accepted.json().name, 'carol');
    assert.deepEqual(events, ['hi, we met at the conference', 'it is carol']);
    assert.deepEqual((await h.call({ url: '/v1/requests' })).json(), { requests: [] });
    const page = (await h.call({ url: '/v1/conversations/carol' })).json();
    assert.equal(page.messages.length, 2);
  });

  it('unknown request 404 UNKNOWN_REQUEST, malformed address 400 INVALID_ADDRESS, bad name 400: nothing changes', async () => {
    const pending = randomAddress();
    h.node.hold(pending, 'still here');
    const before = state();
    const nobody = randomAddress();
    const cases: Array<[string, string, Record<string, unknown> | undefined, number, string]> = [
      ['GET', `/v1/requests/${nobody}`, undefined, 404, 'UNKNOWN_REQUEST'],
      ['POST', `/v1/requests/${nobody}/accept`, { name: 'x' }, 404, 'UNKNOWN_REQUEST'],
      ['POST', `/v1/requests/${nobody}/reject`, undefined, 404, 'UNKNOWN_REQUEST'],
      ['POST', `/v1/requests/${nobody}/block`, undefined, 404, 'UNKNOWN_REQUEST'],
      ['GET', `/v1/requests/${pending}x`, undefined, 400, 'INVALID_ADDRESS'],
      ['POST', `/v1/requests/${badChecksum(pending)}/reject`, undefined, 400, 'INVALID_ADDRESS'],
      ['POST', `/v1/requests/not-an-address/block`, undefined, 400, 'INVALID_ADDRESS'],
      ['POST', `/v1/requests/${pending}/accept`, { name: '' }, 400, 'INVALID_REQUEST'],
      ['POST', `/v1/requests/${pending}/accept`, { name: 'sotto1abc' }, 400, 'INVALID_REQUEST'],
      ['POST', `/v1/requests/${pending}/accept`, { name: 'ok', extra: 1 }, 400, 'INVALID_REQUEST'],
      ['POST', '/v1/blocked', { contact: 'nobody-by-that-name' }, 404, 'UNKNOWN_CONTACT'],
      ['POST', '/v1/blocked', { contact: `${nobody}x` }, 400, 'INVALID_ADDRESS'],
      ['POST', '/v1/blocked', {}, 400, 'INVALID_REQUEST'],
      ['DELETE', `/v1/blocked/${nobody}`, undefined, 404, 'NOT_BLOCKED'],
      ['DELETE', '/v1/blocked/nobody-by-that-name', undefined, 404, 'UNKNOWN_CONTACT'],
    ];
    for (const [method, url, payload, status, code] of cases) {
      const response = await h.call({ method: method as 'GET', url, ...(payload === undefined ? {} : { payload }) });
      assert.equal(response.statusCode, status, `${method} ${url}: ${response.body}`);
      assert.equal(errorOf(response).code, code, `${method} ${url}`);
    }
    assert.equal(state(), before, 'nothing stored changed');
  });

  it('reject: 204 and the request is gone; block from a request: 200, listed under /v1/blocked', async () => {
    const [pending] = (await h.call({ url: '/v1/requests' })).json().requests as Array<{ address: string }>;
    const other = randomAddress();
    h.node.hold(other, 'spam');
    const rejected = await h.call({ method: 'POST', url: `/v1/requests/${pending!.address}/reject` });
    assert.equal(rejected.statusCode, 204);
    const blocked = await h.call({ method: 'POST', url: `/v1/requests/${other}/block` });
    assert.equal(blocked.statusCode, 200, blocked.body);
    assert.equal(blocked.json().address, other);
    assert.deepEqual((await h.call({ url: '/v1/requests' })).json(), { requests: [] });
    const list = (await h.call({ url: '/v1/blocked' })).json();
    assert.deepEqual(
      list.blocked.map((b: { address: string }) => b.address),
      [other],
    );
  });

  it('block a contact by name (201, then 200), sending to it is 409 IDENTITY_BLOCKED, unblock 204 then 404', async () => {
    const first = await h.call({ method: 'POST', url: '/v1/blocked', payload: { contact: 'dave' } });
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(first.json().name, 'dave');
    const again = await h.call({ method: 'POST', url: '/v1/blocked', payload: { contact: 'dave' } });
    assert.equal(again.statusCode, 200);
    const sent = await h.call({ method: 'POST', url: '/v1/messages', payload: { to: 'dave', text: 'hi' } });
    assert.equal(sent.statusCode, 409);
    assert.equal(errorOf(sent).code, 'IDENTITY_BLOCKED');
    const unblocked = await h.call({ method: 'DELETE', url: '/v1/blocked/dave' });
    assert.equal(unblocked.statusCode, 204);
    const twice = await h.call({ method: 'DELETE', url: '/v1/blocked/dave' });
    assert.equal(twice.statusCode, 404);
    assert.equal(errorOf(twice).code, 'NOT_BLOCKED');
  });
});

describe('API metrics', () => {
  const series = (text: string, name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(name));
    assert.ok(line, `${name} missing`);
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  it('GET /metrics serves the sotto_* series, which move with the node events', async () => {
    const h = await harness();
    let response = await h.call({ url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    let text = response.body;
    for (const name of [
      'sotto_messages_sent_total{state="delivered"} 0',
      'sotto_messages_failed_total{state="queued"} 0',
      'sotto_messages_received_total 0',
      'sotto_outbox_depth 2',
      'sotto_peers 3',
      'sotto_dht_routing_table_size 7',
      'sotto_one_time_prekeys{state="available"} 18',
      'sotto_handshakes_total{role="initiator"} 0',
      'sotto_dht_lookups_total{result="ok",cached="false"} 0',
      'sotto_dht_lookup_duration_seconds_count{cached="false"} 0',
    ]) {
      assert.ok(text.includes(name), `${name} in\n${text}`);
    }

    h.node.emit('message', { id: messageId(), from: randomAddress(), text: 'x', timestamp: 1 });
    h.node.emit('message', { id: messageId(), from: randomAddress(), text: 'y', timestamp: 2 });
    h.node.emit('delivery', { id: messageId(), to: randomAddress(), state: 'delivered' });
    h.node.emit('delivery', { id: messageId(), to: randomAddress(), state: 'queued' });
    h.node.emit('handshake', { role: 'responder' });
    h.node.emit('lookup', { ok: true, cached: false, durationMs: 250 });
    h.node.emit('lookup', { ok: false, cached: false, durationMs: 20_000 });
    h.node.statusValue = { ...h.node.statusValue, outbox: 9, peers: 4, routingTable: 12 };

    response = await h.call({ url: '/metrics' });
    text = response.body;
    assert.equal(series(text, 'sotto_messages_received_total'), 2);
    assert.equal(series(text, 'sotto_messages_sent_total{state="delivered"}'), 1);
    assert.equal(series(text, 'sotto_messages_failed_total{state="queued"}'), 1);
    assert.equal(series(text, 'sotto_handshakes_total{role="responder"}'), 1);
    assert.equal(series(text, 'sotto_handshakes_total{role="initiator"}'), 0);
    assert.equal(series(text, 'sotto_dht_lookups_total{result="ok",cached="false"}'), 1);
    assert.equal(series(text, 'sotto_dht_lookups_total{result="error",cached="false"}'), 1);
    assert.equal(series(text, 'sotto_dht_lookup_duration_seconds_count{cached="false"}'), 2);
    assert.equal(series(text, 'sotto_dht_lookup_duration_seconds_sum{cached="false"}'), 20.25);
    assert.equal(series(text, 'sotto_dht_lookup_duration_seconds_bucket{le="0.25",cached="false"}'), 1);
    assert.equal(series(text, 'sotto_outbox_depth'), 9);
    assert.equal(series(text, 'sotto_peers'), 4);
    assert.equal(series(text, 'sotto_dht_routing_table_size'), 12);
    await h.app.close();
    assert.equal(h.node.listenerCount('message'), 0, 'the server removed its metrics listeners on close');
  });

  it('serves a registry it is given (where libp2p metrics go) and leaves it to its owner', async () => {
    const node = new FakeNode();
    const registry = new Registry();
    const metrics = createNodeMetrics(node, registry);
    new Counter({ name: 'libp2p_dialer_total', help: 'stands in for libp2p metrics', registers: [registry] }).inc(3);
    const h = await harness({ node, metrics });
    const response = await h.call({ url: '/metrics' });
    assert.ok(response.body.includes('libp2p_dialer_total 3'));
    assert.ok(response.body.includes('sotto_outbox_depth 2'));
    await h.app.close();
    assert.equal(node.listenerCount('message'), 1, 'the owner disposes its metrics');
    metrics.dispose();
    assert.equal(node.listenerCount('message'), 0);
  });
});

describe('API OpenAPI document', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(() => h.app.close());

  it('the served document equals the committed docs/openapi.json (node --import tsx scripts/openapi.ts)', async () => {
    const response = await h.call({ url: '/v1/openapi.json' });
    assert.equal(response.statusCode, 200);
    const committed = readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
    assert.deepEqual(response.json(), JSON.parse(committed));
    assert.equal(formatOpenApi(response.json()), formatOpenApi(JSON.parse(committed)));
  });

  it('documents every route with the bearer security requirement', async () => {
    const doc = (await h.call({ url: '/v1/openapi.json' })).json();
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.version, API_VERSION);
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
      type: 'http',
      scheme: 'bearer',
      description: doc.components.securitySchemes.bearerAuth.description,
    });
    const documented = new Set<string>();
    for (const route of apiRoutes(h.app)) {
      const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      assert.ok(operation, `${route.method} ${route.url} is documented`);
      assert.ok(
        operation.security.some((r: Record<string, unknown>) => Array.isArray(r.bearerAuth)),
        `${route.method} ${route.url} requires the bearer token`,
      );
      assert.ok(operation.responses['401'], `${route.method} ${route.url} documents 401`);
      documented.add(`${route.method.toLowerCase()} ${path}`);
    }
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops as object).map((m) => `${m} ${path}`),
    );
    assert.deepEqual(operations.sort(), [...documented].sort(), 'no undocumented or phantom operations');
    assert.ok(doc.components.schemas.StreamEvent, 'the event stream payloads are documented');
  });
});
