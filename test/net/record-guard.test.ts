import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writer } from 'protons-runtime';
import {
  DHT_RECORD_DATASTORE_PREFIX,
  decodeDhtRecord,
  getRecord,
  guardDhtRecords,
  putRecord,
  RecordNotFoundError,
  StaleRecordError,
} from '../../src/net/index.js';
import { key, parseTestRecord, startNode, testRecord, testRules } from './helpers.js';

/** libp2p's Record protobuf, as kad-dht stores it. */
function encodeRecord(k: Uint8Array, value: Uint8Array): Uint8Array {
  const w = writer();
  w.uint32(10);
  w.bytes(k);
  w.uint32(18);
  w.bytes(value);
  w.uint32(42);
  w.string(new Date().toISOString());
  return w.finish();
}

class MapStore {
  readonly map = new Map<string, Uint8Array>();
  put(k: { toString(): string }, v: Uint8Array): string {
    this.map.set(k.toString(), v);
    return k.toString();
  }
  get(k: { toString(): string }): Uint8Array {
    const v = this.map.get(k.toString());
    if (v == null) throw Object.assign(new Error('not found'), { name: 'NotFoundError' });
    return v;
  }
}

describe('DHT record guard', () => {
  const k = key('/sotto/id/carol');
  const dsKey = `${DHT_RECORD_DATASTORE_PREFIX}CAROL`;

  it('decodes the record protobuf', () => {
    const r = decodeDhtRecord(encodeRecord(k, testRecord(4, 'x')));
    assert.deepEqual(r.key, k);
    assert.deepEqual(parseTestRecord(r.value), { seq: 4, body: 'x' });
  });

  it('lets a better record replace a worse one and refuses the reverse', async () => {
    const store = new MapStore();
    guardDhtRecords(store, testRules.validators, testRules.selectors);
    guardDhtRecords(store, testRules.validators, testRules.selectors); // idempotent
    await store.put(dsKey, encodeRecord(k, testRecord(1, 'v1')));
    await store.put(dsKey, encodeRecord(k, testRecord(2, 'v2')));
    await assert.rejects(async () => store.put(dsKey, encodeRecord(k, testRecord(1, 'v1'))), StaleRecordError);
    assert.equal(parseTestRecord(decodeDhtRecord(store.get(dsKey)).value).seq, 2);
    // The same record again (a republish) is fine; other keys are not touched.
    await store.put(dsKey, encodeRecord(k, testRecord(2, 'v2')));
    await store.put('/peers/whatever', new Uint8Array([1]));
  });

  it('lets anything valid replace a stored record that no longer validates', async () => {
    const store = new MapStore();
    store.map.set(dsKey, encodeRecord(k, testRecord(9, 'bad')));
    guardDhtRecords(store, testRules.validators, testRules.selectors);
    await store.put(dsKey, encodeRecord(k, testRecord(1, 'v1')));
    assert.equal(parseTestRecord(decodeDhtRecord(store.get(dsKey)).value).seq, 1);
  });
});

describe('records on a lone node', () => {
  it('put stores locally (0 peers), get finds it, a rollback is refused, a missing key is not found', async () => {
    const node = await startNode();
    try {
      const k = key('/sotto/id/solo');
      const put = await putRecord(node, k, testRecord(2, 'solo'));
      assert.deepEqual(
        { accepted: put.accepted, attempted: put.attempted, complete: put.complete },
        {
          accepted: 0,
          attempted: 0,
          complete: true,
        },
      );
      const got = await getRecord(node, k);
      assert.deepEqual(parseTestRecord(got.value), { seq: 2, body: 'solo' });
      await assert.rejects(putRecord(node, k, testRecord(1, 'solo')), StaleRecordError);
      await assert.rejects(getRecord(node, key('/sotto/id/nobody')), RecordNotFoundError);
    } finally {
      await node.stop();
    }
  });
});
