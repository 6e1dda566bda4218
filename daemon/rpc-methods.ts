/** The daemon's RPC methods: each validates its params, then asks the lease manager. */
import { Method, type DaemonStatusResult } from '../shared/rpc-protocol';
import { VERSION } from '../shared/version';
import type { LeaseManager } from './lease-manager';
import type { MethodHandler } from './rpc-server';
import * as v from './rpc-validate';

export interface DaemonInfo {
  /** ms since epoch */
  started: number;
  socketPath: string;
  stateDir: string;
}

export function rpcMethods(mgr: LeaseManager, info: DaemonInfo): Record<string, MethodHandler> {
  return {
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
    [Method.DaemonStatus]: async (): Promise<DaemonStatusResult> => ({
      version: VERSION,
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - info.started) / 1000),
      socketPath: info.socketPath,
      stateDir: info.stateDir,
      leasesByState: mgr.byState(),
      leasesByFamily: mgr.byFamily(),
      leases: mgr.count,
      quarantined: mgr.quarantined,
    }),
    [Method.Release]: async (p) => {
      const r = v.releaseParams(p);
      return { released: await mgr.releaseContainer(r.containerId, r.ifname) };
    },
  };
}
