import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { SelectFn, ValidateFn } from '@libp2p/kad-dht';
import { createHost, type NetConfig, parseNetConfig, type SottoHost } from '../../src/net/index.js';

/**
 * Test records: `seq=<n>;<body>` under `/sotto/test/...`. Invalid if the format is wrong or the
 * body is `bad`. The selector picks the highest sequence.
 */
export function testRecord(seq: number, body: string): Uint8Array {
  return new TextEncoder().encode(`seq=${seq};${body}`);
}

const RECORD_RE = /^seq=(\d+);(.*)$/s;

export function parseTestRecord(value: Uint8Array): { seq: number; body: string } {
  const m = RECORD_RE.exec(new TextDecoder().decode(value));
  if (m == null) throw new Error('malformed test record');
  return { seq: Number(m[1]), body: m[2] ?? '' };
}

export const testValidator: ValidateFn = (_key, value) => {
  const { body } = parseTestRecord(value);
  if (body === 'bad') throw new Error('test validator refuses "bad"');
};

export const testSelector: SelectFn = (_key, records) => {
  let best = 0;
  records.forEach((r, i) => {
    if (parseTestRecord(r).seq > parseTestRecord(records[best] as Uint8Array).seq) best = i;
  });
  return best;
};

export const testRules = { validators: { sotto: testValidator }, selectors: { sotto: testSelector } };

export function key(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export async function startNode(config: unknown = {}): Promise<SottoHost> {
  const net: NetConfig = parseNetConfig(config);
  return createHost({ privateKey: await generateKeyPair('Ed25519'), config: net, dht: testRules });
}

/** Polls `check` until it returns true; fails loudly with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const start = performance.now();
  for (;;) {
    if (await check()) return;
    if (performance.now() - start > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** kad-dht's routing table size (not on the public `KadDHT` interface). */
export function routingTableSize(node: SottoHost): number {
  const dht = node.services.dht as unknown as { routingTable?: { size?: number } };
  return dht.routingTable?.size ?? 0;
}

export async function stopAll(nodes: readonly SottoHost[]): Promise<void> {
  await Promise.allSettled(nodes.map((n) => n.stop()));
}
