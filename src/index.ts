/**
 * sotto: a federated peer-to-peer messaging node. The Node 20 shim loads first, before libp2p.
 * The crypto core alone is `sotto/crypto`.
 */
import './net/shim.js';

export * from './crypto/index.js';
export { decodeAddress, encodeAddress, isAddress } from './identity/address.js';
export * from './node/index.js';
