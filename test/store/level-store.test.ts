/**
 * The store contract against LevelDB (each test in its own directory under os.tmpdir()), plus what
 * only a real database has: the lock, and the sublevel prefixes on disk.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Level } from 'level';
import { LevelBackend, openStore, SCHEMA_VERSION, StoreOpenError } from '../../src/store/index.js';
import { storeContract } from './contract.js';
import { ALICE, contact } from './fixtures.js';

let root: string;
let count = 0;
const nextDir = (): string => join(root, `db-${count++}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sotto-store-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

storeContract('leveldb', async () => {
  const path = nextDir();
  const withBackend = async <T>(fn: (b: LevelBackend) => Promise<T>): Promise<T> => {
    const b = await LevelBackend.open(path);
    try {
      return await fn(b);
    } finally {
      await b.close();
    }
  };
  return {
    open: (options) => openStore({ ...options, path }),
    rawPut: (concern, key, value) => withBackend((b) => b.batch([{ type: 'put', concern, key, value }])),
    rawEntries: (concern) => withBackend((b) => b.entries(concern)),
  };
});

describe('LevelDB specifics', () => {
  it('a second open of a held directory is a StoreOpenError; closing releases it', async () => {
    const path = nextDir();
    const first = await openStore({ path });
    await assert.rejects(
      openStore({ path }),
      (err: unknown) => err instanceof StoreOpenError && err.code === 'STORE_OPEN_FAILED',
    );
    await first.close();
    const second = await openStore({ path });
    assert.equal(second.schemaVersion, SCHEMA_VERSION);
    await second.close();
  });

  it('each concern is its own sublevel on disk (!name!key)', async () => {
    const path = nextDir();
    const store = await openStore({ path });
    await store.contacts.put(contact(ALICE));
    await store.close();
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const keys = await db.keys().all();
    await db.close();
    assert.deepEqual(keys.sort(), [`!contacts!${ALICE}`, '!meta!schema']);
  });

  it('a batch writes the same root keys as sublevel operations, and each side reads the other', async () => {
    const path = nextDir();
    const value = (n: number) => Uint8Array.of(n, n + 1, n + 2);
    // written through the backend's batch (root keys in `!concern!` form)
    const backend = await LevelBackend.open(path);
    await backend.batch([
      { type: 'put', concern: 'sessions', key: 'a', value: value(1) },
      { type: 'put', concern: 'messages', key: 'b', value: value(2) },
      { type: 'put', concern: 'outbox', key: 'c', value: value(3) },
    ]);
    await backend.batch([{ type: 'del', concern: 'outbox', key: 'c' }], { sync: true });
    await backend.close();
    // written through abstract-level's sublevels, as before this batch path existed
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const sub = db.sublevel<string, Uint8Array>('contacts', { keyEncoding: 'utf8', valueEncoding: 'view' });
    await sub.put('d', value(4));
    const viaSub = await db.sublevel<string, Uint8Array>('sessions', { valueEncoding: 'view' }).get('a');
    assert.deepEqual(viaSub === undefined ? undefined : Uint8Array.from(viaSub), value(1));
    const keys = await db.keys().all();
    await db.close();
    assert.deepEqual(keys.sort(), ['!contacts!d', '!messages!b', '!sessions!a']);
    const reopened = await LevelBackend.open(path);
    assert.deepEqual(await reopened.get('contacts', 'd'), value(4));
    assert.deepEqual(await reopened.get('messages', 'b'), value(2));
    assert.equal(await reopened.get('outbox', 'c'), undefined);
    assert.deepEqual(await reopened.entries('sessions'), [['a', value(1)]]);
    await reopened.close();
  });
});
