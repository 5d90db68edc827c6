/**
 * sotto's end-to-end encryption core: PQXDH handshake + Double Ratchet sessions, behind a
 * two-implementation crypto provider. Spec: protocols/session/SPEC.md.
 */
export { equalBytes, fromHex, toHex } from './bytes.js';
export * from './constants.js';
export {
  type Clock,
  type CryptoEnv,
  type CryptoEnvOptions,
  createEnv,
  deterministicRng,
  manualClock,
  type Rng,
} from './env.js';
export * from './errors.js';
export { HPKE_NENC, HPKE_NT, hpkeDeriveKeyPair, hpkeOpen, hpkeSeal } from './hpke.js';
export {
  checkX25519Public,
  encodeEd25519,
  encodeMlKem768,
  encodeX25519,
  type GeneratePrekeysOptions,
  generateIdentity,
  generateKemPrekey,
  generateOneTimePrekey,
  generatePrekeys,
  generateSignedPrekey,
  generateX25519KeyPair,
  IdentityKeyPair,
  type IdentityKeys,
  identityDhSignedMessage,
  isCanonicalX25519,
  type KemPrekey,
  type KemPrekeyPublic,
  kemPrekeyMessage,
  MemoryPrekeyStore,
  type OneTimePrekey,
  type OneTimePrekeyPublic,
  type PrekeyBundle,
  type PrekeyLookup,
  type PublicIdentity,
  type SignedPrekey,
  type SignedPrekeyPublic,
  signedPrekeyMessage,
  verifyBundle,
  verifyIdentity,
} from './keys.js';
export {
  associatedData,
  type HandshakeContext,
  type InitiateOptions,
  initiateSession,
  type MessageKind,
  peekMessage,
  type RespondOptions,
  type RespondResult,
  respondToSession,
} from './pqxdh.js';
export type { AeadAlgorithm, CryptoProvider } from './provider.js';
export { nobleProvider } from './provider-noble.js';
export { nodeCurveBackend, nodeMlKemBackend, nodeProvider, nodeProviderReady } from './provider-node.js';
export { fingerprintHalf, safetyNumber } from './safety-number.js';
export { Session, type SessionInfo, type SessionRole } from './session.js';
export { SNAPSHOT_VERSION } from './snapshot.js';
