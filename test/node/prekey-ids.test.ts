/**
 * One-time prekey ids never repeat for an identity (src/node/node.ts `allocateOneTimeIds`, the
 * stored counter `prekeys/n/o`): once the highest-numbered key was used by a handshake and deleted,
 * new keys (pool top-ups at start and after a claim, keys uploaded to mailboxes) get ids above every
 * id ever allocated, across a restart too; a data dir from before the counter continues above its
 * highest id; when the u32 ids run out, allocation fails with PrekeyIdsExhaustedError and writes nothing.
 *
 * A key is "used like a handshake" through the receive path's store ops (node.ts: the batch that
 * stores the new session removes the one-time prekey and its claim marker). Without the counter,
 * ids were max(stored ids) + 1, and every check of a new id against the highest id ever allocated
 * below fails.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createEnv, generateOneTimePrekey } from '../../src/crypto/index.js';
import { MAX_PREKEY_ID } from '../../src/crypto/keys.js';
import { decodeAddress } from '../../src/identity/address.js';
import { createNode, ONE_TIME_PREKEY_POOL, type SottoNode } from '../../src/index.js';
import { PrekeyIdsExhaustedError } from '../../src/node/errors.js';
import type { ClaimResult } from '../../src/protocols/prekeys/index.js';
import { openEncryptedStore, type SottoStore } from '../../src/store/index.js';

const dirs: string[] = [];
const nodes: SottoNode[] = [];
const env = createEnv();

after(async () => {
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-prekey-ids-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string): Promise<SottoNode> {
  const node = createNode({ dataDir: dir, net: { listen: ['/ip4/127.0.0.1/tcp/0'] } });
  await node.start();
  nodes.push(node);
  return node;
}

/** The node's private allocation paths: the claim callback and the keys uploaded to mailboxes. */
interface Internals {
  store: SottoStore;
  serveClaim(identity: Uint8Array): Promise<ClaimResult>;
  prekeysForUpload(count: number): Promise<Array<{ id: number; publicKey: Uint8Array }>>;
}
const internals = (node: SottoNode): Internals => node as unknown as Internals;

/** Serves a claim of the node's own identity (what `/sotto/prekeys/1.0.0` calls). */
async function claim(node: SottoNode): Promise<number> {
  const result = await internals(node).serveClaim(decodeAddress(node.address));
  assert.ok(typeof result === 'object', `claim answered ${String(result)}`);
  return result.id;
}

/** Deletes a one-time prekey with the store ops of the receive path's session batch. */
async function useLikeAHandshake(store: SottoStore, id: number): Promise<void> {
  assert.ok(await store.prekeys.get('one-time', id), `one-time prekey ${id} is stored`);
  const batch = store.batch();
  batch.prekeys.remove('one-time', id);
  batch.prekeys.unmarkClaimed(id);
  await batch.commit();
}

/** Every one-time prekey id a node allocated, as observed, and the check that new ones are above them all. */
class Allocations {
  readonly all: number[] = [];
  private before: number[] = [];

  /** Notes the stored ids before an operation that may allocate (or, for a store not open yet, those given). */
  async mark(from: SottoStore | number[]): Promise<void> {
    this.before = Array.isArray(from) ? from : await from.prekeys.ids('one-time');
  }

  /** The ids stored now that were not before `mark`: each must be above every id allocated earlier. */
  async fresh(store: SottoStore, what: string): Promise<number[]> {
    const earlier = new Set(this.before);
    const added = (await store.prekeys.ids('one-time')).filter((id) => !earlier.has(id));
    const highest = Math.max(0, ...this.all);
    for (const id of added) {
      assert.ok(id > highest, `${what}: new id ${id} is above every id allocated before (highest ${highest})`);
    }
    this.all.push(...added);
    return added;
  }
}

/** What an allocation could change: stored ids, which are claimed, and the counter. */
async function prekeyState(store: SottoStore): Promise<string> {
  const ids = await store.prekeys.ids('one-time');
  const claimed: number[] = [];
  for (const id of ids) if (await store.prekeys.isClaimed(id)) claimed.push(id);
  return JSON.stringify({ ids, claimed, next: await store.prekeys.nextOneTimeId() });
}

/** A store as an older sotto left it: one-time prekeys (some claimed), no id counter. */
async function writeOldStore(
  dir: string,
  prekeys: { unclaimed: number[]; claimed: number[]; next?: number },
): Promise<void> {
  const { store } = await openEncryptedStore({ path: join(dir, 'store') });
  try {
    const batch = store.batch();
    for (const id of [...prekeys.unclaimed, ...prekeys.claimed]) {
      batch.prekeys.put('one-time', generateOneTimePrekey(env, id));
    }
    for (const id of prekeys.claimed) batch.prekeys.markClaimed(id, Date.now());
    if (prekeys.next !== undefined) batch.prekeys.setNextOneTimeId(prekeys.next);
    await batch.commit();
    assert.equal(await store.prekeys.nextOneTimeId(), prekeys.next);
  } finally {
    await store.close();
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('one-time prekey ids never repeat', () => {
  it('after the highest key is used, claims, uploads and a restart allocate above every id ever allocated', async () => {
    const dir = await dataDir();
    const seen = new Allocations();
    let node = await start(dir);
    let store = internals(node).store;
    assert.deepEqual(await seen.fresh(store, 'first start'), range(1, ONE_TIME_PREKEY_POOL));
    assert.equal(await store.prekeys.nextOneTimeId(), ONE_TIME_PREKEY_POOL + 1, 'the counter came with the keys');

    // Keys for a mailbox: stored here and marked claimed.
    await seen.mark(store);
    const uploaded = (await internals(node).prekeysForUpload(5)).map((p) => p.id);
    assert.deepEqual(await seen.fresh(store, 'upload'), uploaded);
    for (const id of uploaded) assert.ok(await store.prekeys.isClaimed(id), `uploaded ${id} is marked claimed`);
    const highest = Math.max(...uploaded);

    // The mailbox hands out the highest one and the handshake uses it: its id must not come back.
    await useLikeAHandshake(store, highest);
    await seen.mark(store);
    const claimed = await claim(node);
    assert.equal(claimed, 1, 'a claim hands out the lowest unclaimed id');
    const topUp = await seen.fresh(store, 'top-up after a claim');
    assert.equal(topUp.length, 1, 'one key replaces the claimed one');
    assert.ok(!topUp.includes(highest), `id ${highest} was not handed out again`);

    // Use the new highest and the claimed one, then restart: the start-up top-up goes on above them.
    await useLikeAHandshake(store, Math.max(...topUp));
    await useLikeAHandshake(store, claimed);
    await seen.mark(store);
    await node.stop();
    node = await start(dir);
    store = internals(node).store;
    const afterRestart = await seen.fresh(store, 'top-up at restart');
    assert.equal(afterRestart.length, 1, 'one key refills the pool of unclaimed keys');
    await seen.mark(store);
    const uploadedAgain = (await internals(node).prekeysForUpload(3)).map((p) => p.id);
    assert.deepEqual(await seen.fresh(store, 'upload after restart'), uploadedAgain);

    assert.equal(new Set(seen.all).size, seen.all.length, 'no id was allocated twice');
    assert.equal(await store.prekeys.nextOneTimeId(), Math.max(...seen.all) + 1);
    const pool = (await node.status()).oneTimePrekeys;
    assert.equal(pool.available, ONE_TIME_PREKEY_POOL, 'the pool is full');
  });

  it('a data dir from before the counter continues above its highest id and keeps going after it is used', async () => {
    const dir = await dataDir();
    // Keys 11..40 were used and deleted long ago (unknowable now); 41..45 were uploaded to a mailbox.
    await writeOldStore(dir, { unclaimed: range(1, 10), claimed: range(41, 45) });
    const seen = new Allocations();
    const old = [...range(1, 10), ...range(41, 45)];
    seen.all.push(...old);
    await seen.mark(old);
    const node = await start(dir);
    const store = internals(node).store;
    const toppedUp = await seen.fresh(store, 'top-up at the first start');
    assert.deepEqual(toppedUp, range(46, 55), 'ten new keys above the highest stored id (45)');
    assert.equal(await store.prekeys.nextOneTimeId(), 56);

    // The two highest are used; new ids still go above them.
    await useLikeAHandshake(store, 55);
    await useLikeAHandshake(store, 54);
    await seen.mark(store);
    const uploaded = (await internals(node).prekeysForUpload(2)).map((p) => p.id);
    assert.deepEqual(await seen.fresh(store, 'upload'), uploaded);
    assert.deepEqual(uploaded, [56, 57]);
  });

  it('a data dir from before the counter with a full pool gets its counter at start, before any key is used', async () => {
    const dir = await dataDir();
    await writeOldStore(dir, { unclaimed: range(1, ONE_TIME_PREKEY_POOL), claimed: [30] });
    const node = await start(dir);
    const store = internals(node).store;
    assert.deepEqual(await store.prekeys.ids('one-time'), [...range(1, ONE_TIME_PREKEY_POOL), 30], 'no key added');
    assert.equal(await store.prekeys.nextOneTimeId(), 31, 'pinned above the highest stored id');
    await useLikeAHandshake(store, 30);
    const claimed = await claim(node);
    assert.equal(claimed, 1);
    const ids = await store.prekeys.ids('one-time');
    assert.deepEqual(
      ids.filter((id) => id > ONE_TIME_PREKEY_POOL),
      [31],
      'the top-up after the claim goes above the highest id the old store held (30, used since)',
    );
  });

  it('when the u32 ids run out, allocation fails with PrekeyIdsExhaustedError and changes nothing', async () => {
    const dir = await dataDir();
    // Every id below MAX_PREKEY_ID - 2 was allocated already.
    await writeOldStore(dir, { unclaimed: range(1, ONE_TIME_PREKEY_POOL), claimed: [], next: MAX_PREKEY_ID - 2 });
    const node = await start(dir);
    const store = internals(node).store;
    let state = await prekeyState(store);
    assert.equal(await store.prekeys.nextOneTimeId(), MAX_PREKEY_ID - 2, 'a full pool allocates nothing at start');

    await assert.rejects(internals(node).prekeysForUpload(4), (err: unknown) => {
      assert.ok(err instanceof PrekeyIdsExhaustedError, String(err));
      assert.equal(err.kind, 'one-time');
      return true;
    });
    assert.equal(await prekeyState(store), state, 'a refused upload wrote nothing');

    const last = (await internals(node).prekeysForUpload(3)).map((p) => p.id);
    assert.deepEqual(last, [MAX_PREKEY_ID - 2, MAX_PREKEY_ID - 1, MAX_PREKEY_ID], 'the last ids, no wrap to 0');
    assert.equal(await store.prekeys.nextOneTimeId(), MAX_PREKEY_ID + 1);
    state = await prekeyState(store);

    // A claim needs one new key to refill the pool: refused, and the claimed mark is not written either.
    await assert.rejects(internals(node).serveClaim(decodeAddress(node.address)), PrekeyIdsExhaustedError);
    await assert.rejects(internals(node).prekeysForUpload(1), PrekeyIdsExhaustedError);
    assert.equal(await prekeyState(store), state, 'a refused claim wrote nothing');
    assert.equal(await store.prekeys.isClaimed(1), false);
  });
});
