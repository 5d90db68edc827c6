/**
 * An in-memory ApiNode for the API tests: contacts, conversations and sends without libp2p, with
 * knobs for the status the node reports, the outcome of the next send, whether it is running, its
 * mailboxes and what a fetch from them brings.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import type {
  ApiNode,
  ApiNodeEvents,
  ApiNodeStatus,
  ApiPeer,
  BlockedIdentity,
  ContactRequestSummary,
  ContactRequestView,
} from '../../src/api/types.js';
import { toHex } from '../../src/crypto/bytes.js';
import { decodeAddress, encodeAddress } from '../../src/identity/address.js';
import {
  IdentityBlockedError,
  InvalidMailboxOptionsError,
  InvalidMessageError,
  NodeNotStartedError,
  UnknownContactError,
  UnknownRequestError,
} from '../../src/node/errors.js';
import type { ContactRecord, MessageRecord } from '../../src/store/types.js';

export const FAKE_MAX_TEXT_BYTES = 32 * 1024;

export function randomAddress(): string {
  return encodeAddress(randomBytes(32));
}

/** The address with its last character changed, so its checksum fails (never the same address). */
export function badChecksum(address: string): string {
  return `${address.slice(0, -1)}${address.endsWith('q') ? 'p' : 'q'}`;
}

export function messageId(): string {
  return randomBytes(16).toString('hex');
}

/** A fresh libp2p peer id (`12D3KooW…`). */
export async function randomPeerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
}

const keyOf = (address: string) => toHex(decodeAddress(address));

export class FakeNode extends EventEmitter<ApiNodeEvents> implements ApiNode {
  readonly address = randomAddress();
  running = true;
  readonly contactsByKey = new Map<string, ContactRecord>();
  readonly messages: MessageRecord[] = [];
  readonly sent: Array<{ address: string; text: string }> = [];
  /** What the next sends report. */
  sendState: 'delivered' | 'stored-at-mailbox' | 'queued' = 'delivered';
  /** This identity's mailboxes (peer ids), as `setMailboxes` left them. */
  mailboxList: string[] = [];
  /** Every list `setMailboxes` was given, in order. */
  readonly mailboxChanges: string[][] = [];
  /** What the next fetches report. */
  fetchCount = 0;
  /** How many fetches ran. */
  fetches = 0;
  /** Thrown by the next send, once. */
  sendError: Error | undefined;
  statusValue: ApiNodeStatus = {
    peers: 3,
    routingTable: 7,
    outbox: 2,
    oneTimePrekeys: { available: 18, claimed: 2, claimsServed: 5 },
  };
  peerList: ApiPeer[] = [{ peerId: '12D3KooWPeerOne', addresses: ['/ip4/127.0.0.1/tcp/4002'] }];
  /** Pending contact requests by identity key, with their held messages. */
  readonly requestsByKey = new Map<string, ContactRequestView>();
  /** The block list by identity key. */
  readonly blockedByKey = new Map<string, BlockedIdentity>();
  private clock = 1_700_000_000_000;

  private check(): void {
    if (!this.running) throw new NodeNotStartedError();
  }

  get peerId(): string {
    this.check();
    return '12D3KooWFakeNodePeerId';
  }

  multiaddrs(): string[] {
    this.check();
    return ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4003/ws'];
  }

  async send(
    address: string,
    text: string,
  ): Promise<{ id: string; state: 'delivered' | 'stored-at-mailbox' | 'queued' }> {
    this.check();
    const contact = keyOf(address);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes === 0 || bytes > FAKE_MAX_TEXT_BYTES) throw new InvalidMessageError('a message is 1..32768 bytes');
    if (this.sendError) {
      const err = this.sendError;
      this.sendError = undefined;
      throw err;
    }
    if (this.blockedByKey.has(contact)) throw new IdentityBlockedError();
    const id = messageId();
    this.sent.push({ address, text });
    this.messages.push({ id, contact, direction: 'out', timestamp: this.clock++, body: text, state: this.sendState });
    return { id, state: this.sendState };
  }

  async contacts(): Promise<ContactRecord[]> {
    this.check();
    return [...this.contactsByKey.values()].map((c) => ({ ...c, previousKeys: [...c.previousKeys] }));
  }

  async addContact(name: string, address: string): Promise<ContactRecord> {
    this.check();
    const key = keyOf(address);
    const existing = this.contactsByKey.get(key);
    const record: ContactRecord = existing
      ? { ...existing, name }
      : {
          identityKey: key,
          name,
          address: encodeAddress(decodeAddress(address)),
          verified: false,
          addedAt: this.clock++,
          previousKeys: [],
        };
    this.contactsByKey.set(key, record);
    return { ...record };
  }

  async removeContact(address: string): Promise<boolean> {
    this.check();
    return this.contactsByKey.delete(keyOf(address));
  }

  async conversation(
    address: string,
    options: { limit?: number; before?: { timestamp: number; id: string } } = {},
  ): Promise<MessageRecord[]> {
    this.check();
    const key = keyOf(address);
    const newestFirst = (a: MessageRecord, b: MessageRecord) =>
      b.timestamp - a.timestamp || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0);
    const before = options.before;
    return this.messages
      .filter((m) => m.contact === key)
      .filter(
        (m) => !before || m.timestamp < before.timestamp || (m.timestamp === before.timestamp && m.id < before.id),
      )
      .sort(newestFirst)
      .slice(0, options.limit ?? 50)
      .map((m) => ({ ...m }));
  }

  /** Stores an incoming message in the conversation with `from` (no event). */
  receive(from: string, text: string, timestamp = this.clock++): MessageRecord {
    const record: MessageRecord = {
      id: messageId(),
      contact: keyOf(from),
      direction: 'in',
      timestamp,
      body: text,
      state: 'received',
    };
    this.messages.push(record);
    return record;
  }

  safetyNumber(address: string): string {
    this.check();
    const keys = [keyOf(this.address), keyOf(address)].sort().join('');
    const digits = BigInt(`0x${createHash('sha256').update(keys).digest('hex')}`)
      .toString()
      .padStart(60, '0')
      .slice(0, 60);
    return digits.match(/\d{5}/g)!.join(' ');
  }

  async verifyContact(address: string): Promise<ContactRecord> {
    this.check();
    const key = keyOf(address);
    const contact = this.contactsByKey.get(key);
    if (!contact) throw new UnknownContactError();
    const updated = { ...contact, verified: true };
    this.contactsByKey.set(key, updated);
    return { ...updated };
  }

  async status(): Promise<ApiNodeStatus> {
    this.check();
    return structuredClone(this.statusValue);
  }

  peers(): ApiPeer[] {
    this.check();
    return this.peerList.map((p) => ({ peerId: p.peerId, addresses: [...p.addresses] }));
  }

  mailboxes(): string[] {
    return [...this.mailboxList];
  }

  /** Validates as the node does: peer ids, distinct, at most 8. */
  async setMailboxes(peerIds: string[]): Promise<void> {
    this.check();
    if (peerIds.length > 8) throw new InvalidMailboxOptionsError('at most 8 mailboxes');
    const parsed: string[] = [];
    for (const id of peerIds) {
      let peer: string;
      try {
        peer = peerIdFromString(id).toString();
      } catch {
        throw new InvalidMailboxOptionsError('not a peer id');
      }
      if (parsed.includes(peer)) throw new InvalidMailboxOptionsError('mailbox listed twice');
      parsed.push(peer);
    }
    this.mailboxList = parsed;
    this.mailboxChanges.push([...parsed]);
  }

  async fetchMailboxes(): Promise<number> {
    this.check();
    this.fetches++;
    return this.mailboxList.length === 0 ? 0 : this.fetchCount;
  }

  /** Stores an outgoing message in the given state (no send, no event); returns its record. */
  outgoing(to: string, text: string, state: MessageRecord['state']): MessageRecord {
    const record: MessageRecord = {
      id: messageId(),
      contact: keyOf(to),
      direction: 'out',
      timestamp: this.clock++,
      body: text,
      state,
    };
    this.messages.push(record);
    return record;
  }

  async retryMessage(id: string): Promise<boolean> {
    this.check();
    const message = this.messages.find((m) => m.id === id && m.direction === 'out' && m.state === 'failed');
    if (!message) return false;
    message.state = 'queued';
    this.emit('delivery', { id, to: encodeAddress(Buffer.from(message.contact, 'hex')), state: 'queued' });
    return true;
  }

  /** Holds a message from `from` as a contact request (as the node does under "ask"); emits 'request'. */
  hold(from: string, text: string): ContactRequestView {
    const key = keyOf(from);
    const address = encodeAddress(decodeAddress(from));
    const now = this.clock++;
    const request = this.requestsByKey.get(key) ?? {
      address,
      identityKey: key,
      firstAt: now,
      lastAt: now,
      held: 0,
      messages: [],
    };
    const message = { id: messageId(), text, timestamp: now, receivedAt: now };
    request.messages.push(message);
    request.held = request.messages.length;
    request.lastAt = now;
    this.requestsByKey.set(key, request);
    this.emit('request', {
      from: address,
      id: message.id,
      text,
      timestamp: now,
      held: request.held,
      first: request.held === 1,
    });
    return request;
  }

  async requests(): Promise<ContactRequestSummary[]> {
    this.check();
    return [...this.requestsByKey.values()].map(({ messages: _, ...summary }) => ({ ...summary }));
  }

  async request(address: string): Promise<ContactRequestView> {
    this.check();
    const request = this.requestsByKey.get(keyOf(address));
    if (!request) throw new UnknownRequestError();
    return structuredClone(request);
  }

  async acceptRequest(address: string, name: string): Promise<ContactRecord> {
    this.check();
    const key = keyOf(address);
    const request = this.requestsByKey.get(key);
    if (!request) throw new UnknownRequestError();
    this.requestsByKey.delete(key);
    for (const m of request.messages) {
      this.messages.push({
        id: m.id,
        contact: key,
        direction: 'in',
        timestamp: m.timestamp,
        body: m.text,
        state: 'received',
      });
      this.emit('message', { id: m.id, from: request.address, text: m.text, timestamp: m.timestamp });
    }
    return this.addContact(name, address);
  }

  async rejectRequest(address: string): Promise<void> {
    this.check();
    if (!this.requestsByKey.delete(keyOf(address))) throw new UnknownRequestError();
  }

  async block(address: string): Promise<BlockedIdentity> {
    this.check();
    const key = keyOf(address);
    this.requestsByKey.delete(key);
    const existing = this.blockedByKey.get(key);
    if (existing) return { ...existing };
    const record = { address: encodeAddress(decodeAddress(address)), identityKey: key, blockedAt: this.clock++ };
    this.blockedByKey.set(key, record);
    return { ...record };
  }

  async unblock(address: string): Promise<boolean> {
    this.check();
    return this.blockedByKey.delete(keyOf(address));
  }

  async blockList(): Promise<BlockedIdentity[]> {
    this.check();
    return [...this.blockedByKey.values()].map((b) => ({ ...b }));
  }
}
