/** The daemon's configuration: defaults < `<dataDir>/config.json` < `SOTTO_*` < flags, validated at start. */
export * from './config.js';
export * from './errors.js';
export * from './load.js';
export * from './write.js';
