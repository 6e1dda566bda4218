/**
 * Prometheus metrics (prom-client) on a private registry, served only when
 * --metrics-address is given. Lease counts by state are computed at scrape time.
 * Without that flag the daemon takes noMetrics(), and prom-client is never loaded: it is
 * ~5 MB of an idle daemon's anonymous memory.
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import type * as client from 'prom-client';

/** Every lease metric is labelled with the address family ("ipv4", "ipv6") it is about. */
export interface Metrics {
  registry: client.Registry;
  renewals: client.Counter<'family'>;
  rebinds: client.Counter<'family'>;
  naks: client.Counter<string>;
  expiries: client.Counter<'family'>;
  releases: client.Counter<'family'>;
  addressChanges: client.Counter<string>;
  lost: client.Counter<string>;
  declines: client.Counter<'family'>;
  dropped: client.Counter<'family' | 'reason'>;
  rpc: client.Counter<'method' | 'outcome'>;
  acquireSeconds: client.Histogram<'family'>;
  renewSeconds: client.Histogram<'family'>;
}

/** Leases by family and client state, for the gauge (computed at scrape time). */
export type LeaseCounts = Record<string, Record<string, number>>;

/**
 * prom-client from its own bundle next to the daemon's (dist/lib/prom-client.js, built by
 * scripts/build.mjs), so that its 170 KB of source is not even read by a daemon without
 * metrics; from node_modules when running from source.
 */
function loadPromClient(): typeof import('prom-client') {
  const built = path.join(__dirname, 'prom-client.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (fs.existsSync(built) ? require(built) : require('prom-client')) as typeof import('prom-client');
}

export function createMetrics(leasesByFamily: () => LeaseCounts, withProcessMetrics = true): Metrics {
  const client = loadPromClient();
  const registry = new client.Registry();
  if (withProcessMetrics) client.collectDefaultMetrics({ register: registry, prefix: 'cni_dhcp_' });
  new client.Gauge({
    name: 'cni_dhcp_leases',
    help: 'Leases held by the daemon, by address family and client state',
    labelNames: ['family', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [family, states] of Object.entries(leasesByFamily())) {
        for (const [state, n] of Object.entries(states)) this.set({ family, state }, n);
      }
    },
  });
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new client.Counter<L>({ name, help, labelNames, registers: [registry] });
  const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  return {
    registry,
    renewals: counter('cni_dhcp_renewals_total', 'Times a lease entered RENEWING (T1)', ['family']),
    rebinds: counter('cni_dhcp_rebinds_total', 'Times a lease entered REBINDING (T2)', ['family']),
    naks: counter('cni_dhcp_naks_total', 'DHCPNAKs accepted from our server'),
    expiries: counter('cni_dhcp_expiries_total', 'Leases that expired without renewal', ['family']),
    releases: counter('cni_dhcp_releases_total', 'DHCPRELEASEs (DHCPv6 RELEASEs) sent', ['family']),
    addressChanges: counter('cni_dhcp_address_changes_total', "Pods moved to another address the server handed out after a NAK or an expiry"),
    lost: counter('cni_dhcp_attachments_lost_total', 'Attachments LOST: the server handed out another address and the pod was not moved'),
    declines: counter('cni_dhcp_declines_total', 'DHCPDECLINEs sent: the ARP probe found the ACKed address in use (IPv6: it failed DAD)', ['family']),
    dropped: counter('cni_dhcp_packets_dropped_total', 'Received packets dropped, by family and reason', ['family', 'reason']),
    rpc: counter('cni_dhcp_rpc_requests_total', 'RPC requests by method and outcome', ['method', 'outcome']),
    acquireSeconds: new client.Histogram({
      name: 'cni_dhcp_acquire_duration_seconds',
      help: 'Time from DISCOVER (SOLICIT) to the first ACK (REPLY)',
      labelNames: ['family'],
      buckets,
      registers: [registry],
    }),
    renewSeconds: new client.Histogram({
      name: 'cni_dhcp_renew_duration_seconds',
      help: 'Time from the first renewal REQUEST (RENEW) to its ACK (REPLY)',
      labelNames: ['family'],
      buckets,
      registers: [registry],
    }),
  };
}

/**
 * Metrics that count nothing, for a daemon without --metrics-address. Every member, whatever
 * Metrics grows to hold, is one object whose methods do nothing (labels() returns it again).
 */
export function noMetrics(): Metrics {
  const timer = () => 0;
  const metric: object = new Proxy({}, {
    get: (_t, key) => (key === 'labels' ? () => metric : key === 'startTimer' ? () => timer : key === 'then' ? undefined : () => undefined),
  });
  return new Proxy({}, { get: (_t, key) => (key === 'then' ? undefined : metric) }) as Metrics;
}

export function serveMetrics(metrics: Pick<Metrics, 'registry'>, address: string): Promise<http.Server> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const http = require('node:http') as typeof import('node:http');
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
