/** sotto: a federated peer-to-peer messaging node. The crypto core is exported from `sotto/crypto`. */
export * from './crypto/index.js';
