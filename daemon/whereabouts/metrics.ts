/** Prometheus metrics of the whereabouts daemon (prom-client, private registry, served with --metrics-address). */
import * as client from 'prom-client';

export interface WhereaboutsMetrics {
  registry: client.Registry;
  rpc: client.Counter<'method' | 'outcome'>;
}

export function createWhereaboutsMetrics(allocations: () => number, conflicts: () => number): WhereaboutsMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'cni_whereabouts_' });
  new client.Gauge({
    name: 'cni_whereabouts_file_store_allocations',
    help: 'Allocations held in this daemon\'s file store',
    registers: [registry],
    collect() {
      this.set(allocations());
    },
  });
  new client.Gauge({
    name: 'cni_whereabouts_commit_conflicts',
    help: 'Commits that lost a race to another allocator and were retried, since start',
    registers: [registry],
    collect() {
      this.set(conflicts());
    },
  });
  return {
    registry,
    rpc: new client.Counter({ name: 'cni_whereabouts_rpc_requests_total', help: 'RPC requests by method and outcome', labelNames: ['method', 'outcome'], registers: [registry] }),
  };
}
