/**
 * Daemon flags. The reference's Go-style flags keep their names and meanings (`-socketpath x`,
 * `-socketpath=x`, `--socketpath x` all work, durations as Go writes them: 10s, 1m30s, 500ms);
 * our own options are long options.
 */
import { DEFAULT_SOCKET_PATH } from '../shared/dhcp-config';
import { checkLogFlags, commonFlags, FlagError, flagUsage, parseFlagTable, type FlagTable } from './go-flags';

export { FlagError, parseDuration } from './go-flags';

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

const FLAGS: FlagTable<DaemonOptions> = {
  socketpath: { key: 'socketPath', kind: 'string', help: `Unix socket to listen on (default ${DEFAULT_SOCKET_PATH})` },
  pidfile: { key: 'pidfile', kind: 'string', help: 'write the daemon PID to this file' },
  hostprefix: { key: 'hostPrefix', kind: 'string', help: 'prefix for the socket path and every netns path (daemon in a container)' },
  broadcast: { key: 'broadcast', kind: 'bool', help: 'ask servers to broadcast their replies, also when renewing' },
  timeout: { key: 'timeoutMs', kind: 'duration', help: 'how long ADD waits for a lease before failing with code 11 (default 10s)' },
  resendmax: { key: 'resendMaxMs', kind: 'duration', help: 'cap of one retransmission interval (default 62s)' },
  resendtimeout: { key: 'resendTimeoutMs', kind: 'duration', help: 'how long one exchange retransmits before restarting with a new xid (default 208s)' },
  'state-dir': { key: 'stateDir', kind: 'string', help: 'where leases are persisted (default /var/lib/cni/dhcp)' },
  ...commonFlags<DaemonOptions>(),
};

export function usage(): string {
  return flagUsage('dhcp daemon', FLAGS);
}

export function parseFlags(argv: string[]): DaemonOptions {
  const opts = parseFlagTable<DaemonOptions>(argv, FLAGS, {
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
  }, usage());
  checkLogFlags(opts);
  if (opts.timeoutMs <= 0) throw new FlagError('-timeout must be positive');
  if (opts.resendMaxMs < 1000) throw new FlagError('-resendmax must be at least 1s');
  if (opts.resendTimeoutMs < 1000) throw new FlagError('-resendtimeout must be at least 1s');
  return opts;
}
