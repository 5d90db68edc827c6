export * from './errors.js';
export * from './node.js';
