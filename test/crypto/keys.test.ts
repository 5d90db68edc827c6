import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkX25519Public,
  createEnv,
  deterministicRng,
  encodeEd25519,
  encodeMlKem768,
  encodeX25519,
  fromHex,
  generateIdentity,
  generatePrekeys,
  isCanonicalX25519,
  nobleProvider,
  nodeProvider,
  SottoCryptoError,
  verifyBundle,
} from '../../src/crypto/index.js';
import { x25519PublicKeyOpenSsl } from '../../src/crypto/provider-node.js';

const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];
const P = 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SottoCryptoError, `expected a SottoCryptoError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected an error');
}

describe('X25519 public key validation', () => {
  it('the low-order list really is low order: both providers give an all-zero result for each', () => {
    for (const provider of [nodeProvider, nobleProvider]) {
      for (const hex of LOW_ORDER) {
        assert.equal(
          code(() => provider.x25519(new Uint8Array(32).fill(9), fromHex(hex))),
          'LOW_ORDER_KEY',
          hex,
        );
      }
    }
  });

  it('rejects low-order points, p and above, the top bit, and wrong lengths', () => {
    for (const hex of LOW_ORDER)
      assert.equal(
        code(() => checkX25519Public(fromHex(hex), 'k')),
        'INVALID_KEY',
      );
    assert.equal(isCanonicalX25519(fromHex(P)), false);
    const top = new Uint8Array(32).fill(0x11);
    top[31] = 0x80;
    assert.equal(
      code(() => checkX25519Public(top, 'k')),
      'INVALID_KEY',
    );
    assert.equal(
      code(() => checkX25519Public(new Uint8Array(31).fill(9), 'k')),
      'INVALID_KEY',
    );
    const pMinus2 = fromHex(P);
    pMinus2[0] = 0xeb;
    assert.equal(isCanonicalX25519(pMinus2), true);
    const env = createEnv({ rng: deterministicRng(new Uint8Array(32).fill(1)) });
    const id = generateIdentity(env);
    assert.equal(checkX25519Public(id.dhKey, 'k'), id.dhKey);
  });
});

describe('key encodings are disjoint (PQXDH EncodeEC / EncodeKEM)', () => {
  it('type byte and length differ for X25519, Ed25519 and ML-KEM-768', () => {
    const k = new Uint8Array(32).fill(5);
    const x = encodeX25519(k);
    const e = encodeEd25519(k);
    const m = encodeMlKem768(new Uint8Array(1184).fill(5));
    assert.deepEqual([x[0], x.length], [1, 33]);
    assert.deepEqual([e[0], e.length], [2, 33]);
    assert.deepEqual([m[0], m.length], [3, 1185]);
  });
});

describe('identity and bundle signatures', () => {
  const env = createEnv({ rng: deterministicRng(new Uint8Array(32).fill(2)) });
  const bob = generateIdentity(env);
  const { bundle } = generatePrekeys(env, bob, { signedPrekeyId: 5, kemPrekeyId: 6, oneTimePrekeyIds: [7] });

  it('a fresh bundle verifies with both providers', () => {
    verifyBundle(nodeProvider, bundle);
    verifyBundle(nobleProvider, bundle);
  });

  it('a prekey id is covered by its signature (an id swap is caught)', () => {
    const swapped = { ...bundle, signedPrekey: { ...bundle.signedPrekey, id: 6 } };
    assert.equal(
      code(() => verifyBundle(nodeProvider, swapped)),
      'BAD_SIGNATURE',
    );
    const kemSwapped = { ...bundle, kemPrekey: { ...bundle.kemPrekey, id: 99 } };
    assert.equal(
      code(() => verifyBundle(nodeProvider, kemSwapped)),
      'BAD_SIGNATURE',
    );
  });

  it('signatures do not verify across kinds (domain labels)', () => {
    const identityOnSpk = { ...bundle, signedPrekey: { ...bundle.signedPrekey, signature: bob.dhSignature } };
    assert.equal(
      code(() => verifyBundle(nodeProvider, identityOnSpk)),
      'BAD_SIGNATURE',
    );
    const spkOnKem = { ...bundle, kemPrekey: { ...bundle.kemPrekey, signature: bundle.signedPrekey.signature } };
    assert.equal(
      code(() => verifyBundle(nodeProvider, spkOnKem)),
      'BAD_SIGNATURE',
    );
  });

  it('the signed-prekey signature binds the identity DH key (a swapped DH key is caught)', () => {
    const other = generateIdentity(env);
    const swapped = { ...bundle, identity: { ...bundle.identity, dhKey: other.dhKey } };
    assert.equal(
      code(() => verifyBundle(nodeProvider, swapped)),
      'BAD_SIGNATURE',
    );
  });

  it('wrong-size KEM key is an invalid key, not a crash', () => {
    const short = { ...bundle, kemPrekey: { ...bundle.kemPrekey, publicKey: new Uint8Array(100) } };
    assert.equal(
      code(() => verifyBundle(nodeProvider, short)),
      'INVALID_KEY',
    );
  });
});

describe('provider details', () => {
  it('node provider derives X25519/Ed25519 public keys from the private key alone (JWK placeholder x ignored)', () => {
    const seed = new Uint8Array(32).fill(0x33);
    assert.deepEqual(nodeProvider.x25519PublicKey(seed), nobleProvider.x25519PublicKey(seed));
    assert.deepEqual(x25519PublicKeyOpenSsl(seed), nobleProvider.x25519PublicKey(seed));
    assert.deepEqual(nodeProvider.ed25519PublicKey(seed), nobleProvider.ed25519PublicKey(seed));
  });

  it('ML-KEM decapsulation leaves the caller’s secret key intact', () => {
    const { publicKey, secretKey } = nodeProvider.mlkem768Keygen(new Uint8Array(64).fill(4));
    const copy = secretKey.slice();
    const { ciphertext, sharedSecret } = nodeProvider.mlkem768Encapsulate(publicKey, new Uint8Array(32).fill(8));
    assert.deepEqual(nodeProvider.mlkem768Decapsulate(ciphertext, secretKey), sharedSecret);
    assert.deepEqual(secretKey, copy);
  });

  it('node provider randomBytes: every length, fresh bytes per call, a fresh array each time', () => {
    for (const length of [0, 1, 16, 24, 32, 64, 1000]) {
      const a = nodeProvider.randomBytes(length);
      const b = nodeProvider.randomBytes(length);
      assert.ok(a instanceof Uint8Array);
      assert.equal(a.length, length);
      assert.notEqual(a, b);
      if (length >= 16) assert.notDeepEqual(a, b, `two ${length}-byte draws differ`);
    }
    // not all zero, and roughly balanced bits (random 64 KiB: 262144 ± 5 000 set bits is > 19 sigma)
    const big = nodeProvider.randomBytes(65536);
    let bits = 0;
    for (const byte of big) for (let v = byte; v !== 0; v &= v - 1) bits++;
    assert.ok(Math.abs(bits - 262144) < 5000, `${bits} bits set of 524288`);
  });

  it('deterministicRng repeats for a seed and differs across seeds', () => {
    const a = deterministicRng(new Uint8Array(32).fill(1));
    const b = deterministicRng(new Uint8Array(32).fill(1));
    const c = deterministicRng(new Uint8Array(32).fill(2));
    const x = a(40);
    assert.deepEqual(x, b(40));
    assert.notDeepEqual(x, c(40));
    assert.notDeepEqual(a(40), x);
  });
});
