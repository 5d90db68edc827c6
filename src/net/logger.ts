/**
 * The transport layer's logger: whatever the embedding app passes (`{ debug, info, warn, error }`),
 * otherwise libp2p's debug logger (silent unless `DEBUG=sotto:*`). Log lines carry peer ids and
 * addresses at most, never record values or key material.
 */
import type { ComponentLogger } from '@libp2p/interface';

export interface NetLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** Adapts libp2p's `forComponent` logger to `NetLogger` (debug/info → log, warn/error → log.error). */
export function netLoggerFrom(logger: ComponentLogger, component: string): NetLogger {
  const log = logger.forComponent(component);
  return {
    debug: (message, ...args) => log(message, ...args),
    info: (message, ...args) => log(message, ...args),
    warn: (message, ...args) => log.error(message, ...args),
    error: (message, ...args) => log.error(message, ...args),
  };
}
