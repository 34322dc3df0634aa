/**
 * Output helpers: data on stdout, messages on stderr; colour only on a terminal and never with NO_COLOR
 * (or TERM=dumb). Nothing here ever receives a secret value.
 */

export interface Stream {
  isTTY?: boolean;
  write(s: string): unknown;
}

/** Whether to colour output written to `stream`. https://no-color.org: NO_COLOR set and non-empty disables colour. */
export function useColor(stream: Stream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

const CODES = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;
export type Style = keyof typeof CODES;

export function paint(s: string, style: Style, stream: Stream = process.stdout): string {
  if (!useColor(stream)) return s;
  const [on, off] = CODES[style];
  return `\u001b[${on}m${s}\u001b[${off}m`;
}

/** Visible width (ANSI sequences removed). */
function width(s: string): number {
  // eslint-disable-next-line no-control-regex
  return [...s.replace(/\u001b\[[0-9;]*m/g, '')].length;
}

/** Makes control characters visible so a server-provided string cannot move the cursor. */
export function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export interface Column<R> {
  header: string;
  get: (row: R) => string;
  style?: (row: R) => Style | undefined;
}

/** A plain aligned table (header in bold on a terminal). */
export function table<R>(rows: readonly R[], columns: Array<Column<R>>, stream: Stream = process.stdout): string {
  const cells = rows.map((r) => columns.map((c) => clean(c.get(r))));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((row) => width(row[i]!))));
  const line = (vals: string[], styleOf: (i: number) => Style | undefined) =>
    vals
      .map((v, i) => {
        const padded = i === vals.length - 1 ? v : v + ' '.repeat(widths[i]! - width(v));
        const st = styleOf(i);
        return st ? paint(padded, st, stream) : padded;
      })
      .join('  ')
      .trimEnd();
  const out = [
    line(
      columns.map((c) => c.header.toUpperCase()),
      () => 'bold',
    ),
  ];
  rows.forEach((r, ri) => {
    out.push(line(cells[ri]!, (i) => columns[i]!.style?.(r)));
  });
  return `${out.join('\n')}\n`;
}

/** Key/value lines for `show` commands. */
export function details(pairs: Array<[string, string]>, stream: Stream = process.stdout): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return `${pairs.map(([k, v]) => `${paint(`${k}:`.padEnd(w + 1), 'bold', stream)}  ${clean(v)}`).join('\n')}\n`;
}

export function printJson(data: unknown): void {
  process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
}

export function print(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
}

/** A status message for people (stderr, so stdout stays data). */
export function note(s: string): void {
  process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
}

/** `2024-05-01 12:34` in UTC, or '' */
export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

// ---- terminal input -------------------------------------------------------------------------

/** Whether we may ask the person at the terminal (stdin and stderr are both terminals). */
export function interactive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** All of standard input, byte-exact. */
export async function readStdinBytes(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : (c as Buffer));
  return Buffer.concat(chunks);
}

/** Asks a question on the terminal (prompt on stderr) and returns the line typed. */
export async function promptLine(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** Reads a line from the terminal without echoing it (passwords, secret values). Ctrl-C exits 130. */
export function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve) => {
    let buf = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = () => {
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          done();
          resolve(buf);
          return;
        }
        if (ch === '\u0003') {
          done();
          process.exit(130);
        }
        if (ch === '\u007f' || ch === '\b') buf = [...buf].slice(0, -1).join('');
        else if (ch === '\u0015') buf = '';
        else buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Asks a yes/no question on the terminal; only y/yes confirms. */
export async function confirm(question: string): Promise<boolean> {
  const answer = await promptLine(`${question} [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}
