#!/usr/bin/env node
/**
 * The `sotto` command. This release has the end-to-end encryption core only; the network node and
 * its daemon commands (init, start, send, ...) arrive with the node and daemon milestones.
 *
 *   sotto demo      two identities on this machine run a PQXDH handshake and a Double Ratchet
 *                   conversation, printing what crosses the wire and the safety number
 *   sotto version   print the version
 */
import { readFileSync } from 'node:fs';
import {
  createEnv,
  generateIdentity,
  generatePrekeys,
  initiateSession,
  respondToSession,
  SottoCryptoError,
  safetyNumber,
  toHex,
} from '../crypto/index.js';

const out = (line = '') => process.stdout.write(`${line}\n`);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The package version, from the nearest package.json named sotto (works from src/ and from dist/). */
function version(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sotto' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here: keep walking up
    }
    if (dir.pathname === '/') return 'unknown';
  }
}

function demo(): void {
  const env = createEnv();
  const alice = generateIdentity(env);
  const bob = generateIdentity(env);
  const { bundle, store } = generatePrekeys(env, bob, { signedPrekeyId: 1, kemPrekeyId: 1, oneTimePrekeyIds: [1] });
  const context = { initiator: 'alice-node', responder: 'bob-node' };
  out(`alice  ${toHex(alice.signingKey)}`);
  out(`bob    ${toHex(bob.signingKey)}`);
  out(`safety number: ${safetyNumber(env.provider, alice.signingKey, bob.signingKey)}`);
  out();
  const a = initiateSession(env, { identity: alice, bundle, context });
  const first = a.encrypt(enc.encode('Hi Bob, nobody in between can read this.'));
  out(`alice → bob  prekey message, ${first.length} bytes (PQXDH header with ML-KEM-768 ciphertext)`);
  const { session: b, plaintext } = respondToSession(env, { identity: bob, prekeys: store, message: first, context });
  store.removeOneTimePrekey(1);
  out(`bob reads:   "${dec.decode(plaintext)}"`);
  const reply = b.encrypt(enc.encode('Hi Alice. Forward secrecy from here on.'));
  out(`bob → alice  ${reply.length} bytes`);
  out(`alice reads: "${dec.decode(a.decrypt(reply))}"`);
  try {
    a.decrypt(reply);
  } catch (err) {
    if (err instanceof SottoCryptoError) out(`replaying bob's message: rejected (${err.code})`);
  }
  out(`alice's session snapshot: ${a.snapshot().length} bytes`);
}

function help(): void {
  out('usage: sotto <command>');
  out();
  out('  demo      run a PQXDH handshake and an encrypted exchange between two local identities');
  out('  version   print the version');
  out();
  out('The network node and its commands (init, start, send, contacts, ...) are not in this release.');
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'demo' && rest.length === 0) demo();
else if (command === 'version' || command === '--version') out(version());
else if (command === undefined || command === 'help' || command === '--help' || command === '-h') help();
else {
  process.stderr.write(`sotto: unknown command "${[command, ...rest].join(' ')}" (see sotto --help)\n`);
  process.exitCode = 2;
}
