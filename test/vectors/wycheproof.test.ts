/**
 * Wycheproof vectors (C2SP, testvectors_v1) run through both crypto providers.
 *
 * Rules, per case `result`:
 * - `valid`: the provider must accept and produce exactly the expected output;
 * - `invalid`: the provider must never accept (return the value / verify / authenticate);
 * - `acceptable`: either outcome is fine and is only counted, except that an accepted case must still
 *   give the expected output, and X25519 cases whose expected shared secret is all zero must throw
 *   `LOW_ORDER_KEY` (RFC 7748 §6.1) rather than hand back an all-zero key.
 *
 * One test per (provider, primitive) loops over every case and collects failures by tcId, then prints
 * a summary line (test/vectors/README.md lists the measured counts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concat, fromHex, toHex } from '../../src/crypto/bytes.js';
import type { SottoCryptoErrorCode } from '../../src/crypto/errors.js';
import type { AeadAlgorithm, CryptoProvider } from '../../src/crypto/provider.js';
import { checkAead, checkSealed } from '../../src/crypto/provider-common.js';
import { nobleProvider } from '../../src/crypto/provider-noble.js';
import {
  aeadOpenOpenSsl,
  aeadSealOpenSsl,
  ed25519VerifyOpenSsl,
  nodeCurveBackend,
  nodeMlKemBackend,
  nodeProvider,
  nodeProviderReady,
  sha256OpenSsl,
  x25519OpenSsl,
  x25519PublicKeyOpenSsl,
} from '../../src/crypto/provider-node.js';
import {
  type AeadGroup,
  type Attempt,
  attempt,
  describeCase,
  type EddsaGroup,
  errorCode,
  type HkdfGroup,
  isCode,
  load,
  type MacGroup,
  type MlkemDecapsCase,
  type MlkemEncapsCase,
  type MlkemGroup,
  type MlkemKeygenCase,
  type WycheproofCase,
  type WycheproofFile,
  type XdhGroup,
} from './wycheproof-files.js';

/** `shared/` sits beside the project root (here and in CI): test/vectors → ../../../shared/vectors. */
// The node provider's ML-KEM decapsulation (and encapsulation without caller randomness) runs on
// liboqs WASM once loaded: wait for it so these vectors test that path, and say so if it is absent.
await nodeProviderReady;
assert.equal(nodeMlKemBackend(), 'liboqs-wasm', 'the WASM ML-KEM must load on a supported Node');
// Likewise X25519 and Ed25519 verification run on libsodium when its addon loads; the OpenSSL
// fallbacks are tested below on their own.
assert.equal(nodeCurveBackend(), 'libsodium', 'the libsodium addon must load on linux-x64');

const PROVIDERS: readonly CryptoProvider[] = [nodeProvider, nobleProvider];

const x25519File = load<XdhGroup>('x25519_test.json');
const ed25519File = load<EddsaGroup>('ed25519_test.json');
const hkdfFile = load<HkdfGroup>('hkdf_sha256_test.json');
const hmacFile = load<MacGroup>('hmac_sha256_test.json');
const aesGcmFile = load<AeadGroup>('aes_gcm_test.json');
const chachaFile = load<AeadGroup>('chacha20_poly1305_test.json');
const mlkemKeygenFile = load<MlkemGroup<MlkemKeygenCase>>('mlkem_768_keygen_seed_test.json');
const mlkemEncapsFile = load<MlkemGroup<MlkemEncapsCase>>('mlkem_768_encaps_test.json');
const mlkemDecapsFile = load<MlkemGroup<MlkemDecapsCase>>('mlkem_768_test.json');

// ---------------------------------------------------------------------------------------------

function short(hex: string): string {
  return hex.length <= 72 ? hex : `${hex.slice(0, 64)}…(${hex.length / 2} bytes)`;
}

/** `undefined` when equal, otherwise a description naming the field. */
function diff(field: string, actual: Uint8Array, expectedHex: string): string | undefined {
  const got = toHex(actual);
  return got === expectedHex.toLowerCase() ? undefined : `${field}: got ${short(got)}, expected ${short(expectedHex)}`;
}

function firstDiff(...diffs: (string | undefined)[]): string | undefined {
  return diffs.find((d) => d !== undefined);
}

/** What the provider did with one case: accepted it (possibly with a wrong output) or rejected it. */
type Verdict = { accepted: true; mismatch?: string | undefined } | { accepted: false; reason: string };

const accepted = (mismatch?: string): Verdict => ({ accepted: true, mismatch });
const rejected = (reason: string): Verdict => ({ accepted: false, reason });

class Tally {
  valid = 0;
  matched = 0;
  acceptable = 0;
  acceptableAccepted = 0;
  acceptableRejected = 0;
  invalid = 0;
  invalidAccepted = 0;
  /** Cases outside the API's parameters (AEAD key/nonce sizes), refused as INVALID_ARGUMENT. */
  unsupported = 0;
  unsupportedValid = 0;
  unsupportedInvalid = 0;
  readonly rejectionReasons = new Map<string, number>();
  readonly failures: string[] = [];

  constructor(
    readonly provider: CryptoProvider,
    readonly primitive: string,
  ) {}

  fail(tc: WycheproofCase, why: string): void {
    this.failures.push(`${this.provider.name} ${this.primitive} ${describeCase(tc)}: ${why}`);
  }

  judge(tc: WycheproofCase, verdict: Verdict): void {
    if (!verdict.accepted)
      this.rejectionReasons.set(verdict.reason, (this.rejectionReasons.get(verdict.reason) ?? 0) + 1);
    switch (tc.result) {
      case 'valid':
        this.valid++;
        if (!verdict.accepted) this.fail(tc, `valid case rejected: ${verdict.reason}`);
        else if (verdict.mismatch !== undefined) this.fail(tc, `valid case gave the wrong output: ${verdict.mismatch}`);
        else this.matched++;
        return;
      case 'acceptable':
        this.acceptable++;
        if (!verdict.accepted) {
          this.acceptableRejected++;
          return;
        }
        this.acceptableAccepted++;
        if (verdict.mismatch !== undefined)
          this.fail(tc, `acceptable case accepted with a wrong output: ${verdict.mismatch}`);
        return;
      case 'invalid':
        this.invalid++;
        if (verdict.accepted) {
          this.invalidAccepted++;
          this.fail(tc, `invalid case accepted${verdict.mismatch !== undefined ? ` (${verdict.mismatch})` : ''}`);
        }
        return;
      default:
        this.fail(tc, `unknown result ${JSON.stringify((tc as { result: unknown }).result)}`);
    }
  }

  /** A case whose parameters the API does not offer: it must be refused with INVALID_ARGUMENT. */
  refuse(tc: WycheproofCase, outcomes: Record<string, Attempt<unknown>>): void {
    this.unsupported++;
    if (tc.result === 'valid') this.unsupportedValid++;
    else this.unsupportedInvalid++;
    for (const [what, outcome] of Object.entries(outcomes)) {
      if (outcome.ok) this.fail(tc, `${what} accepted unsupported parameters instead of throwing INVALID_ARGUMENT`);
      else if (!isCode(outcome.error, 'INVALID_ARGUMENT')) {
        this.fail(tc, `${what} refused unsupported parameters with ${errorCode(outcome.error)}, not INVALID_ARGUMENT`);
      }
    }
  }

  summary(extra = ''): string {
    const reasons = [...this.rejectionReasons].map(([reason, n]) => `${reason} ×${n}`).join(', ');
    let line =
      `${this.provider.name} ${this.primitive}: valid ${this.matched}/${this.valid} matched, ` +
      `acceptable ${this.acceptable} (accepted ${this.acceptableAccepted}, rejected ${this.acceptableRejected}), ` +
      `invalid accepted ${this.invalidAccepted} of ${this.invalid}`;
    if (this.unsupported > 0) {
      line +=
        `; unsupported parameters refused ${this.unsupported} ` +
        `(valid ${this.unsupportedValid}, invalid ${this.unsupportedInvalid})`;
    }
    if (extra) line += `; ${extra}`;
    if (reasons) line += ` — rejections: ${reasons}`;
    return line;
  }

  /** The totals every primitive must meet; `expectedTotal` is the file's numberOfTests. */
  assertClean(expectedTotal: number): void {
    const shown = this.failures.slice(0, 25).join('\n');
    const more = this.failures.length > 25 ? `\n… and ${this.failures.length - 25} more` : '';
    assert.equal(this.failures.length, 0, `${this.failures.length} failing case(s):\n${shown}${more}`);
    assert.equal(this.matched, this.valid, 'every valid case matches');
    assert.equal(this.invalidAccepted, 0, 'no invalid case accepted');
    assert.equal(this.valid + this.acceptable + this.invalid + this.unsupported, expectedTotal, 'every case was run');
  }
}

interface Reporter {
  diagnostic(message: string): void;
}

function finish(t: Reporter, tally: Tally, expectedTotal: number, extra = ''): void {
  t.diagnostic(tally.summary(extra));
  tally.assertClean(expectedTotal);
}

function* cases<T>(file: WycheproofFile<{ tests: T[] }>): Generator<T> {
  for (const group of file.testGroups) yield* group.tests;
}

// ---------------------------------------------------------------------------------------------
// Per-primitive runners.

function runX25519(provider: CryptoProvider): { tally: Tally; extra: string } {
  const tally = new Tally(provider, 'x25519');
  let zeroShared = 0;
  let zeroRejected = 0;
  for (const group of x25519File.testGroups) {
    assert.equal(group.curve, 'curve25519');
    for (const tc of group.tests) {
      const out = attempt(() => provider.x25519(fromHex(tc.private), fromHex(tc.public)));
      if (/^(00)+$/.test(tc.shared)) {
        // RFC 7748 §6.1: an all-zero output must surface as LOW_ORDER_KEY, never as a key.
        zeroShared++;
        if (out.ok) tally.fail(tc, `returned ${short(toHex(out.value))} instead of throwing LOW_ORDER_KEY`);
        else if (!isCode(out.error, 'LOW_ORDER_KEY')) {
          tally.fail(tc, `threw ${errorCode(out.error)} instead of LOW_ORDER_KEY`);
        } else zeroRejected++;
      }
      tally.judge(tc, out.ok ? accepted(diff('shared', out.value, tc.shared)) : rejected(errorCode(out.error)));
    }
  }
  assert.ok(zeroShared > 0, 'the file has all-zero shared-secret cases');
  return { tally, extra: `all-zero shared secret rejected as LOW_ORDER_KEY ${zeroRejected}/${zeroShared}` };
}

function runEd25519(provider: CryptoProvider): Tally {
  const tally = new Tally(provider, 'ed25519');
  for (const group of ed25519File.testGroups) {
    assert.equal(group.publicKey.curve, 'edwards25519');
    const pk = fromHex(group.publicKey.pk);
    for (const tc of group.tests) {
      const out = attempt(() => provider.ed25519Verify(pk, fromHex(tc.msg), fromHex(tc.sig)));
      if (!out.ok) {
        // The API promises a boolean on any input; a throw is a failure whatever the case says.
        tally.fail(tc, `ed25519Verify threw ${errorCode(out.error)} (it must return false, never throw)`);
        tally.judge(tc, rejected(`threw ${errorCode(out.error)}`));
      } else if (out.value !== true && out.value !== false) {
        tally.fail(tc, `ed25519Verify returned ${String(out.value)}, not a boolean`);
        tally.judge(tc, rejected('non-boolean'));
      } else {
        tally.judge(tc, out.value ? accepted() : rejected('verify=false'));
      }
    }
  }
  return tally;
}

function runHkdf(provider: CryptoProvider): Tally {
  const tally = new Tally(provider, 'hkdf-sha256');
  for (const tc of cases(hkdfFile)) {
    const out = attempt(() => provider.hkdfSha256(fromHex(tc.ikm), fromHex(tc.salt), fromHex(tc.info), tc.size));
    if (tc.result === 'invalid' && !out.ok && !isCode(out.error, 'INVALID_ARGUMENT')) {
      tally.fail(tc, `threw ${errorCode(out.error)}; an out-of-range size must throw INVALID_ARGUMENT`);
    }
    tally.judge(tc, out.ok ? accepted(diff('okm', out.value, tc.okm)) : rejected(errorCode(out.error)));
  }
  return tally;
}

function runHmac(provider: CryptoProvider): Tally {
  const tally = new Tally(provider, 'hmac-sha256');
  for (const group of hmacFile.testGroups) {
    assert.ok(group.tagSize % 8 === 0 && group.tagSize <= 256, `tag size ${group.tagSize}`);
    const tagBytes = group.tagSize / 8;
    for (const tc of group.tests) {
      const out = attempt(() => provider.hmacSha256(fromHex(tc.key), fromHex(tc.msg)));
      if (!out.ok) {
        tally.fail(tc, `hmacSha256 threw ${errorCode(out.error)}`);
        tally.judge(tc, rejected(`threw ${errorCode(out.error)}`));
        continue;
      }
      const mismatch = diff('tag', out.value.subarray(0, tagBytes), tc.tag);
      // "Accepted" means the computed tag equals the case's tag (a verifier would accept it).
      if (mismatch === undefined) tally.judge(tc, accepted());
      else tally.judge(tc, rejected(tc.result === 'valid' ? mismatch : 'tag differs'));
    }
  }
  return tally;
}

function runAead(provider: CryptoProvider, alg: AeadAlgorithm, file: WycheproofFile<AeadGroup>): Tally {
  const tally = new Tally(provider, alg);
  for (const group of file.testGroups) {
    // The API offers only what sotto uses: 256-bit key, 96-bit nonce, 128-bit tag.
    const supported = group.keySize === 256 && group.ivSize === 96 && group.tagSize === 128;
    for (const tc of group.tests) {
      const key = fromHex(tc.key);
      const nonce = fromHex(tc.iv);
      const aad = fromHex(tc.aad);
      const msg = fromHex(tc.msg);
      const sealed = concat(fromHex(tc.ct), fromHex(tc.tag));
      const seal = attempt(() => provider.aeadSeal(alg, key, nonce, msg, aad));
      const open = attempt(() => provider.aeadOpen(alg, key, nonce, sealed, aad));
      if (!supported) {
        tally.refuse(tc, { aeadSeal: seal, aeadOpen: open });
        continue;
      }
      if (tc.result === 'valid') {
        const sealDiff = seal.ok
          ? diff('seal ct||tag', seal.value, toHex(sealed))
          : `seal threw ${errorCode(seal.error)}`;
        if (!open.ok) tally.judge(tc, rejected(`open threw ${errorCode(open.error)}`));
        else if (open.value === null) tally.judge(tc, rejected('open returned null'));
        else tally.judge(tc, accepted(firstDiff(sealDiff, diff('open plaintext', open.value, tc.msg))));
        continue;
      }
      // invalid (no acceptable cases in these files): open must refuse; seal must not produce the forged pair.
      if (seal.ok && toHex(seal.value) === toHex(sealed)) tally.fail(tc, 'aeadSeal produced the invalid ct||tag');
      if (!open.ok) tally.judge(tc, rejected(`open threw ${errorCode(open.error)}`));
      else if (open.value === null) tally.judge(tc, rejected('open returned null'));
      else {
        const what = toHex(open.value) === tc.msg.toLowerCase() ? 'returned the message' : 'returned a plaintext';
        tally.judge(tc, accepted(what));
      }
    }
  }
  return tally;
}

function runMlkemKeygen(provider: CryptoProvider): Tally {
  const tally = new Tally(provider, 'ml-kem-768 keygen');
  for (const group of mlkemKeygenFile.testGroups) {
    assert.equal(group.parameterSet, 'ML-KEM-768');
    for (const tc of group.tests) {
      const out = attempt(() => provider.mlkem768Keygen(fromHex(tc.seed)));
      tally.judge(
        tc,
        out.ok
          ? accepted(firstDiff(diff('ek', out.value.publicKey, tc.ek), diff('dk', out.value.secretKey, tc.dk)))
          : rejected(errorCode(out.error)),
      );
    }
  }
  return tally;
}

function runMlkemEncaps(provider: CryptoProvider): Tally {
  const tally = new Tally(provider, 'ml-kem-768 encaps');
  for (const group of mlkemEncapsFile.testGroups) {
    assert.equal(group.parameterSet, 'ML-KEM-768');
    for (const tc of group.tests) {
      const out = attempt(() => provider.mlkem768Encapsulate(fromHex(tc.ek), fromHex(tc.m)));
      if (tc.result === 'invalid' && !out.ok && !isCode(out.error, 'KEM_FAILED')) {
        tally.fail(tc, `threw ${errorCode(out.error)}; an invalid encapsulation key must throw KEM_FAILED`);
      }
      tally.judge(
        tc,
        out.ok
          ? accepted(firstDiff(diff('c', out.value.ciphertext, tc.c), diff('K', out.value.sharedSecret, tc.K)))
          : rejected(errorCode(out.error)),
      );
    }
  }
  return tally;
}

/**
 * mlkem_768_test.json: `seed` is the private key in seed form (d || z). KeyGen from it must give
 * `ek`, then Decaps(c) must give `K` (implicit rejection included). Invalid cases are wrong-length
 * private keys (refused by KeyGen: a seed is a local argument, so INVALID_ARGUMENT like every other
 * seed in the API) and wrong-length ciphertexts (refused by Decaps with KEM_FAILED).
 */
const SEED_LENGTH_ERROR: SottoCryptoErrorCode = 'INVALID_ARGUMENT';

function runMlkemDecaps(provider: CryptoProvider): { tally: Tally; extra: string } {
  const tally = new Tally(provider, 'ml-kem-768 decaps');
  let someDk: Uint8Array | undefined;
  let someC: Uint8Array | undefined;
  for (const group of mlkemDecapsFile.testGroups) {
    assert.equal(group.parameterSet, 'ML-KEM-768');
    for (const tc of group.tests) {
      const seed = fromHex(tc.seed);
      const c = fromHex(tc.c);
      const keys = attempt(() => provider.mlkem768Keygen(seed));
      if (!keys.ok) {
        if (tc.result === 'invalid' && seed.length !== 64 && !isCode(keys.error, SEED_LENGTH_ERROR)) {
          tally.fail(
            tc,
            `keygen threw ${errorCode(keys.error)} for a ${seed.length}-byte seed, not ${SEED_LENGTH_ERROR}`,
          );
        }
        tally.judge(tc, rejected(`keygen threw ${errorCode(keys.error)}`));
        continue;
      }
      if (tc.result === 'invalid' && seed.length !== 64) {
        tally.fail(tc, `keygen accepted a ${seed.length}-byte seed`);
      }
      const ekDiff = tc.ek ? diff('ek', keys.value.publicKey, tc.ek) : undefined;
      const out = attempt(() => provider.mlkem768Decapsulate(c, keys.value.secretKey));
      if (!out.ok) {
        if (tc.result === 'invalid' && !isCode(out.error, 'KEM_FAILED')) {
          tally.fail(tc, `decapsulate threw ${errorCode(out.error)} for a ${c.length}-byte ciphertext, not KEM_FAILED`);
        }
        tally.judge(tc, rejected(`decapsulate threw ${errorCode(out.error)}`));
        continue;
      }
      tally.judge(tc, accepted(firstDiff(ekDiff, diff('K', out.value, tc.K))));
      if (tc.result === 'valid') {
        someDk = keys.value.secretKey;
        someC = c;
      }
    }
  }
  // The file has no wrong-length decapsulation key in expanded form (its private keys are seeds):
  // check that path too, from a valid case's dk one byte short and one byte long.
  assert.ok(someDk && someC, 'a valid case ran');
  const dk = someDk;
  const ct = someC;
  let dkLengthRejected = 0;
  for (const bad of [dk.subarray(0, dk.length - 1), concat(dk, Uint8Array.of(0))]) {
    const out = attempt(() => provider.mlkem768Decapsulate(ct, bad));
    assert.ok(!out.ok && isCode(out.error, 'KEM_FAILED'), `a ${bad.length}-byte dk must throw KEM_FAILED`);
    dkLengthRejected++;
  }
  return { tally, extra: `extra: wrong-length dk rejected as KEM_FAILED ${dkLengthRejected}/2` };
}

// ---------------------------------------------------------------------------------------------

for (const provider of PROVIDERS) {
  describe(`${provider.name} x25519`, () => {
    it(`Wycheproof ${x25519File.algorithm}: valid match, all-zero shared secret throws LOW_ORDER_KEY`, (t) => {
      const { tally, extra } = runX25519(provider);
      finish(t, tally, x25519File.numberOfTests, extra);
    });
  });

  describe(`${provider.name} ed25519`, () => {
    it(`Wycheproof ${ed25519File.algorithm}: valid verify true, invalid verify false, never throws`, (t) => {
      finish(t, runEd25519(provider), ed25519File.numberOfTests);
    });
  });

  describe(`${provider.name} hkdf-sha256`, () => {
    it(`Wycheproof ${hkdfFile.algorithm}: valid match, oversized output throws INVALID_ARGUMENT`, (t) => {
      finish(t, runHkdf(provider), hkdfFile.numberOfTests);
    });
  });

  describe(`${provider.name} hmac-sha256`, () => {
    it(`Wycheproof ${hmacFile.algorithm}: (truncated) tags match for valid, differ for invalid`, (t) => {
      finish(t, runHmac(provider), hmacFile.numberOfTests);
    });
  });

  describe(`${provider.name} aes-256-gcm`, () => {
    it(`Wycheproof ${aesGcmFile.algorithm}: seal/open valid, refuse forgeries and unsupported sizes`, (t) => {
      finish(t, runAead(provider, 'aes-256-gcm', aesGcmFile), aesGcmFile.numberOfTests);
    });
  });

  describe(`${provider.name} chacha20-poly1305`, () => {
    it(`Wycheproof ${chachaFile.algorithm}: seal/open valid, refuse forgeries and unsupported sizes`, (t) => {
      finish(t, runAead(provider, 'chacha20-poly1305', chachaFile), chachaFile.numberOfTests);
    });
  });

  describe(`${provider.name} ml-kem-768 keygen`, () => {
    it('Wycheproof ML-KEM-768 keygen from seed: ek and dk match', (t) => {
      finish(t, runMlkemKeygen(provider), mlkemKeygenFile.numberOfTests);
    });
  });

  describe(`${provider.name} ml-kem-768 encaps`, () => {
    it('Wycheproof ML-KEM-768 encapsulation: valid match, invalid ek throws KEM_FAILED', (t) => {
      finish(t, runMlkemEncaps(provider), mlkemEncapsFile.numberOfTests);
    });
  });

  describe(`${provider.name} ml-kem-768 decaps`, () => {
    it('Wycheproof ML-KEM-768 keygen+decapsulation: valid match, wrong lengths throw', (t) => {
      const { tally, extra } = runMlkemDecaps(provider);
      finish(t, tally, mlkemDecapsFile.numberOfTests, extra);
    });
  });
}

describe("node ml-kem-768 encaps with the provider's own randomness (liboqs WASM path)", () => {
  it('Wycheproof ML-KEM-768 encapsulation keys: every invalid ek throws KEM_FAILED, every valid one encapsulates', (t) => {
    let valid = 0;
    let invalidRejected = 0;
    let invalid = 0;
    for (const group of mlkemEncapsFile.testGroups) {
      for (const tc of group.tests) {
        const out = attempt(() => nodeProvider.mlkem768Encapsulate(fromHex(tc.ek)));
        if (tc.result === 'invalid') {
          invalid++;
          assert.ok(!out.ok && isCode(out.error, 'KEM_FAILED'), `tcId ${tc.tcId}: invalid ek accepted`);
          invalidRejected++;
        } else {
          assert.ok(out.ok, `tcId ${tc.tcId}: valid ek refused (${out.ok ? '' : errorCode(out.error)})`);
          assert.equal(out.value.ciphertext.length, 1088);
          valid++;
        }
      }
    }
    // Random m: c and K cannot match the file; the round trips in test/crypto/mlkem-wasm.test.ts check them.
    t.diagnostic(
      `node ml-kem-768 encaps (own randomness): valid ${valid} encapsulated, invalid rejected ${invalidRejected}/${invalid}`,
    );
  });
});

describe('node OpenSSL fallbacks (used when the libsodium addon cannot load)', () => {
  const fallback: CryptoProvider = {
    ...nodeProvider,
    name: 'node-openssl-fallback',
    ed25519Verify: ed25519VerifyOpenSsl,
    x25519: x25519OpenSsl,
    x25519PublicKey: x25519PublicKeyOpenSsl,
    // ChaCha20-Poly1305 through OpenSSL, behind the same checks as nodeProvider's
    aeadSeal(alg, key, nonce, plaintext, aad) {
      if (alg !== 'chacha20-poly1305') return nodeProvider.aeadSeal(alg, key, nonce, plaintext, aad);
      checkAead(alg, key, nonce);
      return aeadSealOpenSsl(alg, key, nonce, plaintext, aad);
    },
    aeadOpen(alg, key, nonce, sealed, aad) {
      if (alg !== 'chacha20-poly1305') return nodeProvider.aeadOpen(alg, key, nonce, sealed, aad);
      checkAead(alg, key, nonce);
      return checkSealed(sealed) ? aeadOpenOpenSsl(alg, key, nonce, sealed, aad) : null;
    },
  };
  it(`Wycheproof ${chachaFile.algorithm} through aeadSealOpenSsl / aeadOpenOpenSsl`, (t) => {
    finish(t, runAead(fallback, 'chacha20-poly1305', chachaFile), chachaFile.numberOfTests);
  });
  it('OpenSSL and libsodium agree on SHA-256', () => {
    for (const size of [0, 1, 55, 56, 64, 1250, 70_000]) {
      const data = nodeProvider.randomBytes(size);
      assert.deepEqual(nodeProvider.sha256(data), sha256OpenSsl(data), `${size} bytes`);
    }
  });
  it(`Wycheproof ${ed25519File.algorithm} through ed25519VerifyOpenSsl`, (t) => {
    finish(t, runEd25519(fallback), ed25519File.numberOfTests);
  });
  it(`Wycheproof ${x25519File.algorithm} through x25519OpenSsl`, (t) => {
    const { tally, extra } = runX25519(fallback);
    finish(t, tally, x25519File.numberOfTests, extra);
  });
  it('OpenSSL and libsodium agree on X25519 public keys and shared secrets', () => {
    for (let i = 0; i < 200; i++) {
      const a = nodeProvider.randomBytes(32);
      const b = nodeProvider.randomBytes(32);
      const pubB = x25519PublicKeyOpenSsl(b);
      assert.deepEqual(nodeProvider.x25519PublicKey(b), pubB);
      assert.deepEqual(nodeProvider.x25519(a, pubB), x25519OpenSsl(a, pubB));
    }
  });
});
