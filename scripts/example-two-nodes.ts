/**
 * Runnable example of the library API: two nodes on this machine (loopback only), one bootstrapping
 * from the other, exchange a message through the DHT directory and the message protocol.
 *
 *   npm run example
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../src/index.js';

const root = await mkdtemp(join(tmpdir(), 'sotto-example-'));
const alice = createNode({ dataDir: join(root, 'alice'), net: { listen: ['/ip4/127.0.0.1/tcp/0'] } });
await alice.start();
const seed = alice.multiaddrs().find((m) => m.includes('/tcp/')) as string;
const bob = createNode({
  dataDir: join(root, 'bob'),
  net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [seed.includes('/p2p/') ? seed : `${seed}/p2p/${alice.peerId}`] },
});
await bob.start();
await alice.publishRecord(); // now that Alice has a peer, her record reaches the DHT
console.log(`alice ${alice.address}\nbob   ${bob.address}`);
console.log(`safety number: ${alice.safetyNumber(bob.address)}`);

const arrived = new Promise<void>((resolve) => {
  bob.once('message', (m) => {
    console.log(`bob received "${m.text}" from ${m.from === alice.address ? 'alice' : m.from}`);
    resolve();
  });
});
const { id, state } = await alice.send(bob.address, 'Hello Bob — only your node can read this.');
console.log(`alice sent ${id}: ${state}`);
await arrived;

await alice.stop();
await bob.stop();
await rm(root, { recursive: true, force: true });
