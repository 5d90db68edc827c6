import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '@libp2p/crypto/keys';
import {
  createHost,
  DHT_PROTOCOL,
  InvalidDhtNamespaceError,
  installNodeShims,
  parseNetConfig,
} from '../../src/net/index.js';
import { startNode, testRules, testSelector, testValidator, waitFor } from './helpers.js';

function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPWrap').length;
}

describe('Node 20 shim', () => {
  it('provides Promise.withResolvers and WebSocket, and is idempotent', () => {
    assert.deepEqual(installNodeShims(), [], 'already installed by the import');
    const { promise, resolve } = (
      Promise as unknown as { withResolvers<T>(): { promise: Promise<T>; resolve(v: T): void } }
    ).withResolvers<number>();
    resolve(7);
    return promise.then((v) => assert.equal(v, 7)).then(() => assert.equal(typeof globalThis.WebSocket, 'function'));
  });
});

describe('a lone node', () => {
  it('starts with no bootstrap peers on loopback TCP + WebSockets, speaks the private DHT protocol, and stops', async () => {
    const before = tcpHandles();
    const node = await startNode();
    try {
      assert.equal(node.status, 'started');
      const addrs = node.getMultiaddrs().map((a) => a.toString());
      assert.ok(
        addrs.some((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a)),
        `tcp: ${addrs}`,
      );
      assert.ok(
        addrs.some((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\//.test(a)),
        `ws: ${addrs}`,
      );
      assert.ok(node.getProtocols().includes(DHT_PROTOCOL));
      assert.ok(!node.getProtocols().some((p) => p.startsWith('/ipfs/kad/')), 'never the public IPFS DHT');
      assert.equal(node.services.dht.getMode(), 'server');
      assert.deepEqual(await node.services.bootstrap.ready, []);
    } finally {
      await node.stop();
    }
    assert.equal(node.status, 'stopped');
    await waitFor('TCP handles to close', () => tcpHandles() <= before, 5_000);
  });

  it('a client-mode node does not serve the DHT', async () => {
    const node = await startNode({ dhtMode: 'client' });
    try {
      assert.equal(node.services.dht.getMode(), 'client');
      assert.ok(!node.getProtocols().includes(DHT_PROTOCOL));
    } finally {
      await node.stop();
    }
  });

  it('two nodes connect over WebSockets', async () => {
    const a = await startNode();
    const wsAddr = a.getMultiaddrs().find((m) => m.toString().includes('/ws/'));
    assert.ok(wsAddr);
    const b = await startNode({ bootstrap: [wsAddr.toString()] });
    try {
      const [result] = await b.services.bootstrap.ready;
      assert.equal(result?.ok, true);
      assert.ok(result?.peerId?.equals(a.peerId));
      await b.services.ping.ping(a.peerId, { signal: AbortSignal.timeout(5_000) });
    } finally {
      await Promise.allSettled([a.stop(), b.stop()]);
    }
  });

  it('an unreachable bootstrap peer does not stop the node from starting', async () => {
    const ghost = (await generateKeyPair('Ed25519')).publicKey.toString();
    // Port 1 on loopback: refused at once; nothing leaves the machine.
    const node = await startNode({ bootstrap: [`/ip4/127.0.0.1/tcp/1/p2p/${ghost}`] });
    try {
      const [result] = await node.services.bootstrap.ready;
      assert.equal(result?.ok, false);
    } finally {
      await node.stop();
    }
  });

  it('refuses validators keyed by a key prefix instead of a namespace, or without a selector', async () => {
    const privateKey = await generateKeyPair('Ed25519');
    const config = parseNetConfig({});
    await assert.rejects(
      createHost({
        privateKey,
        config,
        start: false,
        dht: { validators: { '/sotto/id/': testValidator }, selectors: { '/sotto/id/': testSelector } },
      }),
      InvalidDhtNamespaceError,
    );
    await assert.rejects(
      createHost({ privateKey, config, start: false, dht: { validators: testRules.validators, selectors: {} } }),
      InvalidDhtNamespaceError,
    );
  });

  it('exits by itself after stop (no leaked handles), in a child process', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/lone-node.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const started = performance.now();
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`child did not exit within 15 s after stop; stdout: ${out}`));
      }, 15_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.equal(code, 0, `child failed: ${err}`);
    assert.match(out, /started 12D3Koo\w+ 2\n/);
    assert.match(out, /stopped\n/);
    console.log(`# child process: start + stop + exit in ${(performance.now() - started).toFixed(0)} ms`);
  });
});
