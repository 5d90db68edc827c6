/**
 * Typed errors of the daemon configuration (house style: src/net/errors.ts). Callers match on
 * `code`, `problem` and `field`, never on message text. A message is one line:
 * `<source>: <field>: <what is wrong>`, e.g.
 * `/home/me/.local/share/sotto/config.json: api.port: expected an integer 0..65535, got "abc"`,
 * `environment: SOTTO_API_PORT: …`, `command line: --api-port: …`.
 */
import type { NetConfigProblem } from '../net/errors.js';

/** Stable error codes. Adding one is fine; renaming one is a breaking change. */
export type ConfigErrorCode =
  /** A value, key, variable or flag is wrong, or the config file is not valid JSON. */
  | 'CONFIG_INVALID'
  /**
   * The config file (or `metrics.tokenFile`) exists but cannot be read (permissions, not a regular
   * file, too large), or the token file is missing.
   */
  | 'CONFIG_UNREADABLE'
  /** The config file cannot be written (the daemon saving a setting changed at run time). */
  | 'CONFIG_UNWRITABLE';

/** Where a setting came from, lowest precedence first. */
export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

/** What exactly was wrong. The network problems are `parseNetConfig`'s own. */
export type ConfigProblem =
  | NetConfigProblem
  /** An empty string where a value is required (an empty list variable is fine: it means "none"). */
  | 'EMPTY'
  /** A relative path where an absolute one is required. */
  | 'NOT_ABSOLUTE'
  /** No data dir given and none can be derived (no home directory). */
  | 'NO_DATA_DIR'
  /** A key that is valid elsewhere but not here (`dataDir` inside the config file). */
  | 'NOT_ALLOWED_HERE'
  /** The API would listen on a non-loopback address without `api.allowRemote: true`. */
  | 'REMOTE_API_NOT_ALLOWED'
  /** The metrics listener would listen on a non-loopback address without `metrics.allowRemote: true`. */
  | 'REMOTE_METRICS_NOT_ALLOWED'
  /** The config file is not valid UTF-8 JSON. */
  | 'BAD_JSON'
  /** The config file, or the file a setting names (`metrics.tokenFile`), cannot be read. */
  | 'UNREADABLE'
  /** The config file cannot be written. */
  | 'UNWRITABLE'
  /** The config file is larger than `MAX_CONFIG_FILE_BYTES` (`metrics.tokenFile`: `MAX_METRICS_TOKEN_FILE_BYTES`). */
  | 'TOO_LARGE'
  /** A `sotto1…` address that does not decode (typo, checksum, length). */
  | 'BAD_ADDRESS'
  /** A libp2p peer id that does not parse. */
  | 'BAD_PEER_ID'
  /** The same entry twice in a list where each must be distinct (`mailboxes`). */
  | 'DUPLICATE';

/** How each source is named at the start of a message (the file is named by its path). */
export const SOURCE_LABELS: Readonly<Record<Exclude<ConfigSource, 'file'>, string>> = Object.freeze({
  default: 'defaults',
  env: 'environment',
  flag: 'command line',
});

export interface ConfigErrorInit {
  readonly code?: ConfigErrorCode;
  readonly source: ConfigSource;
  /** The config file's path when `source` is `file`. */
  readonly file?: string;
  /** `api.port`, `net.listen[1]`, `SOTTO_API_PORT`, `--api-port`; empty for a whole-file problem. */
  readonly field: string;
  readonly problem: ConfigProblem;
  /** What is wrong, without the source and field prefix. */
  readonly detail: string;
  readonly cause?: unknown;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly source: ConfigSource;
  readonly field: string;
  readonly problem: ConfigProblem;
  /** The config file's path when the problem is in (or with) the file. */
  readonly file: string | undefined;

  constructor(init: ConfigErrorInit) {
    const label = init.source === 'file' ? (init.file ?? 'config file') : SOURCE_LABELS[init.source];
    super(init.field === '' ? `${label}: ${init.detail}` : `${label}: ${init.field}: ${init.detail}`, {
      cause: init.cause,
    });
    this.name = 'ConfigError';
    this.code = init.code ?? 'CONFIG_INVALID';
    this.source = init.source;
    this.field = init.field;
    this.problem = init.problem;
    this.file = init.file;
  }
}
