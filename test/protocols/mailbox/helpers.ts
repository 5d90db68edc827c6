// Harness for /sotto/mailbox/1.0.0: real libp2p 3 nodes (TCP on 127.0.0.1 + Noise + Yamux), no DHT,
// an in-memory MailboxStorage, identities from the crypto core, and a raw client for hostile frames.
import '../../../src/net/shim.js';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { lpStream } from '@libp2p/utils';
import type { Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { createEnv } from '../../../src/crypto/env.js';
import { generateIdentity, type IdentityKeyPair } from '../../../src/crypto/keys.js';
import {
  decodeServerFrame,
  fetchAuthMessage,
  MAX_SERVER_FRAME_BYTES,
  type MailboxHandler,
  type MailboxProtocolInit,
  type MailboxStorage,
  mailboxProtocol,
  PROTOCOL_ID,
  type ServerMessage,
  type SessionDetail,
} from '../../../src/protocols/mailbox/index.js';
import { ClientFrame as PbClientFrame } from '../../../src/protocols/mailbox/pb/mailbox.js';
import { type Envelope, encodeEnvelope } from '../../../src/protocols/message/index.js';

export type MailboxNode = Libp2p<{ mailbox: MailboxHandler }>;

const base = {
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionManager: { inboundConnectionThreshold: 1000 },
};

export const env = createEnv();

/** A node serving /sotto/mailbox/1.0.0 with `init` (verify defaults to the node:crypto provider's). */
export async function createMailboxNode(
  init: Omit<MailboxProtocolInit, 'verify'> & Partial<Pick<MailboxProtocolInit, 'verify'>>,
): Promise<MailboxNode> {
  const verify = init.verify ?? ((k, m, s) => env.provider.ed25519Verify(k, m, s));
  return createLibp2p({ ...base, services: { mailbox: mailboxProtocol({ ...init, verify }) } });
}

/** A node without the service (a client, or a raw server whose handler the test writes). */
export async function createPlainNode(): Promise<Libp2p> {
  return createLibp2p({ ...base });
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

/** A test identity: keys plus the `sign` callback a node would pass to fetchMailbox. */
export interface TestIdentity {
  keys: IdentityKeyPair;
  key: Uint8Array;
  sign: (message: Uint8Array) => Uint8Array;
}

export function makeIdentity(): TestIdentity {
  const keys = generateIdentity(env);
  return { keys, key: keys.signingKey, sign: (m) => env.provider.ed25519Sign(keys.signingSeed, m) };
}

let counter = 0;
/** A valid envelope for `recipient` with a unique id; `bodyBytes` sets the body size. */
export function makeEnvelope(recipient: Uint8Array, bodyBytes = 32): Envelope {
  counter++;
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(12, counter);
  id[0] = 0xe1;
  const body = new Uint8Array(bodyBytes).fill(counter & 0xff);
  return { id, sender: new Uint8Array(32).fill(0x5e), recipient, timestamp: 1_700_000_000_000 + counter, body };
}

interface StoredEntry {
  id: Uint8Array;
  envelope: Uint8Array;
}

/**
 * An in-memory MailboxStorage: one array per identity in deposit order (oldest first), a set of
 * served identities, call counters, and a switch to make the next call of a kind fail.
 */
export class MemoryMailboxStorage implements MailboxStorage {
  readonly served = new Set<string>();
  readonly calls = { serves: 0, list: 0, remove: 0, count: 0 };
  /** The next call of this kind rejects (then the switch clears itself). */
  failNext: keyof MemoryMailboxStorage['calls'] | undefined;
  private readonly boxes = new Map<string, StoredEntry[]>();

  serve(identity: Uint8Array): void {
    this.served.add(hex(identity));
  }

  /** Stores a valid envelope for its recipient; returns it. */
  deposit(envelope: Envelope): Envelope {
    this.put(envelope.recipient, { id: envelope.id, envelope: encodeEnvelope(envelope) });
    return envelope;
  }

  /** Stores raw bytes under `id` (for corrupt entries). */
  put(identity: Uint8Array, entry: StoredEntry): void {
    const box = this.boxes.get(hex(identity)) ?? [];
    box.push(entry);
    this.boxes.set(hex(identity), box);
  }

  /** The ids stored for `identity`, oldest first (hex). */
  ids(identity: Uint8Array): string[] {
    return (this.boxes.get(hex(identity)) ?? []).map((e) => hex(e.id));
  }

  clear(): void {
    this.boxes.clear();
    this.prekeys.clear();
  }

  /** Uploaded one-time prekeys per identity (hex) → id → public key; capped like a real mailbox. */
  readonly prekeys = new Map<string, Map<number, Uint8Array>>();
  static readonly PREKEY_CAP = 40;

  async putPrekeys(identity: Uint8Array, prekeys: Array<{ id: number; publicKey: Uint8Array }>): Promise<void> {
    const held = this.prekeys.get(hex(identity)) ?? new Map<number, Uint8Array>();
    for (const p of prekeys) {
      if (held.size >= MemoryMailboxStorage.PREKEY_CAP) break;
      if (!held.has(p.id)) held.set(p.id, p.publicKey);
    }
    this.prekeys.set(hex(identity), held);
  }

  async prekeyCount(identity: Uint8Array): Promise<number> {
    return this.prekeys.get(hex(identity))?.size ?? 0;
  }

  private fail(kind: keyof MemoryMailboxStorage['calls']): void {
    this.calls[kind]++;
    if (this.failNext === kind) {
      this.failNext = undefined;
      throw new Error(`injected ${kind} failure`);
    }
  }

  serves(identity: Uint8Array): boolean {
    this.fail('serves');
    return this.served.has(hex(identity));
  }

  async list(identity: Uint8Array, limit: number, maxBytes: number): Promise<StoredEntry[]> {
    this.fail('list');
    const out: StoredEntry[] = [];
    let bytes = 0;
    for (const entry of this.boxes.get(hex(identity)) ?? []) {
      if (out.length >= limit) break;
      if (out.length > 0 && bytes + entry.envelope.byteLength > maxBytes) break;
      bytes += entry.envelope.byteLength;
      out.push(entry);
    }
    return out;
  }

  async remove(identity: Uint8Array, ids: Uint8Array[]): Promise<number> {
    this.fail('remove');
    const box = this.boxes.get(hex(identity)) ?? [];
    const drop = new Set(ids.map(hex));
    const kept = box.filter((e) => !drop.has(hex(e.id)));
    this.boxes.set(hex(identity), kept);
    return box.length - kept.length;
  }

  async count(identity: Uint8Array): Promise<number> {
    this.fail('count');
    return (this.boxes.get(hex(identity)) ?? []).length;
  }
}

/** The detail of the next `type` event on `target`; rejects loudly after `ms`. Subscribe before acting. */
export function nextEvent<T>(target: EventTarget, type: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (evt: Event): void => {
      clearTimeout(timer);
      resolve((evt as CustomEvent<T>).detail);
    };
    const timer = setTimeout(() => {
      target.removeEventListener(type, on);
      reject(new Error(`no '${type}' event within ${ms} ms`));
    }, ms);
    target.addEventListener(type, on, { once: true });
  });
}

/** The next `'session'` event of a mailbox node (subscribe before starting the session). */
export function nextSession(node: MailboxNode, ms = 5000): Promise<SessionDetail> {
  return nextEvent<SessionDetail>(node.services.mailbox, 'session', ms);
}

/** A hand-driven client session: writes any ClientFrame (even invalid ones), reads ServerFrames. */
export interface RawSession {
  stream: Stream;
  send(frame: Partial<PbClientFrame>): Promise<void>;
  read(): Promise<ServerMessage>;
  /** Hello(identity) → Challenge → Auth(signed for `clientPeer`); returns the first Batch's message. */
  authenticate(identity: TestIdentity, mailboxPeer: PeerId, clientPeer: PeerId): Promise<ServerMessage>;
}

export async function rawSession(node: Libp2p, addr: Multiaddr): Promise<RawSession> {
  const stream = await node.dialProtocol(addr, PROTOCOL_ID);
  const lp = lpStream(stream, { maxDataLength: MAX_SERVER_FRAME_BYTES });
  const session: RawSession = {
    stream,
    send: (frame) => lp.write(PbClientFrame.encode(frame)),
    read: async () => decodeServerFrame(await lp.read({ signal: AbortSignal.timeout(3000) })),
    async authenticate(identity, mailboxPeer, clientPeer) {
      await session.send({ hello: { identity: identity.key as Uint8Array<ArrayBuffer> } });
      const challenge = await session.read();
      if (challenge.type !== 'challenge') throw new Error(`expected a challenge, got ${challenge.type}`);
      const signed = fetchAuthMessage({
        mailboxPeer: mailboxPeer.toMultihash().bytes,
        clientPeer: clientPeer.toMultihash().bytes,
        nonce: challenge.nonce,
        identity: identity.key,
      });
      await session.send({ auth: { signature: identity.sign(signed) as Uint8Array<ArrayBuffer>, prekeys: [] } });
      return session.read();
    },
  };
  return session;
}

/** Narrows a ServerMessage to an OK batch's entries (throws otherwise). */
export function okEntries(message: ServerMessage): Array<{ id: Uint8Array; envelope: Uint8Array }> {
  if (message.type !== 'batch' || message.batch.status !== 'OK') {
    throw new Error(`expected an OK batch, got ${message.type === 'batch' ? message.batch.status : message.type}`);
  }
  return message.batch.entries;
}

export const u8 = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>;

// Hand-made frames and bounded waits: the same helpers as the message protocol's tests.
export { frame, varint, waitFor, waitForClose } from '../message/helpers.js';
