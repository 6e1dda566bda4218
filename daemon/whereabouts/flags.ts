/** `whereabouts daemon` flags: the Go-style socket path as dhcp's, our options as long options. */
import * as os from 'node:os';
import { DEFAULT_WHEREABOUTS_SOCKET } from '../../shared/whereabouts-config';
import { checkLogFlags, commonFlags, flagUsage, parseFlagTable, type FlagTable } from '../go-flags';

export const DEFAULT_STATE_DIR = '/var/lib/cni/whereabouts';

export interface WhereaboutsDaemonOptions {
  socketPath: string;
  pidfile?: string;
  stateDir: string;
  nodeName: string;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  logFormat: 'text' | 'json';
  metricsAddress?: string;
  /** the mounted ConfigMap holding reconciler_cron_expression; unset: the default schedule */
  reconcilerConfigDir?: string;
  /** run the reconciler once as soon as the daemon is ready */
  reconcileNow: boolean;
  /** ms: the reconciler never frees an allocation younger than this */
  reconcileGraceMs: number;
  help: boolean;
}

/** long enough for any runtime to have the sandbox's namespace in place and its GC list current, see docs/whereabouts-reconciler.md */
export const DEFAULT_RECONCILE_GRACE_MS = 5 * 60_000;

const FLAGS: FlagTable<WhereaboutsDaemonOptions> = {
  socketpath: { key: 'socketPath', kind: 'string', help: `Unix socket to listen on (default ${DEFAULT_WHEREABOUTS_SOCKET})` },
  pidfile: { key: 'pidfile', kind: 'string', help: 'write the daemon PID to this file' },
  'state-dir': { key: 'stateDir', kind: 'string', help: `the file store's directory (default ${DEFAULT_STATE_DIR})` },
  'node-name': { key: 'nodeName', kind: 'string', help: 'recorded with each allocation (default: the host name)' },
  'reconciler-config-dir': { key: 'reconcilerConfigDir', kind: 'string', help: 'directory with reconciler_cron_expression (the mounted ConfigMap), reloaded live (default: schedule 30 4 * * *)' },
  'reconcile-now': { key: 'reconcileNow', kind: 'bool', help: 'run the reconciler once at start' },
  'reconcile-grace': { key: 'reconcileGraceMs', kind: 'duration', help: 'never free an allocation younger than this (default 5m)' },
  ...commonFlags<WhereaboutsDaemonOptions>(),
};

export function usage(): string {
  return flagUsage('whereabouts daemon', FLAGS);
}

export function parseWhereaboutsFlags(argv: string[]): WhereaboutsDaemonOptions {
  const opts = parseFlagTable<WhereaboutsDaemonOptions>(
    argv,
    FLAGS,
    {
      socketPath: DEFAULT_WHEREABOUTS_SOCKET,
      stateDir: DEFAULT_STATE_DIR,
      nodeName: os.hostname(),
      reconcileNow: false,
      reconcileGraceMs: DEFAULT_RECONCILE_GRACE_MS,
      logLevel: 'info',
      logFormat: 'text',
      help: false,
    },
    usage(),
  );
  checkLogFlags(opts);
  return opts;
}
