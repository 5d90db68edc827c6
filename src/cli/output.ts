/**
 * What the CLI prints. Results go to standard output, as text for people or, with `--json`, as
 * JSON (one document per command; `watch` prints one JSON object per line). Diagnostics and errors
 * go to standard error. No colours or other escape sequences are ever written.
 *
 * Anything that came from elsewhere (message texts, contact names, addresses from the network) is
 * shown through `clean`: control characters, line separators and bidirectional overrides are
 * escaped, so a message cannot rewrite the terminal or fake a line of output. JSON output goes
 * through `safeJson`, which also escapes what `JSON.stringify` leaves raw (DEL, C1 controls such as
 * the one-byte CSI U+009B, bidi controls); the parsed JSON is unchanged.
 */

/** Where the CLI writes; `process.stdout`/`process.stderr` in the real command, buffers in tests. */
export interface Streams {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

// C0, DEL, C1, line/paragraph separators, bidi embeddings/overrides/isolates, ALM, LRM/RLM.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * Text from elsewhere made safe for a terminal: unsafe characters become `\u{…}` escapes; tabs stay;
 * newlines stay only with `multiline` (else they become `\n`).
 */
export function clean(text: string, options: { multiline?: boolean } = {}): string {
  const lines = text.replace(/\r\n?/g, '\n');
  const safe = lines.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
  return options.multiline ? safe : safe.replace(/\n/g, '\\n');
}

// What JSON.stringify leaves raw but a terminal may act on: DEL, C1 (e.g. U+009B, the one-byte
// CSI), line/paragraph separators, bidi controls. Only string contents can hold them.
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** `JSON.stringify` with every character a terminal could act on written as a `\uXXXX` escape. */
export function safeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    JSON_UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Milliseconds as `3d 04h 05m`, `1h 02m 03s`, `4m 05s`, `12s`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${two(h)}h ${two(m)}m`;
  if (h > 0) return `${h}h ${two(m)}m ${two(s)}s`;
  if (m > 0) return `${m}m ${two(s)}s`;
  return `${s}s`;
}

/** Bytes as `512 B`, `1.5 KiB`, `64.0 MiB`, `1.0 GiB` (binary units, one decimal). */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (bytes < 1024) return `${Math.max(0, Math.floor(bytes))} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A timestamp as local `YYYY-MM-DD HH:MM:SS` (or only `HH:MM:SS` with `timeOnly`). */
export function formatTime(ms: number, options: { timeOnly?: boolean } = {}): string {
  const t = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}`;
  if (options.timeOnly) return time;
  return `${t.getFullYear()}-${two(t.getMonth() + 1)}-${two(t.getDate())} ${time}`;
}

/** Display width, counting each code point as one column (good enough without East Asian tables). */
function width(text: string): number {
  return [...text].length;
}

/** Rows under a header, columns padded to their widest cell; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - width(cell))))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** `label  value` pairs with the labels padded to the widest; a multi-value entry continues under its value. */
export function fields(pairs: readonly (readonly [string, string | readonly string[]])[]): string[] {
  const w = Math.max(0, ...pairs.map(([label]) => width(label)));
  const out: string[] = [];
  for (const [label, value] of pairs) {
    const values = typeof value === 'string' ? [value] : value.length === 0 ? ['(none)'] : value;
    values.forEach((v, i) => {
      out.push(`${(i === 0 ? label : '').padEnd(w)}  ${v}`.trimEnd());
    });
  }
  return out;
}

/** The CLI's output: human text, or JSON with `--json`. */
export class Output {
  constructor(
    private readonly streams: Streams,
    readonly json: boolean,
  ) {}

  /** One line of human output (ignored in JSON mode). */
  line(text = ''): void {
    if (!this.json) this.streams.stdout(`${text}\n`);
  }

  /** Several lines of human output (ignored in JSON mode). */
  lines(texts: readonly string[]): void {
    for (const text of texts) this.line(text);
  }

  /** The command's JSON result (ignored in human mode). */
  data(value: unknown): void {
    if (this.json) this.streams.stdout(`${safeJson(value, 2)}\n`);
  }

  /** One JSON object on one line (streams such as `watch --json`). */
  jsonLine(value: unknown): void {
    this.streams.stdout(`${safeJson(value)}\n`);
  }

  /** Writes human lines or JSON: `human` is only called in human mode. */
  result(value: unknown, human: () => readonly string[]): void {
    if (this.json) this.data(value);
    else this.lines(human());
  }

  /** A note for people on standard error (progress, "stopping…"); never part of a result. */
  note(text: string): void {
    this.streams.stderr(`${text}\n`);
  }
}
