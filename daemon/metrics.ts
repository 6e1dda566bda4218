/**
 * Prometheus metrics (prom-client) on a private registry, served only when
 * --metrics-address is given. Lease counts by state are computed at scrape time.
 */
import * as http from 'node:http';
import * as client from 'prom-client';

export interface Metrics {
  registry: client.Registry;
  renewals: client.Counter<string>;
  rebinds: client.Counter<string>;
  naks: client.Counter<string>;
  expiries: client.Counter<string>;
  releases: client.Counter<string>;
  dropped: client.Counter<'reason'>;
  rpc: client.Counter<'method' | 'outcome'>;
  acquireSeconds: client.Histogram<string>;
  renewSeconds: client.Histogram<string>;
}

export function createMetrics(leasesByState: () => Record<string, number>, withProcessMetrics = true): Metrics {
  const registry = new client.Registry();
  if (withProcessMetrics) client.collectDefaultMetrics({ register: registry, prefix: 'cni_dhcp_' });
  new client.Gauge({
    name: 'cni_dhcp_leases',
    help: 'Leases held by the daemon, by client state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, n] of Object.entries(leasesByState())) this.set({ state }, n);
    },
  });
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new client.Counter<L>({ name, help, labelNames, registers: [registry] });
  const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  return {
    registry,
    renewals: counter('cni_dhcp_renewals_total', 'Times a lease entered RENEWING (T1)'),
    rebinds: counter('cni_dhcp_rebinds_total', 'Times a lease entered REBINDING (T2)'),
    naks: counter('cni_dhcp_naks_total', 'DHCPNAKs accepted from our server'),
    expiries: counter('cni_dhcp_expiries_total', 'Leases that expired without renewal'),
    releases: counter('cni_dhcp_releases_total', 'DHCPRELEASEs sent'),
    dropped: counter('cni_dhcp_packets_dropped_total', 'Received packets dropped, by reason', ['reason']),
    rpc: counter('cni_dhcp_rpc_requests_total', 'RPC requests by method and outcome', ['method', 'outcome']),
    acquireSeconds: new client.Histogram({
      name: 'cni_dhcp_acquire_duration_seconds',
      help: 'Time from DISCOVER to the first ACK',
      buckets,
      registers: [registry],
    }),
    renewSeconds: new client.Histogram({
      name: 'cni_dhcp_renew_duration_seconds',
      help: 'Time from the first renewal REQUEST to its ACK',
      buckets,
      registers: [registry],
    }),
  };
}

export function serveMetrics(metrics: Pick<Metrics, 'registry'>, address: string): Promise<http.Server> {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) throw new Error(`--metrics-address must be host:port, got ${JSON.stringify(address)}`);
  const host = (m[1] as string).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(m[2]);
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found; try /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
