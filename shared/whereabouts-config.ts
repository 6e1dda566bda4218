/**
 * The `whereabouts` ipam section, read as Whereabouts' LoadIPAMConfig reads it (pkg/config):
 * the legacy top-level `range`/`range_start`/`range_end`/`exclude` becomes the first entry of
 * `ipRanges` (its `exclude` applies only to it); `range` may be `"A-B/cidr"`; addresses are
 * parsed sloppily (leading zeros are decimal); `enable_overlapping_ranges` defaults to true.
 * Pure: the flat file is merged before this runs (whereabouts-flat-file.ts).
 *
 * Where we differ on purpose: every bad value is code 7 naming its key and value (Whereabouts
 * fails with a generic error, often only at allocation time), and a range without usable
 * addresses (/31, /32, /127, /128) is refused here rather than when the first pod comes.
 */
import { InvalidConfigError } from './errors';
import type { DnsConfig, RouteConfig } from './cni-result';
import { cidrContains, cidrNetworkString, ipString, isV4, parseCIDR, parseIP, type GoCidr } from './go-ip';
import { goField, isObject, optArray, optObject, optString, type JsonObject } from './go-json-fields';
import { decodeDns, decodeRoutes } from './ipam-fields';

export const DEFAULT_WHEREABOUTS_SOCKET = '/run/cni/whereabouts.sock';

export interface WhereaboutsRange {
  /** the network as Whereabouts names pools: "198.18.0.0/24", "2001:db8::/64" */
  range: string;
  family: 4 | 6;
  prefix: number;
  /** canonical text; absent when not given (the first usable address is used) */
  rangeStart?: string;
  rangeEnd?: string;
  /** canonical network CIDRs ("198.18.0.8/29", a bare address as /32 or /128) */
  exclude: string[];
}

export type Datastore =
  | { kind: 'file' }
  | {
      kind: 'etcd';
      /** etcd_host split at commas, trimmed */
      endpoints: string[];
      username?: string;
      password?: string;
      keyFile?: string;
      certFile?: string;
      caCertFile?: string;
    }
  | {
      kind: 'kubernetes';
      /** `kubernetes.kubeconfig`; absent: the daemon's in-cluster service account */
      kubeconfig?: string;
    };

export interface WhereaboutsIpam {
  socketPath: string;
  /** `network_name`; '' when unset */
  networkName: string;
  overlappingRanges: boolean;
  gateway?: string;
  ranges: WhereaboutsRange[];
  datastore: Datastore;
  routes: RouteConfig[];
  dns: DnsConfig;
}

const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$/;

function bad(key: string, value: unknown, why: string): InvalidConfigError {
  return new InvalidConfigError(`${key} ${JSON.stringify(value)}: ${why}`);
}

function sloppyIp(key: string, text: string) {
  const ip = parseIP(text.trim(), true);
  if (!ip) throw bad(key, text, 'not an IP address');
  return ip;
}

function sloppyCidr(key: string, text: string): GoCidr {
  const c = parseCIDR(text.trim(), true);
  if (!c) throw bad(key, text, 'not a CIDR (e.g. "198.18.0.0/24" or "2001:db8::/64")');
  return c;
}

/** Whereabouts' parseExcludedRange: a CIDR, or a bare address as /32 or /128 (strict parsing, as it does). */
function excludeEntry(key: string, text: string): string {
  const asCidr = parseCIDR(text);
  if (asCidr) return cidrNetworkString(asCidr);
  const ip = parseIP(text);
  if (!ip) throw bad(key, text, 'not a CIDR or an IP address');
  return cidrNetworkString({ ip, prefix: isV4(ip) ? 32 : 128, bits: isV4(ip) ? 32 : 128 });
}

function optIpText(v: unknown, key: string): string | undefined {
  const s = optString(v, key);
  if (s === undefined || s === '') return undefined;
  return ipString(sloppyIp(key, s));
}

function readRange(entry: JsonObject, path: string): WhereaboutsRange {
  const rangeKey = `${path}.range`;
  const text = optString(goField(entry, 'range'), rangeKey) ?? '';
  if (text === '') throw new InvalidConfigError(`${rangeKey} is missing`);
  let cidr: GoCidr;
  let rangeStart = optIpText(goField(entry, 'range_start'), `${path}.range_start`);
  let rangeEnd = optIpText(goField(entry, 'range_end'), `${path}.range_end`);
  const dash = text.indexOf('-');
  if (dash >= 0) {
    // "A-B/cidr": A is range_start, B (the CIDR's host part) range_end
    const first = sloppyIp(`${rangeKey} (start)`, text.slice(0, dash));
    cidr = sloppyCidr(rangeKey, text.slice(dash + 1));
    if (!cidrContains(cidr, first)) throw bad(rangeKey, text, `start ${ipString(first)} is not in ${cidrNetworkString(cidr)}`);
    rangeStart = ipString(first);
    rangeEnd = ipString(cidr.ip);
  } else {
    cidr = sloppyCidr(rangeKey, text);
  }
  const network = cidrNetworkString(cidr);
  const family = isV4(cidr.ip) ? 4 : 6;
  const prefix = Number(network.slice(network.indexOf('/') + 1));
  if ((family === 4 ? 32 : 128) - prefix < 2) {
    throw bad(rangeKey, text, `/${prefix} has no usable addresses (network and broadcast are never handed out; use /${family === 4 ? 30 : 126} or shorter)`);
  }
  const exclude = (optArray(goField(entry, 'exclude'), `${path}.exclude`) ?? []).map((item, i) => {
    const key = `${path}.exclude[${i}]`;
    const s = optString(item === null ? undefined : item, key) ?? '';
    return excludeEntry(key, s);
  });
  const out: WhereaboutsRange = { range: network, family, prefix, exclude };
  if (rangeStart !== undefined) out.rangeStart = rangeStart;
  if (rangeEnd !== undefined) out.rangeEnd = rangeEnd;
  return out;
}

function optBool(v: unknown, key: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw bad(key, v, 'must be true or false');
  return v;
}

function readDatastore(ipam: JsonObject): Datastore {
  const kind = optString(goField(ipam, 'datastore'), 'ipam.datastore') ?? '';
  if (kind === '' || kind === 'file') return { kind: 'file' };
  if (kind === 'kubernetes') return readKubernetes(ipam);
  if (kind !== 'etcd') throw bad('ipam.datastore', kind, 'expected "file" (the default), "etcd" or "kubernetes"');
  const host = optString(goField(ipam, 'etcd_host'), 'ipam.etcd_host') ?? '';
  const endpoints = host.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (endpoints.length === 0) throw bad('ipam.etcd_host', host, 'datastore "etcd" needs one or more comma-separated endpoints');
  for (const e of endpoints) {
    if (!/^(https?:\/\/)?[A-Za-z0-9.:[\]-]+:\d{1,5}$/.test(e)) throw bad('ipam.etcd_host', e, 'expected host:port or http(s)://host:port');
  }
  const out: Datastore = { kind: 'etcd', endpoints };
  const fields = [
    ['username', 'etcd_username'],
    ['password', 'etcd_password'],
    ['keyFile', 'etcd_key_file'],
    ['certFile', 'etcd_cert_file'],
    ['caCertFile', 'etcd_ca_cert_file'],
  ] as const;
  for (const [prop, key] of fields) {
    const v = optString(goField(ipam, key), `ipam.${key}`);
    if (v) out[prop] = v;
  }
  for (const key of ['etcd_key_file', 'etcd_cert_file', 'etcd_ca_cert_file'] as const) {
    const v = optString(goField(ipam, key), `ipam.${key}`);
    if (v && !v.startsWith('/')) throw bad(`ipam.${key}`, v, 'must be an absolute path');
  }
  return out;
}

/** `"kubernetes": {"kubeconfig": "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig"}`, as Whereabouts reads it */
function readKubernetes(ipam: JsonObject): Datastore {
  const k8s = optObject(goField(ipam, 'kubernetes'), 'ipam.kubernetes');
  const kubeconfig = k8s ? optString(goField(k8s, 'kubeconfig'), 'ipam.kubernetes.kubeconfig') : undefined;
  if (kubeconfig === undefined || kubeconfig === '') return { kind: 'kubernetes' };
  if (!kubeconfig.startsWith('/')) throw bad('ipam.kubernetes.kubeconfig', kubeconfig, 'must be an absolute path');
  return { kind: 'kubernetes', kubeconfig };
}

/** The ipam section (flat file already merged in) as one typed, validated object. */
export function parseWhereaboutsIpam(ipam: JsonObject): WhereaboutsIpam {
  const type = optString(goField(ipam, 'type'), 'ipam.type');
  if (type !== 'whereabouts') throw bad('ipam.type', type ?? null, 'this plugin only serves ipam type "whereabouts"');
  const socketPath = optString(goField(ipam, 'daemonSocketPath'), 'ipam.daemonSocketPath') ?? DEFAULT_WHEREABOUTS_SOCKET;
  if (!socketPath.startsWith('/')) throw bad('ipam.daemonSocketPath', socketPath, 'must be an absolute path');
  const networkName = optString(goField(ipam, 'network_name'), 'ipam.network_name') ?? '';
  if (networkName !== '' && !NETWORK_NAME_RE.test(networkName)) {
    throw bad('ipam.network_name', networkName, 'use letters, digits, "_", "." or "-" (at most 253)');
  }
  const ranges: WhereaboutsRange[] = [];
  if ((optString(goField(ipam, 'range'), 'ipam.range') ?? '') !== '') ranges.push(readRange(ipam, 'ipam'));
  (optArray(goField(ipam, 'ipRanges'), 'ipam.ipRanges') ?? []).forEach((item, i) => {
    const path = `ipam.ipRanges[${i}]`;
    if (!isObject(item)) throw bad(path, item, 'must be an object with "range"');
    ranges.push(readRange(item, path));
  });
  if (ranges.length === 0) throw new InvalidConfigError('ipam has no range: set "range" or "ipRanges"');
  const seen = new Set<string>();
  for (const r of ranges) {
    if (seen.has(r.range)) throw bad('ipam.ipRanges', r.range, 'the same range is listed twice');
    seen.add(r.range);
  }
  const gateway = optIpText(goField(ipam, 'gateway'), 'ipam.gateway');
  const out: WhereaboutsIpam = {
    socketPath,
    networkName,
    overlappingRanges: optBool(goField(ipam, 'enable_overlapping_ranges'), 'ipam.enable_overlapping_ranges') ?? true,
    ranges,
    datastore: readDatastore(ipam),
    routes: decodeRoutes(ipam),
    dns: decodeDns(ipam),
  };
  if (gateway !== undefined) out.gateway = gateway;
  return out;
}

/** The ipam object of a network config: code 7 when it is missing or not an object. */
export function ipamSection(raw: JsonObject): JsonObject {
  const ipam = optObject(goField(raw, 'ipam'), 'ipam');
  if (!ipam) throw new InvalidConfigError("IPAM config missing 'ipam' key");
  return ipam;
}
