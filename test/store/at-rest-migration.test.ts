/**
 * Data dirs from before encryption at rest (test/store/legacy-v1: written by the code of commit
 * 3b0fcbd, values in plain codec bytes) are encrypted on their first open: nothing is lost, no
 * plaintext stays in the database files, and an interrupted encryption is finished on the next
 * open. Also: a "plain" store that is not one is refused, not sealed twice.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Level } from 'level';
import { nodeProvider } from '../../src/crypto/index.js';
import { encodeAddress } from '../../src/identity/address.js';
import {
  BadPassphraseError,
  CONCERNS,
  changeStorePassphrase,
  openEncryptedStore,
  openStore,
  readKeyFile,
  SCHEMA_VERSION,
  SEALED_FORMAT,
  StoreCorruptError,
} from '../../src/store/index.js';
import { wrappedKeyFile, writeKeyFile } from '../../src/store/key-file.js';
import {
  contains,
  FAST_KDF,
  fileBytes,
  LEGACY_ADDRESSES,
  legacyDataDir,
  rawDbEntries,
  snapshotFiles,
} from './helpers-at-rest.js';

let root: string;
let count = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sotto-migrate-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function legacyStore(who: 'alice' | 'bob'): Promise<{ path: string; entries: number }> {
  const dataDir = join(root, `${who}-${count++}`);
  const entries = await legacyDataDir(who, dataDir);
  return { path: join(dataDir, 'store'), entries };
}

async function contents(path: string, passphrase?: string) {
  const { store } = await openEncryptedStore({ path, passphrase });
  try {
    const contacts = await store.contacts.list();
    const identity = (await store.identity.get())!;
    const remote = contacts[0]!.identityKey;
    return {
      address: encodeAddress(identity.signingKey),
      contacts: contacts.map((c) => c.name),
      messages: (await store.messages.list(remote)).map((m) => m.body),
      session: (await store.sessions.get(remote)) !== undefined,
      schema: store.schemaVersion,
      signed: (await store.prekeys.current('signed')) !== undefined,
    };
  } finally {
    await store.close();
  }
}

describe('encrypting a store from before encryption at rest', () => {
  it('the fixture is what it says: a plain store the current plain reader opens', async () => {
    const { path } = await legacyStore('alice');
    const store = await openStore({ path });
    assert.equal((await store.contacts.list())[0]?.name, 'Bob Legacy-Contact');
    await store.close();
    const values = Buffer.concat((await rawDbEntries(path)).map(([, v]) => v));
    assert.equal(contains(values, 'legacy plaintext message one'), true);
  });

  for (const passphrase of ['migrate me', undefined]) {
    it(`first open ${passphrase ? 'with' : 'without'} a passphrase: every value sealed, nothing lost, no plaintext left in the files`, async () => {
      const { path, entries } = await legacyStore('alice');
      const opened = await openEncryptedStore({ path, passphrase, kdf: FAST_KDF });
      assert.equal(opened.migrated, true);
      assert.equal(opened.created, false);
      assert.equal(opened.migratedValues, entries);
      assert.equal(opened.protection, passphrase ? 'passphrase' : 'none');
      await opened.store.close();

      assert.deepEqual(await contents(path, passphrase), {
        address: LEGACY_ADDRESSES.alice,
        contacts: ['Bob Legacy-Contact'],
        messages: ['legacy reply two', 'legacy plaintext message one'],
        session: true,
        schema: SCHEMA_VERSION,
        signed: true,
      });
      const raw = await rawDbEntries(path);
      for (const [key, value] of raw) {
        if (key === '!meta!at-rest') continue;
        assert.equal(value[0], SEALED_FORMAT, `${key} is sealed`);
      }
      const concerns = new Set(raw.map(([k]) => k.split('!')[1]));
      assert.ok([...concerns].every((c) => (CONCERNS as readonly string[]).includes(c as string)));
      // the compaction after the encryption dropped the plain values from LevelDB's files
      const files = await fileBytes(path);
      for (const secret of ['legacy plaintext message one', 'legacy reply two', 'Bob Legacy-Contact']) {
        assert.equal(contains(files, secret), false, secret);
      }
      // a second open finds nothing to do
      const again = await openEncryptedStore({ path, passphrase });
      assert.equal(again.migrated, false);
      await again.store.close();
    });
  }

  it('`passphrase set` on a legacy store encrypts it with the new passphrase', async () => {
    const { path } = await legacyStore('bob');
    await changeStorePassphrase({ path, action: 'set', newPassphrase: 'bob pw', kdf: FAST_KDF });
    assert.equal((await readKeyFile(path))?.protection, 'passphrase');
    const got = await contents(path, 'bob pw');
    assert.equal(got.address, LEGACY_ADDRESSES.bob);
    assert.deepEqual(got.contacts, ['Alice Legacy-Contact']);
    assert.deepEqual(got.messages, ['legacy reply two', 'legacy plaintext message one']);
  });

  it('an interrupted encryption (key file written, values still plain) is finished with that key; a wrong passphrase changes nothing', async () => {
    const { path, entries } = await legacyStore('alice');
    const dataKey = nodeProvider.randomBytes(32);
    await writeKeyFile(path, await wrappedKeyFile(nodeProvider, dataKey, 'crash pw', FAST_KDF));
    const before = await snapshotFiles(join(path, '..'));
    await assert.rejects(openEncryptedStore({ path, passphrase: 'other' }), BadPassphraseError);
    assert.deepEqual(await snapshotFiles(join(path, '..')), before);
    const opened = await openEncryptedStore({ path, passphrase: 'crash pw' });
    assert.equal(opened.migrated, true);
    assert.equal(opened.migratedValues, entries);
    await opened.store.close();
    assert.deepEqual((await contents(path, 'crash pw')).contacts, ['Bob Legacy-Contact']);
  });

  it('a store with data, no key file and sealed-looking values is refused, not sealed twice', async () => {
    const { path } = await legacyStore('alice');
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    await db.put('!contacts!00', Uint8Array.of(SEALED_FORMAT, 1, 2, 3));
    await db.close();
    await assert.rejects(
      openEncryptedStore({ path, passphrase: 'pw', kdf: FAST_KDF }),
      (err: unknown) => err instanceof StoreCorruptError && err.concern === 'contacts' && err.key === '00',
    );
    assert.equal(await readKeyFile(path), undefined, 'no key file was written');
    const store = await openStore({ path }); // still the plain store it was
    assert.equal((await store.contacts.get('00'.repeat(32))) === undefined, true);
    await store.close();
  });
});
