/**
 * Helpers for the CLI tests: running `runCli` in process with captured output, and running the
 * real `sotto` command (node --import tsx src/cli/main.ts) as child processes with bounded waits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CliEnvironment } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/program.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = 'src/cli/main.ts';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment without SOTTO_* variables (the tester's own must not leak into the runs). */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('SOTTO_')) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs `runCli` in this process with buffers for standard output and error. */
export async function runInProcess(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; homedir?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const environment: CliEnvironment = {
    streams: {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
    },
    env: options.env ?? cleanEnv(),
    cwd: options.cwd ?? process.cwd(),
    homedir: options.homedir ?? '/nonexistent-home',
  };
  const code = await runCli(args, environment);
  return { code, stdout, stderr };
}

/** Every child process a test started; `killAll` ends the ones still running, by PID. */
export const children = new Set<ChildProcess>();

export function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

/** Spawns the CLI; the caller reads its streams. */
export function spawnCli(args: string[], env: Record<string, string> = cleanEnv()): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves with the exit code and signal; kills the child and rejects after `timeoutMs`. */
export function exited(
  child: ChildProcess,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`child ${child.pid} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Collects a stream's text as it arrives. */
export function collect(stream: NodeJS.ReadableStream | null): { text: () => string } {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
  });
  return { text: () => text };
}

/** Runs the CLI to completion (bounded). */
export async function cli(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawnCli(args, options.env);
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const { code, signal } = await exited(child, options.timeoutMs ?? 30_000);
  return { code, signal, stdout: out.text(), stderr: err.text() };
}

/** Waits until `predicate()` holds, polling; throws with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The one error line of a failed run: exactly one line, `sotto: …`. */
export function oneErrorLine(result: { stderr: string }): string {
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  if (lines.length !== 1)
    throw new Error(`expected one line on stderr, got ${lines.length}: ${JSON.stringify(result.stderr)}`);
  const line = lines[0]!;
  if (!line.startsWith('sotto: ')) throw new Error(`error line without "sotto: ": ${line}`);
  return line;
}
