/**
 * DHT poisoning (issue 7; ../shared/TESTING.md matrix): a network of honest sotto DHT servers, a set
 * of Sybil servers that never hold a record ("no record" to every GET), and Mallory, who pushes
 * bad identity records for Bob straight into the DHT (her own node skips validation): a forged
 * signature, a record signed by another identity under Bob's key (swapped keys), Bob's own older
 * record (rollback), Bob's own expired record, and an oversized one. Honest servers refuse every
 * one of them, and every lookup of Bob — with the Sybils in the routing tables — still returns his
 * current record. Loopback only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import {
  createEnv,
  generateIdentity,
  generateKemPrekey,
  generateSignedPrekey,
  type IdentityKeyPair,
  manualClock,
} from '../../src/crypto/index.js';
import { identityRecordRules } from '../../src/directory/dht-rules.js';
import {
  createIdentityRecord,
  decodeIdentityRecord,
  encodeIdentityRecord,
  MAX_RECORD_BYTES,
  recordKey,
} from '../../src/directory/record.js';
import { createDeviceBinding } from '../../src/identity/device-binding.js';
import {
  createHost,
  getRecord,
  parseNetConfig,
  putRecord,
  routingTableSize,
  type SottoHost,
} from '../../src/net/index.js';

const HONEST = 6;
const SYBILS = 4;
/** Lookups of Bob's record made while the Sybils are present (bounded). */
const LOOKUPS = 24;
const HOUR = 3_600_000;

const env = createEnv();
const p = env.provider;
const hosts: SottoHost[] = [];
let honest: SottoHost[] = [];
const sybils: SottoHost[] = [];
let mallory: SottoHost;

const bob = generateIdentity(env);
const eve = generateIdentity(env);
const key = recordKey(bob.signingKey);

function recordOf(identity: IdentityKeyPair, sequence: number, expiresAt: number, signer = env): Uint8Array {
  const spk = generateSignedPrekey(signer, identity, sequence);
  const kem = generateKemPrekey(signer, identity, sequence);
  return encodeIdentityRecord(
    createIdentityRecord(signer, identity, {
      signedPrekey: { id: spk.id, publicKey: spk.publicKey, signature: spk.signature },
      kemPrekey: { id: kem.id, publicKey: kem.publicKey, signature: kem.signature },
      devices: [createDeviceBinding(p, identity, new Uint8Array(38).fill(sequence), Date.now() - HOUR)],
      mailboxes: [],
      sequence,
      expiresAt,
    }),
  );
}

const current = recordOf(bob, 5, Date.now() + 6 * HOUR);

async function host(rules: Parameters<typeof createHost>[0]['dht'], bootstrap: string[] = []): Promise<SottoHost> {
  const h = await createHost({
    privateKey: await generateKeyPair('Ed25519'),
    config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, allowPrivateAddresses: true }),
    dht: rules,
  });
  hosts.push(h);
  return h;
}

function addr(h: SottoHost): string {
  const ma = h.getMultiaddrs().find((m) => m.toString().includes('/tcp/')) as NonNullable<
    ReturnType<SottoHost['getMultiaddrs']>[number]
  >;
  return ma.toString().includes('/p2p/') ? ma.toString() : `${ma.toString()}/p2p/${h.peerId}`;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Pushes `value` under Bob's key from Mallory's node, which validates nothing; returns who stored it. */
async function push(value: Uint8Array): Promise<{ storedBy: string[]; asked: number }> {
  const storedBy = new Set<string>();
  const asked = new Set<string>();
  const signal = AbortSignal.timeout(20_000);
  try {
    for await (const event of mallory.services.dht.put(key, value, { signal })) {
      if (event.name === 'SEND_QUERY' && event.messageName === 'PUT_VALUE') asked.add(event.to.toString());
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE' && event.record != null) {
        storedBy.add(event.from.toString());
      }
    }
  } catch {
    // every peer refused: kad-dht may end the put with an error; what was stored is counted above
  }
  return { storedBy: [...storedBy], asked: asked.size };
}

before(async () => {
  const rules = identityRecordRules(p, Date.now);
  const first = await host(rules);
  honest = [first];
  for (let i = 1; i < HONEST; i++) honest.push(await host(rules, [addr(first)]));
  // Sybils: DHT servers whose validator refuses everything, so they never hold a record.
  const refuseAll = {
    validators: {
      sotto: async () => {
        throw new Error('sybil: no record');
      },
    },
    selectors: { sotto: () => 0 },
  };
  for (let i = 0; i < SYBILS; i++) sybils.push(await host(refuseAll, [addr(first)]));
  // Mallory stores anything (her validator accepts all) and pushes it to the closest peers.
  mallory = await host({ validators: { sotto: async () => undefined }, selectors: { sotto: () => 0 } }, [addr(first)]);
  for (const h of [...honest.slice(1), ...sybils, mallory]) await h.dial(multiaddr(addr(first)));
  await waitFor('routing tables', () => [...honest, ...sybils, mallory].every((h) => routingTableSize(h) >= 3));
  const put = await putRecord(honest[1] as SottoHost, key, current);
  assert.ok(put.accepted >= 3, `Bob's record stored by ${put.accepted} peers`);
  // Every honest server holds the current record (a put stores it on the putting node first): an
  // older one is then a rollback for each of them, not just for those the first put reached.
  for (const h of honest) await putRecord(h, key, current);
});

after(async () => {
  await Promise.allSettled(hosts.map((h) => h.stop()));
});

describe('DHT poisoning', () => {
  const honestIds = () => new Set(honest.map((h) => h.peerId.toString()));

  const attacks: Array<[string, () => Uint8Array]> = [
    [
      'a forged signature',
      () => {
        const r = decodeIdentityRecord(recordOf(bob, 9, Date.now() + 6 * HOUR));
        const signature = Uint8Array.from(r.signature);
        signature[10] = (signature[10] as number) ^ 0x40;
        return encodeIdentityRecord({ ...r, signature });
      },
    ],
    ['a record of another identity under Bob’s key (swapped keys)', () => recordOf(eve, 9, Date.now() + 6 * HOUR)],
    ['Bob’s own older record (sequence 3 < 5: a rollback)', () => recordOf(bob, 3, Date.now() + 6 * HOUR)],
    [
      'Bob’s own expired record with a higher sequence',
      () => recordOf(bob, 8, Date.now() - 2 * HOUR, createEnv({ clock: manualClock(Date.now() - 3 * HOUR) })),
    ],
    [
      'an oversized record',
      () => {
        const big = new Uint8Array(MAX_RECORD_BYTES + 1024);
        big.set(recordOf(bob, 9, Date.now() + 6 * HOUR));
        return big;
      },
    ],
  ];

  for (const [what, make] of attacks) {
    it(`honest servers refuse ${what}; lookups still return Bob’s current record`, async (t) => {
      const { storedBy, asked } = await push(make());
      const byHonest = storedBy.filter((id) => honestIds().has(id));
      t.diagnostic(`asked ${asked} peers; stored by ${storedBy.length} (honest ${byHonest.length})`);
      assert.deepEqual(byHonest, [], 'no honest server stored it');
      for (const h of honest) {
        const got = await getRecord(h, key, { timeoutMs: 20_000 });
        assert.deepEqual(decodeIdentityRecord(got.value).sequence, 5);
      }
    });
  }

  it(`with ${SYBILS} Sybil servers answering "no record", ${LOOKUPS} lookups all find Bob (from honest nodes and a newcomer)`, async (t) => {
    const rules = identityRecordRules(p, Date.now);
    // A newcomer whose first contacts are the Sybils only.
    const newcomer = await host(rules, [addr(sybils[0] as SottoHost)]);
    for (const s of sybils) await newcomer.dial(multiaddr(addr(s)));
    await waitFor('newcomer routing table', () => routingTableSize(newcomer) >= SYBILS);
    const askers = [...honest, newcomer];
    let found = 0;
    for (let i = 0; i < LOOKUPS; i++) {
      const asker = askers[i % askers.length] as SottoHost;
      try {
        const got = await getRecord(asker, key, { timeoutMs: 20_000 });
        if (decodeIdentityRecord(got.value).sequence === 5) found++;
      } catch {
        // counted as not found
      }
    }
    t.diagnostic(`lookups ${LOOKUPS}, found ${found} (${((100 * found) / LOOKUPS).toFixed(0)}%)`);
    assert.equal(found, LOOKUPS);
  });
});
