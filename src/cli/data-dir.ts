/**
 * The data dir, resolved by the rule of src/config (`resolveDataDir`): `--data-dir` > `SOTTO_HOME`
 * > `$XDG_DATA_HOME/sotto` (absolute only) > `<home>/.local/share/sotto`; `~/` expands to the home
 * directory, a relative path resolves against the working directory.
 *
 * The config module loads the network configuration code (multiaddr, @libp2p/utils: about half a
 * second), which commands that only talk to the API do not need. So the ordinary cases are
 * resolved here, and anything unusual (an empty value, a NUL, an over-long path, no home directory)
 * goes to `resolveDataDir` itself, which also produces the error. test/cli checks that both agree.
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { ConfigEnv } from '../config/config.js';

/** As MAX_PATH_LENGTH in src/config/config.ts. */
const MAX_PATH_LENGTH = 4096;
/** As DATA_DIR_NAME in src/config/config.ts. */
const DATA_DIR_NAME = 'sotto';

export interface DataDirInput {
  dataDir?: string | undefined;
  env: ConfigEnv;
  homedir: string;
  cwd: string;
}

function fromPath(value: string, homedir: string, cwd: string): string | undefined {
  if (value === '' || value.includes('\0') || value.length > MAX_PATH_LENGTH) return undefined;
  let path = value;
  if (path === '~' || path.startsWith('~/')) {
    if (!isAbsolute(homedir)) return undefined;
    path = join(homedir, path.slice(1));
  }
  if (isAbsolute(path)) return resolve(path);
  return isAbsolute(cwd) ? resolve(cwd, path) : undefined;
}

/** The ordinary cases; undefined when the full rules (and their errors) are needed. */
export function quickDataDir(input: DataDirInput): string | undefined {
  const { dataDir, env, homedir, cwd } = input;
  if (dataDir !== undefined) return fromPath(dataDir, homedir, cwd);
  const home = env.SOTTO_HOME;
  if (home !== undefined) return fromPath(home, homedir, cwd);
  const xdg = env.XDG_DATA_HOME;
  if (xdg !== undefined && xdg !== '' && isAbsolute(xdg)) return resolve(xdg, DATA_DIR_NAME);
  if (homedir === '' || !isAbsolute(homedir)) return undefined;
  return resolve(homedir, '.local', 'share', DATA_DIR_NAME);
}

/** The data dir; throws src/config's ConfigError when it cannot be resolved. */
export async function dataDirOf(input: DataDirInput): Promise<string> {
  const quick = quickDataDir(input);
  if (quick !== undefined) return quick;
  const { resolveDataDir } = await import('../config/config.js');
  return resolveDataDir({
    flags: input.dataDir === undefined ? {} : { dataDir: input.dataDir },
    env: input.env,
    homedir: input.homedir,
    cwd: input.cwd,
  }).dataDir;
}
