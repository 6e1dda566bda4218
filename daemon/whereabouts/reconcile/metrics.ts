/** The reconciler's Prometheus metrics, on the daemon's registry (metrics.ts). */
import * as client from 'prom-client';
import type { RunSummary } from './run';

export interface ReconcileMetrics {
  record(s: RunSummary): void;
}

export function createReconcileMetrics(registry: client.Registry): ReconcileMetrics {
  const runs = new client.Counter({ name: 'cni_whereabouts_reconcile_runs_total', help: 'Reconciler runs by trigger and outcome (ok, errors)', labelNames: ['trigger', 'outcome'], registers: [registry] });
  const allocations = new client.Counter({
    name: 'cni_whereabouts_reconcile_allocations_total',
    help: 'Allocations the reconciler examined, by decision (keep, free) and reason',
    labelNames: ['decision', 'reason'],
    registers: [registry],
  });
  const last = new client.Gauge({ name: 'cni_whereabouts_reconcile_last_run_timestamp_seconds', help: 'When the last reconciler run finished', registers: [registry] });
  const lastFreed = new client.Gauge({ name: 'cni_whereabouts_reconcile_last_run_freed', help: 'Allocations the last reconciler run freed', registers: [registry] });
  return {
    record(s) {
      runs.inc({ trigger: s.trigger, outcome: s.errors.length === 0 ? 'ok' : 'errors' });
      for (const [key, n] of Object.entries(s.reasons)) {
        const [decision, reason] = key.split(':') as [string, string];
        allocations.inc({ decision, reason }, n);
      }
      last.set(s.finishedAt / 1000);
      lastFreed.set(s.freed);
    },
  };
}
