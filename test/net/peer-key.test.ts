import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { loadOrCreatePeerKey, PEER_KEY_FILE, PeerKeyCorruptError, PeerKeyWrongTypeError } from '../../src/net/index.js';

const root = await mkdtemp(join(tmpdir(), 'sotto-peer-key-'));
after(() => rm(root, { recursive: true, force: true }));

describe('peer key', () => {
  it('is created 0600 in a 0700 dir and reloads identical', async () => {
    const dir = join(root, 'fresh', 'data');
    const first = await loadOrCreatePeerKey(dir);
    assert.equal(first.created, true);
    assert.equal(first.privateKey.type, 'Ed25519');
    assert.equal((await stat(first.path)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const second = await loadOrCreatePeerKey(dir);
    assert.equal(second.created, false);
    assert.ok(second.privateKey.equals(first.privateKey));
    assert.ok(peerIdFromPrivateKey(second.privateKey).equals(peerIdFromPrivateKey(first.privateKey)));
  });

  it('concurrent first starts agree on one key', async () => {
    const dir = join(root, 'race');
    const [a, b] = await Promise.all([loadOrCreatePeerKey(dir), loadOrCreatePeerKey(dir)]);
    assert.ok(a.privateKey.equals(b.privateKey));
    assert.equal([a.created, b.created].filter(Boolean).length, 1);
  });

  it('refuses a corrupt file and leaves it unchanged', async () => {
    const dir = join(root, 'corrupt');
    await loadOrCreatePeerKey(dir);
    const path = join(dir, PEER_KEY_FILE);
    const garbage = new Uint8Array([0x08, 0x01, 0x12, 0x40, 1, 2, 3]);
    await writeFile(path, garbage);
    await assert.rejects(loadOrCreatePeerKey(dir), (err: unknown) => {
      assert.ok(err instanceof PeerKeyCorruptError);
      assert.equal(err.code, 'PEER_KEY_CORRUPT');
      return true;
    });
    assert.deepEqual(new Uint8Array(await readFile(path)), garbage);
  });

  it('refuses a non-Ed25519 key and leaves it unchanged', async () => {
    const dir = join(root, 'secp');
    await loadOrCreatePeerKey(dir);
    const path = join(dir, PEER_KEY_FILE);
    const secp = privateKeyToProtobuf(await generateKeyPair('secp256k1'));
    await writeFile(path, secp);
    await assert.rejects(loadOrCreatePeerKey(dir), (err: unknown) => {
      assert.ok(err instanceof PeerKeyWrongTypeError);
      assert.equal(err.code, 'PEER_KEY_WRONG_TYPE');
      assert.equal(err.keyType, 'secp256k1');
      return true;
    });
    assert.deepEqual(new Uint8Array(await readFile(path)), secp);
  });
});
