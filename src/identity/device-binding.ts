/**
 * Device binding: the identity key's signature naming a node's libp2p peer id, so a peer that
 * reaches the node over Noise (which authenticates the peer id) knows which identities the node
 * speaks for.
 *
 *   binding = Sign(IK, utf8("sotto/sig/device-binding/v1") || u8(len(peerId)) || peerId || u64(createdAt))
 */
import { utf8, Writer } from '../crypto/bytes.js';
import type { IdentityKeyPair } from '../crypto/keys.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { BadDeviceBindingError } from './errors.js';

export const DEVICE_BINDING_LABEL = utf8('sotto/sig/device-binding/v1');
/** A libp2p peer id in binary (multihash) form; Ed25519 identity peer ids are 38 bytes. */
export const MAX_PEER_ID_BYTES = 64;

export interface DeviceBinding {
  /** The node's libp2p peer id, binary (multihash) form. */
  readonly peerId: Uint8Array;
  /** When the binding was made (ms since the epoch). */
  readonly createdAt: number;
  /** Ed25519 signature by the identity key. */
  readonly signature: Uint8Array;
}

export function deviceBindingMessage(peerId: Uint8Array, createdAt: number): Uint8Array {
  if (!(peerId instanceof Uint8Array) || peerId.length === 0 || peerId.length > MAX_PEER_ID_BYTES) {
    throw new BadDeviceBindingError(`a peer id is 1..${MAX_PEER_ID_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(createdAt) || createdAt < 0) throw new BadDeviceBindingError('bad binding time');
  return new Writer(128).bytes(DEVICE_BINDING_LABEL).u8(peerId.length).bytes(peerId).u64(createdAt).finish();
}

export function createDeviceBinding(
  provider: CryptoProvider,
  identity: IdentityKeyPair,
  peerId: Uint8Array,
  createdAt: number,
): DeviceBinding {
  const signature = provider.ed25519Sign(identity.signingSeed, deviceBindingMessage(peerId, createdAt));
  return { peerId: peerId.slice(), createdAt, signature };
}

/** Throws BadDeviceBindingError unless `binding` is the identity key's signature over its peer id. */
export function verifyDeviceBinding(provider: CryptoProvider, identityKey: Uint8Array, binding: DeviceBinding): void {
  if (
    !provider.ed25519Verify(identityKey, deviceBindingMessage(binding.peerId, binding.createdAt), binding.signature)
  ) {
    throw new BadDeviceBindingError('device binding signature does not verify');
  }
}
