/** Raw peers for the hostile tests: a bare libp2p host with sotto's stack, and a node's dial address. */
import { generateKeyPair } from '@libp2p/crypto/keys';
import { createEnv } from '../../src/crypto/index.js';
import { identityRecordRules } from '../../src/directory/dht-rules.js';
import { createHost, parseNetConfig, type SottoHost } from '../../src/net/index.js';

const env = createEnv();

/** A started libp2p host with a fresh peer id on loopback, validating nothing of its own (an attacker). */
export function rawHost(): Promise<SottoHost> {
  return generateKeyPair('Ed25519').then((privateKey) =>
    createHost({
      privateKey,
      config: parseNetConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] }),
      dht: identityRecordRules(env.provider, Date.now),
    }),
  );
}

export { tcpAddr } from '../node/helpers.js';
