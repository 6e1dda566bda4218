/**
 * The reconciler inside the whereabouts daemon: its records (fed by ADD, DEL and GC), the
 * stores it covers (the file store, and each shared store this node has allocated from,
 * reopened after a restart from the records), its schedule, and its RPC methods.
 */
import type * as client from 'prom-client';
import { parseWhereaboutsIpam, type WhereaboutsIpam } from '../../../shared/whereabouts-config';
import { WbMethod, type WbAttachmentParams } from '../../../shared/whereabouts-protocol';
import type { Logger } from '../../log';
import type { MethodHandler } from '../../rpc-server';
import type { WhereaboutsDaemonOptions } from '../flags';
import type { WhereaboutsStore } from '../store';
import type { StoreRegistry } from '../store-registry';
import type { LivenessSource } from './live-set';
import { isPodLister, K8sLiveness } from './k8s-liveness';
import { freeParams, manualFree } from './manual-free';
import { createReconcileMetrics } from './metrics';
import { NodeLiveness } from './node-liveness';
import { NodeRecords } from './node-records';
import { Reconciler } from './reconciler';

export interface DaemonReconciler {
  records: NodeRecords;
  added(a: WbAttachmentParams, ipam: WhereaboutsIpam): void;
  methods(changed: () => void): Record<string, MethodHandler>;
  start(): void;
  stop(): void;
}

export function startReconciler(opts: WhereaboutsDaemonOptions, stores: StoreRegistry, registry: client.Registry, log: Logger): DaemonReconciler {
  const records = new NodeRecords(opts.stateDir, log);
  records.load();
  for (const raw of records.sharedIpamConfigs()) {
    try {
      stores.storeFor(parseWhereaboutsIpam(raw));
    } catch (err) {
      log.warn('reconciler: a recorded shared store cannot be opened; not reconciled until the next ADD', { err: (err as Error).message });
    }
  }
  const nodeSource = new NodeLiveness(records);
  /** file and etcd: this node's GC lists and namespaces; kubernetes: the cluster's pods, with the store's credentials */
  const sourceFor = (store: WhereaboutsStore): LivenessSource => (isPodLister(store) ? new K8sLiveness(store) : nodeSource);
  const reconciler = new Reconciler(
    {
      node: opts.nodeName,
      graceMs: opts.reconcileGraceMs,
      now: Date.now,
      targets: () => stores.all().map((store) => ({ store, source: sourceFor(store) })),
      ...(opts.reconcilerConfigDir === undefined ? {} : { configDir: opts.reconcilerConfigDir }),
      metrics: createReconcileMetrics(registry),
      afterRun: (_s, holding) => records.prune(holding, Date.now() - opts.reconcileGraceMs),
    },
    log,
  );
  return {
    records,
    added(a, ipam) {
      records.added({ containerId: a.containerId, ifname: a.ifname, netns: a.netns ?? '', network: a.network }, Date.now(), ipam.datastore.kind === 'file' ? undefined : a.ipam);
    },
    methods(changed) {
      return {
        [WbMethod.Reconcile]: async () => {
          const s = await reconciler.run('rpc');
          changed();
          return s;
        },
        [WbMethod.ReconcileStatus]: async () => reconciler.status(),
        [WbMethod.Free]: async (p) => {
          const r = await manualFree(stores.all(), freeParams(p));
          for (const m of r.freed) log.info('free by hand: freed', { store: m.store, address: m.address, range: m.range, containerId: m.containerId, ifname: m.ifname, podRef: m.podRef, node: m.node });
          if (r.freed.length > 0) changed();
          return r;
        },
      };
    },
    start() {
      reconciler.start();
      if (opts.reconcileNow) {
        void reconciler.run('now');
      }
    },
    stop() {
      reconciler.stop();
      records.flush();
    },
  };
}
