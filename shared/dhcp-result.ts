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

/**
 * IPv4 first, then the IPv6 IA_NA address (no gateway and no routes: DHCPv6 carries none, the
 * link's router advertisements do); DNS servers and search domains of both families merged.
 */
export function leaseToResult(lease: LeaseView, opts: ResultOptions): IpamResult {
  const families = lease.families ?? ['ipv4'];
  const r: IpamResult = families.includes('ipv4') ? lease4ToResult(lease, opts) : { ips: [], routes: [], dns: {} };
  if (families.includes('ipv6')) {
    const v6 = lease.ipv6;
    if (!v6?.address || v6.prefixLength === undefined) throw new Error(`lease for ${lease.containerId}/${lease.ifname} holds no IPv6 address`);
    r.ips.push({ address: `${v6.address}/${v6.prefixLength}` });
    const dns = r.dns ?? {};
    if (v6.dnsServers?.length) dns.nameservers = [...new Set([...(dns.nameservers ?? []), ...v6.dnsServers])];
    if (v6.domainSearch?.length) dns.search = [...new Set([...(dns.search ?? []), ...v6.domainSearch])];
    r.dns = dns;
  }
  return r;
}

function lease4ToResult(lease: LeaseView, opts: ResultOptions): IpamResult {
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
