/**
 * Asking for a passphrase on the terminal without echo: standard input in raw mode, nothing
 * written back but the question (on standard error, so standard output keeps only results) and a
 * newline at the end. Enter ends the answer; Backspace deletes; Ctrl-C and Ctrl-D (on an empty
 * line) cancel. Only for a TTY: `main.ts` offers it when standard input is one.
 */
import { CliError, EXIT } from './errors.js';

/** What `promptHidden` needs of standard input: a TTY stream (process.stdin). */
export interface PromptInput {
  readonly isTTY?: boolean;
  setRawMode(mode: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
  setEncoding?(encoding: BufferEncoding): unknown;
}

/** Longest answer accepted (a passphrase, not a file). */
export const MAX_PROMPT_LENGTH = 1024;

/** Writes `question`, reads one line without echo. Rejects with CliError(FORCED) on Ctrl-C / Ctrl-D. */
export function promptHidden(question: string, input: PromptInput, write: (text: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    let done = false;
    input.setEncoding?.('utf8');
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      write('\n');
      fn();
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          const line = answer;
          finish(() => resolve(line));
          return;
        }
        if (ch === '\u0003' || (ch === '\u0004' && answer === '')) {
          finish(() => reject(new CliError(EXIT.FORCED, 'cancelled')));
          return;
        }
        if (ch === '\u007f' || ch === '\b') {
          answer = [...answer].slice(0, -1).join('');
        } else if (ch >= ' ' && answer.length < MAX_PROMPT_LENGTH) {
          answer += ch;
        }
      }
    };
    write(question);
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
  });
}
