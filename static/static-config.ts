/**
 * The static plugin's configuration, loaded in the reference's order (LoadIPAMConfig in
 * plugins/ipam/static/main.go): decode the whole config; require `ipam`; append CNI_ARGS IP=
 * addresses and attach GATEWAY= to them; let a non-empty args.cni.ips, then a non-empty
 * runtimeConfig.ips, replace the list; validate what is left; allow more than one address per
 * family only from cniVersion 0.3.0 on.
 *
 * Where we differ on purpose: a bad address or gateway anywhere is code 7 with a message that
 * names the key and the value (the reference prints 999 and, for gateways and routes, no key).
 */
import { InvalidConfigError } from '../shared/errors';
import { compareVersions } from '../shared/cni-version';
import type { NetworkHeader } from '../shared/network-header';
import type { DnsConfig, RouteConfig } from '../shared/cni-result';
import { cidrContains, isV4, parseCIDR, parseIP, type GoCidr, type GoIp } from '../shared/go-ip';
import { goField, optArray, optObject, optString, optStringArray, type JsonObject } from '../shared/go-json-fields';
import { loadStaticEnvArgs } from './static-env-args';
import { decodeDns, decodeRoutes, notCidr, notIp, optIp } from '../shared/ipam-fields';

export interface StaticAddress {
  cidr: GoCidr;
  gateway?: GoIp;
}

export interface StaticConfig {
  addresses: StaticAddress[];
  /** dst and gw already in the reference's printed form */
  routes: RouteConfig[];
  dns: DnsConfig;
}

interface AddressEntry {
  text: string;
  key: string;
  gateway?: GoIp;
  /** set once parsed; CNI_ARGS entries are parsed on arrival, which is why only they get GATEWAY= */
  cidr?: GoCidr;
}

function decodeAddresses(ipam: JsonObject): AddressEntry[] {
  const list = optArray(goField(ipam, 'addresses'), 'ipam.addresses') ?? [];
  return list.map((item, i) => {
    const path = `ipam.addresses[${i}]`;
    const entry = optObject(item === null ? undefined : item, path) ?? {};
    const e: AddressEntry = { text: optString(goField(entry, 'address'), `${path}.address`) ?? '', key: `${path}.address` };
    const gateway = optIp(goField(entry, 'gateway'), `${path}.gateway`);
    if (gateway) e.gateway = gateway;
    return e;
  });
}

/** `ips` lists that replace the configured addresses when non-empty. */
function overrideEntries(ips: string[] | undefined, key: string): AddressEntry[] | undefined {
  if (!ips || ips.length === 0) return undefined;
  return ips.map((text, i) => {
    const cidr = parseCIDR(text);
    if (!cidr) throw notCidr(`${key}[${i}]`, text);
    return { text, key: `${key}[${i}]`, cidr };
  });
}

function applyEnvArgs(entries: AddressEntry[], rawArgs: string): void {
  const args = loadStaticEnvArgs(rawArgs);
  if (args.ip !== '') {
    for (const item of args.ip.split(',')) {
      const text = item.trim();
      const cidr = parseCIDR(text);
      if (!cidr) throw notCidr('CNI_ARGS IP', text);
      entries.push({ text, key: 'CNI_ARGS IP', cidr });
    }
  }
  if (args.gateway !== '') {
    for (const item of args.gateway.split(',')) {
      const gw = parseIP(item.trim());
      if (!gw) throw notIp('CNI_ARGS GATEWAY', item);
      for (const e of entries) if (e.cidr && cidrContains(e.cidr, gw)) e.gateway = gw;
    }
  }
}

export function loadStaticConfig(raw: JsonObject, rawArgs: string, header: NetworkHeader): StaticConfig {
  const ipam = optObject(goField(raw, 'ipam'), 'ipam');
  const decoded = ipam && { addresses: decodeAddresses(ipam), routes: decodeRoutes(ipam), dns: decodeDns(ipam) };
  const runtimeConfig = optObject(goField(raw, 'runtimeConfig'), 'runtimeConfig');
  const runtimeIps = runtimeConfig && optStringArray(goField(runtimeConfig, 'ips'), 'runtimeConfig.ips');
  const args = optObject(goField(raw, 'args'), 'args');
  const cniArgs = args && optObject(goField(args, 'cni'), 'args.cni');
  const argsIps = cniArgs && optStringArray(goField(cniArgs, 'ips'), 'args.cni.ips');
  if (!decoded) throw new InvalidConfigError("IPAM config missing 'ipam' key");

  let entries = decoded.addresses;
  if (rawArgs !== '') applyEnvArgs(entries, rawArgs);
  entries = overrideEntries(argsIps, 'args.cni.ips') ?? entries;
  entries = overrideEntries(runtimeIps, 'runtimeConfig.ips') ?? entries;

  const addresses = entries.map((e): StaticAddress => {
    const cidr = e.cidr ?? parseCIDR(e.text);
    if (!cidr) throw notCidr(e.key, e.text);
    return e.gateway ? { cidr, gateway: e.gateway } : { cidr };
  });
  const v4 = addresses.filter((a) => isV4(a.cidr.ip)).length;
  if ((v4 > 1 || addresses.length - v4 > 1) && compareVersions(header.cniVersion, '0.3.0') < 0) {
    throw new InvalidConfigError(`CNI version ${header.rawVersion} does not support more than 1 address per family`);
  }
  return { addresses, routes: decoded.routes, dns: decoded.dns };
}
