/**
 * For the commands that work on a stopped node's data dir directly (`passphrase`, `backup`): is a
 * daemon running on it? `daemon.json` names its process; LevelDB's lock is the final word (the
 * store refuses a second opener with StoreOpenError, which the CLI reports as exit 6).
 */
import { readDaemonFile } from './client.js';
import { CliError, EXIT } from './errors.js';

/** True when a process with this id exists (signal 0 checks without sending anything). */
export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined || !Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Throws CliError (LOCKED) when daemon.json names a live daemon for `dataDir`. */
export async function refuseWhileRunning(dataDir: string, command: string): Promise<void> {
  const info = await readDaemonFile(dataDir);
  if (info !== undefined && isAlive(info.pid)) {
    throw new CliError(
      EXIT.LOCKED,
      `a sotto daemon is running for ${dataDir} (pid ${info.pid}): ${command} works on a stopped node`,
      'stop the daemon first (Ctrl-C or SIGTERM), then run it again',
    );
  }
}
