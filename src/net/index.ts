/** sotto's transport layer. The shim comes first: it must run before libp2p is loaded. */
import './shim.js';

export * from './bootstrap.js';
export * from './config.js';
export * from './dht.js';
export * from './errors.js';
export * from './frame-guard.js';
export * from './host.js';
export * from './logger.js';
export * from './peer-key.js';
export * from './record-guard.js';
export * from './relay-stop-guard.js';
export * from './report.js';
export { installNodeShims } from './shim.js';
export * from './walk-pacer.js';
export * from './yamux-window.js';
