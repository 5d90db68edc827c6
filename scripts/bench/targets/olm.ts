/**
 * Baseline: @matrix-org/olm (libolm compiled to WASM). Olm is X3DH-like (no signed prekey, no
 * post-quantum part) plus the Double Ratchet. Its API takes and returns JS strings, so the
 * target converts the harness's ASCII plaintexts with latin1 (1 byte per char, no inflation).
 */
import Olm from '@matrix-org/olm';
import { packageVersion } from '../lib.js';
import type { BenchTarget, Handshake, Pair } from './types.js';

interface OlmCiphertext {
  type: 0 | 1;
  body: string;
}

const PICKLE_KEY = 'bench-pickle-key';

function toStr(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function toBytes(str: string): Uint8Array {
  return Buffer.from(str, 'latin1');
}

function newAccount(): Olm.Account {
  const account = new Olm.Account();
  account.create();
  return account;
}

export function makeOlmTarget(): BenchTarget {
  const version = packageVersion('@matrix-org/olm');
  let utility: Olm.Utility | undefined;
  return {
    id: 'olm',
    name: `olm ${version} (WASM)`,
    version,
    pq: false,
    notes: [
      'olm: no post-quantum part. The handshake is Olm 3DH with one signed one-time Curve25519 key: initiate = ed25519_verify of the one-time key signature (as Matrix clients do when claiming keys) + Session.create_outbound; respond = Session.create_inbound + remove_one_time_keys + decrypt.',
      'olm: sizes are the API strings: message bodies and pickles are unpadded base64 (raw bytes ≈ ×3/4); pickles are encrypted with a pickle key.',
    ],
    async init() {
      await Olm.init();
      utility = new Olm.Utility();
    },
    setupHandshake(): Handshake {
      if (!utility) throw new Error('olm target not initialised');
      const util = utility;
      const aliceAccount = newAccount();
      const bobAccount = newAccount();
      const bobIdentity = JSON.parse(bobAccount.identity_keys()) as { curve25519: string; ed25519: string };
      bobAccount.generate_one_time_keys(1);
      const otks = (JSON.parse(bobAccount.one_time_keys()) as { curve25519: Record<string, string> }).curve25519;
      const oneTimeKey = Object.values(otks)[0];
      if (oneTimeKey === undefined) throw new Error('olm produced no one-time key');
      const oneTimeKeySig = bobAccount.sign(oneTimeKey);
      bobAccount.mark_keys_as_published();

      const a = new Olm.Session();
      const b = new Olm.Session();
      let freed = false;
      const dispose = () => {
        if (freed) return;
        freed = true;
        a.free();
        b.free();
        aliceAccount.free();
        bobAccount.free();
      };
      const encrypt = (session: Olm.Session, pt: Uint8Array): OlmCiphertext => session.encrypt(toStr(pt));
      const decrypt = (session: Olm.Session, ct: OlmCiphertext): Uint8Array =>
        toBytes(session.decrypt(ct.type, ct.body));

      const pair: Pair = {
        encryptAtoB: (pt) => encrypt(a, pt),
        decryptAtB: (ct) => decrypt(b, ct as OlmCiphertext),
        encryptBtoA: (pt) => encrypt(b, pt),
        decryptAtA: (ct) => decrypt(a, ct as OlmCiphertext),
        sessionSizeA: () => a.pickle(PICKLE_KEY).length,
        sessionSizeB: () => b.pickle(PICKLE_KEY).length,
        ciphertextSize: (ct) => (ct as OlmCiphertext).body.length,
        dispose,
      };
      return {
        initiate: () => {
          util.ed25519_verify(bobIdentity.ed25519, oneTimeKey, oneTimeKeySig); // throws on a bad signature
          a.create_outbound(aliceAccount, bobIdentity.curve25519, oneTimeKey);
        },
        encryptFirst: (pt) => {
          const ct = encrypt(a, pt);
          if (ct.type !== 0) throw new Error('first olm message is not a prekey message');
          return ct;
        },
        respond: (ct) => {
          const message = ct as OlmCiphertext;
          b.create_inbound(bobAccount, message.body);
          bobAccount.remove_one_time_keys(b);
          return decrypt(b, message);
        },
        pair: () => pair,
        dispose,
      };
    },
  };
}
