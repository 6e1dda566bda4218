/**
 * The ipam keys that several plugins read the same way (addresses, gateways, `routes`, `dns`),
 * decoded as the reference's Go types decode them; a bad value is code 7 naming key and value.
 */
import { InvalidConfigError } from './errors';
import type { DnsConfig, RouteConfig } from './cni-result';
import { cidrString, ipString, parseCIDR, parseIP, type GoIp } from './go-ip';
import { goField, isObject, optArray, optInteger, optObject, optString, optStringArray, type JsonObject } from './go-json-fields';

export function notCidr(key: string, value: string): InvalidConfigError {
  return new InvalidConfigError(`${key} must be in CIDR notation, got ${JSON.stringify(value)}`);
}

export function notIp(key: string, value: string): InvalidConfigError {
  return new InvalidConfigError(`${key} must be an IP address, got ${JSON.stringify(value)}`);
}

/** A net.IP field: "" or null mean none, anything else must parse. */
export function optIp(v: unknown, key: string): GoIp | undefined {
  const s = optString(v, key);
  if (s === undefined || s === '') return undefined;
  const ip = parseIP(s);
  if (!ip) throw notIp(key, s);
  return ip;
}

const ROUTE_INTS = ['mtu', 'advmss', 'priority'] as const;
const ROUTE_OPTIONAL_INTS = ['table', 'scope'] as const;

export function decodeRoutes(ipam: JsonObject): RouteConfig[] {
  const list = optArray(goField(ipam, 'routes'), 'ipam.routes') ?? [];
  return list.map((item, i) => {
    const path = `ipam.routes[${i}]`;
    if (!isObject(item)) throw new InvalidConfigError(`${path} must be an object`);
    const dstText = optString(goField(item, 'dst'), `${path}.dst`);
    // the reference prints such a route as {"dst": "<nil>"}; a route needs a destination
    if (dstText === undefined) throw new InvalidConfigError(`${path}.dst is missing`);
    const dst = parseCIDR(dstText);
    if (!dst) throw notCidr(`${path}.dst`, dstText);
    const route: RouteConfig = { dst: cidrString(dst) };
    const gw = optIp(goField(item, 'gw'), `${path}.gw`);
    if (gw) route.gw = ipString(gw);
    // libcni >= 1.1 route attributes; Go omits zero mtu/advmss/priority
    for (const k of ROUTE_INTS) {
      const n = optInteger(goField(item, k), `${path}.${k}`);
      if (n) route[k] = n;
    }
    for (const k of ROUTE_OPTIONAL_INTS) {
      const n = optInteger(goField(item, k), `${path}.${k}`);
      if (n !== undefined) route[k] = n;
    }
    return route;
  });
}

export function decodeDns(ipam: JsonObject): DnsConfig {
  const dns = optObject(goField(ipam, 'dns'), 'ipam.dns');
  if (!dns) return {};
  const out: DnsConfig = {};
  const nameservers = optStringArray(goField(dns, 'nameservers'), 'ipam.dns.nameservers');
  const domain = optString(goField(dns, 'domain'), 'ipam.dns.domain');
  const search = optStringArray(goField(dns, 'search'), 'ipam.dns.search');
  const options = optStringArray(goField(dns, 'options'), 'ipam.dns.options');
  if (nameservers) out.nameservers = nameservers;
  if (domain) out.domain = domain;
  if (search) out.search = search;
  if (options) out.options = options;
  return out;
}

