/**
 * Daemon flags. The reference's Go-style flags keep their names and meanings (`-socketpath x`,
 * `-socketpath=x`, `--socketpath x` all work, durations as Go writes them: 10s, 1m30s, 500ms);
 * our own options are long options.
 */
import { DEFAULT_SOCKET_PATH } from '../shared/dhcp-config';

export interface DaemonOptions {
  socketPath: string;
  pidfile?: string;
  hostPrefix: string;
  broadcast: boolean;
  timeoutMs: number;
  resendMaxMs: number;
  resendTimeoutMs: number;
  stateDir: string;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  logFormat: 'text' | 'json';
  metricsAddress?: string;
  help: boolean;
}

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

type Kind = 'string' | 'bool' | 'duration';
const FLAGS: Record<string, { key: keyof DaemonOptions; kind: Kind; help: string }> = {
  socketpath: { key: 'socketPath', kind: 'string', help: `Unix socket to listen on (default ${DEFAULT_SOCKET_PATH})` },
  pidfile: { key: 'pidfile', kind: 'string', help: 'write the daemon PID to this file' },
  hostprefix: { key: 'hostPrefix', kind: 'string', help: 'prefix for the socket path and every netns path (daemon in a container)' },
  broadcast: { key: 'broadcast', kind: 'bool', help: 'ask servers to broadcast their replies, also when renewing' },
  timeout: { key: 'timeoutMs', kind: 'duration', help: 'how long ADD waits for a lease before failing with code 11 (default 10s)' },
  resendmax: { key: 'resendMaxMs', kind: 'duration', help: 'cap of one retransmission interval (default 62s)' },
  resendtimeout: { key: 'resendTimeoutMs', kind: 'duration', help: 'how long one exchange retransmits before restarting with a new xid (default 208s)' },
  'state-dir': { key: 'stateDir', kind: 'string', help: 'where leases are persisted (default /var/lib/cni/dhcp)' },
  'log-level': { key: 'logLevel', kind: 'string', help: 'error|warn|info|debug (default info)' },
  'log-format': { key: 'logFormat', kind: 'string', help: 'text|json (default text)' },
  'metrics-address': { key: 'metricsAddress', kind: 'string', help: 'serve Prometheus metrics on host:port (off by default)' },
  help: { key: 'help', kind: 'bool', help: 'show this help' },
};

export function usage(): string {
  const lines = ['Usage: dhcp daemon [flags]', ''];
  for (const [name, f] of Object.entries(FLAGS)) {
    const dash = name.includes('-') || name === 'help' ? '--' : '-';
    lines.push(`  ${(dash + name + (f.kind === 'bool' ? '' : ' value')).padEnd(26)} ${f.help}`);
  }
  return lines.join('\n');
}

export function parseFlags(argv: string[]): DaemonOptions {
  const opts: DaemonOptions = {
    socketPath: DEFAULT_SOCKET_PATH,
    hostPrefix: '',
    broadcast: false,
    timeoutMs: 10_000,
    resendMaxMs: 62_000,
    resendTimeoutMs: 208_000,
    stateDir: '/var/lib/cni/dhcp',
    logLevel: 'info',
    logFormat: 'text',
    help: false,
  };
  const set = opts as unknown as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--?([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new FlagError(`unexpected argument ${JSON.stringify(arg)}\n\n${usage()}`);
    const name = m[1] as string;
    if (name === 'h') {
      opts.help = true;
      continue;
    }
    const flag = FLAGS[name];
    if (!flag) throw new FlagError(`unknown flag ${JSON.stringify(arg)}\n\n${usage()}`);
    let value = m[2];
    if (flag.kind === 'bool') {
      if (value !== undefined && !['true', 'false', '1', '0'].includes(value)) throw new FlagError(`${arg}: expected true or false`);
      set[flag.key] = value === undefined || value === 'true' || value === '1';
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new FlagError(`flag ${arg} needs a value`);
    }
    set[flag.key] = flag.kind === 'duration' ? parseDuration(value) : value;
  }
  if (!['error', 'warn', 'info', 'debug'].includes(opts.logLevel)) throw new FlagError(`--log-level: expected error, warn, info or debug`);
  if (!['text', 'json'].includes(opts.logFormat)) throw new FlagError(`--log-format: expected text or json`);
  if (opts.timeoutMs <= 0) throw new FlagError('-timeout must be positive');
  if (opts.resendMaxMs < 1000) throw new FlagError('-resendmax must be at least 1s');
  if (opts.resendTimeoutMs < 1000) throw new FlagError('-resendtimeout must be at least 1s');
  return opts;
}
