/**
 * Hostile input at the node: each case gets a typed ack status, nothing stored changes, and the
 * app sees a message at most once. Mallory is a hand-built client (a libp2p host with the same DHT
 * rules, her own identity record and session), so she can produce valid ciphertexts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import {
  createEnv,
  generateIdentity,
  generateKemPrekey,
  generateSignedPrekey,
  generateX25519KeyPair,
  IdentityKeyPair,
  identityDhSignedMessage,
  initiateSession,
  type Session,
} from '../../src/crypto/index.js';
import { identityRecordRules } from '../../src/directory/dht-rules.js';
import {
  bundleFromRecord,
  createIdentityRecord,
  encodeIdentityRecord,
  recordKey,
  validateRecordBytes,
} from '../../src/directory/record.js';
import { encodeAddress as addressOf, decodeAddress } from '../../src/identity/address.js';
import { createDeviceBinding } from '../../src/identity/device-binding.js';
import { createNode, HANDSHAKE_BURST, ONE_TIME_PREKEY_POOL, type SottoNode } from '../../src/index.js';
import { createHost, getRecord, parseNetConfig, putRecord, type SottoHost } from '../../src/net/index.js';
import { encodeText } from '../../src/node/content.js';
import { Content, Receipt } from '../../src/protocols/content/pb/content.js';
import { AckStatus, type Envelope, sealEnvelope, sendEnvelope } from '../../src/protocols/message/index.js';
import { claimPrekey } from '../../src/protocols/prekeys/index.js';
import { routingTableSize, waitFor } from '../net/helpers.js';

const env = createEnv();
const p = env.provider;
const dirs: string[] = [];
let bob: SottoNode;
let mallory: SottoHost;
let eve: SottoHost;
const malloryId = generateIdentity(env);
let received = 0;

const rules = identityRecordRules(p, Date.now);

async function rawHost(bootstrap: string): Promise<SottoHost> {
  return createHost({
    privateKey: await generateKeyPair('Ed25519'),
    config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [bootstrap] }),
    dht: rules,
  });
}

let bobPeer: ReturnType<typeof peerIdFromString>;
let bobRecord: ReturnType<typeof validateRecordBytes>;
let session: Session;
let counter = 0;

function envelope(body: Uint8Array, overrides: Partial<Envelope> = {}): Envelope {
  counter++;
  const id = new Uint8Array(16);
  id[15] = counter;
  id[0] = 0xee;
  return {
    id,
    sender: malloryId.signingKey,
    recipient: decodeAddress(bob.address),
    timestamp: Date.now(),
    body,
    ...overrides,
  };
}

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-hostile-'));
  dirs.push(dir);
  bob = createNode({ dataDir: dir, net: { listen: ['/ip4/127.0.0.1/tcp/0'] } });
  await bob.start();
  bob.on('message', () => {
    received++;
  });
  const ma = bob.multiaddrs()[0] as string;
  const addr = ma.includes('/p2p/') ? ma : `${ma}/p2p/${bob.peerId}`;
  bobPeer = peerIdFromString(bob.peerId);
  mallory = await rawHost(addr);
  eve = await rawHost(addr);
  await waitFor(
    'mallory and eve know bob in the DHT',
    () => routingTableSize(mallory) > 0 && routingTableSize(eve) > 0,
    15_000,
  );
  await waitFor('bob knows mallory in the DHT', async () => (await bob.status()).routingTable >= 2, 15_000);
  // Mallory publishes a proper identity record binding her host.
  const spk = generateSignedPrekey(env, malloryId, 1);
  const kem = generateKemPrekey(env, malloryId, 1);
  const record = createIdentityRecord(env, malloryId, {
    signedPrekey: { id: 1, publicKey: spk.publicKey, signature: spk.signature },
    kemPrekey: { id: 1, publicKey: kem.publicKey, signature: kem.signature },
    devices: [createDeviceBinding(p, malloryId, mallory.peerId.toMultihash().bytes, Date.now())],
    mailboxes: [],
    sequence: 1,
    expiresAt: Date.now() + 3_600_000,
  });
  const put = await putRecord(mallory, recordKey(malloryId.signingKey), encodeIdentityRecord(record));
  assert.ok(put.accepted >= 1, 'bob stored mallory’s record');
  await bob.publishRecord();
  bobRecord = validateRecordBytes(
    p,
    recordKey(decodeAddress(bob.address)),
    (await getRecord(mallory, recordKey(decodeAddress(bob.address)))).value,
    Date.now(),
  );
  session = initiateSession(env, {
    identity: malloryId,
    bundle: bundleFromRecord(bobRecord),
    context: { initiator: mallory.peerId.toString(), responder: bob.peerId },
  });
});

after(async () => {
  await Promise.allSettled([bob?.stop(), mallory?.stop(), eve?.stop()]);
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('one-time prekeys served by the node', () => {
  it('a claim hands out an unused prekey once, the pool refills, and a handshake with it consumes it', async () => {
    const before = (await bob.status()).oneTimePrekeys;
    assert.equal(before.available, ONE_TIME_PREKEY_POOL);
    const first = await claimPrekey(eve, bobPeer, decodeAddress(bob.address));
    const second = await claimPrekey(eve, bobPeer, decodeAddress(bob.address));
    assert.ok(first && second);
    assert.notEqual(first.id, second.id);
    const after = (await bob.status()).oneTimePrekeys;
    assert.equal(after.available, ONE_TIME_PREKEY_POOL);
    assert.equal(after.claimed, 2);
  });
});

describe('contacts: trust on first use of the identity DH key', () => {
  it('a contact whose record shows a new DH key raises key-change and loses its verified flag', async () => {
    const addr = addressOf(malloryId.signingKey);
    await bob.addContact('mallory', addr);
    await bob.refresh(addr); // first use: the key is recorded, no event
    assert.equal((await bob.verifyContact(addr)).verified, true);
    const changes: string[] = [];
    bob.on('key-change', (c) => changes.push(c.name));
    // Mallory's identity signs a new DH key and republishes (a higher sequence).
    const dh = generateX25519KeyPair(env);
    const rekeyed = new IdentityKeyPair({
      signingKey: malloryId.signingKey,
      signingSeed: malloryId.signingSeed,
      dhKey: dh.publicKey,
      dhPrivateKey: dh.privateKey,
      dhSignature: p.ed25519Sign(malloryId.signingSeed, identityDhSignedMessage(dh.publicKey)),
    });
    const spk = generateSignedPrekey(env, rekeyed, 2);
    const kem = generateKemPrekey(env, rekeyed, 2);
    const record = createIdentityRecord(env, rekeyed, {
      signedPrekey: { id: 2, publicKey: spk.publicKey, signature: spk.signature },
      kemPrekey: { id: 2, publicKey: kem.publicKey, signature: kem.signature },
      devices: [createDeviceBinding(p, rekeyed, mallory.peerId.toMultihash().bytes, Date.now())],
      mailboxes: [],
      sequence: 2,
      expiresAt: Date.now() + 3_600_000,
    });
    await putRecord(mallory, recordKey(malloryId.signingKey), encodeIdentityRecord(record));
    assert.equal((await bob.refresh(addr)).sequence, 2);
    assert.deepEqual(changes, ['mallory']);
    const contact = (await bob.contacts()).find((c) => c.address === addr);
    assert.equal(contact?.verified, false);
    assert.equal(contact?.previousKeys.length, 2);
    await bob.refresh(addr); // same key again: no second event
    assert.deepEqual(changes, ['mallory']);
  });
});

describe('directory records at the node', () => {
  it('an older (rolled-back) or forged record of mallory never replaces the current one at bob', async () => {
    const addr = addressOf(malloryId.signingKey);
    const current = (await bob.refresh(addr)).sequence;
    assert.ok(current >= 1);
    const key = recordKey(malloryId.signingKey);
    const spk = generateSignedPrekey(env, malloryId, 9);
    const kem = generateKemPrekey(env, malloryId, 9);
    const old = createIdentityRecord(env, malloryId, {
      signedPrekey: { id: 9, publicKey: spk.publicKey, signature: spk.signature },
      kemPrekey: { id: 9, publicKey: kem.publicKey, signature: kem.signature },
      devices: [],
      mailboxes: [],
      sequence: current - 1 || 0,
      expiresAt: Date.now() + 3_600_000,
    });
    // A valid but older record: the DHT record guard on every node refuses to replace the newer one.
    await putRecord(eve, key, encodeIdentityRecord(old)).catch(() => undefined);
    // A forged one (bit flipped in the signature), pushed past the sender's own validation.
    const forged = encodeIdentityRecord({ ...old, sequence: current + 100 });
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    try {
      for await (const event of eve.services.dht.put(key, forged)) void event;
    } catch {
      // peers refusing it is the point
    }
    const after = await bob.refresh(addr);
    assert.equal(after.sequence, current);
  });
});

describe('hostile input at the node', () => {
  it('a valid envelope is stored once; its replay is DUPLICATE and not delivered again', async () => {
    const e = envelope(session.encrypt(encodeText('hi bob')));
    assert.equal((await sendEnvelope(mallory, bobPeer, e)).status, AckStatus.STORED);
    assert.equal((await sendEnvelope(mallory, bobPeer, e)).status, AckStatus.DUPLICATE);
    assert.equal(received, 1);
    assert.equal((await bob.conversation(encodeAddr())).length, 1);
  });

  it('authentic envelopes with invalid content are REJECTED, never delivered, and do not break the session', async () => {
    const before = (await bob.conversation(encodeAddr())).length;
    const cases: Array<[Uint8Array, string]> = [
      [Uint8Array.of(0xff, 0xff, 0xff), 'malformed-content'],
      [Content.encode({}), 'malformed-content'],
      [Content.encode({ text: { text: Uint8Array.of(0xc3, 0x28) } }), 'not-utf8'],
      [Content.encode({ text: { text: new Uint8Array(0) } }), 'empty-text'],
      [Content.encode({ receipt: { kind: Receipt.Kind.READ, ids: [new Uint8Array(15)] } }), 'bad-receipt'],
      [Content.encode({ receipt: { kind: Receipt.Kind.KIND_UNSPECIFIED, ids: [new Uint8Array(16)] } }), 'bad-receipt'],
    ];
    for (const [plaintext, reason] of cases) {
      const e = envelope(session.encrypt(plaintext));
      const ack = await sendEnvelope(mallory, bobPeer, e);
      assert.equal(ack.status, AckStatus.REJECTED, reason);
      assert.equal(ack.reason, reason);
      assert.equal((await sendEnvelope(mallory, bobPeer, e)).status, AckStatus.DUPLICATE, `${reason}: replay`);
    }
    assert.equal(received, 1, 'nothing delivered');
    assert.equal((await bob.conversation(encodeAddr())).length, before);
    // the session went on: a valid text after them is delivered
    assert.equal(
      (await sendEnvelope(mallory, bobPeer, envelope(session.encrypt(encodeText('still ok'))))).status,
      AckStatus.STORED,
    );
    assert.equal(received, 2);
  });

  it('an envelope for an identity the node does not host is UNKNOWN_RECIPIENT', async () => {
    const e = envelope(session.encrypt(encodeText('x')), { recipient: generateIdentity(env).signingKey });
    assert.equal((await sendEnvelope(mallory, bobPeer, e)).status, AckStatus.UNKNOWN_RECIPIENT);
    assert.equal(received, 2);
  });

  it('a valid envelope relayed by a node the sender never bound is REJECTED (device-not-bound)', async () => {
    const e = envelope(session.encrypt(encodeText('relayed')));
    const ack = await sendEnvelope(eve, bobPeer, e);
    assert.equal(ack.status, AckStatus.REJECTED);
    assert.equal(ack.reason, 'device-not-bound');
    assert.equal(received, 2);
  });

  it('a sealed envelope straight to the node opens and is delivered; one that does not open is REJECTED unsealable', async () => {
    const before = (await bob.conversation(encodeAddr())).length;
    const e = envelope(session.encrypt(encodeText('sealed hello')));
    const sealed = sealEnvelope(env, e);
    assert.equal((await sendEnvelope(mallory, bobPeer, sealed)).status, AckStatus.STORED);
    assert.equal((await sendEnvelope(mallory, bobPeer, e)).status, AckStatus.DUPLICATE, 'same id, plain: a duplicate');
    assert.equal(received, 3);
    // sealed to another identity's key but addressed to bob: authentication fails, nothing changes
    const wrongKey = sealEnvelope(env, {
      ...envelope(session.encrypt(encodeText('x'))),
      recipient: malloryId.signingKey,
    });
    const ack = await sendEnvelope(mallory, bobPeer, { ...wrongKey, recipient: decodeAddress(bob.address) });
    assert.deepEqual([ack.status, ack.reason], [AckStatus.REJECTED, 'unsealable']);
    // sealed but relayed by a peer the sender never bound: opened, then the same rule as plain
    const relayed = await sendEnvelope(eve, bobPeer, sealEnvelope(env, envelope(session.encrypt(encodeText('r')))));
    assert.deepEqual([relayed.status, relayed.reason], [AckStatus.REJECTED, 'device-not-bound']);
    assert.equal((await bob.conversation(encodeAddr())).length, before + 1);
    assert.equal(received, 3);
  });

  it('garbage ciphertext and an unknown sender are REJECTED with a reason, nothing stored', async () => {
    const before = (await bob.conversation(encodeAddr())).length;
    const garbage = await sendEnvelope(mallory, bobPeer, envelope(Uint8Array.of(0x11, 1, 2, 3)));
    assert.equal(garbage.status, AckStatus.REJECTED);
    assert.equal(garbage.reason, 'malformed-message');
    const stranger = await sendEnvelope(
      mallory,
      bobPeer,
      envelope(Uint8Array.of(1), { sender: generateIdentity(env).signingKey }),
    );
    assert.equal(stranger.status, AckStatus.REJECTED);
    assert.equal(stranger.reason, 'unknown-sender');
    assert.equal((await bob.conversation(encodeAddr())).length, before);
    assert.equal(received, 3);
  });

  it('a peer inventing sender identities is cut off after a burst of directory lookups', async () => {
    const reasons = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const ack = await sendEnvelope(
        eve,
        bobPeer,
        envelope(Uint8Array.of(1), { sender: generateIdentity(env).signingKey }),
      );
      assert.equal(ack.status, AckStatus.REJECTED);
      reasons.set(ack.reason, (reasons.get(ack.reason) ?? 0) + 1);
    }
    assert.ok((reasons.get('rate-limited') ?? 0) >= 15, JSON.stringify([...reasons]));
    assert.equal(received, 3);
  });

  // Last in this file: it replaces mallory's session at bob many times over.
  it('a peer starting session after session is answered UNAVAILABLE rate-limited after a burst', async () => {
    const before = received;
    const statuses: string[] = [];
    let last: Session | undefined;
    const extra = 4;
    for (let i = 0; i < HANDSHAKE_BURST + extra; i++) {
      // a new session each time: a prekey message with a fresh base key costs bob a PQXDH response
      const fresh = initiateSession(env, {
        identity: malloryId,
        bundle: bundleFromRecord(bobRecord),
        context: { initiator: mallory.peerId.toString(), responder: bob.peerId },
      });
      const ack = await sendEnvelope(mallory, bobPeer, envelope(fresh.encrypt(encodeText(`new session ${i}`))));
      statuses.push(ack.status === AckStatus.STORED ? 'stored' : `${ack.status}:${ack.reason}`);
      if (ack.status === AckStatus.STORED) last = fresh;
    }
    const stored = statuses.filter((x) => x === 'stored').length;
    const limited = statuses.filter((x) => x === `${AckStatus.UNAVAILABLE}:rate-limited`).length;
    // The burst, less the one token mallory's first session (before()) took; this loop takes well
    // under HANDSHAKE_REFILL_MS, so every envelope after the first refused one is refused too.
    assert.equal(stored, HANDSHAKE_BURST - 1, statuses.join(' '));
    assert.equal(limited, extra + 1, statuses.join(' '));
    assert.deepEqual(statuses.slice(stored), Array(limited).fill(`${AckStatus.UNAVAILABLE}:rate-limited`));
    assert.equal(received, before + stored, 'only the accepted handshakes reached the app');
    // messages of a session bob already has take no handshake token: still stored
    assert.ok(last);
    const more = await sendEnvelope(mallory, bobPeer, envelope(last.encrypt(encodeText('same session'))));
    assert.equal(more.status, AckStatus.STORED);
    assert.equal(received, before + stored + 1);
  });
});

function encodeAddr(): string {
  // Mallory's address, as Bob's history is keyed by it.
  return addressOf(malloryId.signingKey);
}
