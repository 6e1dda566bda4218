/**
 * Structured logging through winston: JSON lines or `time level message key=value` text.
 * Values are rendered with JSON escaping, so nothing from the wire can forge a log line.
 */
import * as winston from 'winston';

export type Fields = Record<string, unknown>;
export interface Logger {
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

const MAX_VALUE = 256;

function renderValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  const clipped = s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
  return /^[\w.:/@+-]+$/.test(clipped) ? clipped : JSON.stringify(clipped);
}

const textFormat = winston.format.printf((info) => {
  const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
  const kv = Object.entries(rest)
    .filter(([k, v]) => v !== undefined && typeof k === 'string')
    .map(([k, v]) => `${k}=${renderValue(v)}`)
    .join(' ');
  return `${String(timestamp)} ${String(level)} ${renderValue(String(message))}${kv ? ' ' + kv : ''}`;
});

export function createLogger(opts: { level: string; format: 'text' | 'json'; stream?: NodeJS.WritableStream }): Logger {
  const w = winston.createLogger({
    level: opts.level,
    format: winston.format.combine(
      winston.format.timestamp(),
      opts.format === 'json' ? winston.format.json() : textFormat,
    ),
    transports: [
      opts.stream
        ? new winston.transports.Stream({ stream: opts.stream })
        : new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] }),
    ],
  });
  return wrap(w);
}

function wrap(w: winston.Logger): Logger {
  return {
    error: (m, f) => w.error(m, f),
    warn: (m, f) => w.warn(m, f),
    info: (m, f) => w.info(m, f),
    debug: (m, f) => w.debug(m, f),
    child: (fields) => wrap(w.child(fields)),
  };
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
