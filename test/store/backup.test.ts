/**
 * Encrypted backups of an identity with its contacts: round trip (same identity, prekeys and
 * contacts; no sessions, history or one-time prekeys), wrong passphrase and damaged files (typed
 * errors, nothing written), import only into an empty data dir.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toHex } from '../../src/crypto/index.js';
import {
  BACKUP_MAGIC,
  BackupInvalidError,
  BadPassphraseError,
  exportBackup,
  ImportTargetNotEmptyError,
  importBackup,
  openBackup,
  openEncryptedStore,
  readKeyFile,
  sealBackup,
} from '../../src/store/index.js';
import { ALICE, BOB, CAROL, contact, keyFixtures, message } from './fixtures.js';
import { contains, FAST_KDF, snapshotFiles } from './helpers-at-rest.js';

let root: string;
let count = 0;
const nextDataDir = async (): Promise<string> => {
  const dir = join(root, `n-${count++}`);
  await mkdir(dir);
  return dir;
};

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sotto-backup-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const ROTATION = { currentId: 1, highestId: 1, prekeys: [{ id: 1, createdAt: 1_700_000_000_000 }] };
const KEM_ROTATION = { currentId: 2, highestId: 2, prekeys: [{ id: 2, createdAt: 1_700_000_000_000 }] };

/** A store with everything: identity, prekeys (+ rotation), one-time prekeys, contacts, a session, history. */
async function fullStore(path: string, passphrase?: string): Promise<void> {
  const { alice, signed, kem, oneTime } = keyFixtures();
  const { store } = await openEncryptedStore({ path, passphrase, kdf: FAST_KDF });
  const batch = store.batch();
  batch.identity.put(alice);
  batch.prekeys.put('signed', signed);
  batch.prekeys.put('kem', kem);
  batch.prekeys.setRotation('signed', ROTATION);
  batch.prekeys.setRotation('kem', KEM_ROTATION);
  for (const k of oneTime) batch.prekeys.put('one-time', k);
  batch.contacts.put(contact(BOB, { name: 'Bob Backup-Name', verified: true }));
  batch.contacts.put(contact(CAROL, { name: 'Carol', previousKeys: [ALICE], keyChangedAt: 1_700_000_000_001 }));
  batch.sessions.put(BOB, { snapshot: new TextEncoder().encode('SESSION'), baseKey: BOB });
  batch.messages.put(message(BOB, 1, 1_700_000_000_000, { body: 'history, not in the backup' }));
  await batch.commit();
  await store.close();
}

async function exportFrom(path: string, passphrase: string | undefined, backupPassphrase: string): Promise<Uint8Array> {
  const { store } = await openEncryptedStore({ path, passphrase });
  try {
    return await exportBackup(store, backupPassphrase, { kdf: FAST_KDF, now: 1_700_000_100_000 });
  } finally {
    await store.close();
  }
}

describe('backup export / import', () => {
  it('round trip: same identity, prekeys and contacts; no sessions, history or one-time prekeys', async () => {
    const from = join(await nextDataDir(), 'store');
    await fullStore(from, 'store pw');
    const backup = await exportFrom(from, 'store pw', 'backup pw');
    assert.equal(new TextDecoder().decode(backup.subarray(0, 8)), BACKUP_MAGIC);
    const { alice } = keyFixtures();
    for (const secret of [alice.signingSeed, alice.dhPrivateKey, 'Bob Backup-Name']) {
      assert.equal(contains(backup, secret), false, 'the backup is encrypted');
    }

    const to = join(await nextDataDir(), 'store');
    const imported = await importBackup({
      path: to,
      backup,
      backupPassphrase: 'backup pw',
      passphrase: 'new store pw',
      kdf: FAST_KDF,
    });
    assert.equal(imported.protection, 'passphrase');
    assert.equal(imported.contents.createdAt, 1_700_000_100_000);
    const { store } = await openEncryptedStore({ path: to, passphrase: 'new store pw' });
    try {
      const identity = await store.identity.get();
      assert.equal(toHex(identity!.signingKey), toHex(alice.signingKey));
      assert.equal(toHex(identity!.signingSeed), toHex(alice.signingSeed));
      assert.deepEqual((await store.contacts.list()).map((c) => [c.name, c.verified, c.previousKeys]).sort(), [
        ['Bob Backup-Name', true, []],
        ['Carol', false, [ALICE]],
      ]);
      const { signed, kem } = keyFixtures();
      assert.deepEqual(await store.prekeys.current('signed'), signed);
      assert.deepEqual(await store.prekeys.current('kem'), kem);
      assert.deepEqual(await store.prekeys.rotation('signed'), ROTATION);
      assert.deepEqual(await store.sessions.list(), []);
      assert.deepEqual(await store.messages.list(BOB), []);
      assert.equal(await store.prekeys.count('one-time'), 0);
      // the one-time keys are not carried, their id counter is: highest stored id (102) + 1
      assert.equal(imported.contents.nextOneTimeId, 103);
      assert.equal(await store.prekeys.nextOneTimeId(), 103);
    } finally {
      await store.close();
    }
    assert.deepEqual(
      (await readdir(join(to, '..'))).filter((n) => n.includes('.import-')),
      [],
      'no staging directory left',
    );
  });

  it('import without a store passphrase keeps the new data key unwrapped', async () => {
    const from = join(await nextDataDir(), 'store');
    await fullStore(from);
    const backup = await exportFrom(from, undefined, 'b');
    const to = join(await nextDataDir(), 'store');
    const imported = await importBackup({ path: to, backup, backupPassphrase: 'b' });
    assert.equal(imported.protection, 'none');
    assert.equal((await readKeyFile(to))?.protection, 'none');
  });

  it('a wrong backup passphrase is a typed error and nothing is written', async () => {
    const from = join(await nextDataDir(), 'store');
    await fullStore(from);
    const backup = await exportFrom(from, undefined, 'right');
    const dataDir = await nextDataDir();
    const to = join(dataDir, 'store');
    await assert.rejects(
      importBackup({ path: to, backup, backupPassphrase: 'wrong', kdf: FAST_KDF }),
      (err: unknown) => err instanceof BadPassphraseError && err.subject === 'backup',
    );
    assert.deepEqual(await readdir(dataDir), [], 'nothing written');
  });

  it('damaged or foreign files: typed errors before anything is written', async () => {
    const from = join(await nextDataDir(), 'store');
    await fullStore(from);
    const backup = await exportFrom(from, undefined, 'pw');
    const header = backup.slice();
    header[12] = (header[12] as number) ^ 1; // memoryKiB, in the authenticated header
    const body = backup.slice();
    body[body.length - 1] = (body[body.length - 1] as number) ^ 1;
    await assert.rejects(openBackup(header, 'pw'), BadPassphraseError);
    await assert.rejects(openBackup(body, 'pw'), BadPassphraseError);
    const version = backup.slice();
    version[8] = 2;
    await assert.rejects(
      openBackup(version, 'pw'),
      (e: unknown) => e instanceof BackupInvalidError && /version 2/.test(e.message),
    );
    await assert.rejects(openBackup(new TextEncoder().encode('{"not":"a backup"}'), 'pw'), BackupInvalidError);
    await assert.rejects(openBackup(backup.subarray(0, 40), 'pw'), BackupInvalidError);
    const huge = backup.slice();
    new DataView(huge.buffer).setUint32(10, 64 * 1024 * 1024); // memoryKiB beyond KDF_LIMITS
    await assert.rejects(openBackup(huge, 'pw'), BackupInvalidError);
    assert.equal((await openBackup(backup, 'pw')).contacts.length, 2);
  });

  it('import into a data dir that has a store is refused, and that store is untouched', async () => {
    const from = join(await nextDataDir(), 'store');
    await fullStore(from);
    const backup = await exportFrom(from, undefined, 'pw');

    const withData = join(await nextDataDir(), 'store');
    await fullStore(withData, 'theirs');
    const before = await snapshotFiles(join(withData, '..'));
    await assert.rejects(
      importBackup({ path: withData, backup, backupPassphrase: 'pw', kdf: FAST_KDF }),
      ImportTargetNotEmptyError,
    );
    assert.deepEqual(await snapshotFiles(join(withData, '..')), before);

    // an empty store that has a key file is a store too (its key may be protected)
    const empty = join(await nextDataDir(), 'store');
    await (await openEncryptedStore({ path: empty })).store.close();
    await assert.rejects(importBackup({ path: empty, backup, backupPassphrase: 'pw' }), ImportTargetNotEmptyError);

    // a LevelDB directory without data or key file is empty: replaced
    const bare = join(await nextDataDir(), 'store');
    const { Level } = await import('level');
    const db = new Level(bare);
    await db.open();
    await db.close();
    await importBackup({ path: bare, backup, backupPassphrase: 'pw' });
    assert.equal(existsSync(join(bare, 'keys.json')), true);
  });

  it('the one-time prekey id counter: kept when ahead of the keys, absent from older backups', async () => {
    const from = join(await nextDataDir(), 'store');
    await fullStore(from);
    {
      const { store } = await openEncryptedStore({ path: from });
      const batch = store.batch();
      batch.prekeys.setNextOneTimeId(5000); // keys up to 4999 were handed out (e.g. uploaded to mailboxes)
      await batch.commit();
      await store.close();
    }
    const backup = await exportFrom(from, undefined, 'pw');
    const contents = await openBackup(backup, 'pw');
    assert.equal(contents.nextOneTimeId, 5000);
    const to = join(await nextDataDir(), 'store');
    await importBackup({ path: to, backup, backupPassphrase: 'pw' });
    const { store } = await openEncryptedStore({ path: to });
    try {
      assert.equal(await store.prekeys.nextOneTimeId(), 5000);
    } finally {
      await store.close();
    }
    // a backup written before the counter existed has no entry 6: it imports, with no counter
    const { nextOneTimeId: _dropped, ...older } = contents;
    const old = await sealBackup(older, 'pw', { kdf: FAST_KDF });
    assert.equal((await openBackup(old, 'pw')).nextOneTimeId, undefined);
    const to2 = join(await nextDataDir(), 'store');
    await importBackup({ path: to2, backup: old, backupPassphrase: 'pw' });
    const reopened = await openEncryptedStore({ path: to2 });
    try {
      assert.equal(await reopened.store.prekeys.nextOneTimeId(), undefined);
      assert.ok(await reopened.store.identity.get(), 'the identity is there');
    } finally {
      await reopened.store.close();
    }
  });

  it('exporting a store without an identity is refused', async () => {
    const path = join(await nextDataDir(), 'store');
    const { store } = await openEncryptedStore({ path });
    try {
      await assert.rejects(exportBackup(store, 'pw', { kdf: FAST_KDF }), /no identity/);
    } finally {
      await store.close();
    }
  });
});
