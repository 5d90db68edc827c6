/**
 * What the devnet prints: lines for people on standard output, or with `--json` one JSON object per
 * line (`{"event": "node", …}`), so a script or a test can follow a run. Errors are one line on
 * standard error (`devnet: …`) in both modes. Text from the nodes (message texts, names) goes
 * through the CLI's `clean`/`safeJson`, so a message cannot rewrite the terminal.
 */
import { clean, safeJson } from '../../src/cli/output.js';

export { clean, fields, table } from '../../src/cli/output.js';

export type DevnetEvent =
  | { event: 'progress'; text: string }
  | {
      event: 'node';
      name: string;
      index: number;
      address: string;
      peerId: string;
      api: string;
      pid: number;
      dataDir: string;
      log: string;
      multiaddrs: string[];
      created: boolean;
    }
  | { event: 'ready'; dir: string; temporary: boolean; nodes: number; bootstrap: string; ms: number }
  | {
      event: 'prometheus';
      url?: string;
      pid?: number;
      config?: string;
      targets?: number;
      up?: number;
      skipped?: string;
    }
  | { event: 'sent'; from: string; to: string; text: string; id: string; state: string }
  | { event: 'message'; to: string; from: string; text: string; id: string }
  | { event: 'demo'; sent: number; arrived: number; ms: number }
  | { event: 'exited'; name: string; pid: number; code: number | null; signal: string | null }
  | { event: 'stopping'; reason: string }
  | { event: 'stopped'; nodes: number; killed: number; ms: number };

export class Reporter {
  private muted = false;

  constructor(
    readonly json: boolean,
    private readonly out: (text: string) => void = (text) => process.stdout.write(text),
    private readonly err: (text: string) => void = (text) => process.stderr.write(text),
  ) {}

  /** An event: its JSON line, or the human lines `human` makes of it. */
  emit(event: DevnetEvent, human: () => readonly string[]): void {
    if (this.muted) return;
    if (this.json) this.out(`${safeJson(event)}\n`);
    else for (const line of human()) this.out(`${line}\n`);
  }

  /** Standard output went away (`… | head`): write nothing more there. */
  mute(): void {
    this.muted = true;
  }

  /** A progress line ("starting 3/5 carol …"). */
  progress(text: string): void {
    this.emit({ event: 'progress', text }, () => [text]);
  }

  /** Human-only lines (hints, the table's surroundings); nothing in JSON mode. */
  lines(lines: readonly string[]): void {
    if (!this.json && !this.muted) for (const line of lines) this.out(`${line}\n`);
  }

  /** A warning or error on standard error (`devnet: …`; a quoted log may continue on further lines). */
  error(message: string): void {
    this.err(`devnet: ${clean(message, { multiline: true })}\n`);
  }
}
