/**
 * A child process of the scale benchmark (scripts/bench/scale.ts), driven over IPC:
 *
 * - mesh part: a share of the N hosts (`seed`, `join`, `routing`, `publish`, `lookup`, `rss`), and
 *   optionally one of the two full nodes timed to the first delivered message (`recipient`, `sender`);
 * - sessions part: the receiving full node (`recipient`, `refresh`, `mark`), or a sender host that
 *   speaks `/sotto/msg/1.0.0` for many identities of its own (`identities`, `prepare`, `blast`): each
 *   identity has its record in the directory bound to this host, its own PQXDH session with the
 *   recipient, and its messages are encrypted by the project's Session and sent as the node sends
 *   them (one pipelined envelope stream per peer, ≤ MAX_UNACKED_ENVELOPES unacknowledged).
 *
 * 127.0.0.1 only; every loop is bounded in count and time.
 */
import '../../../src/net/shim.js';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromMultihash } from '@libp2p/peer-id';
import { decode as decodeMultihash } from 'multiformats/hashes/digest';
import { fromHex, toHex } from '../../../src/crypto/bytes.js';
import { type CryptoEnv, createEnv } from '../../../src/crypto/env.js';
import { generateIdentity, type IdentityKeyPair } from '../../../src/crypto/keys.js';
import { initiateSession } from '../../../src/crypto/pqxdh.js';
import { nodeProviderReady } from '../../../src/crypto/provider-node.js';
import type { Session } from '../../../src/crypto/session.js';
import {
  bundleFromRecord,
  type IdentityRecord,
  recordKey,
  validateRecordBytes,
} from '../../../src/directory/record.js';
import { decodeAddress, encodeAddress } from '../../../src/identity/address.js';
import { getRecord, putRecord, type SottoHost, waitForDhtPeer } from '../../../src/net/index.js';
import { encodeText } from '../../../src/node/content.js';
import type { SottoNode } from '../../../src/node/node.js';
import {
  AckStatus,
  type EnvelopeStream,
  MAX_ENVELOPES_PER_STREAM,
  MAX_UNACKED_ENVELOPES,
  openEnvelopeStream,
} from '../../../src/protocols/message/index.js';
import { errorMessage } from '../lib.js';
import {
  hostAddress,
  identityRecordBytes,
  joinHosts,
  lookupRecords,
  MESH_JOIN_WAIT_MS,
  mapLimit,
  newMeshHost,
  publishRecords,
  senderFirstAndFollow,
  settledRss,
  startRecipient,
  stopAll,
  waitMeshRouting,
} from '../mesh.js';
import { type CommandHandler, serveCommands } from '../rpc.js';

type Args = Record<string, unknown>;
/**
 * DHT puts / lookups in flight while setting up the sessions part. Kept low: at 32 the receiving
 * node closed every connection of a sender host at S = 100 (ConnectionClosedError on every first
 * message; fine at 8), consistent with its per-peer stream limits and ban list.
 */
const SETUP_CONCURRENCY = 8;
const now = () => performance.now();
const num = (a: Args, k: string): number => {
  const v = a[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`argument ${k} must be a number`);
  return v;
};
const str = (a: Args, k: string): string => {
  const v = a[k];
  if (typeof v !== 'string') throw new Error(`argument ${k} must be a string`);
  return v;
};

await nodeProviderReady;
const env: CryptoEnv = createEnv();
const hosts: SottoHost[] = [];
const nodes: SottoNode[] = [];
const rssBase = await settledRss();
let ownKeys = new Set<string>();
let received = 0;

// Sessions part: identities of this sender host and their sessions with the recipient.
interface Sender {
  identity: IdentityKeyPair;
  session?: Session;
}
const senders: Sender[] = [];
let recipient: { key: Uint8Array; peer: PeerId; record: IdentityRecord } | undefined;
let stream: EnvelopeStream | undefined;

let opening: Promise<EnvelopeStream> | undefined;

/** The pipelined stream to the recipient; one is opened at a time, a new one when it is used up or failed. */
async function envelopeStream(): Promise<EnvelopeStream> {
  if (!recipient) throw new Error('prepare first');
  if (stream?.usable && stream.used < MAX_ENVELOPES_PER_STREAM) return stream;
  if (opening === undefined) {
    const old = stream;
    const peer = recipient.peer;
    opening = openEnvelopeStream(hosts[0]!, peer, { timeout: 15_000 }).finally(() => {
      opening = undefined;
    });
    stream = await opening;
    void old?.close({ signal: AbortSignal.timeout(1000) }).catch(() => {});
    return stream;
  }
  return opening;
}

/** Attempts per envelope: a connection closed under us (e.g. a ping timeout on a loaded machine) is redialled once. */
const SEND_ATTEMPTS = 3;

/** Encrypts one text for `s` and sends it (the same envelope again after a failure); true when acked stored. */
async function sendOne(s: Sender, text: Uint8Array): Promise<boolean> {
  if (!recipient || !s.session) throw new Error('prepare first');
  const envelope = {
    id: env.rng(16),
    sender: s.identity.signingKey,
    recipient: recipient.key,
    timestamp: Date.now(),
    body: s.session.encrypt(text),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const ack = await (await envelopeStream()).send(envelope, { timeout: 15_000 });
      return ack.status === AckStatus.STORED || ack.status === AckStatus.DUPLICATE;
    } catch (err) {
      if (attempt >= SEND_ATTEMPTS) throw err;
      // drop the dead connection, so that the next stream redials instead of reusing it
      if (opening === undefined && stream !== undefined && !stream.usable) {
        stream = undefined;
        await hosts[0]!.hangUp(recipient.peer).catch(() => {});
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const handlers: Record<string, CommandHandler> = {
  async seed() {
    const host = await newMeshHost(env, []);
    hosts.push(host);
    return { multiaddr: hostAddress(host) };
  },
  async join(a) {
    const t0 = now();
    await joinHosts(env, num(a, 'count'), str(a, 'seed'), hosts, num(a, 'concurrency'), now() + num(a, 'budgetMs'));
    return { ms: now() - t0, hosts: hosts.length };
  },
  async routing(a) {
    return waitMeshRouting(
      hosts,
      a.seedTarget === undefined ? undefined : hosts[0],
      Number(a.seedTarget ?? 2),
      num(a, 'budgetMs'),
    );
  },
  async publish(a) {
    const count = Math.min(hosts.length, num(a, 'records'));
    const indices = Array.from({ length: count }, (_, i) => Math.floor((i * hosts.length) / count));
    const pub = await publishRecords(env, hosts, indices);
    ownKeys = new Set(pub.keys.map(toHex));
    return { keys: pub.keys.map(toHex), times: pub.times, accepted: pub.accepted, failures: pub.failures };
  },
  async lookup(a) {
    const keys = (a.keys as string[]).map(fromHex);
    // keys published by this process's own hosts are not looked up from here
    const others = keys.filter((k) => !ownKeys.has(toHex(k)));
    return lookupRecords(
      env,
      hosts,
      others,
      others.map(() => -1),
      { count: num(a, 'count'), budgetMs: num(a, 'budgetMs'), timeoutMs: num(a, 'timeoutMs'), seed: num(a, 'seed') },
    );
  },
  async rss() {
    return { base: rssBase, now: await settledRss() };
  },
  async recipient(a) {
    const r = await startRecipient(str(a, 'dataDir'), str(a, 'seed'));
    nodes.push(r.node);
    r.node.on('message', () => {
      received++;
    });
    return { address: r.node.address, readyMs: r.readyMs };
  },
  async sender(a) {
    return senderFirstAndFollow(
      str(a, 'dataDir'),
      str(a, 'seed'),
      str(a, 'to'),
      num(a, 'size'),
      num(a, 'followUps'),
      num(a, 'budgetMs'),
      nodes,
    );
  },
  /** The recipient looks up each sender identity once (its own lookups are not rate-limited). */
  async refresh(a) {
    const node = nodes[0];
    if (!node) throw new Error('no recipient here');
    const errors: Record<string, number> = {};
    let ok = 0;
    const found: string[] = [];
    const t0 = now();
    await mapLimit(a.addresses as string[], SETUP_CONCURRENCY, async (address) => {
      try {
        await node.refresh(address);
        found.push(address);
        ok++;
      } catch (err) {
        const k = errorMessage(err);
        errors[k] = (errors[k] ?? 0) + 1;
      }
    });
    return { ok, found, errors, ms: now() - t0 };
  },
  async mark() {
    return { count: received, t: now() };
  },
  /** A sender host with `count` identities, each with its record bound to this host. */
  async identities(a) {
    if (hosts.length === 0) {
      const joined = await newMeshHost(env, [str(a, 'seed')]);
      hosts.push(joined);
      if (!(await waitForDhtPeer(joined, MESH_JOIN_WAIT_MS))) throw new Error('sender host found no DHT peer');
    }
    const host = hosts[0]!;
    const count = num(a, 'count');
    const fresh = Array.from({ length: count }, () => ({ identity: generateIdentity(env) }) as Sender);
    let failures = 0;
    const t0 = now();
    await mapLimit(fresh, SETUP_CONCURRENCY, async (s) => {
      const bytes = identityRecordBytes(env, s.identity, host.peerId.toMultihash().bytes);
      try {
        const r = await putRecord(host, recordKey(s.identity.signingKey), bytes, { timeoutMs: 15_000 });
        if (r.accepted === 0) failures++;
      } catch {
        failures++;
      }
    });
    senders.push(...fresh);
    return { addresses: fresh.map((s) => encodeAddress(s.identity.signingKey)), failures, ms: now() - t0 };
  },
  /**
   * Looks up the recipient, keeps the identities the recipient found (`known`), opens a session per
   * identity (PQXDH) and sends one first message each.
   */
  async prepare(a) {
    const host = hosts[0];
    if (!host) throw new Error('identities first');
    const key = decodeAddress(str(a, 'to'));
    const r = await getRecord(host, recordKey(key), { timeoutMs: 15_000 });
    const record = validateRecordBytes(env.provider, recordKey(key), r.value, Date.now());
    const device = record.devices[0];
    if (!device) throw new Error('recipient has no device');
    recipient = { key, peer: peerIdFromMultihash(decodeMultihash(device.peerId)), record };
    // Only identities the recipient could look up take part: the others would be refused (and a
    // peer sending refused envelopes at a high rate gets its connection closed).
    const known = new Set(a.known as string[]);
    for (let i = senders.length - 1; i >= 0; i--) {
      if (!known.has(encodeAddress(senders[i]!.identity.signingKey))) senders.splice(i, 1);
    }
    const text = encodeText('x'.repeat(num(a, 'size')));
    let ok = 0;
    const errors: Record<string, number> = {};
    const t0 = now();
    await mapLimit(senders, MAX_UNACKED_ENVELOPES, async (s) => {
      if (s.session === undefined) {
        s.session = initiateSession(env, {
          identity: s.identity,
          bundle: bundleFromRecord(record),
          context: { initiator: host.peerId.toString(), responder: recipient!.peer.toString() },
        });
      }
      try {
        if (await sendOne(s, text)) ok++;
        else errors['not stored'] = (errors['not stored'] ?? 0) + 1;
      } catch (err) {
        const k = errorMessage(err);
        errors[k] = (errors[k] ?? 0) + 1;
      }
    });
    return { ok, of: senders.length, ms: now() - t0, errors };
  },
  /**
   * Sends for `ms` (or `max` messages): round robin over this host's identities, `window` envelopes
   * in flight on the pipelined stream.
   */
  async blast(a) {
    const text = encodeText('x'.repeat(num(a, 'size')));
    const ms = num(a, 'ms');
    const max = num(a, 'max');
    const window = Math.min(num(a, 'window'), MAX_UNACKED_ENVELOPES);
    let next = 0;
    let acked = 0;
    let failed = 0;
    const errors: Record<string, number> = {};
    const t0 = now();
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (now() - t0 < ms && next < max) {
          const s = senders[next++ % senders.length]!;
          try {
            if (await sendOne(s, text)) acked++;
            else failed++;
          } catch (err) {
            failed++;
            const k = errorMessage(err);
            errors[k] = (errors[k] ?? 0) + 1;
          }
        }
      }),
    );
    return { acked, failed, errors, ms: now() - t0 };
  },
  async stop() {
    await stream?.close({ signal: AbortSignal.timeout(1000) }).catch(() => {});
    await stopAll(nodes, hosts);
    return null;
  },
};

serveCommands(handlers);
