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
});
