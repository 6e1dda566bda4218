/** `whereabouts daemon [flags]`: wires flags, stores, the IPAM service, RPC and metrics, and handles signals. */
import * as fs from 'node:fs';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { allocationWindow, poolWindow, sortPools } from '../../shared/whereabouts-pages';
import { WbMethod, type WbAllocationView, type WbPoolView } from '../../shared/whereabouts-protocol';
import { VERSION } from '../../shared/version';
import { listen } from '../listen';
import type { Logger } from '../log';
import { runDaemonProcess } from '../process-main';
import { serveMetrics } from '../metrics';
import { RpcServer, type MethodHandler } from '../rpc-server';
import { notifySystemd } from '../sd-notify';
import { openEtcdStore } from './etcd-store';
import { FileStore } from './file-store';
import { openKubernetesStore } from './kubernetes-store';
import { parseWhereaboutsFlags, usage, type WhereaboutsDaemonOptions } from './flags';
import { WhereaboutsService } from './ipam-service';
import { createWhereaboutsMetrics } from './metrics';
import { startReconciler } from './reconcile/daemon-wiring';
import * as v from './rpc-validate';
import type { WhereaboutsStore } from './store';
import { StoreRegistry, type EtcdStoreFactory, type KubernetesStoreFactory } from './store-registry';

export interface RunOptions {
  /** the etcd store, when this build has one */
  openEtcd?: EtcdStoreFactory;
  /** the kubernetes store (its client library is loaded when the first such network comes) */
  openKubernetes?: KubernetesStoreFactory;
}

/** every pool of one store with its allocations */
async function listPools(store: WhereaboutsStore, deadline: number): Promise<WbPoolView[]> {
  const snaps = await store.read(await store.listPools({ deadline }), { deadline });
  return sortPools(snaps.map((s) => ({
    store: store.endpoint,
    networkName: s.pool.networkName,
    range: s.pool.range,
    revision: s.revision,
    allocations: s.allocations.map((a) => {
      const row: WbAllocationView = {
        store: store.endpoint,
        networkName: s.pool.networkName,
        range: s.pool.range,
        address: a.address,
        containerId: a.containerId,
        podRef: a.podRef,
        ifname: a.ifname,
        node: a.node,
        createdAt: a.createdAt,
      };
      if (a.network !== undefined) row.network = a.network;
      return row;
    }),
  })));
}

async function listAllocations(file: FileStore): Promise<WbAllocationView[]> {
  return (await listPools(file, Date.now() + 5000)).flatMap((p) => p.allocations);
}

export async function runWhereaboutsDaemon(opts: WhereaboutsDaemonOptions, log: Logger, run: RunOptions = {}): Promise<{ stop: () => Promise<void> }> {
  const file = new FileStore(opts.stateDir);
  file.open();
  const stores = new StoreRegistry(file, run.openEtcd, run.openKubernetes);
  const service = new WhereaboutsService({ storeFor: (ipam) => stores.storeFor(ipam), node: opts.nodeName, log });
  const fileAllocations = { count: 0 };
  const metrics = createWhereaboutsMetrics(() => fileAllocations.count, () => service.conflicts, () => service.addFailures);
  const reconciler = startReconciler(opts, stores, metrics.registry, log);
  const refreshCount = async () => {
    fileAllocations.count = (await listAllocations(file)).length;
  };
  await refreshCount();

  const who = (p: ReturnType<typeof v.attachmentParams>) => ({ containerId: p.containerId, podRef: p.podRef, ifname: p.ifname, network: p.network });
  const methods: Record<string, MethodHandler> = {
    [WbMethod.Add]: async (p, call) => {
      const a = v.attachmentParams(p);
      const ipam = parseWhereaboutsIpam(a.ipam);
      const ips = await service.add(ipam, who(a), call.gone);
      reconciler.added(a, ipam);
      log.info('ADD', { containerId: a.containerId, ifname: a.ifname, podRef: a.podRef, addresses: ips.map((i) => i.address).join(',') });
      void refreshCount();
      return ips;
    },
    [WbMethod.Del]: async (p) => {
      const a = v.attachmentParams(p);
      const released = await service.del(parseWhereaboutsIpam(a.ipam), who(a));
      reconciler.records.deleted(a.containerId, a.ifname);
      void refreshCount();
      return { released };
    },
    [WbMethod.Check]: async (p) => {
      const c = v.checkParams(p);
      await service.check(parseWhereaboutsIpam(c.ipam), who(c), c.expected);
      return {};
    },
    [WbMethod.Gc]: async (p) => {
      const g = v.gcParams(p);
      reconciler.records.gcArrived(g.network, g.validAttachments, Date.now());
      const released = await service.gc(parseWhereaboutsIpam(g.ipam), g.network, g.validAttachments);
      void refreshCount();
      return { released };
    },
    [WbMethod.Status]: async (p) => {
      await service.status(parseWhereaboutsIpam(v.statusParams(p).ipam));
      return { ok: true, version: VERSION };
    },
    [WbMethod.Allocations]: async (p) => allocationWindow(await listAllocations(file), v.pageParams(p)),
    ...reconciler.methods(() => void refreshCount()),
    [WbMethod.Pools]: async (p) => {
      const { ipam, ...page } = v.poolsParams(p);
      const chosen = ipam === undefined ? stores.all() : [stores.storeFor(parseWhereaboutsIpam(ipam))];
      const deadline = Date.now() + 10_000;
      return poolWindow(sortPools((await Promise.all(chosen.map((s) => listPools(s, deadline)))).flat()), page);
    },
  };

  const listener = await listen(opts.socketPath);
  const rpc = new RpcServer(listener.server, methods, log, metrics);
  const metricsServer = opts.metricsAddress ? await serveMetrics(metrics, opts.metricsAddress) : undefined;
  if (opts.pidfile) fs.writeFileSync(opts.pidfile, `${process.pid}\n`);
  log.info('whereabouts daemon ready', { version: VERSION, socket: opts.socketPath, activated: listener.activated, stateDir: opts.stateDir, node: opts.nodeName, allocations: fileAllocations.count });
  notifySystemd('READY=1', log);
  reconciler.start();

  const stop = async () => {
    reconciler.stop();
    await rpc.close();
    metricsServer?.close();
    await stores.close();
    if (listener.ownsSocketFile) fs.rmSync(opts.socketPath, { force: true });
    if (opts.pidfile) fs.rmSync(opts.pidfile, { force: true });
  };
  return { stop };
}

export function main(argv: string[], run: RunOptions = { openEtcd: openEtcdStore, openKubernetes: openKubernetesStore }): void {
  runDaemonProcess(argv, {
    name: 'whereabouts daemon',
    parse: parseWhereaboutsFlags,
    usage,
    start: (opts, log) => runWhereaboutsDaemon(opts, log, run),
    stoppingNote: 'stopping; allocations stay in the store',
  });
}
