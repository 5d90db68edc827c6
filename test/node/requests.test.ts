/**
 * Contact requests and the block list at the node (issue 7). Bob holds first messages from unknown
 * identities as requests (`contactRequests: 'ask'`, with small caps so the bounds can be reached);
 * alice is a real node, and mallory is a hand-built client (a libp2p host publishing records for
 * several identities bound to it, with her own sessions) so that acks can be read directly.
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
  type IdentityKeyPair,
  initiateSession,
  type Session,
  toHex,
} from '../../src/crypto/index.js';
import { Session as SessionClass } from '../../src/crypto/session.js';
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
import {
  type ContactRequestEvent,
  createNode,
  IdentityBlockedError,
  type IncomingMessage,
  InvalidRequestOptionsError,
  MAX_MESSAGES_PER_REQUEST,
  MAX_PENDING_REQUESTS,
  type SottoNode,
  UnknownRequestError,
} from '../../src/index.js';
import { createHost, getRecord, parseNetConfig, putRecord, type SottoHost } from '../../src/net/index.js';
import { encodeText } from '../../src/node/content.js';
import { AckStatus, type Envelope, sealEnvelope, sendEnvelope } from '../../src/protocols/message/index.js';
import type { SottoStore } from '../../src/store/types.js';
import { routingTableSize, waitFor } from '../net/helpers.js';
import { tcpAddr } from './helpers.js';

const env = createEnv();
const p = env.provider;
const dirs: string[] = [];
const nodes: SottoNode[] = [];
const LIMITS = { maxPending: 2, maxMessagesPerRequest: 3 };

let bob: SottoNode;
let bobDir: string;
let alice: SottoNode;
let mallory: SottoHost;
let bobPeer: ReturnType<typeof peerIdFromString>;

/** Every event bob emitted, in order. */
const seen: { messages: IncomingMessage[]; requests: ContactRequestEvent[] } = { messages: [], requests: [] };

/** Session.prototype.decrypt calls in this process: the ratchet work a blocked envelope must not cause. */
let decrypts = 0;
const originalDecrypt = SessionClass.prototype.decrypt;

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-requests-'));
  dirs.push(dir);
  return dir;
}

async function startBob(): Promise<SottoNode> {
  const node = createNode({
    dataDir: bobDir,
    net: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    contactRequests: 'ask',
    requestLimits: LIMITS,
  });
  await node.start();
  nodes.push(node);
  node.on('message', (m) => seen.messages.push(m));
  node.on('request', (r) => seen.requests.push(r));
  return node;
}

function storeOf(node: SottoNode): SottoStore {
  return (node as unknown as { store: SottoStore }).store;
}

/** One of mallory's identities: its record binds mallory's host; its session was started from bob's record. */
interface Stranger {
  id: IdentityKeyPair;
  address: string;
  hex: string;
  session: Session;
  counter: number;
}

async function stranger(): Promise<Stranger> {
  const id = generateIdentity(env);
  const spk = generateSignedPrekey(env, id, 1);
  const kem = generateKemPrekey(env, id, 1);
  const record = createIdentityRecord(env, id, {
    signedPrekey: { id: 1, publicKey: spk.publicKey, signature: spk.signature },
    kemPrekey: { id: 1, publicKey: kem.publicKey, signature: kem.signature },
    devices: [createDeviceBinding(p, id, mallory.peerId.toMultihash().bytes, Date.now())],
    mailboxes: [],
    sequence: 1,
    expiresAt: Date.now() + 3_600_000,
  });
  const put = await putRecord(mallory, recordKey(id.signingKey), encodeIdentityRecord(record));
  assert.ok(put.accepted >= 1, 'bob stored the record');
  const bobRecord = validateRecordBytes(
    p,
    recordKey(decodeAddress(bob.address)),
    (await getRecord(mallory, recordKey(decodeAddress(bob.address)))).value,
    Date.now(),
  );
  const session = initiateSession(env, {
    identity: id,
    bundle: bundleFromRecord(bobRecord),
    context: { initiator: mallory.peerId.toString(), responder: bob.peerId },
  });
  return { id, address: addressOf(id.signingKey), hex: toHex(id.signingKey), session, counter: 0 };
}

function envelopeOf(s: Stranger, text: string): Envelope {
  const id = new Uint8Array(16);
  id.set(s.id.signingKey.subarray(0, 8));
  id[15] = ++s.counter;
  return {
    id,
    sender: s.id.signingKey,
    recipient: decodeAddress(bob.address),
    timestamp: Date.now(),
    body: s.session.encrypt(encodeText(text)),
  };
}

async function send(e: Envelope): Promise<{ status: AckStatus; reason?: string | undefined }> {
  return sendEnvelope(mallory, bobPeer, e);
}

/** Everything bob's store holds about `hex`: session bytes, conversation, request, dedupe marks. */
async function footprint(hex: string, ids: string[] = []) {
  const store = storeOf(bob);
  const session = await store.sessions.get(hex);
  return {
    session: session === undefined ? undefined : toHex(session.snapshot),
    messages: (await store.messages.list(hex)).map((m) => m.id),
    request: await store.requests.get(hex),
    held: (await store.requests.messages(hex)).map((m) => m.id),
    dedupe: await Promise.all(ids.map((id) => store.dedupe.has(hex, id))),
  };
}

before(async () => {
  SessionClass.prototype.decrypt = function (this: Session, message: Uint8Array) {
    decrypts++;
    return originalDecrypt.call(this, message);
  };
  bobDir = await dataDir();
  bob = await startBob();
  bobPeer = peerIdFromString(bob.peerId);
  alice = createNode({
    dataDir: await dataDir(),
    net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [tcpAddr(bob)] },
  });
  await alice.start();
  nodes.push(alice);
  mallory = await createHost({
    privateKey: await generateKeyPair('Ed25519'),
    config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [tcpAddr(bob)] }),
    dht: identityRecordRules(p, Date.now),
  });
  await waitFor('mallory knows bob in the DHT', () => routingTableSize(mallory) > 0, 15_000);
  await waitFor('bob knows alice and mallory', async () => (await bob.status()).routingTable >= 2, 15_000);
  await bob.publishRecord();
  await alice.publishRecord();
});

after(async () => {
  SessionClass.prototype.decrypt = originalDecrypt;
  await Promise.allSettled([...nodes.map((n) => n.stop()), mallory?.stop()]);
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('contact requests (policy "ask")', () => {
  it('the caps are named constants; the options are checked (never above them)', async () => {
    assert.ok(MAX_PENDING_REQUESTS >= 1 && MAX_MESSAGES_PER_REQUEST >= 1);
    const bad = [
      { contactRequests: 'maybe' as 'ask' },
      { requestLimits: { maxPending: MAX_PENDING_REQUESTS + 1 } },
      { requestLimits: { maxMessagesPerRequest: 0 } },
    ];
    for (const options of bad) {
      const node = createNode({ dataDir: await dataDir(), ...options });
      await assert.rejects(node.start(), InvalidRequestOptionsError);
    }
  });

  it("an unknown sender's messages become a request: 'request' events, no 'message' event, nothing in contacts or conversations; past the per-request cap they are refused, not lost", async () => {
    const texts = ['hi bob, this is alice', 'we met at the conference', 'ping'];
    for (const [i, text] of texts.entries()) {
      assert.equal((await alice.send(bob.address, text)).state, 'delivered', 'acked: stored durably');
      await waitFor(`request event ${i + 1}`, () => seen.requests.length === i + 1);
    }
    assert.deepEqual(
      seen.requests.map((r) => [r.from, r.text, r.held, r.first]),
      texts.map((t, i) => [alice.address, t, i + 1, i === 0]),
    );
    assert.equal(seen.messages.length, 0, "no 'message' event");
    assert.deepEqual(await bob.conversation(alice.address), []);
    assert.deepEqual(await bob.contacts(), []);
    const [request] = await bob.requests();
    assert.equal(request?.address, alice.address);
    assert.equal(request?.held, 3);
    assert.deepEqual(
      (await bob.request(alice.address)).messages.map((m) => m.text),
      texts,
    );
    // The 4th is over the cap (3 in this test): refused before decryption, kept in alice's outbox.
    const before = decrypts;
    const fourth = await alice.send(bob.address, 'are you there?');
    assert.equal(fourth.state, 'queued');
    assert.equal((await bob.requests())[0]?.held, 3);
    assert.equal(decrypts, before, 'no ratchet work for a refused message');
    assert.equal(seen.requests.length, 3);
  });

  it("accept: alice becomes a contact, the held messages join the conversation in order as 'message' events; the refused one arrives on retry", async () => {
    const contact = await bob.acceptRequest(alice.address, 'alice');
    assert.equal(contact.name, 'alice');
    assert.deepEqual(
      seen.messages.map((m) => m.text),
      ['hi bob, this is alice', 'we met at the conference', 'ping'],
    );
    assert.deepEqual(await bob.requests(), []);
    assert.deepEqual(
      (await bob.contacts()).map((c) => [c.name, c.address]),
      [['alice', alice.address]],
    );
    await alice.retryOutbox({ force: true }); // (or the retry timer got there first)
    await waitFor('the refused message after accept', () => seen.messages.length === 4);
    assert.equal(seen.messages[3]?.text, 'are you there?');
    assert.deepEqual((await bob.conversation(alice.address)).map((m) => [m.direction, m.body]).reverse(), [
      ['in', 'hi bob, this is alice'],
      ['in', 'we met at the conference'],
      ['in', 'ping'],
      ['in', 'are you there?'],
    ]);
    await assert.rejects(bob.acceptRequest(alice.address, 'again'), UnknownRequestError);
    assert.equal(seen.requests.length, 3, 'a contact never makes a request again');
  });

  it('reject deletes the request and its messages; the session stays and a later message makes a new request', async () => {
    const m = await stranger();
    const e1 = envelopeOf(m, 'buy now');
    assert.equal((await send(e1)).status, AckStatus.STORED);
    await waitFor('request from m', () => seen.requests.some((r) => r.from === m.address));
    await bob.rejectRequest(m.address);
    const after = await footprint(m.hex, [toHex(e1.id)]);
    assert.equal(after.request, undefined);
    assert.deepEqual(after.held, []);
    assert.deepEqual(after.messages, []);
    assert.ok(after.session !== undefined, 'the session is kept: the sender cannot tell');
    assert.deepEqual(after.dedupe, [true], 'a resend is answered DUPLICATE, as for any stored message');
    assert.equal((await send(e1)).status, AckStatus.DUPLICATE);
    await assert.rejects(bob.rejectRequest(m.address), UnknownRequestError);
    const count = seen.requests.length;
    assert.equal((await send(envelopeOf(m, 'buy now!!'))).status, AckStatus.STORED);
    await waitFor('a new request', () => seen.requests.length === count + 1);
    assert.equal(seen.requests.at(-1)?.first, true);
    assert.equal((await bob.requests()).find((r) => r.address === m.address)?.held, 1);
    await bob.rejectRequest(m.address);
  });

  it('concurrent messages of one stranger are all held, each once, none overwriting another', async () => {
    const m = await stranger();
    const texts = ['a', 'b', 'c'];
    const envelopes = texts.map((t) => envelopeOf(m, t));
    const acks = await Promise.all(envelopes.map((e) => send(e)));
    assert.deepEqual(
      acks.map((a) => a.status),
      [AckStatus.STORED, AckStatus.STORED, AckStatus.STORED],
    );
    const view = await bob.request(m.address);
    assert.equal(view.held, 3);
    assert.deepEqual(view.messages.map((x) => x.text).sort(), texts);
    assert.deepEqual(new Set(view.messages.map((x) => x.id)).size, 3);
    await bob.rejectRequest(m.address);
  });

  it('the requests list is bounded: a third unknown identity is refused before any lookup or decryption', async () => {
    const [m1, m2, m3] = [await stranger(), await stranger(), await stranger()];
    assert.equal((await send(envelopeOf(m1, 'one'))).status, AckStatus.STORED);
    assert.equal((await send(envelopeOf(m2, 'two'))).status, AckStatus.STORED);
    const before = decrypts;
    const refused = await send(envelopeOf(m3, 'three'));
    assert.deepEqual([refused.status, refused.reason], [AckStatus.UNAVAILABLE, 'requests-full']);
    assert.equal(decrypts, before);
    assert.deepEqual((await bob.requests()).map((r) => r.address).sort(), [m1.address, m2.address].sort());
    assert.equal((await footprint(m3.hex)).session, undefined, 'no session was created for m3');
    await bob.rejectRequest(m2.address);
    // room again: m3's retry (the same envelope) is taken
    assert.equal((await send({ ...envelopeOf(m3, 'three, again') })).status, AckStatus.STORED);
    await bob.rejectRequest(m3.address);
    // m1 stays pending for the block test
  });

  it('block: a requester and a contact are dropped before any decryption (acked STORED), nothing is sent to them; unblock restores', async () => {
    assert.equal((await bob.requests()).length, 1, 'm1 is pending');
    const pending = await stranger(); // a fresh stranger, blocked before it ever writes
    await bob.block(pending.address);
    const blockedFirst = envelopeOf(pending, 'hello?');
    const beforeStranger = decrypts;
    assert.equal((await send(blockedFirst)).status, AckStatus.STORED, 'the sender cannot tell');
    assert.equal((await send(blockedFirst)).status, AckStatus.STORED, 'not stored: not even a dedupe mark');
    // sealed (as fetched from a mailbox): opened to learn the sender, then dropped before the ratchet
    const sealed = sealEnvelope(
      env,
      envelopeOf(pending, 'sealed hello'),
      p.ed25519PublicToX25519(decodeAddress(bob.address)),
    );
    assert.equal((await sendEnvelope(mallory, bobPeer, sealed)).status, AckStatus.STORED);
    assert.equal(decrypts, beforeStranger);
    assert.deepEqual(await footprint(pending.hex, [toHex(blockedFirst.id), toHex(sealed.id)]), {
      session: undefined,
      messages: [],
      request: undefined,
      held: [],
      dedupe: [false, false],
    });

    // A blocked contact: alice (accepted above, with a session).
    const requests = seen.requests.length;
    const messages = seen.messages.length;
    await bob.block(alice.address);
    assert.equal(bob.isBlocked(alice.address), true);
    const before = await footprint(toHex(decodeAddress(alice.address)));
    const beforeDecrypts = decrypts;
    const sent = await alice.send(bob.address, 'you there?');
    assert.equal(sent.state, 'delivered', 'acked as stored');
    const after = await footprint(toHex(decodeAddress(alice.address)), [sent.id]);
    assert.equal(decrypts, beforeDecrypts, 'no ratchet work at bob (alice only encrypted)');
    assert.equal(after.session, before.session, 'the stored session is unchanged');
    assert.deepEqual(after.messages, before.messages);
    assert.deepEqual(after.dedupe, [false]);
    assert.equal(seen.messages.length, messages);
    assert.equal(seen.requests.length, requests);
    await assert.rejects(bob.send(alice.address, 'hi'), IdentityBlockedError);
    assert.deepEqual(
      (await bob.blockList()).map((b) => b.address),
      [pending.address, alice.address],
    );
    assert.ok(
      (await bob.contacts()).some((c) => c.address === alice.address),
      'a blocked contact stays a contact',
    );

    assert.equal(await bob.unblock(alice.address), true);
    assert.equal(await bob.unblock(alice.address), false);
    const back = await alice.send(bob.address, 'and now?');
    assert.equal(back.state, 'delivered');
    await waitFor('the message after unblock', () => seen.messages.at(-1)?.text === 'and now?');
    assert.ok(decrypts > beforeDecrypts, "the spy does see bob's decryptions");
    assert.equal((await bob.send(alice.address, 'yes')).state, 'delivered');
  });

  it('restart keeps the requests and the block list, and the policy goes on', async () => {
    const requests = await bob.requests();
    const blocked = await bob.blockList();
    assert.equal(requests.length, 1);
    assert.equal(blocked.length, 1);
    await bob.stop();
    nodes.splice(nodes.indexOf(bob), 1);
    bob = await startBob();
    assert.deepEqual(await bob.requests(), requests);
    assert.deepEqual(await bob.blockList(), blocked);
    assert.equal(bob.isBlocked(blocked[0]!.address), true);
    await assert.rejects(bob.send(blocked[0]!.address, 'x'), IdentityBlockedError);
    const view = await bob.request(requests[0]!.address);
    assert.deepEqual(
      view.messages.map((m) => m.text),
      ['one'],
    );
    // block a pending requester: the request and its messages go
    await bob.block(requests[0]!.address);
    assert.deepEqual(await bob.requests(), []);
    assert.deepEqual((await footprint(requests[0]!.identityKey)).held, []);
  });
});

describe('who is not a stranger', () => {
  let carol: SottoNode;
  let erin: SottoNode;
  before(async () => {
    carol = createNode({
      dataDir: await dataDir(),
      net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [tcpAddr(alice)] },
      contactRequests: 'ask',
    });
    erin = createNode({
      dataDir: await dataDir(),
      net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [tcpAddr(alice)] },
      contactRequests: 'accept',
    });
    await carol.start();
    await erin.start();
    nodes.push(carol, erin);
    await waitFor(
      'routing tables',
      async () => (await carol.status()).routingTable >= 1 && (await erin.status()).routingTable >= 1,
      15_000,
    );
    for (const n of [alice, carol, erin]) await n.publishRecord();
  });

  it('a contact added first is not a request; a reply to a message we sent first is not a request', async () => {
    const carolGot: string[] = [];
    const carolRequests: string[] = [];
    carol.on('message', (m) => carolGot.push(m.text));
    carol.on('request', (r) => carolRequests.push(r.text));
    await carol.addContact('alice', alice.address);
    assert.equal((await alice.send(carol.address, 'hi carol')).state, 'delivered');
    await waitFor('carol gets the message', () => carolGot.includes('hi carol'));
    // carol writes to erin first: erin's reply reaches carol as a message
    assert.equal((await carol.send(erin.address, 'hi erin')).state, 'delivered');
    assert.equal((await erin.send(carol.address, 'hi carol, erin here')).state, 'delivered');
    await waitFor('carol gets erin’s reply', () => carolGot.includes('hi carol, erin here'));
    assert.deepEqual(carolRequests, []);
  });

  it('policy "accept" delivers a stranger’s first message at once (the behaviour before requests)', async () => {
    const got: string[] = [];
    const requests: string[] = [];
    erin.on('message', (m) => got.push(m.text));
    erin.on('request', (r) => requests.push(r.text));
    assert.equal((await alice.send(erin.address, 'hello erin')).state, 'delivered');
    await waitFor('erin gets it', () => got.includes('hello erin'));
    assert.deepEqual(requests, []);
    assert.deepEqual(await erin.requests(), []);
  });

  it('replying to a pending request accepts it without making a contact', async () => {
    const requests: ContactRequestEvent[] = [];
    const messages: string[] = [];
    carol.on('request', (r) => requests.push(r));
    carol.on('message', (m) => messages.push(m.text));
    const dave = createNode({
      dataDir: await dataDir(),
      net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [tcpAddr(alice)] },
    });
    await dave.start();
    nodes.push(dave);
    await waitFor('dave in the DHT', async () => (await dave.status()).routingTable >= 1, 15_000);
    await dave.publishRecord();
    assert.equal((await dave.send(carol.address, 'hi, dave here')).state, 'delivered');
    await waitFor('the request', () => requests.length === 1);
    assert.equal((await carol.send(dave.address, 'hi dave')).state, 'delivered');
    assert.deepEqual(messages, ['hi, dave here'], 'the held message moved into the conversation');
    assert.deepEqual(await carol.requests(), []);
    assert.equal(
      (await carol.contacts()).some((c) => c.address === dave.address),
      false,
    );
    assert.deepEqual((await carol.conversation(dave.address)).map((m) => m.body).reverse(), [
      'hi, dave here',
      'hi dave',
    ]);
  });
});
