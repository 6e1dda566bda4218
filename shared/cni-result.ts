/**
 * The CNI IPAM result in its current (1.x) form, and its conversion to every older result
 * format. Shared by `dhcp` and `static`.
 */
import { compareVersions, type CniVersion } from './cni-version';

export interface IpConfig {
  /** CIDR, e.g. "198.18.0.10/24" */
  address: string;
  gateway?: string;
  interface?: number;
}
export interface RouteConfig {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}
export interface DnsConfig {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
export interface IpamResult {
  ips: IpConfig[];
  routes: RouteConfig[];
  dns: DnsConfig;
}

export const SCOPE_LINK = 253;

function isV4(cidr: string): boolean {
  return !cidr.includes(':');
}

function dnsOrUndefined(dns: DnsConfig): DnsConfig | undefined {
  const out: DnsConfig = {};
  if (dns.nameservers?.length) out.nameservers = dns.nameservers;
  if (dns.domain) out.domain = dns.domain;
  if (dns.search?.length) out.search = dns.search;
  if (dns.options?.length) out.options = dns.options;
  return Object.keys(out).length ? out : undefined;
}

/**
 * Renders a result in the format of `version`. 1.1.0 route attributes (mtu, advmss, priority,
 * table, scope) are kept for all 0.3.0+ versions, as the reference's Go types do; 0.1.0/0.2.0
 * have one ip4/ip6 each and routes inside them.
 */
export function renderResult(result: IpamResult, version: CniVersion): Record<string, unknown> {
  const dns = dnsOrUndefined(result.dns);
  if (compareVersions(version, '0.3.0') < 0) {
    const out: Record<string, unknown> = { cniVersion: version };
    const v4 = result.ips.find((ip) => isV4(ip.address));
    const v6 = result.ips.find((ip) => !isV4(ip.address));
    const routesFor = (v4fam: boolean) =>
      result.routes.filter((r) => isV4(r.dst) === v4fam).map((r) => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst }));
    for (const [key, ip, fam] of [['ip4', v4, true], ['ip6', v6, false]] as const) {
      if (!ip) continue;
      const entry: Record<string, unknown> = { ip: ip.address };
      if (ip.gateway) entry.gateway = ip.gateway;
      const routes = routesFor(fam);
      if (routes.length) entry.routes = routes;
      out[key] = entry;
    }
    if (dns) out.dns = dns;
    return out;
  }
  const legacy = compareVersions(version, '1.0.0') < 0;
  const ips = result.ips.map((ip) => {
    const e: Record<string, unknown> = {};
    if (legacy) e.version = isV4(ip.address) ? '4' : '6';
    e.address = ip.address;
    if (ip.gateway) e.gateway = ip.gateway;
    if (ip.interface !== undefined) e.interface = ip.interface;
    return e;
  });
  const out: Record<string, unknown> = { cniVersion: version, ips };
  if (result.routes.length) out.routes = result.routes.map((r) => ({ ...r }));
  if (dns) out.dns = dns;
  return out;
}

/** The addresses a prevResult (any version) claims, as CIDR strings. */
export function addressesOf(prevResult: unknown): string[] {
  if (!prevResult || typeof prevResult !== 'object') return [];
  const pr = prevResult as Record<string, unknown>;
  const out: string[] = [];
  if (Array.isArray(pr.ips)) {
    for (const ip of pr.ips) {
      if (ip && typeof ip === 'object' && typeof (ip as Record<string, unknown>).address === 'string') {
        out.push((ip as Record<string, string>).address as string);
      }
    }
  }
  for (const key of ['ip4', 'ip6']) {
    const e = pr[key];
    if (e && typeof e === 'object' && typeof (e as Record<string, unknown>).ip === 'string') {
      out.push((e as Record<string, string>).ip as string);
    }
  }
  return out;
}
