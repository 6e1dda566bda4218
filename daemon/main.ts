/** `dhcp daemon [flags]`: wires flags, store, lease manager, RPC and metrics, and handles signals. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Method } from '../shared/rpc-protocol';
import { VERSION } from '../shared/version';
import { parseFlags, usage, type DaemonOptions } from './flags';
import { LeaseManager } from './lease-manager';
import { LeaseStore } from './lease-store';
import { listen } from './listen';
import type { Logger } from './log';
import { runDaemonProcess } from './process-main';
import { createMetrics, noMetrics, serveMetrics } from './metrics';
import { notifySystemd } from './sd-notify';
import { RpcServer, type MethodHandler } from './rpc-server';
import * as v from './rpc-validate';

export async function runDaemon(opts: DaemonOptions, log: Logger): Promise<{ stop: () => Promise<void> }> {
  const started = Date.now();
  const socketPath = opts.hostPrefix ? path.join(opts.hostPrefix, opts.socketPath) : opts.socketPath;
  const store = new LeaseStore(opts.stateDir);
  store.init();
  let manager: LeaseManager | undefined;
  const metrics = opts.metricsAddress ? createMetrics(() => manager?.byState() ?? {}) : noMetrics();
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

  const methods: Record<string, MethodHandler> = {
    [Method.Add]: (p) => mgr.add(v.addParams(p)),
    [Method.Del]: async (p) => {
      await mgr.del(v.delParams(p));
      return {};
    },
    [Method.Check]: async (p) => {
      const c = v.checkParams(p);
      return mgr.check(c, c.netns, c.expectedAddresses);
    },
    [Method.Gc]: async (p) => {
      const g = v.gcParams(p);
      return { released: await mgr.gc(g.netName, g.validAttachments) };
    },
    [Method.Status]: async () => ({ ok: true, version: VERSION }),
    [Method.Leases]: async (p) => mgr.list(v.leasesParams(p)),
    [Method.DaemonStatus]: async () => ({
      version: VERSION,
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      socketPath,
      stateDir: opts.stateDir,
      leasesByState: mgr.byState(),
      leases: mgr.count,
    }),
    [Method.Release]: async (p) => {
      const r = v.releaseParams(p);
      return { released: await mgr.releaseContainer(r.containerId, r.ifname) };
    },
  };

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
