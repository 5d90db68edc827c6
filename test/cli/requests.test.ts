/**
 * `sotto requests`, `sotto block`, `sotto unblock`, `sotto blocked` against a real API server over an
 * in-memory node (test/api/fake-node.ts): output, --json, and the documented exit codes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApiServer } from '../../src/api/server.js';
import { DAEMON_INFO_FILE } from '../../src/cli/client.js';
import { eventLines } from '../../src/cli/commands/watch.js';
import { EXIT } from '../../src/cli/errors.js';
import { FakeNode, randomAddress } from '../api/fake-node.js';
import { runInProcess } from './helpers.js';

describe('sotto requests / block / unblock / blocked (in-memory node)', () => {
  const node = new FakeNode();
  let dir: string;
  let app: Awaited<ReturnType<typeof createApiServer>>;
  const run = (...args: string[]) => runInProcess([...args, '--data-dir', dir]);
  const stranger = randomAddress();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sotto-cli-requests-'));
    const token = randomBytes(32).toString('base64url');
    app = await createApiServer({ node, token, startedAt: Date.now(), ready: () => ({ ready: true }) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    await writeFile(join(dir, 'api-token'), `${token}\n`, { mode: 0o600 });
    await writeFile(join(dir, DAEMON_INFO_FILE), JSON.stringify({ api: `http://127.0.0.1:${port}` }));
  });

  after(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('requests (list) with none, then one; show prints the messages with the commands to decide', async () => {
    let r = await run('requests');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'no contact requests\n');
    node.hold(stranger, 'hi, it is carol');
    node.hold(stranger, 'line one\nline two \u001b[31m');
    r = await run('requests', '--json');
    assert.equal(r.code, 0, r.stderr);
    const { requests } = JSON.parse(r.stdout) as { requests: { address: string; held: number }[] };
    assert.deepEqual(
      requests.map((q) => [q.address, q.held]),
      [[stranger, 2]],
    );
    r = await run('requests', 'list');
    assert.match(r.stdout, /^ADDRESS +MESSAGES +FIRST +LATEST\n/);
    assert.ok(r.stdout.includes(stranger));
    r = await run('requests', 'show', stranger);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^contact request from sotto1\S+ \(2 messages\)\n/);
    assert.match(r.stdout, /← hi, it is carol\n/);
    assert.ok(r.stdout.includes('line two \\u{1b}[31m'), 'escape sequences are shown, not run');
    assert.match(r.stdout, /sotto requests accept sotto1\S+ <name>/);
  });

  it('exit codes: 4 for no such request, 2 for a malformed address or name, 5 for a name taken', async () => {
    const nobody = randomAddress();
    let r = await run('requests', 'accept', nobody, 'dora');
    assert.equal(r.code, EXIT.NOT_FOUND);
    assert.equal(r.stderr, 'sotto: no pending contact request from this address (see sotto requests)\n');
    r = await run('requests', 'reject', `${stranger}x`);
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.stderr, /^sotto: invalid address: /);
    r = await run('requests', 'accept', stranger, 'sotto1x');
    assert.equal(r.code, EXIT.USAGE);
    await node.addContact('dave', randomAddress());
    r = await run('requests', 'accept', stranger, 'dave');
    assert.equal(r.code, EXIT.CONFLICT);
    assert.equal((await node.requests()).length, 1, 'the request is still pending');
  });

  it('accept makes a contact and moves the messages; reject and block; the block list; send to a blocked contact exits 5', async () => {
    let r = await run('requests', 'accept', stranger, 'carol');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^accepted: carol \(sotto1\S+\) is a contact/);
    assert.deepEqual(await node.requests(), []);
    assert.equal(node.messages.filter((m) => m.direction === 'in').length, 2);

    const spammer = randomAddress();
    node.hold(spammer, 'buy now');
    r = await run('requests', 'reject', spammer, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { rejected: spammer });
    node.hold(spammer, 'buy now!!');
    r = await run('requests', 'block', spammer);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^blocked sotto1\S+: the request is deleted/);

    r = await run('block', 'carol', '--json');
    assert.equal(r.code, 0, r.stderr);
    const blocked = JSON.parse(r.stdout) as { name: string; created: boolean };
    assert.deepEqual([blocked.name, blocked.created], ['carol', true]);
    r = await run('block', 'carol');
    assert.equal(r.stdout, `carol (${stranger}) was already blocked\n`);
    r = await run('send', 'carol', 'hi');
    assert.equal(r.code, EXIT.CONFLICT);
    assert.match(r.stderr, /blocked.*\(unblock it first: sotto unblock <contact>\)\n$/);
    r = await run('blocked');
    assert.match(r.stdout, /^NAME +ADDRESS +BLOCKED\n/);
    assert.ok(r.stdout.includes(spammer) && r.stdout.includes('carol'));
    r = await run('unblock', 'carol');
    assert.equal(r.code, 0, r.stderr);
    r = await run('unblock', 'carol');
    assert.equal(r.code, EXIT.NOT_FOUND);
    r = await run('block', 'nobody-by-that-name');
    assert.equal(r.code, EXIT.NOT_FOUND);
  });

  it('watch shows a request event as a line with how to accept it', async () => {
    const lines = await eventLines(
      { type: 'request', id: 'a'.repeat(32), from: stranger, text: 'hello', timestamp: 0, held: 1, first: true },
      async (a) => a,
    );
    assert.match(lines[0]!, /\? request from sotto1\S+: hello$/);
    assert.match(lines[1]!, /sotto requests accept sotto1\S+ <name>/);
  });
});
