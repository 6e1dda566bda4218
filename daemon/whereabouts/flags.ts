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
  help: boolean;
}

const FLAGS: FlagTable<WhereaboutsDaemonOptions> = {
  socketpath: { key: 'socketPath', kind: 'string', help: `Unix socket to listen on (default ${DEFAULT_WHEREABOUTS_SOCKET})` },
  pidfile: { key: 'pidfile', kind: 'string', help: 'write the daemon PID to this file' },
  'state-dir': { key: 'stateDir', kind: 'string', help: `the file store's directory (default ${DEFAULT_STATE_DIR})` },
  'node-name': { key: 'nodeName', kind: 'string', help: 'recorded with each allocation (default: the host name)' },
  ...commonFlags<WhereaboutsDaemonOptions>(),
};

export function usage(): string {
  return flagUsage('whereabouts daemon', FLAGS);
}

export function parseWhereaboutsFlags(argv: string[]): WhereaboutsDaemonOptions {
  const opts = parseFlagTable<WhereaboutsDaemonOptions>(
    argv,
    FLAGS,
    { socketPath: DEFAULT_WHEREABOUTS_SOCKET, stateDir: DEFAULT_STATE_DIR, nodeName: os.hostname(), logLevel: 'info', logFormat: 'text', help: false },
    usage(),
  );
  checkLogFlags(opts);
  return opts;
}
