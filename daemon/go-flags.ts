/**
 * Go-style command-line flags, as the reference daemons take them: `-name x`, `-name=x` and
 * `--name x` all work, booleans stand alone or take `=true|false`, durations are Go's
 * (10s, 1m30s, 500ms). Each daemon declares its own table; this parses any of them.
 */

export class FlagError extends Error {
  static override readonly name = 'FlagError';
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go time.Duration string into milliseconds. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  if (text === '0') return 0;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  if (pos !== text.length || text.length === 0) throw new FlagError(`invalid duration ${JSON.stringify(text)} (use e.g. 10s, 1m30s, 500ms)`);
  return total;
}

export type FlagKind = 'string' | 'bool' | 'duration';
export type FlagTable<T> = Record<string, { key: keyof T; kind: FlagKind; help: string }>;

export function flagUsage<T>(title: string, table: FlagTable<T>): string {
  const lines = [`Usage: ${title} [flags]`, ''];
  for (const [name, f] of Object.entries(table)) {
    const dash = name.includes('-') || name === 'help' ? '--' : '-';
    lines.push(`  ${(dash + name + (f.kind === 'bool' ? '' : ' value')).padEnd(26)} ${f.help}`);
  }
  return lines.join('\n');
}

/** Fills `defaults` from argv; `-h` sets the `help` key. */
export function parseFlagTable<T extends { help: boolean }>(argv: string[], table: FlagTable<T>, defaults: T, usage: string): T {
  const opts = { ...defaults };
  const set = opts as unknown as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--?([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new FlagError(`unexpected argument ${JSON.stringify(arg)}\n\n${usage}`);
    const name = m[1] as string;
    if (name === 'h') {
      opts.help = true;
      continue;
    }
    const flag = table[name];
    if (!flag) throw new FlagError(`unknown flag ${JSON.stringify(arg)}\n\n${usage}`);
    let value = m[2];
    if (flag.kind === 'bool') {
      if (value !== undefined && !['true', 'false', '1', '0'].includes(value)) throw new FlagError(`${arg}: expected true or false`);
      set[flag.key as string] = value === undefined || value === 'true' || value === '1';
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new FlagError(`flag ${arg} needs a value`);
    }
    set[flag.key as string] = flag.kind === 'duration' ? parseDuration(value) : value;
  }
  return opts;
}

interface CommonOptions {
  logLevel: string;
  logFormat: string;
  metricsAddress?: string;
  help: boolean;
}

/** The long options both daemons take, in the same words. */
export function commonFlags<T extends CommonOptions>(): FlagTable<T> {
  return {
    'log-level': { key: 'logLevel', kind: 'string', help: 'error|warn|info|debug (default info)' },
    'log-format': { key: 'logFormat', kind: 'string', help: 'text|json (default text)' },
    'metrics-address': { key: 'metricsAddress', kind: 'string', help: 'serve Prometheus metrics on host:port (off by default)' },
    help: { key: 'help', kind: 'bool', help: 'show this help' },
  } as FlagTable<T>;
}

/** The checks both daemons make on their logging flags. */
export function checkLogFlags(opts: { logLevel: string; logFormat: string }): void {
  if (!['error', 'warn', 'info', 'debug'].includes(opts.logLevel)) throw new FlagError(`--log-level: expected error, warn, info or debug`);
  if (!['text', 'json'].includes(opts.logFormat)) throw new FlagError(`--log-format: expected text or json`);
}
