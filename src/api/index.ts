/** The daemon's local API: HTTP + WebSocket with JSON on 127.0.0.1, bearer token, OpenAPI. */
export * from './auth.js';
export * from './errors.js';
export * from './mailboxes.js';
export * from './metrics.js';
export * from './openapi.js';
export * from './server.js';
export * from './token.js';
export * from './types.js';
