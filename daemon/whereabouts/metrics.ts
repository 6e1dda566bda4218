/** Prometheus metrics of the whereabouts daemon (prom-client, private registry, served with --metrics-address). */
import * as client from 'prom-client';

export interface WhereaboutsMetrics {
  registry: client.Registry;
  rpc: client.Counter<'method' | 'outcome'>;
}

/**
 * `addFailures` (optional): failed ADDs by reason since start, as the IPAM service counts them
 * (exhausted, store_unavailable, lost_races, plugin_gone, other).
 */
export function createWhereaboutsMetrics(
  allocations: () => number,
  conflicts: () => number,
  addFailures: () => Readonly<Record<string, number>> = () => ({}),
): WhereaboutsMetrics {
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
  new client.Counter({
    name: 'cni_whereabouts_add_failures_total',
    help: 'Failed ADDs by reason: exhausted (range full), store_unavailable, lost_races (commits kept losing to other nodes past the deadline), plugin_gone, other',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(addFailures())) this.inc({ reason }, n);
    },
  });
  return {
    registry,
    rpc: new client.Counter({ name: 'cni_whereabouts_rpc_requests_total', help: 'RPC requests by method and outcome', labelNames: ['method', 'outcome'], registers: [registry] }),
  };
}
