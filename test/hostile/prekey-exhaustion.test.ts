/**
 * One-time prekey exhaustion (TESTING.md matrix: "one-time prekey exhaustion by a claimer —
 * rate-limited; falls back; republishes — handshake success %"). Several claimers, each within its
 * own rate limit, take one-time prekeys until the node's cap on outstanding claims answers EMPTY;
 * honest senders then handshake with the signed prekey alone, and every message arrives.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { decodeAddress } from '../../src/identity/address.js';
import { createNode, ONE_TIME_PREKEY_POOL, type SottoNode } from '../../src/index.js';
import type { SottoHost } from '../../src/net/index.js';
import { CLAIM_BURST, claimPrekey, RateLimitedError } from '../../src/protocols/prekeys/index.js';
import { rawHost, tcpAddr } from './peers.js';

/** The cap under test (MAX_OUTSTANDING_CLAIMS is 1000; a lower one keeps the test small). */
const CAP = 6;
const CLAIMERS = 3;
const HONEST_SENDERS = 4;

const dirs: string[] = [];
const nodes: SottoNode[] = [];
const hosts: SottoHost[] = [];

async function start(options: Partial<Parameters<typeof createNode>[0]> = {}, bootstrap: string[] = []) {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-prekey-exhaustion-'));
  dirs.push(dir);
  const node = createNode({ dataDir: dir, net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap }, ...options });
  await node.start();
  nodes.push(node);
  return node;
}

async function claimer(bob: SottoNode): Promise<SottoHost> {
  const host = await rawHost();
  hosts.push(host);
  await host.dial(multiaddr(tcpAddr(bob)));
  return host;
}

after(async () => {
  await Promise.allSettled([...hosts.map((h) => h.stop()), ...nodes.map((n) => n.stop())]);
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('one-time prekey exhaustion', () => {
  it('claimers hit the cap on outstanding claims (EMPTY); honest first messages still arrive, 100%', async () => {
    const bob = await start({ maxOutstandingClaims: CAP });
    const identity = decodeAddress(bob.address);
    const bobPeer = peerIdFromString(bob.peerId);
    let handed = 0;
    let empty = 0;
    let limited = 0;
    for (let c = 0; c < CLAIMERS; c++) {
      const host = await claimer(bob);
      for (let i = 0; i < CLAIM_BURST + 2; i++) {
        try {
          if ((await claimPrekey(host, bobPeer, identity)) === null) empty++;
          else handed++;
        } catch (err) {
          if (!(err instanceof RateLimitedError)) throw err;
          limited++;
        }
      }
    }
    assert.equal(handed, CAP, 'one-time prekeys handed out up to the cap');
    assert.equal(empty, CLAIMERS * CLAIM_BURST - CAP, 'then EMPTY');
    assert.equal(limited, CLAIMERS * 2, 'each claimer is also held to its own rate limit');
    const pool = (await bob.status()).oneTimePrekeys;
    assert.deepEqual(
      [pool.available, pool.claimed],
      [ONE_TIME_PREKEY_POOL, CAP],
      'the store did not grow past the cap',
    );

    // Honest senders now meet an exhausted node: they handshake without a one-time prekey.
    const got = new Set<string>();
    bob.on('message', (m) => got.add(m.id));
    const states: string[] = [];
    for (let i = 0; i < HONEST_SENDERS; i++) {
      const alice = await start({}, [tcpAddr(bob)]);
      await alice.publishRecord();
      const r = await alice.send(bob.address, `hello ${i}`);
      states.push(r.state);
      assert.ok(got.has(r.id) || r.state !== 'delivered', 'a delivered message reached bob');
    }
    const delivered = states.filter((s) => s === 'delivered').length;
    console.log(
      `# prekey exhaustion: ${CLAIMERS} claimers × ${CLAIM_BURST + 2} claims: handed ${handed} (cap ${CAP}), EMPTY ${empty}, rate-limited ${limited}; ` +
        `honest handshakes without a one-time prekey: ${delivered}/${HONEST_SENDERS} delivered (${((100 * delivered) / HONEST_SENDERS).toFixed(0)}%); ` +
        `bob's one-time prekeys: ${pool.available} available, ${pool.claimed} claimed`,
    );
    assert.equal(delivered, HONEST_SENDERS, 'every honest first message delivered');
    assert.equal((await bob.status()).oneTimePrekeys.claimed, CAP, 'no honest send claimed past the cap');
  });

  it('maxOutstandingClaims is checked: never above MAX_OUTSTANDING_CLAIMS, a positive integer', async () => {
    for (const bad of [0, 1.5, 1001]) {
      const dir = await mkdtemp(join(tmpdir(), 'sotto-prekey-exhaustion-'));
      dirs.push(dir);
      await assert.rejects(createNode({ dataDir: dir, maxOutstandingClaims: bad }).start(), /maxOutstandingClaims/);
    }
  });
});
