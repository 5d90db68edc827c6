/**
 * The passphrase KDF of encryption at rest: Argon2id (RFC 9106), from @noble/hashes. The crypto
 * provider has no password hash (node:crypto gains Argon2 only in Node 24), so this file is the one
 * place outside src/crypto that calls a primitive, and it calls a well-kept library, never code of
 * ours.
 *
 * The parameters are stored next to every salt (key file, backup header), so they can be raised
 * later without breaking old files; reading checks them against KDF_LIMITS first, so a tampered
 * file cannot make us allocate gigabytes or spin for minutes.
 */
import { argon2idAsync } from '@noble/hashes/argon2.js';
import { InvalidStoreArgumentError } from './errors.js';

export interface KdfParams {
  /** Argon2 `m`, memory in KiB. */
  readonly memoryKiB: number;
  /** Argon2 `t`, passes over the memory. */
  readonly iterations: number;
  /** Argon2 `p`, lanes (JS runs them one after another; they change the output, not the speed). */
  readonly parallelism: number;
}

/**
 * OWASP Password Storage Cheat Sheet, Argon2id, first of its equivalent configurations: m = 46 MiB,
 * t = 1, p = 1. RFC 9106 §4's recommendations (t = 1 with 2 GiB, or t = 3 with 64 MiB, p = 4) take
 * 3–10 s in pure JS on a small server and would make every start and every offline CLI command
 * that slow; one pass over 46 MiB is the OWASP minimum for memory-hardness at t = 1. The unlock
 * time measured here is in the CHANGELOG entry for encryption at rest.
 */
export const DEFAULT_KDF_PARAMS: KdfParams = Object.freeze({ memoryKiB: 47_104, iterations: 1, parallelism: 1 });

/** RFC 9106 §3.1: "128 bits is sufficient for all applications" (a salt is never reused: fresh per wrap). */
export const KDF_SALT_BYTES = 16;
/** The Argon2 version this code writes and reads: 0x13 (RFC 9106). */
export const ARGON2_VERSION = 0x13;
/** Output: one AES-256 key. */
export const KEK_BYTES = 32;

/**
 * Bounds on parameters read from a file. Low bounds keep tests fast (a test may pass
 * `{ memoryKiB: 64, iterations: 1, parallelism: 1 }`); RFC 9106 §3.1 requires m >= 8·p.
 */
export const KDF_LIMITS = Object.freeze({
  memoryKiB: { min: 8, max: 1 << 21 }, // 2 GiB: RFC 9106's first recommended option
  iterations: { min: 1, max: 64 },
  parallelism: { min: 1, max: 16 },
});

/** Why `params` are out of bounds, or undefined when they are fine. */
export function kdfParamsProblem(params: KdfParams): string | undefined {
  for (const name of ['memoryKiB', 'iterations', 'parallelism'] as const) {
    const v = params[name];
    const { min, max } = KDF_LIMITS[name];
    if (!Number.isSafeInteger(v) || v < min || v > max) return `KDF ${name} must be an integer ${min}..${max}`;
  }
  if (params.memoryKiB < 8 * params.parallelism) return 'KDF memoryKiB must be at least 8 × parallelism';
  return undefined;
}

const utf8 = new TextEncoder();

/**
 * A passphrase as bytes: a string is NFC-normalized (the same passphrase typed on macOS, which
 * decomposes, and on Linux gives the same bytes) and UTF-8 encoded; bytes are taken as they are.
 * The caller wipes the result.
 */
export function passphraseBytes(passphrase: string | Uint8Array): Uint8Array {
  if (typeof passphrase === 'string') {
    if (passphrase.length === 0) throw new InvalidStoreArgumentError('a passphrase must not be empty');
    return utf8.encode(passphrase.normalize('NFC'));
  }
  if (!(passphrase instanceof Uint8Array)) {
    throw new InvalidStoreArgumentError('a passphrase must be a string or a Uint8Array');
  }
  if (passphrase.length === 0) throw new InvalidStoreArgumentError('a passphrase must not be empty');
  return passphrase.slice();
}

/**
 * The key-encryption key: Argon2id(passphrase, salt, params), 32 bytes. Asynchronous (it yields to
 * the event loop every few ms, so signals and timers still run while it works).
 */
export async function deriveKek(
  passphrase: string | Uint8Array,
  salt: Uint8Array,
  params: KdfParams,
): Promise<Uint8Array> {
  const problem = kdfParamsProblem(params);
  if (problem !== undefined) throw new InvalidStoreArgumentError(problem);
  if (!(salt instanceof Uint8Array) || salt.length !== KDF_SALT_BYTES) {
    throw new InvalidStoreArgumentError(`the KDF salt must be ${KDF_SALT_BYTES} bytes`);
  }
  const password = passphraseBytes(passphrase);
  try {
    return await argon2idAsync(password, salt, {
      m: params.memoryKiB,
      t: params.iterations,
      p: params.parallelism,
      version: ARGON2_VERSION,
      dkLen: KEK_BYTES,
      // KDF_LIMITS allows 2 GiB; noble's default budget is 1 GiB
      maxmem: KDF_LIMITS.memoryKiB.max * 1024 + 1024 * 1024,
    });
  } finally {
    password.fill(0);
  }
}
