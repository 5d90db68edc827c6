/**
 * Encryption at rest on LevelDB: the key file, passphrases (wrong, missing, unexpected: nothing on
 * disk changes), re-wrapping without rewriting data, file permissions, the KDF (RFC 9106 vector,
 * NFC), and raw scans of the database and its files for plaintext.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { argon2id } from '@noble/hashes/argon2.js';
import { toHex } from '../../src/crypto/index.js';
import {
  BadPassphraseError,
  changeStorePassphrase,
  DEFAULT_KDF_PARAMS,
  KEY_FILE_NAME,
  KeyFileInvalidError,
  KeyFileMissingError,
  keyFileStatus,
  NoStoreError,
  openEncryptedStore,
  openStore,
  PassphraseAlreadySetError,
  PassphraseNotSetError,
  PassphraseRequiredError,
  parseKeyFile,
  readKeyFile,
  StoreEncryptedError,
  StoreOpenError,
} from '../../src/store/index.js';
import { deriveKek } from '../../src/store/passphrase-kdf.js';
import { BOB, contact, keyFixtures, message } from './fixtures.js';
import { contains, FAST_KDF, fileBytes, modeOf, rawDbEntries, snapshotFiles } from './helpers-at-rest.js';

let root: string;
let count = 0;
const nextDir = async (): Promise<string> => {
  const dir = join(root, `d-${count++}`);
  await mkdir(dir);
  return join(dir, 'store');
};

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sotto-at-rest-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const SECRET_NAME = 'Zoë Secretname-7f3a';
const SECRET_BODY = 'the eagle lands at midnight, pier 42';

/** A store at `path` with an identity, prekeys, a contact, a message and a session. */
async function fillStore(path: string, passphrase?: string): Promise<void> {
  const { alice, signed, kem } = keyFixtures();
  const { store } = await openEncryptedStore({ path, passphrase, kdf: FAST_KDF });
  const batch = store.batch();
  batch.identity.put(alice);
  batch.prekeys.put('signed', signed);
  batch.prekeys.put('kem', kem);
  batch.contacts.put(contact(BOB, { name: SECRET_NAME }));
  batch.messages.put(message(BOB, 1, 1_700_000_000_000, { body: SECRET_BODY }));
  batch.sessions.put(BOB, { snapshot: new TextEncoder().encode('SNAPSHOT-PLAINTEXT-MARK'), baseKey: BOB });
  await batch.commit();
  await store.close();
}

/** What must never be found in an encrypted store's files or values. */
function secrets(): Array<[string, Uint8Array | string]> {
  const { alice, signed, kem } = keyFixtures();
  return [
    ['signing seed', alice.signingSeed],
    ['identity DH private key', alice.dhPrivateKey],
    ['signed prekey private key', signed.privateKey],
    ['KEM secret key (a slice)', kem.secretKey.subarray(200, 264)],
    ['contact name', SECRET_NAME],
    ['message body', SECRET_BODY],
    ['session snapshot', 'SNAPSHOT-PLAINTEXT-MARK'],
  ];
}

async function readAll(path: string, passphrase?: string) {
  const { store, protection } = await openEncryptedStore({ path, passphrase });
  try {
    return {
      protection,
      name: (await store.contacts.get(BOB))?.name,
      body: (await store.messages.list(BOB))[0]?.body,
      seed: (await store.identity.get())?.signingSeed,
    };
  } finally {
    await store.close();
  }
}

describe('openEncryptedStore', () => {
  it('with a passphrase: no plaintext key, body, name or session in any value or file; the data reads back', async () => {
    const path = await nextDir();
    await fillStore(path, 'correct horse');
    for (const [key, value] of await rawDbEntries(path)) {
      for (const [what, secret] of secrets()) assert.equal(contains(value, secret), false, `${what} in ${key}`);
    }
    const files = await fileBytes(path);
    for (const [what, secret] of secrets()) assert.equal(contains(files, secret), false, `${what} in the files`);
    const file = (await readKeyFile(path))!;
    assert.equal(file.protection, 'passphrase');
    const got = await readAll(path, 'correct horse');
    assert.deepEqual(got, {
      protection: 'passphrase',
      name: SECRET_NAME,
      body: SECRET_BODY,
      seed: keyFixtures().alice.signingSeed,
    });
  });

  it('the scan can fail: a plain store (openStore) shows the same secrets in its values and files', async () => {
    const path = await nextDir();
    const { alice } = keyFixtures();
    const store = await openStore({ path });
    await store.identity.put(alice);
    await store.contacts.put(contact(BOB, { name: SECRET_NAME }));
    await store.messages.put(message(BOB, 1, 1_700_000_000_000, { body: SECRET_BODY }));
    await store.close();
    const values = Buffer.concat((await rawDbEntries(path)).map(([, v]) => v));
    for (const secret of [alice.signingSeed, SECRET_NAME, SECRET_BODY]) assert.equal(contains(values, secret), true);
    const files = await fileBytes(path);
    for (const secret of [alice.signingSeed, SECRET_NAME, SECRET_BODY]) assert.equal(contains(files, secret), true);
  });

  it('a wrong or missing passphrase is a typed error, and every file stays byte for byte and mode for mode', async () => {
    const path = await nextDir();
    await fillStore(path, 'right one');
    const before = await snapshotFiles(join(path, '..'));
    await assert.rejects(
      openEncryptedStore({ path, passphrase: 'wrong one' }),
      (err: unknown) => err instanceof BadPassphraseError && err.code === 'BAD_PASSPHRASE' && err.subject === 'store',
    );
    await assert.rejects(openEncryptedStore({ path }), PassphraseRequiredError);
    assert.deepEqual(await snapshotFiles(join(path, '..')), before);
    assert.equal((await readAll(path, 'right one')).body, SECRET_BODY);
    // the comparison is sensitive: a real open does change LevelDB's own files
    assert.notDeepEqual(await snapshotFiles(join(path, '..')), before);
  });

  it('a passphrase for a store that has none is refused, nothing changed', async () => {
    const path = await nextDir();
    await fillStore(path);
    const before = await snapshotFiles(join(path, '..'));
    await assert.rejects(openEncryptedStore({ path, passphrase: 'surprise' }), PassphraseNotSetError);
    assert.deepEqual(await snapshotFiles(join(path, '..')), before);
  });

  it('without a passphrase: the key is unwrapped in the key file, the directory 0700, every file 0600', async () => {
    const path = await nextDir();
    const { store, protection, created } = await openEncryptedStore({ path });
    assert.equal(protection, 'none');
    assert.equal(created, true);
    await store.contacts.put(contact(BOB, { name: SECRET_NAME }));
    assert.equal(await modeOf(path), '700');
    for (const name of await readdir(path)) assert.equal(await modeOf(join(path, name)), '600', name);
    await store.close();
    const file = (await readKeyFile(path))!;
    assert.equal(file.protection, 'none');
    // still encrypted with the data key: a raw scan finds no name
    const values = Buffer.concat((await rawDbEntries(path)).map(([, v]) => v));
    assert.equal(contains(values, SECRET_NAME), false);
  });

  it('tightens loose permissions of an existing store at open', async () => {
    const path = await nextDir();
    await fillStore(path);
    const { chmod } = await import('node:fs/promises');
    await chmod(path, 0o755);
    for (const name of await readdir(path)) await chmod(join(path, name), 0o644);
    const { store } = await openEncryptedStore({ path });
    await store.close();
    assert.equal(await modeOf(path), '700');
    for (const name of await readdir(path)) assert.equal(await modeOf(join(path, name)), '600', name);
  });

  it('a missing key file, or one from another store, is refused with a typed error', async () => {
    const a = await nextDir();
    const b = await nextDir();
    await fillStore(a, 'pw');
    await fillStore(b, 'pw');
    const keyA = await readFile(join(a, KEY_FILE_NAME));
    await writeFile(join(b, KEY_FILE_NAME), keyA);
    await assert.rejects(
      openEncryptedStore({ path: b, passphrase: 'pw' }),
      (err: unknown) => err instanceof KeyFileInvalidError && /another store/.test(err.reason),
    );
    await rm(join(a, KEY_FILE_NAME));
    await assert.rejects(openEncryptedStore({ path: a, passphrase: 'pw' }), KeyFileMissingError);
    assert.deepEqual((await keyFileStatus(a)).protection, undefined);
  });

  it('openStore opens an existing encrypted store like openEncryptedStore; without its key file it refuses', async () => {
    const plain = await nextDir();
    await fillStore(plain);
    const store = await openStore({ path: plain });
    assert.equal((await store.contacts.get(BOB))?.name, SECRET_NAME);
    await store.close();
    const locked = await nextDir();
    await fillStore(locked, 'pw');
    await assert.rejects(openStore({ path: locked }), PassphraseRequiredError);
    const unlocked = await openStore({ path: locked, passphrase: 'pw' });
    assert.equal((await unlocked.messages.list(BOB))[0]?.body, SECRET_BODY);
    await unlocked.close();
    await rm(join(plain, KEY_FILE_NAME));
    await assert.rejects(openStore({ path: plain }), StoreEncryptedError);
    await assert.rejects(openEncryptedStore({ path: plain }), KeyFileMissingError);
  });

  it('the default KDF parameters wrap and unlock', async () => {
    const path = await nextDir();
    const { store } = await openEncryptedStore({ path, passphrase: 'default cost' });
    await store.close();
    const file = (await readKeyFile(path))!;
    assert.equal(file.protection, 'passphrase');
    assert.ok(file.protection === 'passphrase' && file.kdf.memoryKiB === DEFAULT_KDF_PARAMS.memoryKiB);
    const started = performance.now();
    const reopened = await openEncryptedStore({ path, passphrase: 'default cost' });
    const ms = performance.now() - started;
    await reopened.store.close();
    // generous (a loaded machine): this asserts it finishes, not how fast; figures are in the CHANGELOG
    assert.ok(ms < 30_000, `unlock took ${ms.toFixed(0)} ms`);
  });
});

describe('changeStorePassphrase', () => {
  it('set → change → remove: the data stays readable, old passphrases stop working, no value is rewritten', async () => {
    const path = await nextDir();
    await fillStore(path);
    const values = async () => (await rawDbEntries(path)).map(([k, v]) => `${k}=${toHex(v)}`).join('\n');
    const sealed = await values();

    await changeStorePassphrase({ path, action: 'set', newPassphrase: 'first', kdf: FAST_KDF });
    assert.equal((await readAll(path, 'first')).body, SECRET_BODY);
    await assert.rejects(openEncryptedStore({ path }), PassphraseRequiredError);

    await changeStorePassphrase({
      path,
      action: 'change',
      passphrase: 'first',
      newPassphrase: 'second',
      kdf: FAST_KDF,
    });
    assert.equal((await readAll(path, 'second')).name, SECRET_NAME);
    await assert.rejects(openEncryptedStore({ path, passphrase: 'first' }), BadPassphraseError);

    await changeStorePassphrase({ path, action: 'remove', passphrase: 'second' });
    assert.equal((await readAll(path)).protection, 'none');
    assert.equal((await readAll(path)).body, SECRET_BODY);
    await assert.rejects(openEncryptedStore({ path, passphrase: 'second' }), PassphraseNotSetError);

    assert.equal(await values(), sealed, 'every stored value is byte-identical: only the key file changed');
    assert.deepEqual(
      (await readdir(path)).filter((n) => n.includes('.tmp-')),
      [],
      'no temp key file left',
    );
  });

  it('a wrong current passphrase changes nothing on disk; the old one still works', async () => {
    const path = await nextDir();
    await fillStore(path, 'old');
    const before = await snapshotFiles(join(path, '..'));
    await assert.rejects(
      changeStorePassphrase({ path, action: 'change', passphrase: 'not it', newPassphrase: 'new', kdf: FAST_KDF }),
      BadPassphraseError,
    );
    await assert.rejects(changeStorePassphrase({ path, action: 'remove', passphrase: 'not it' }), BadPassphraseError);
    assert.deepEqual(await snapshotFiles(join(path, '..')), before);
    assert.equal((await readAll(path, 'old')).body, SECRET_BODY);
  });

  it('refuses what does not fit the store, before touching it', async () => {
    const plain = await nextDir();
    await fillStore(plain);
    const locked = await nextDir();
    await fillStore(locked, 'pw');
    const snapshot = async () => [await snapshotFiles(join(plain, '..')), await snapshotFiles(join(locked, '..'))];
    const before = await snapshot();
    await assert.rejects(
      changeStorePassphrase({ path: locked, action: 'set', newPassphrase: 'x', kdf: FAST_KDF }),
      PassphraseAlreadySetError,
    );
    await assert.rejects(
      changeStorePassphrase({ path: plain, action: 'change', passphrase: 'x', newPassphrase: 'y', kdf: FAST_KDF }),
      PassphraseNotSetError,
    );
    await assert.rejects(
      changeStorePassphrase({ path: plain, action: 'remove', passphrase: 'x' }),
      PassphraseNotSetError,
    );
    await assert.rejects(
      changeStorePassphrase({ path: locked, action: 'change', newPassphrase: 'y', kdf: FAST_KDF }),
      PassphraseRequiredError,
    );
    assert.deepEqual(await snapshot(), before);
    await assert.rejects(
      changeStorePassphrase({ path: join(root, 'nowhere', 'store'), action: 'set', newPassphrase: 'x' }),
      NoStoreError,
    );
  });

  it('refuses while the store is open elsewhere (a running node): the key file is not replaced', async () => {
    const path = await nextDir();
    await fillStore(path, 'pw');
    const keyBefore = await readFile(join(path, KEY_FILE_NAME), 'utf8');
    const { store } = await openEncryptedStore({ path, passphrase: 'pw' });
    try {
      await assert.rejects(
        changeStorePassphrase({ path, action: 'change', passphrase: 'pw', newPassphrase: 'new', kdf: FAST_KDF }),
        StoreOpenError,
      );
    } finally {
      await store.close();
    }
    assert.equal(await readFile(join(path, KEY_FILE_NAME), 'utf8'), keyBefore);
  });
});

describe('the key file', () => {
  it('is JSON naming the KDF and its parameters; its header is authenticated', async () => {
    const path = await nextDir();
    await fillStore(path, 'pw');
    const text = await readFile(join(path, KEY_FILE_NAME), 'utf8');
    const json = JSON.parse(text) as { kdf: Record<string, unknown>; keyId: string };
    assert.equal(json.kdf.algorithm, 'argon2id');
    assert.equal(json.kdf.memoryKiB, FAST_KDF.memoryKiB);
    assert.equal(await modeOf(join(path, KEY_FILE_NAME)), '600');
    // Raise the recorded cost: the wrap no longer authenticates (reported like a wrong passphrase).
    const edited = JSON.stringify({ ...json, kdf: { ...json.kdf, iterations: 2 } });
    await writeFile(join(path, KEY_FILE_NAME), edited);
    await assert.rejects(openEncryptedStore({ path, passphrase: 'pw' }), BadPassphraseError);
    // Out-of-bounds parameters are refused before any KDF runs.
    const huge = JSON.stringify({ ...json, kdf: { ...json.kdf, memoryKiB: 64 * 1024 * 1024 } });
    assert.throws(() => parseKeyFile('k', huge), KeyFileInvalidError);
    assert.throws(() => parseKeyFile('k', '{"format":"nope"}'), KeyFileInvalidError);
    assert.throws(() => parseKeyFile('k', 'not json'), KeyFileInvalidError);
    await writeFile(join(path, KEY_FILE_NAME), text);
    assert.equal((await readAll(path, 'pw')).body, SECRET_BODY);
  });
});

describe('the passphrase KDF (Argon2id, @noble/hashes)', () => {
  it('the library matches RFC 9106 §5.3 (Argon2id test vector)', () => {
    const tag = argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), {
      m: 32,
      t: 3,
      p: 4,
      dkLen: 32,
      key: new Uint8Array(8).fill(3),
      personalization: new Uint8Array(12).fill(4),
    });
    assert.equal(toHex(tag), '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659');
  });

  it('deriveKek is Argon2id v0x13 with the given parameters, strings NFC-normalized', async () => {
    const salt = new Uint8Array(16).fill(9);
    const kek = await deriveKek('pässwörd', salt, FAST_KDF);
    const direct = argon2id(new TextEncoder().encode('pässwörd'.normalize('NFC')), salt, {
      m: 64,
      t: 1,
      p: 1,
      dkLen: 32,
    });
    assert.equal(toHex(kek), toHex(direct));
    const decomposed = 'pässwörd'.normalize('NFD');
    assert.notEqual(decomposed, 'pässwörd'.normalize('NFC'));
    assert.equal(toHex(await deriveKek(decomposed, salt, FAST_KDF)), toHex(kek));
    assert.notEqual(toHex(await deriveKek('password', salt, FAST_KDF)), toHex(kek));
    await assert.rejects(deriveKek('', salt, FAST_KDF));
  });
});
