/**
 * `keyloft serve` without the rest of the CLI: the command line of a server start, read without
 * loading commander and every other command's modules (they cost ~30 MB and most of a second's
 * CPU at each start). Only the plain forms are taken — `serve`, then `--role`, `--port`, `--host`
 * each with a value, as `--opt value` or `--opt=value` — and give exactly what commander gives
 * the serve action; anything else (`--help`, an unknown or incomplete option, a value starting
 * with `-`) returns undefined and goes through commander as before, with its help and errors.
 */
export interface ServeOptions {
  role?: string;
  port?: string;
  host?: string;
}

const NAMES = new Set(['role', 'port', 'host']);

export function plainServeArgs(args: readonly string[]): ServeOptions | undefined {
  if (args[0] !== 'serve') return undefined;
  const opts: Record<string, string> = {};
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--([a-z]+)(?:=(.*))?$/s.exec(a);
    if (!m || !NAMES.has(m[1]!)) return undefined;
    let value = m[2];
    if (value === undefined) {
      value = args[++i];
      if (value === undefined || value.startsWith('-')) return undefined;
    }
    if (value === '' || value.startsWith('-')) return undefined;
    opts[m[1]!] = value;
  }
  return opts;
}
