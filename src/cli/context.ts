/**
 * What every command gets: the global options (`--data-dir`, `--api-url`, `--json`, `--debug`),
 * the output, the data dir and, on demand, a client of the running daemon's API.
 */
import type { ConfigEnv } from '../config/settings.js';
import { ApiClient, discoverApi, findToken, unreachableMessage } from './client.js';
import { dataDirOf } from './data-dir.js';
import { ApiUnreachableError, type ErrorContext, noDaemonMessage } from './errors.js';
import { Output, type Streams } from './output.js';

/** The process around the CLI; `process.*` in the real command, fakes in tests. */
export interface CliEnvironment {
  streams: Streams;
  env: ConfigEnv;
  cwd: string;
  homedir: string;
  /**
   * Asks on the terminal without echo (passphrases; prompt.ts). Absent when standard input is not
   * a terminal: commands then take passphrases from files and the environment only.
   */
  prompt?: ((question: string) => Promise<string>) | undefined;
}

/** The options every command takes. */
export interface GlobalOptions {
  dataDir?: string;
  apiUrl?: string;
  json?: boolean;
  debug?: boolean;
}

/** True for `1`, `true`, `yes` (any case): how SOTTO_DEBUG switches debug output on. */
export function envFlag(value: string | undefined): boolean {
  return value !== undefined && /^(?:1|true|yes)$/i.test(value.trim());
}

export class CliContext {
  readonly out: Output;
  readonly debug: boolean;
  private resolvedDataDir: string | undefined;
  private apiClient: ApiClient | undefined;

  constructor(
    readonly environment: CliEnvironment,
    readonly options: GlobalOptions,
  ) {
    this.out = new Output(environment.streams, options.json === true);
    this.debug = options.debug === true || envFlag(environment.env.SOTTO_DEBUG);
  }

  get env(): ConfigEnv {
    return this.environment.env;
  }

  /** The data dir: `--data-dir` > `SOTTO_HOME` > `$XDG_DATA_HOME/sotto` > `~/.local/share/sotto`. Throws ConfigError. */
  async dataDir(): Promise<string> {
    this.resolvedDataDir ??= await dataDirOf({
      dataDir: this.options.dataDir,
      env: this.env,
      homedir: this.environment.homedir,
      cwd: this.environment.cwd,
    });
    return this.resolvedDataDir;
  }

  /** True when the API URL was given (`--api-url`, `SOTTO_API_URL`) rather than discovered from the data dir. */
  get explicitApi(): boolean {
    return this.options.apiUrl !== undefined || (this.env.SOTTO_API_URL ?? '') !== '';
  }

  /** For error messages: the data dir when it can be resolved. */
  errorContext(): ErrorContext {
    return this.resolvedDataDir === undefined ? {} : { dataDir: this.resolvedDataDir };
  }

  /**
   * A client of the daemon's API. Throws `ApiUnreachableError` when there is no token (no daemon
   * ever ran for this data dir); a daemon that does not answer shows on the first request.
   */
  async client(): Promise<ApiClient> {
    if (this.apiClient) return this.apiClient;
    const dataDir = await this.dataDir();
    // The token first: without one no daemon ever ran for this data dir, and discovery (which may
    // load the config) is not needed to say so.
    const token = await findToken(dataDir, this.env);
    if (token === undefined && !this.explicitApi) {
      throw new ApiUnreachableError('', noDaemonMessage({ dataDir }));
    }
    const target = await discoverApi({
      apiUrl: this.options.apiUrl,
      dataDir,
      env: this.env,
      configured: async () => {
        const { loadConfig } = await import('../config/load.js');
        const { config } = await loadConfig({
          flags: this.options.dataDir === undefined ? {} : { dataDir: this.options.dataDir },
          env: this.env,
          cwd: this.environment.cwd,
          homedir: this.environment.homedir,
          isTty: false,
        });
        return config.api;
      },
    });
    const unreachable = unreachableMessage(target, dataDir);
    if (token === undefined) {
      throw new ApiUnreachableError(
        target.baseUrl,
        `no API token for ${target.baseUrl}: set SOTTO_API_TOKEN or pass the daemon's --data-dir`,
      );
    }
    this.apiClient = new ApiClient(target.baseUrl, token, unreachable);
    return this.apiClient;
  }
}
