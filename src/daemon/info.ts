/**
 * `daemon.json`: what a running daemon writes to its data dir so the command line can find its
 * API (the actual URL, even with port 0). Kept apart from daemon.ts so that reading it does not
 * load the node and libp2p.
 */

/** Written to the data dir while the daemon runs: where its API listens (the CLI reads it). */
export const DAEMON_FILE = 'daemon.json';
/** Owner-only, like every file in the data dir. */
export const DAEMON_FILE_MODE = 0o600;

export interface DaemonInfo {
  pid: number;
  /** Base URL of the local API, e.g. http://127.0.0.1:7373 */
  api: string;
  address: string;
  peerId: string;
  startedAt: number;
}
