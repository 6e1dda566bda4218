/** `dhcp daemon [flags]`: wires flags, store, lease manager, RPC and metrics, and handles signals. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VERSION } from '../shared/version';
import { parseFlags, usage, type DaemonOptions } from './flags';
import { LeaseManager } from './lease-manager';
import { LeaseStore } from './lease-store';
import { listen } from './listen';
import type { Logger } from './log';
import { runDaemonProcess } from './process-main';
import { createMetrics, noMetrics, serveMetrics } from './metrics';
import { notifySystemd } from './sd-notify';
import { rpcMethods } from './rpc-methods';
import { RpcServer } from './rpc-server';

export async function runDaemon(opts: DaemonOptions, log: Logger): Promise<{ stop: () => Promise<void> }> {
  const started = Date.now();
  const socketPath = opts.hostPrefix ? path.join(opts.hostPrefix, opts.socketPath) : opts.socketPath;
  const store = new LeaseStore(opts.stateDir, {
    onRenewalError: (err, file) => log.error('could not persist a lease renewal; the previous version stays on disk', { file, err: err.message }),
  });
  store.init();
  let manager: LeaseManager | undefined;
  const metrics = opts.metricsAddress ? createMetrics(() => manager?.byFamily() ?? {}) : noMetrics();
  manager = new LeaseManager({
    store,
    log,
    metrics,
    hostPrefix: opts.hostPrefix,
    alwaysBroadcast: opts.broadcast,
    timeoutMs: opts.timeoutMs,
    resendMaxMs: opts.resendMaxMs,
    resendTimeoutMs: opts.resendTimeoutMs,
  });
  const mgr = manager;
  const restored = mgr.restore();
  log.info('leases restored', restored);
  mgr.startSweeps();

  const methods = rpcMethods(mgr, { started, socketPath, stateDir: opts.stateDir });

  const listener = await listen(socketPath);
  const rpc = new RpcServer(listener.server, methods, log, metrics);
  const metricsServer = opts.metricsAddress ? await serveMetrics(metrics, opts.metricsAddress) : undefined;
  if (opts.pidfile) fs.writeFileSync(opts.pidfile, `${process.pid}\n`);
  log.info('daemon ready', {
    version: VERSION,
    socket: socketPath,
    activated: listener.activated,
    stateDir: opts.stateDir,
    leases: mgr.count,
    metrics: opts.metricsAddress,
  });
  notifySystemd('READY=1', log);

  const stop = async () => {
    mgr.shutdown();
    await store.drain();
    await rpc.close();
    metricsServer?.close();
    if (listener.ownsSocketFile) fs.rmSync(socketPath, { force: true });
    if (opts.pidfile) fs.rmSync(opts.pidfile, { force: true });
  };
  return { stop };
}

export function main(argv: string[]): void {
  runDaemonProcess(argv, {
    name: 'dhcp daemon',
    parse: parseFlags,
    usage,
    start: runDaemon,
    stoppingNote: 'stopping; leases stay on disk and resume at the next start',
  });
}
