/**
 * The shape of one lease file, and the check that a file read back at start-up has it. A
 * file that passes is safe to resume: every field the attachment, the state machine and the
 * lease view read is present with the right type, so a bad file is quarantined here instead
 * of failing later in a timer (or being silently deleted as an "unopenable" attachment).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { LeaseRecord } from './client/machine-types';
import type { Lease6Record } from './client6/types6';
import {
  ADDRESS_CHANGE_POLICIES, parseArpProbe, parseIpFamilies, parseIpv6PrefixLength, type AddressChangePolicy, type ArpProbeConfig, type IpFamily,
} from '../shared/dhcp-config';

export const STORE_FORMAT = 1;

export interface StoredAttachment {
  format: number;
  containerId: string;
  netName: string;
  ifname: string;
  netns: string;
  /** dev:ino of the namespace when it was opened, to notice a reused path */
  netnsId?: string;
  podName?: string;
  podNamespace?: string;
  mac: string;
  clientId: string; // hex
  provide: Array<{ code: number; value: string }>;
  requestList: number[];
  /** ipam.onAddressChange at ADD; absent means "move" */
  onAddressChange?: AddressChangePolicy;
  /** ipam.arpProbe as given at ADD; absent: the default */
  arpProbe?: ArpProbeConfig;
  /** absent: ["ipv4"] (every file written before IPv6 existed) */
  families?: IpFamily[];
  /** ipam.ipv6PrefixLength when not 128 */
  ipv6PrefixLength?: number;
  /** the IPv4 lease; present when families has ipv4 */
  lease?: LeaseRecord;
  /** the DHCPv6 IA_NA lease with our DUID and IAID; present when families has ipv6 */
  lease6?: Lease6Record;
}

type Obj = Record<string, unknown>;

class Shape {
  constructor(private readonly where: string) {}
  fail(what: string): never {
    throw new Error(`${this.where}${what}`);
  }
  obj(v: unknown, what: string): Obj {
    if (!v || typeof v !== 'object' || Array.isArray(v)) this.fail(`${what} is not an object`);
    return v as Obj;
  }
  /** required: a non-empty string; optional: absent or any string */
  str(o: Obj, k: string, optional = false): void {
    if (optional) {
      if (o[k] !== undefined && typeof o[k] !== 'string') this.fail(`${k} is not a string`);
    } else if (typeof o[k] !== 'string' || o[k] === '') {
      this.fail(`${k} is not a non-empty string`);
    }
  }
  num(o: Obj, k: string, min: number, max: number, optional = false): void {
    if (optional && o[k] === undefined) return;
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) this.fail(`${k} is not a number in ${min}..${max}`);
  }
  ip(o: Obj, k: string, optional = false): void {
    if (optional && o[k] === undefined) return;
    if (typeof o[k] !== 'string' || !isIPv4(o[k] as string)) this.fail(`${k} is not an IPv4 address`);
  }
  ips(o: Obj, k: string): void {
    const v = o[k];
    if (v === undefined) return;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && isIPv4(x))) this.fail(`${k} is not a list of IPv4 addresses`);
  }
  strs(o: Obj, k: string): void {
    const v = o[k];
    if (v === undefined) return;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.fail(`${k} is not a list of strings`);
  }
  routes(o: Obj, k: string): void {
    const v = o[k];
    if (v === undefined) return;
    if (!Array.isArray(v) || !v.every((r) => !!r && typeof r === 'object' && typeof r.dst === 'string' && typeof r.gw === 'string')) {
      this.fail(`${k} is not a list of {dst, gw} routes`);
    }
  }
}

/** Returns `raw` typed when it is a lease file of this format; throws naming the first bad field. */
export function validateEntry(raw: unknown): StoredAttachment {
  const top = new Shape('');
  const o = top.obj(raw, 'the file');
  if (o.format !== STORE_FORMAT) top.fail(`format is ${JSON.stringify(o.format)}, not ${STORE_FORMAT}`);
  for (const k of ['containerId', 'netName', 'ifname', 'netns', 'mac', 'clientId']) top.str(o, k);
  for (const k of ['netnsId', 'podName', 'podNamespace']) top.str(o, k, true);
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(o.mac as string)) top.fail('mac is not aa:bb:cc:dd:ee:ff');
  if (!/^([0-9a-f]{2})+$/.test(o.clientId as string)) top.fail('clientId is not hex');
  if (!Array.isArray(o.provide) || !o.provide.every((p) => !!p && typeof p === 'object' && Number.isInteger(p.code) && typeof p.value === 'string')) {
    top.fail('provide is not a list of {code, value}');
  }
  if (!Array.isArray(o.requestList) || !o.requestList.every((c) => Number.isInteger(c) && c >= 1 && c <= 254)) top.fail('requestList is not a list of option codes');
  if (o.onAddressChange !== undefined && !ADDRESS_CHANGE_POLICIES.includes(o.onAddressChange as AddressChangePolicy)) {
    top.fail(`onAddressChange is ${JSON.stringify(o.onAddressChange)}, not "move" or "release"`);
  }
  if (o.arpProbe !== undefined) {
    try {
      parseArpProbe(o.arpProbe, 'arpProbe');
    } catch (err) {
      top.fail((err as Error).message);
    }
  }
  let families: IpFamily[] = [];
  try {
    families = parseIpFamilies(o.families, 'families');
    if (o.ipv6PrefixLength !== undefined) parseIpv6PrefixLength(o.ipv6PrefixLength, 'ipv6PrefixLength');
  } catch (err) {
    top.fail((err as Error).message);
  }
  if (families.includes('ipv6')) validateLease6(top.obj(o.lease6, 'lease6'));
  if (families.includes('ipv4')) validateLease4(top.obj(o.lease, 'lease'));
  return o as unknown as StoredAttachment;
}

function validateLease6(l: Obj): void {
  const s = new Shape('lease6.');
  if (typeof l.address !== 'string' || !isIPv6(l.address)) s.fail('address is not an IPv6 address');
  if (l.serverUnicast !== undefined && (typeof l.serverUnicast !== 'string' || !isIPv6(l.serverUnicast))) s.fail('serverUnicast is not an IPv6 address');
  for (const k of ['duid', 'serverId']) {
    s.str(l, k);
    if (!/^([0-9a-f]{2})+$/.test(l[k] as string)) s.fail(`${k} is not hex`);
  }
  s.str(l, 'serverMac', true);
  s.num(l, 'iaid', 0, 0xffffffff);
  s.num(l, 'boundAt', 0, Number.MAX_SAFE_INTEGER);
  for (const k of ['preferredLifetime', 'validLifetime', 't1', 't2']) s.num(l, k, 0, 0xffffffff);
  const v = l.dnsServers;
  if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && isIPv6(x)))) s.fail('dnsServers is not a list of IPv6 addresses');
  s.strs(l, 'domainSearch');
}

function validateLease4(l: Obj): void {
  const ls = new Shape('lease.');
  ls.ip(l, 'address');
  ls.ip(l, 'serverId');
  ls.str(l, 'serverMac', true);
  ls.num(l, 'prefixLength', 0, 32);
  ls.num(l, 'boundAt', 0, Number.MAX_SAFE_INTEGER);
  for (const k of ['leaseTime', 't1', 't2']) ls.num(l, k, 0, 0xffffffff);
  if (l.changedFrom !== undefined) {
    const cs = new Shape('lease.changedFrom.');
    const c = ls.obj(l.changedFrom, 'changedFrom');
    cs.ip(c, 'address');
    cs.num(c, 'prefixLength', 0, 32);
    cs.num(c, 'at', 0, Number.MAX_SAFE_INTEGER);
  }
  if (l.lost !== undefined) {
    const xs = new Shape('lease.lost.');
    const x = ls.obj(l.lost, 'lost');
    xs.num(x, 'at', 0, Number.MAX_SAFE_INTEGER);
    xs.str(x, 'offered');
    xs.str(x, 'reason', true);
  }
  const ps = new Shape('lease.params.');
  const p = ls.obj(l.params, 'params');
  for (const k of ['routers', 'dnsServers']) ps.ips(p, k);
  ps.strs(p, 'domainSearch');
  for (const k of ['staticRoutes', 'classlessRoutes']) ps.routes(p, k);
  ps.num(p, 'mtu', 0, 0xffff, true);
  for (const k of ['domainName', 'hostName', 'message']) ps.str(p, k, true);
  if (p.rejected !== undefined && !Array.isArray(p.rejected)) ps.fail('rejected is not a list');
}
