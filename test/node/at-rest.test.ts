/**
 * Encryption at rest, node level: two nodes with passphrases chat, restart with them and go on in
 * the same session; a wrong passphrase fails `start()` cleanly; without one the node warns once and
 * keeps its data dir private; data dirs from before encryption at rest (test/store/legacy-v1) are
 * encrypted on start and their sessions go on; data dirs sealed in format 1 (test/store/sealed-v1)
 * open and go on in format 2; a node restored from a backup has the same address
 * and contacts, and re-handshakes on its first message.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { createNode, type IncomingMessage, type SottoNode } from '../../src/index.js';
import {
  BadPassphraseError,
  exportBackup,
  importBackup,
  openEncryptedStore,
  PassphraseRequiredError,
  SEALED_FORMAT,
  SEALED_FORMAT_V1,
} from '../../src/store/index.js';
import { waitFor } from '../net/helpers.js';
import {
  contains,
  FAST_KDF,
  fileBytes,
  LEGACY_ADDRESSES,
  legacyDataDir,
  rawDbEntries,
  sealedV1DataDir,
  snapshotFiles,
} from '../store/helpers-at-rest.js';
import { tcpAddr } from './helpers.js';

const dirs: string[] = [];
const nodes: SottoNode[] = [];

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-at-rest-node-'));
  dirs.push(dir);
  return dir;
}

interface Captured {
  warn: string[];
  info: string[];
}

function capture(): { logger: Parameters<typeof createNode>[0]['logger']; lines: Captured } {
  const lines: Captured = { warn: [], info: [] };
  const all =
    (sink: string[]) =>
    (message: string, ...args: unknown[]) => {
      sink.push([message, ...args.map((a) => inspect(a))].join(' '));
    };
  return {
    lines,
    logger: { debug: all([]), info: all(lines.info), warn: all(lines.warn), error: all(lines.warn) },
  };
}

async function start(
  dir: string,
  passphrase: string | Uint8Array | undefined,
  bootstrap: string[] = [],
  logger?: Parameters<typeof createNode>[0]['logger'],
  clock?: () => number,
): Promise<SottoNode> {
  const node = createNode({
    dataDir: dir,
    net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap },
    ...(passphrase === undefined ? {} : { passphrase }),
    ...(logger === undefined ? {} : { logger }),
    ...(clock === undefined ? {} : { clock }),
  });
  await node.start();
  nodes.push(node);
  return node;
}

function nextMessage(node: SottoNode, timeoutMs = 20_000): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
    node.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
  });
}

function countHandshakes(node: SottoNode): { count: number } {
  const counter = { count: 0 };
  node.on('handshake', () => {
    counter.count++;
  });
  return counter;
}

async function stopAll(...list: SottoNode[]): Promise<void> {
  for (const n of list) await n.stop();
}

after(async () => {
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('nodes with encryption at rest', () => {
  it('two nodes with passphrases chat, restart with them, keep history and the session; a wrong passphrase fails cleanly', async () => {
    const dirA = await dataDir();
    const dirB = await dataDir();
    // a passphrase as bytes and one as a string: both forms work
    const pwA = new TextEncoder().encode('alice passphrase');
    const pwB = 'bob passphrase ✓';
    let a = await start(dirA, pwA);
    let b = await start(dirB, pwB, [tcpAddr(a)]);
    await a.publishRecord();
    await b.publishRecord();
    const addrA = a.address;
    const addrB = b.address;
    await a.addContact('Bob Secret-Contact', addrB);
    const dump = `${pwA[0]}, ${pwA[1]}, ${pwA[2]}, ${pwA[3]}`;
    assert.equal(inspect(a, { depth: 4, showHidden: true }).includes(dump), false, 'inspect shows no passphrase');
    assert.equal(inspect(b, { depth: 4, showHidden: true }).includes(pwB), false, 'inspect shows no passphrase');

    const got = nextMessage(b);
    assert.equal((await a.send(addrB, 'top secret body one')).state, 'delivered');
    assert.equal((await got).text, 'top secret body one');
    const back = nextMessage(a);
    assert.equal((await b.send(addrA, 'top secret body two')).state, 'delivered');
    assert.equal((await back).text, 'top secret body two');
    await stopAll(a, b);

    for (const dir of [dirA, dirB]) {
      const values = Buffer.concat((await rawDbEntries(join(dir, 'store'))).map(([, v]) => v));
      const files = await fileBytes(join(dir, 'store'));
      for (const secret of ['top secret body one', 'top secret body two', 'Bob Secret-Contact']) {
        assert.equal(contains(values, secret), false, `${secret} in a value of ${dir}`);
        assert.equal(contains(files, secret), false, `${secret} in a file of ${dir}`);
      }
    }

    // Wrong passphrase, no passphrase: typed errors, every file as it was.
    const before = await snapshotFiles(dirA);
    const wrong = createNode({ dataDir: dirA, net: { listen: ['/ip4/127.0.0.1/tcp/0'] }, passphrase: 'not it' });
    await assert.rejects(wrong.start(), BadPassphraseError);
    await assert.rejects(
      createNode({ dataDir: dirA, net: { listen: ['/ip4/127.0.0.1/tcp/0'] } }).start(),
      PassphraseRequiredError,
    );
    assert.deepEqual(await snapshotFiles(dirA), before);

    a = await start(dirA, pwA);
    b = await start(dirB, pwB, [tcpAddr(a)]);
    assert.equal(a.address, addrA);
    assert.equal(b.address, addrB);
    await a.publishRecord();
    await b.publishRecord();
    const handshakesA = countHandshakes(a);
    const handshakesB = countHandshakes(b);
    const again = nextMessage(b);
    assert.equal((await a.send(addrB, 'after restart')).state, 'delivered');
    assert.equal((await again).text, 'after restart');
    assert.equal(handshakesA.count + handshakesB.count, 0, 'the stored session went on: no new handshake');
    assert.deepEqual(
      (await b.conversation(addrA)).map((m) => m.body),
      ['after restart', 'top secret body two', 'top secret body one'],
    );
    assert.equal((await a.contacts()).find((c) => c.address === addrB)?.name, 'Bob Secret-Contact');
    await stopAll(a, b);
  });

  it('without a passphrase: one warning per start, the data dir 0700 and its files 0600', async () => {
    const dir = await dataDir();
    const { logger, lines } = capture();
    const node = await start(dir, undefined, [], logger);
    await node.stop();
    assert.equal(lines.warn.filter((l) => /no passphrase/.test(l)).length, 1, lines.warn.join('\n'));
    assert.equal(((await stat(dir)).mode & 0o777).toString(8), '700');
    assert.equal(((await stat(join(dir, 'store'))).mode & 0o777).toString(8), '700');
    for (const name of ['peer-key', ...(await readdir(join(dir, 'store'))).map((n) => join('store', n))]) {
      const st = await stat(join(dir, name));
      if (st.isFile()) assert.equal((st.mode & 0o777).toString(8), '600', name);
    }
    // the warning never carries key material: no base64 of the key file's key
    const keyFile = JSON.parse(
      await (await import('node:fs/promises')).readFile(join(dir, 'store', 'keys.json'), 'utf8'),
    ) as { key: string };
    assert.equal(lines.warn.join('\n').includes(keyFile.key), false);
  });

  it('data dirs from before encryption at rest are encrypted on start; the old session goes on', async () => {
    const dirA = await dataDir();
    const dirB = await dataDir();
    await legacyDataDir('alice', dirA);
    await legacyDataDir('bob', dirB);
    const { logger, lines } = capture();
    const a = await start(dirA, 'alice now has one', [], logger);
    const b = await start(dirB, undefined, [tcpAddr(a)]);
    assert.equal(a.address, LEGACY_ADDRESSES.alice);
    assert.equal(b.address, LEGACY_ADDRESSES.bob);
    assert.ok(
      lines.info.some((l) => /encrypted the store at rest/.test(l)),
      lines.info.join('\n'),
    );
    assert.deepEqual(
      (await a.conversation(b.address)).map((m) => m.body),
      ['legacy reply two', 'legacy plaintext message one'],
    );
    await a.publishRecord();
    await b.publishRecord();
    const handshakes = countHandshakes(a);
    const handshakesB = countHandshakes(b);
    const got = nextMessage(b);
    assert.equal((await a.send(b.address, 'first message after the upgrade')).state, 'delivered');
    assert.equal((await got).text, 'first message after the upgrade');
    assert.equal(handshakes.count + handshakesB.count, 0, 'the legacy session was decrypted and continued');
    await stopAll(a, b);
    const values = Buffer.concat((await rawDbEntries(join(dirA, 'store'))).map(([, v]) => v));
    assert.equal(contains(values, 'legacy plaintext message one'), false);
  });

  it('data dirs sealed in format 1 open; history intact, the sessions go on, new writes are format 2', async () => {
    const dirA = await dataDir();
    const dirB = await dataDir();
    const alice = await sealedV1DataDir('alice', dirA);
    const bob = await sealedV1DataDir('bob', dirB);
    const firstBytes = async (dir: string) =>
      new Set((await rawDbEntries(join(dir, 'store'))).filter(([k]) => k !== '!meta!at-rest').map(([, v]) => v[0]));
    assert.deepEqual([...(await firstBytes(dirA))], [SEALED_FORMAT_V1], 'the fixture is all format 1');
    const a = await start(dirA, undefined);
    const b = await start(dirB, undefined, [tcpAddr(a)]);
    assert.equal(a.address, alice.address);
    assert.equal(b.address, bob.address);
    assert.deepEqual(
      (await a.conversation(b.address)).map((m) => m.body),
      ['sealed format one reply', 'sealed format one message'],
    );
    assert.equal((await b.contacts()).find((c) => c.address === a.address)?.name, 'Alice Sealed-Contact');
    await a.publishRecord();
    await b.publishRecord();
    const handshakes = countHandshakes(a);
    const handshakesB = countHandshakes(b);
    const got = nextMessage(b);
    assert.equal((await a.send(b.address, 'first message in format 2')).state, 'delivered');
    assert.equal((await got).text, 'first message in format 2');
    const back = nextMessage(a);
    assert.equal((await b.send(a.address, 'and a reply')).state, 'delivered');
    assert.equal((await back).text, 'and a reply');
    assert.equal(handshakes.count + handshakesB.count, 0, 'the format-1 sessions were read and continued');
    await stopAll(a, b);
    // both formats now live side by side: the untouched values stay format 1, everything written is format 2
    for (const dir of [dirA, dirB]) {
      const formats = await firstBytes(dir);
      assert.ok(formats.has(SEALED_FORMAT) && formats.has(SEALED_FORMAT_V1), `formats ${[...formats]}`);
      assert.equal(formats.size, 2);
    }
    const again = await start(dirA, undefined);
    assert.deepEqual(
      (await again.conversation(bob.address)).map((m) => m.body),
      ['and a reply', 'first message in format 2', 'sealed format one reply', 'sealed format one message'],
    );
    await again.stop();
  });

  it('a node restored from a backup has the same address and contacts, a new peer id, and re-handshakes', async () => {
    const dirA = await dataDir();
    const dirB = await dataDir();
    const a = await start(dirA, 'pw a');
    const b = await start(dirB, 'pw b', [tcpAddr(a)]);
    await a.publishRecord();
    await b.publishRecord();
    await a.addContact('bob', b.address);
    const got = nextMessage(b);
    assert.equal((await a.send(b.address, 'before the backup')).state, 'delivered');
    await got;
    const addrA = a.address;
    const peerA = a.peerId;
    await stopAll(a, b);

    const { store } = await openEncryptedStore({ path: join(dirA, 'store'), passphrase: 'pw a' });
    const backup = await exportBackup(store, 'backup pw', { kdf: FAST_KDF });
    await store.close();
    const dirR = await dataDir();
    await importBackup({ path: join(dirR, 'store'), backup, backupPassphrase: 'backup pw', passphrase: 'pw r' });

    // Bob's node still holds Alice's record from before, which names her old node (it is fresh
    // for DIRECTORY_CACHE_TTL_MS, 10 min): an envelope from her new node makes it look again
    // instead of refusing it as device-not-bound.
    const b2 = await start(dirB, 'pw b');
    const r = await start(dirR, 'pw r', [tcpAddr(b2)]);
    assert.equal(r.address, addrA);
    assert.notEqual(r.peerId, peerA);
    assert.deepEqual(
      (await r.contacts()).map((c) => [c.name, c.address]),
      [['bob', b.address]],
    );
    assert.deepEqual(await r.conversation(b.address), [], 'no history in a backup');
    await waitFor('a DHT peer for the restored node', () => r.dhtPeers > 0);
    await r.publishRecord();
    await b2.publishRecord();
    const responder = countHandshakes(b2);
    const toBob = nextMessage(b2);
    assert.equal((await r.send(b2.address, 'restored from a backup')).state, 'delivered');
    assert.equal((await toBob).text, 'restored from a backup');
    assert.equal(responder.count, 1, 'bob answered a new handshake');
    const toR = nextMessage(r);
    assert.equal((await b2.send(addrA, 'welcome back')).state, 'delivered');
    assert.equal((await toR).text, 'welcome back');
    await stopAll(r, b2);
  });
});
