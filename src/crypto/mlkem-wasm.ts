/**
 * ML-KEM-768 encapsulation and decapsulation through liboqs compiled to WebAssembly.
 *
 * What: a thin, synchronous (once loaded) wrapper over the ML-KEM-768 build of liboqs that ships in
 * `@oqs/liboqs-js` (Open Quantum Safe's official Emscripten build, MIT; 0.15.x bundles liboqs
 * 0.15.1, whose ML-KEM is the mlkem-native C code, algorithm version "FIPS203"). It loads
 * `dist/ml-kem-768.min.js` (an Emscripten module factory with the WASM inlined) and drives the C API
 * directly: `OQS_init`, `OQS_KEM_new("ML-KEM-768")`, `malloc`, `OQS_KEM_encaps`, `OQS_KEM_decaps`,
 * `free`, reading and writing through `HEAPU8`.
 *
 * Why: speed. Measured on Node 20.20, 2 cores (scratch/mlkem-bench.ts, median of 5 runs × 500
 * operations after warm-up; the spread is between repeated runs on a shared machine):
 * @noble/post-quantum (pure JS) ≈0.6–0.9 ms per encapsulation and ≈0.7–1.1 ms per decapsulation;
 * this module ≈0.06–0.11 ms and ≈0.065–0.075 ms, i.e. about 10× faster. Loading the module is a
 * one-time ≈20 ms (plain node, compiled JS; the first run under tsx was up to ≈85 ms).
 *
 * Why not the package's `MLKEM768` class: its `decapsulate` copies the decapsulation key into the
 * WASM heap and frees it without zeroing, and leaves the shared secret there too (so does its
 * `encapsulate`), where any later heap dump or reuse of that memory can read them. Here every heap
 * block that held a decapsulation key or a shared secret is overwritten with zeros before `free`,
 * on success and on every error path. liboqs wipes its own stack buffers (mlkem-native zeroizes its
 * secret locals), so after a call no copy of dk or K is left anywhere in linear memory: the unit
 * tests scan the whole heap for them after every kind of call to keep that true.
 *
 * Input checks: sizes are checked here (ek 1184, dk 2400, ct 1088 bytes) and throw `KemError`.
 * The FIPS 203 §7.2 modulus check on ek and the §7.3 hash check on dk are performed by liboqs
 * itself (`OQS_KEM_encaps`/`OQS_KEM_decaps` return non-zero), which this wrapper turns into
 * `KemError`; both are exercised by the Wycheproof tests and a tampered-dk test.
 *
 * Randomness: encapsulation draws its 32-byte message m inside the WASM through liboqs's system
 * RNG (`OQS_randombytes` → `getentropy`), which Emscripten's runtime implements in JS: on Node with
 * `require('node:crypto').randomFillSync` on the heap bytes, elsewhere with
 * `crypto.getRandomValues`. Both are the platform CSPRNG; a test checks that one encapsulation
 * makes exactly one 32-byte `randomFillSync` request. It cannot be injected, so callers that pass
 * explicit randomness (tests, the golden transcripts) must not use this module.
 *
 * What stays on @noble/post-quantum: key generation (we derive keys from a 64-byte seed) and
 * deterministic encapsulation with caller-supplied randomness, because the liboqs-js build exports
 * no derandomized entry point (`OQS_KEM_keypair_derand` / `OQS_KEM_encaps_derand` exist in liboqs
 * but are not exported from this WASM and the function table is not exported either).
 *
 * Loading: the package's `exports` map exposes only `src/`, so the package root is found by
 * resolving `@oqs/liboqs-js` with `import.meta.resolve` (the same resolution as a static import,
 * works under tsx and in compiled JS) and walking up to its package.json; the dist file is then
 * imported by file URL. This reaches into the package layout, so keep the dependency on a version
 * that has been through the tests here. (The package declares `engines: node >= 22`; it runs and
 * passes these tests on Node 20.20.)
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KemError } from './errors.js';
import {
  MLKEM_SHARED_SECRET_BYTES,
  MLKEM768_CIPHERTEXT_BYTES,
  MLKEM768_PUBLIC_BYTES,
  MLKEM768_SECRET_BYTES,
  type MlKemEncapsulation,
} from './provider.js';

export interface WasmMlKem768 {
  /** FIPS 203 ML-KEM.Encaps with randomness from the platform CSPRNG (see the module comment). */
  encapsulate(publicKey: Uint8Array): MlKemEncapsulation;
  /** FIPS 203 ML-KEM.Decaps (implicit rejection: a bad ciphertext gives a pseudorandom key). */
  decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

/** The part of the Emscripten module (`dist/ml-kem-768.min.js`) this wrapper uses. Pointers are numbers. */
interface OqsKemModule {
  /**
   * View of the WASM linear memory. Emscripten replaces it when memory grows (any `_malloc` may
   * grow it), so it is read again after every allocation, never cached across one.
   */
  readonly HEAPU8: Uint8Array;
  _OQS_init(): void;
  _OQS_KEM_new(methodName: number): number;
  _OQS_KEM_encaps(kem: number, ciphertext: number, sharedSecret: number, publicKey: number): number;
  _OQS_KEM_decaps(kem: number, sharedSecret: number, ciphertext: number, secretKey: number): number;
  _malloc(size: number): number;
  _free(ptr: number): void;
  stringToUTF8(value: string, ptr: number, maxBytes: number): number;
  UTF8ToString(ptr: number): string;
}

const PACKAGE = '@oqs/liboqs-js';
const MODULE_FILE = 'dist/ml-kem-768.min.js';
const METHOD_NAME = 'ML-KEM-768';

const MODULE_FUNCTIONS = [
  '_OQS_init',
  '_OQS_KEM_new',
  '_OQS_KEM_encaps',
  '_OQS_KEM_decaps',
  '_malloc',
  '_free',
  'stringToUTF8',
  'UTF8ToString',
] as const;

function isOqsKemModule(value: unknown): value is OqsKemModule {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return record.HEAPU8 instanceof Uint8Array && MODULE_FUNCTIONS.every((name) => typeof record[name] === 'function');
}

/** The installed package's root directory: resolve its entry point, walk up to its package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve(PACKAGE)));
  for (;;) {
    try {
      const manifest: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (typeof manifest === 'object' && manifest !== null && (manifest as { name?: unknown }).name === PACKAGE) {
        return dir;
      }
    } catch {
      // no (readable) package.json here: keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`package root of ${PACKAGE} not found`);
    dir = parent;
  }
}

async function importModuleFactory(): Promise<() => Promise<unknown>> {
  const namespace: unknown = await import(pathToFileURL(join(packageRoot(), MODULE_FILE)).href);
  const factory =
    typeof namespace === 'object' && namespace !== null ? (namespace as { default?: unknown }).default : undefined;
  if (typeof factory !== 'function') throw new Error(`${MODULE_FILE} has no default module factory`);
  return factory as () => Promise<unknown>;
}

/**
 * liboqs `OQS_KEM` (src/kem/kem.h) on wasm32: method_name (ptr, +0), alg_version (ptr, +4),
 * claimed_nist_level (u8, +8), ind_cca (bool, +9), then size_t lengths of the public key (+12),
 * secret key (+16), ciphertext (+20) and shared secret (+24). Checked once at load so that a
 * different build behind the same file name fails loudly instead of overrunning our buffers.
 */
function checkKemDescriptor(mod: OqsKemModule, kem: number): void {
  const view = new DataView(mod.HEAPU8.buffer);
  const name = mod.UTF8ToString(view.getUint32(kem, true));
  const sizes = [12, 16, 20, 24].map((offset) => view.getUint32(kem + offset, true));
  const expected = [MLKEM768_PUBLIC_BYTES, MLKEM768_SECRET_BYTES, MLKEM768_CIPHERTEXT_BYTES, MLKEM_SHARED_SECRET_BYTES];
  if (name !== METHOD_NAME || sizes.some((size, i) => size !== expected[i])) {
    throw new Error(`unexpected OQS_KEM descriptor: ${name} ${sizes.join('/')}`);
  }
}

/** Allocates `size` bytes in the WASM heap; throws rather than hand back the null pointer. */
function allocate(mod: OqsKemModule, size: number): number {
  const ptr = mod._malloc(size);
  if (ptr === 0) throw new KemError('ML-KEM-768 (WASM): out of memory');
  return ptr;
}

/** Zeroes a heap block, then frees it. Always reads `HEAPU8` afresh (see `OqsKemModule.HEAPU8`). */
function wipeAndFree(mod: OqsKemModule, ptr: number, size: number): void {
  mod.HEAPU8.fill(0, ptr, ptr + size);
  mod._free(ptr);
}

function checkLength(what: string, value: unknown, length: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new KemError(`ML-KEM-768 ${what} must be ${length} bytes`);
  }
}

function bind(mod: OqsKemModule, kem: number): WasmMlKem768 {
  // One heap block per call, laid out [shared secret | ciphertext | key]; all of it is zeroed.
  const ENCAPS_BLOCK = MLKEM_SHARED_SECRET_BYTES + MLKEM768_CIPHERTEXT_BYTES + MLKEM768_PUBLIC_BYTES;
  const DECAPS_BLOCK = MLKEM_SHARED_SECRET_BYTES + MLKEM768_CIPHERTEXT_BYTES + MLKEM768_SECRET_BYTES;
  const CT_OFFSET = MLKEM_SHARED_SECRET_BYTES;
  const KEY_OFFSET = MLKEM_SHARED_SECRET_BYTES + MLKEM768_CIPHERTEXT_BYTES;

  return {
    encapsulate(publicKey) {
      checkLength('encapsulation key', publicKey, MLKEM768_PUBLIC_BYTES);
      const block = allocate(mod, ENCAPS_BLOCK);
      try {
        mod.HEAPU8.set(publicKey, block + KEY_OFFSET);
        const rc = mod._OQS_KEM_encaps(kem, block + CT_OFFSET, block, block + KEY_OFFSET);
        if (rc !== 0) throw new KemError('ML-KEM-768 encapsulation key failed the FIPS 203 input check');
        const heap = mod.HEAPU8;
        return {
          ciphertext: heap.slice(block + CT_OFFSET, block + CT_OFFSET + MLKEM768_CIPHERTEXT_BYTES),
          sharedSecret: heap.slice(block, block + MLKEM_SHARED_SECRET_BYTES),
        };
      } finally {
        wipeAndFree(mod, block, ENCAPS_BLOCK);
      }
    },

    decapsulate(ciphertext, secretKey) {
      checkLength('ciphertext', ciphertext, MLKEM768_CIPHERTEXT_BYTES);
      checkLength('decapsulation key', secretKey, MLKEM768_SECRET_BYTES);
      const block = allocate(mod, DECAPS_BLOCK);
      try {
        const heap = mod.HEAPU8;
        heap.set(ciphertext, block + CT_OFFSET);
        heap.set(secretKey, block + KEY_OFFSET);
        const rc = mod._OQS_KEM_decaps(kem, block, block + CT_OFFSET, block + KEY_OFFSET);
        if (rc !== 0) throw new KemError('ML-KEM-768 decapsulation key failed the FIPS 203 input check');
        return mod.HEAPU8.slice(block, block + MLKEM_SHARED_SECRET_BYTES);
      } finally {
        wipeAndFree(mod, block, DECAPS_BLOCK);
      }
    },
  };
}

let loaded: Promise<{ mod: OqsKemModule; kem: WasmMlKem768 }> | undefined;

async function instantiate(): Promise<{ mod: OqsKemModule; kem: WasmMlKem768 }> {
  const factory = await importModuleFactory();
  const mod: unknown = await factory();
  if (!isOqsKemModule(mod)) throw new Error(`${MODULE_FILE} does not export the expected liboqs functions`);
  mod._OQS_init();
  const nameBytes = METHOD_NAME.length + 1; // ASCII, plus the NUL
  const namePtr = allocate(mod, nameBytes);
  let kemPtr: number;
  try {
    mod.stringToUTF8(METHOD_NAME, namePtr, nameBytes);
    kemPtr = mod._OQS_KEM_new(namePtr);
  } finally {
    mod._free(namePtr);
  }
  if (kemPtr === 0) throw new Error(`OQS_KEM_new("${METHOD_NAME}") returned NULL`);
  checkKemDescriptor(mod, kemPtr);
  // The OQS_KEM descriptor lives as long as the process: nothing to free.
  return { mod, kem: bind(mod, kemPtr) };
}

function load(): Promise<{ mod: OqsKemModule; kem: WasmMlKem768 }> {
  if (loaded === undefined) {
    loaded = instantiate().catch((error: unknown) => {
      loaded = undefined; // let a later call try again
      const wrapped = new KemError(
        `ML-KEM-768 WASM module failed to load: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw Object.assign(wrapped, { cause: error });
    });
  }
  return loaded;
}

/**
 * Loads the liboqs ML-KEM-768 WASM module (once per process; later calls share the promise) and
 * returns its synchronous operations. Rejects with `KemError` if the module cannot be loaded, in
 * which case the caller should stay on @noble/post-quantum.
 */
export async function loadWasmMlKem768(): Promise<WasmMlKem768> {
  return (await load()).kem;
}

/**
 * TEST ONLY: the live `HEAPU8` view of the loaded module's linear memory, so tests can check that
 * no decapsulation key or shared secret is left in it. Not part of the API; read it right away
 * (a later allocation may replace the view).
 */
export async function __heapForTests(): Promise<Uint8Array> {
  return (await load()).mod.HEAPU8;
}
