/**
 * A mailbox under hostile deposits (issue 5, "Hostile input"): oversized envelopes, deposits over the
 * per-identity and total quotas, and a flood from one peer are each refused with a typed Ack, while
 * an honest peer's deposit is still accepted and nothing already held is lost or changed. (Fetches
 * with wrong or replayed signatures and acks by third parties: test/protocols/mailbox/*.test.ts.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { createEnv } from '../../src/crypto/index.js';
import { identityRecordRules } from '../../src/directory/dht-rules.js';
import { createNode, MAILBOX_DEPOSIT_BURST, MAILBOX_DEPOSIT_REFILL_MS, type SottoNode } from '../../src/index.js';
import { createHost, parseNetConfig, type SottoHost } from '../../src/net/index.js';
import {
  AckStatus,
  type Envelope,
  openEnvelopeStream,
  type SealedEnvelope,
  sealEnvelope,
  sendEnvelope,
} from '../../src/protocols/message/index.js';

const dirs: string[] = [];
let mailbox: SottoNode;
let mallory: SottoHost;
let honest: SottoHost;
let mailboxPeer: ReturnType<typeof peerIdFromString>;

/** The operator's limits for this test. */
const MAX_ENVELOPE_BYTES = 4096;
const MAX_PER_IDENTITY = 150;
const MAX_TOTAL_BYTES = 400 * 1024;

const env = createEnv();
/** A fresh identity key (a valid Ed25519 point: sealing needs one). */
const identityKey = (): Uint8Array => env.provider.ed25519PublicKey(randomBytes(32));
const victim = identityKey();
const other = identityKey();

function plain(recipient: Uint8Array, bodyBytes: number): Envelope {
  return {
    id: randomBytes(16),
    sender: randomBytes(32),
    recipient,
    timestamp: Date.now(),
    body: randomBytes(bodyBytes),
  };
}

/** A deposit as a sender makes it: sealed to the recipient (protocols/message/SPEC.md §9). */
function deposit(recipient: Uint8Array, bodyBytes = 1000): SealedEnvelope {
  return sealEnvelope(env, plain(recipient, bodyBytes));
}

async function rawHost(): Promise<SottoHost> {
  const host = await createHost({
    privateKey: await generateKeyPair('Ed25519'),
    config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] }),
    dht: identityRecordRules(createEnv().provider, Date.now),
  });
  await host.start();
  return host;
}

/**
 * The mailbox node's clock: real time plus what the test adds, frozen while a flood runs (so the
 * deposit limiter refills by the test's steps, not by how fast a loaded machine runs the flood).
 */
let clockOffset = 0;
let frozenAt: number | undefined;
const mailboxClock = (): number => frozenAt ?? Date.now() + clockOffset;

/** The deposit limiter gives a token back every MAILBOX_DEPOSIT_REFILL_MS: a paced sender moves the clock on. */
function tokenBack(): void {
  clockOffset += MAILBOX_DEPOSIT_REFILL_MS;
}

async function held(): Promise<number> {
  return (await mailbox.status()).mailbox?.held ?? -1;
}

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-mailbox-hostile-'));
  dirs.push(dir);
  mailbox = createNode({
    dataDir: dir,
    net: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    clock: mailboxClock,
    mailbox: {
      policy: 'open',
      maxEnvelopeBytes: MAX_ENVELOPE_BYTES,
      maxEnvelopesPerIdentity: MAX_PER_IDENTITY,
      maxTotalBytes: MAX_TOTAL_BYTES,
    },
  });
  await mailbox.start();
  mailboxPeer = peerIdFromString(mailbox.peerId);
  mallory = await rawHost();
  honest = await rawHost();
  const ma = mailbox.multiaddrs().find((m) => m.includes('/tcp/') && !m.includes('/ws')) as string;
  const addr = ma.includes('/p2p/') ? ma : `${ma}/p2p/${mailbox.peerId}`;
  await mallory.dial(multiaddr(addr));
  await honest.dial(multiaddr(addr));
});

after(async () => {
  await Promise.allSettled([mallory?.stop(), honest?.stop(), mailbox?.stop()]);
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('mailbox under hostile deposits', () => {
  it('a plain (unsealed) envelope is REJECTED sealed-required and not held', async () => {
    const ack = await sendEnvelope(mallory, mailboxPeer, plain(victim, 100));
    assert.deepEqual([ack.status, ack.reason], [AckStatus.REJECTED, 'sealed-required']);
    assert.equal(await held(), 0);
  });

  it('an oversized envelope is TOO_LARGE and not held', async () => {
    const ack = await sendEnvelope(mallory, mailboxPeer, deposit(victim, MAX_ENVELOPE_BYTES));
    assert.equal(ack.status, AckStatus.TOO_LARGE);
    assert.equal(await held(), 0);
  });

  it('a flood from one peer is cut off after a burst; an honest peer still deposits; nothing lost', async () => {
    const stream = await openEnvelopeStream(mallory, mailboxPeer);
    let stored = 0;
    let limited = 0;
    const FLOOD = MAILBOX_DEPOSIT_BURST * 4; // bounded
    // The mailbox's clock stands still during the flood: no token comes back however slowly it runs.
    frozenAt = mailboxClock();
    const flood = Array.from({ length: FLOOD }, () => deposit(identityKey(), 80)); // many identities: no per-identity quota
    for (let i = 0; i < FLOOD && stream.usable; i += 8) {
      const acks = await Promise.all(flood.slice(i, i + 8).map((e) => stream.send(e)));
      for (const ack of acks) {
        if (ack.status === AckStatus.STORED) stored++;
        else if (ack.status === AckStatus.REJECTED && ack.reason === 'rate-limited') limited++;
        else assert.fail(`unexpected ack ${ack.status} ${ack.reason}`);
      }
    }
    await stream.close();
    frozenAt = undefined;
    assert.ok(stored >= MAILBOX_DEPOSIT_BURST, `the burst is accepted (${stored})`);
    assert.ok(limited > 0, `the flood is limited (${limited} refused of ${FLOOD})`);
    assert.equal(await held(), stored, 'every STORED is held, nothing else');
    const ack = await sendEnvelope(honest, mailboxPeer, deposit(other, 500));
    assert.equal(ack.status, AckStatus.STORED, 'an honest peer is not affected');
    assert.equal(await held(), stored + 1);
    console.log(
      `# mailbox flood: ${FLOOD} deposits from one peer: stored ${stored}, refused rate-limited ${limited}; honest deposit accepted 1/1; held ${stored + 1}`,
    );
  });

  it('deposits over the per-identity and the total quota are refused; what is held stays', async () => {
    const before = await held();
    // Fill the victim's quota from the honest peer (paced by the deposit rate limit, bounded).
    let overQuota = 0;
    let stored = 0;
    for (let i = 0; i < MAX_PER_IDENTITY * 2 && overQuota === 0; i++) {
      const ack = await sendEnvelope(honest, mailboxPeer, deposit(victim, 200));
      if (ack.status === AckStatus.STORED) stored++;
      else if (ack.reason === 'over-quota') overQuota++;
      else if (ack.reason === 'rate-limited') tokenBack();
      else assert.fail(`unexpected ack ${ack.status} ${ack.reason}`);
    }
    assert.equal(overQuota, 1, 'the per-identity quota was reached');
    // The total: large deposits for fresh identities until the mailbox is full.
    let full = 0;
    for (let i = 0; i < 100 && full === 0; i++) {
      const ack = await sendEnvelope(honest, mailboxPeer, deposit(identityKey(), 3500));
      if (ack.status === AckStatus.STORED) stored++;
      else if (ack.reason === 'mailbox-full') full++;
      else if (ack.reason === 'rate-limited') tokenBack();
      else assert.fail(`unexpected ack ${ack.status} ${ack.reason}`);
    }
    assert.equal(full, 1, 'the total quota was reached');
    assert.equal(await held(), before + stored, 'everything accepted is still held');
    assert.ok(((await mailbox.status()).mailbox?.bytes ?? 0) <= MAX_TOTAL_BYTES);
  });
});
