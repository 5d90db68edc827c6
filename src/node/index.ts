export * from './errors.js';
export * from './mailbox.js';
export * from './node.js';
