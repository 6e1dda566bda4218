/**
 * Structured logging: JSON lines or `time level message key=value` text, one synchronous write
 * per line. Values are rendered with JSON escaping, so nothing from the wire can forge a line.
 *
 * This replaced winston, which the daemon used only to format these two kinds of line: winston
 * and its dependencies were ~4.5 MB of the idle daemon's anonymous memory (the README's
 * Performance section). The output is the same as winston's was: JSON keys sorted, a field
 * named `message` appended to the message, child fields first in text.
 */

export type Fields = Record<string, unknown>;
export interface Logger {
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

type Level = 'error' | 'warn' | 'info' | 'debug';
const SEVERITY: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 5 };

const MAX_VALUE = 256;

function renderValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = typeof v === 'string' ? v : stableJson(v) ?? String(v);
  const clipped = s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
  return /^[\w.:/@+-]+$/.test(clipped) ? clipped : JSON.stringify(clipped);
}

/** JSON with object keys sorted, cycles as "[Circular]" and bigints as numbers: never throws. */
export function stableJson(value: unknown): string | undefined {
  const seen: object[] = [];
  const walk = (v: unknown): string | undefined => {
    if (typeof v === 'bigint') return v.toString();
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    const withJson = v as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === 'function') return walk(withJson.toJSON());
    if (seen.includes(v)) return '"[Circular]"';
    seen.push(v);
    let out: string;
    if (Array.isArray(v)) {
      out = `[${v.map((x) => walk(x) ?? 'null').join(',')}]`;
    } else {
      const parts: string[] = [];
      for (const k of Object.keys(v).sort()) {
        const s = walk((v as Record<string, unknown>)[k]);
        if (s !== undefined) parts.push(`${JSON.stringify(k)}:${s}`);
      }
      out = `{${parts.join(',')}}`;
    }
    seen.pop();
    return out;
  };
  return walk(value);
}

interface Sink {
  threshold: number;
  format: 'text' | 'json';
  write: (line: string) => void;
}

function line(sink: Sink, level: Level, msg: string, base: Fields, fields: Fields | undefined): string {
  const rest: Fields = { ...base, ...fields };
  let message = msg;
  if (typeof rest.message === 'string' || typeof rest.message === 'number') message = `${msg} ${rest.message}`;
  delete rest.message;
  delete rest.level;
  const timestamp = typeof rest.timestamp === 'string' ? rest.timestamp : new Date().toISOString();
  delete rest.timestamp;
  if (sink.format === 'json') return stableJson({ ...rest, level, message, timestamp }) as string;
  const kv = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${renderValue(v)}`)
    .join(' ');
  return `${timestamp} ${level} ${renderValue(message)}${kv ? ' ' + kv : ''}`;
}

function make(sink: Sink, base: Fields): Logger {
  const at = (level: Level) => (msg: string, fields?: Fields) => {
    if (SEVERITY[level] <= sink.threshold) sink.write(line(sink, level, msg, base, fields) + '\n');
  };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: (fields) => make(sink, { ...base, ...fields }),
  };
}

export function createLogger(opts: { level: string; format: 'text' | 'json'; stream?: NodeJS.WritableStream }): Logger {
  const threshold = SEVERITY[opts.level as Level];
  if (threshold === undefined) throw new Error(`unknown log level ${JSON.stringify(opts.level)}`);
  const stream = opts.stream;
  // stderr is synchronous for files and pipes on Linux: a line is out before a crash
  const write = stream ? (l: string) => void stream.write(l) : (l: string) => void process.stderr.write(l);
  return make({ threshold, format: opts.format, write }, {});
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child() {
    return silentLogger;
  },
};
