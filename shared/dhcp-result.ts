/**
 * Maps a daemon lease to the CNI IPAM result, as the reference does plus DNS:
 * option 121 (RFC 3442) overrides 33 and the default route; otherwise 33 plus a default
 * route via option 3[0]. A 121 route whose router is 0.0.0.0 is on-link (scope link).
 */
import { SCOPE_LINK, type IpamResult, type RouteConfig } from './cni-result';
import type { LeaseView } from './rpc-protocol';

export interface ResultOptions {
  priority?: number;
  omitGateway: boolean;
}

export function leaseToResult(lease: LeaseView, opts: ResultOptions): IpamResult {
  if (!lease.address || lease.prefixLength === undefined) {
    throw new Error(`lease for ${lease.containerId}/${lease.ifname} holds no address`);
  }
  const gateway = lease.routers?.[0];
  const routes: RouteConfig[] = [];
  if (lease.classlessRoutes?.length) {
    for (const r of lease.classlessRoutes) {
      routes.push(r.gw === '0.0.0.0' ? { dst: r.dst, scope: SCOPE_LINK } : { dst: r.dst, gw: r.gw });
    }
  } else {
    for (const r of lease.staticRoutes ?? []) routes.push({ dst: r.dst, gw: r.gw });
    if (gateway) routes.push({ dst: '0.0.0.0/0', gw: gateway });
  }
  const kept = opts.omitGateway ? routes.filter((r) => r.dst !== '0.0.0.0/0') : routes;
  if (opts.priority !== undefined) for (const r of kept) r.priority = opts.priority;
  const ip: IpamResult['ips'][number] = { address: `${lease.address}/${lease.prefixLength}` };
  if (gateway && !opts.omitGateway) ip.gateway = gateway;
  const dns: IpamResult['dns'] = {};
  if (lease.dnsServers?.length) dns.nameservers = [...lease.dnsServers];
  if (lease.domainName) dns.domain = lease.domainName;
  if (lease.domainSearch?.length) dns.search = [...lease.domainSearch];
  return { ips: [ip], routes: kept, dns };
}
