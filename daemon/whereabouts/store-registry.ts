/**
 * One store client per distinct store: the daemon's own file store, and one etcd client per
 * set of endpoints and credentials, opened on first use and kept for the daemon's life (a new
 * gRPC client per request would cost what the thin shim exists to avoid).
 */
import { InvalidConfigError } from '../../shared/errors';
import type { Datastore, WhereaboutsIpam } from '../../shared/whereabouts-config';
import type { WhereaboutsStore } from './store';

export type EtcdDatastore = Extract<Datastore, { kind: 'etcd' }>;
/** opens an etcd store (daemon/whereabouts/etcd-store.ts's openEtcdStore) */
export type EtcdStoreFactory = (cfg: Omit<EtcdDatastore, 'kind'>) => WhereaboutsStore;
export type KubernetesDatastore = Extract<Datastore, { kind: 'kubernetes' }>;
/** opens a kubernetes store (daemon/whereabouts/kubernetes-store.ts's openKubernetesStore, loaded on first use) */
export type KubernetesStoreFactory = (cfg: Omit<KubernetesDatastore, 'kind'>) => WhereaboutsStore;

export class StoreRegistry {
  private readonly etcd = new Map<string, WhereaboutsStore>();
  private readonly kubernetes = new Map<string, WhereaboutsStore>();

  constructor(
    readonly file: WhereaboutsStore,
    private readonly openEtcd?: EtcdStoreFactory,
    private readonly openKubernetes?: KubernetesStoreFactory,
  ) {}

  storeFor(ipam: WhereaboutsIpam): WhereaboutsStore {
    const ds = ipam.datastore;
    if (ds.kind === 'file') return this.file;
    if (ds.kind === 'kubernetes') {
      const key = ds.kubeconfig ?? '';
      let store = this.kubernetes.get(key);
      if (!store) {
        if (!this.openKubernetes) throw new InvalidConfigError('ipam.datastore "kubernetes" is not available in this daemon build; use datastore "file"');
        store = this.openKubernetes(ds.kubeconfig === undefined ? {} : { kubeconfig: ds.kubeconfig });
        this.kubernetes.set(key, store);
      }
      return store;
    }
    const key = JSON.stringify([[...ds.endpoints].sort(), ds.username ?? '', ds.password ?? '', ds.keyFile ?? '', ds.certFile ?? '', ds.caCertFile ?? '']);
    let store = this.etcd.get(key);
    if (!store) {
      if (!this.openEtcd) {
        throw new InvalidConfigError(`ipam.datastore "etcd" (${ds.endpoints.join(',')}) is not available in this daemon build; use datastore "file"`);
      }
      const { kind: _kind, ...cfg } = ds;
      store = this.openEtcd(cfg);
      this.etcd.set(key, store);
    }
    return store;
  }

  all(): WhereaboutsStore[] {
    return [this.file, ...this.etcd.values(), ...this.kubernetes.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((s) => s.close().catch(() => undefined)));
  }
}
