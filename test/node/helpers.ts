/** Shared by the node tests (and the hostile ones): a running node's dial address. */
import assert from 'node:assert/strict';
import type { SottoNode } from '../../src/index.js';

/** The node's TCP multiaddr with its peer id (what another node bootstraps from or dials). */
export function tcpAddr(node: SottoNode): string {
  const ma = node.multiaddrs().find((m) => m.includes('/tcp/') && !m.includes('/ws'));
  assert.ok(ma, 'node has a TCP address');
  return ma.includes('/p2p/') ? ma : `${ma}/p2p/${node.peerId}`;
}
