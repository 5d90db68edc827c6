/** The local API's response shapes the CLI reads (see src/api/schemas.ts and docs/openapi.json). */

export interface Contact {
  name: string;
  address: string;
  identityKey: string;
  verified: boolean;
  addedAt: number;
  keyChangedAt?: number;
  previousKeys: string[];
}

export interface SendResult {
  id: string;
  to: string;
  state: 'delivered' | 'stored-at-mailbox' | 'queued';
}

export type MessageState = 'queued' | 'sent' | 'stored-at-mailbox' | 'delivered' | 'read' | 'received' | 'failed';

export interface MessageView {
  id: string;
  direction: 'in' | 'out';
  timestamp: number;
  text: string;
  state: MessageState;
}

export interface Conversation {
  address: string;
  name?: string;
  messages: MessageView[];
  next?: { beforeTimestamp: number; beforeId: string };
}

export interface SafetyNumberView {
  address: string;
  name?: string;
  safetyNumber: string;
  verified: boolean;
}

export interface Status {
  peers: number;
  routingTable: number;
  outbox: number;
  oneTimePrekeys: { available: number; claimed: number; claimsServed: number };
  /** Only when the node serves as a mailbox for others. */
  mailbox?: { held: number; bytes: number };
  startedAt: number;
  uptimeMs: number;
  version: string;
}

export interface MailboxList {
  peers: string[];
}

export interface SetMailboxesResult {
  peers: string[];
  saved: boolean;
  reason?: string;
}

export interface FetchResult {
  fetched: number;
  mailboxes: number;
}

export interface RetryResult {
  id: string;
  state: 'queued';
}

export interface Peers {
  peers: { peerId: string; addresses: string[] }[];
}

export interface RequestSummary {
  address: string;
  identityKey: string;
  firstAt: number;
  lastAt: number;
  held: number;
}

export interface RequestView extends RequestSummary {
  messages: { id: string; text: string; timestamp: number; receivedAt: number }[];
}

export interface BlockedView {
  address: string;
  identityKey: string;
  name?: string;
  blockedAt: number;
}

export type StreamEvent =
  | { type: 'message'; id: string; from: string; text: string; timestamp: number }
  | { type: 'request'; id: string; from: string; text: string; timestamp: number; held: number; first: boolean }
  | { type: 'delivery'; id: string; to: string; state: MessageState }
  | { type: 'key-change'; address: string; name: string; previousKey: string; currentKey: string };
