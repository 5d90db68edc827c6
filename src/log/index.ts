/** sotto's structured logging: levels, component names, and never keys, plaintext or message bodies. */
export * from './logger.js';
