/**
 * Shared by the Wycheproof tests: where the vectors live, their file schemas (only the fields the
 * tests read), and small bookkeeping helpers.
 */
import { readFileSync } from 'node:fs';
import { SottoCryptoError, type SottoCryptoErrorCode } from '../../src/crypto/errors.js';

/** `shared/` sits beside the project root, here and in CI: test/vectors → ../../../shared/vectors. */
export const WYCHEPROOF_DIR = new URL('../../../shared/vectors/wycheproof/', import.meta.url);

// ---------------------------------------------------------------------------------------------
// File schemas (only the fields these tests read).

export type CaseResult = 'valid' | 'invalid' | 'acceptable';

export interface WycheproofCase {
  tcId: number;
  comment?: string;
  flags?: string[];
  result: CaseResult;
}

export interface WycheproofFile<G> {
  algorithm: string;
  schema?: string;
  numberOfTests: number;
  testGroups: G[];
}

export interface XdhCase extends WycheproofCase {
  public: string;
  private: string;
  shared: string;
}
export interface XdhGroup {
  curve: string;
  tests: XdhCase[];
}

export interface EddsaCase extends WycheproofCase {
  msg: string;
  sig: string;
}
export interface EddsaGroup {
  publicKey: { curve: string; pk: string };
  tests: EddsaCase[];
}

export interface HkdfCase extends WycheproofCase {
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
}
export interface HkdfGroup {
  tests: HkdfCase[];
}

export interface MacCase extends WycheproofCase {
  key: string;
  msg: string;
  tag: string;
}
export interface MacGroup {
  keySize: number;
  tagSize: number;
  tests: MacCase[];
}

export interface AeadCase extends WycheproofCase {
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
}
export interface AeadGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: AeadCase[];
}

export interface MlkemKeygenCase extends WycheproofCase {
  seed: string;
  ek: string;
  dk: string;
}
export interface MlkemEncapsCase extends WycheproofCase {
  ek: string;
  m: string;
  c: string;
  K: string;
}
export interface MlkemDecapsCase extends WycheproofCase {
  seed: string;
  ek?: string;
  c: string;
  K: string;
}
export interface MlkemGroup<T> {
  parameterSet: string;
  tests: T[];
}

export function load<G>(name: string): WycheproofFile<G> {
  return JSON.parse(readFileSync(new URL(name, WYCHEPROOF_DIR), 'utf8')) as WycheproofFile<G>;
}

export type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };

export function attempt<T>(fn: () => T): Attempt<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The stable code of a typed error, or a description of an untyped one (which no test expects). */
export function errorCode(error: unknown): string {
  if (error instanceof SottoCryptoError) return error.code;
  if (error instanceof Error) return `untyped ${error.name}: ${error.message}`;
  return `untyped throw: ${String(error)}`;
}

export function isCode(error: unknown, code: SottoCryptoErrorCode): boolean {
  return error instanceof SottoCryptoError && error.code === code;
}

export function describeCase(tc: WycheproofCase): string {
  const flags = tc.flags && tc.flags.length > 0 ? ` [${tc.flags.join(',')}]` : '';
  const comment = tc.comment ? ` "${tc.comment}"` : '';
  return `tcId ${tc.tcId} (${tc.result}${flags}${comment})`;
}
