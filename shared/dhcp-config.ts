/**
 * The `dhcp` network config: the reference plugin's ipam keys plus our own, validated into
 * one typed object. Everything a caller can get wrong is a code-7 error naming the key.
 */
import { InvalidConfigError } from './errors';
import { requireSupportedVersion, type CniVersion } from './cni-version';
import { CLIENT_ID_OPTION, CLIENT_OWNED_OPTIONS } from './dhcp-options';

export const DEFAULT_SOCKET_PATH = '/run/cni/dhcp.sock';

/** Option names the reference accepts, and their codes (RFC 2132). */
export const OPTION_NAMES: Record<string, number> = {
  'subnet-mask': 1,
  routers: 3,
  'host-name': 12,
  'vendor-class-identifier': 60,
  'dhcp-client-identifier': 61,
  'user-class': 77,
};

/** Options we always ask for unless a `request` entry says skipDefault. */
export const DEFAULT_REQUEST_LIST = [1, 3, 6, 15, 26, 28, 33, 51, 54, 58, 59, 119, 121];


/**
 * ARP probe of an offered address before ADD answers (RFC 5227, shortened): `count` probes
 * `intervalMs` apart, then one more interval of listening; `false` turns it off. The default
 * was chosen from a measurement (BENCHMARKS.md, "ARP probe").
 */
export type ArpProbeConfig = { count: number; intervalMs: number } | false;
export const DEFAULT_ARP_PROBE: ArpProbeConfig = { count: 2, intervalMs: 50 };
export const ARP_PROBE_LIMITS = { count: { min: 1, max: 10 }, intervalMs: { min: 1, max: 2000 } } as const;

/** Address families an attachment asks for (ipam.ipFamilies); absent means IPv4 only, as before. */
export type IpFamily = 'ipv4' | 'ipv6';
export const IP_FAMILIES: readonly IpFamily[] = ['ipv4', 'ipv6'];
export const DEFAULT_IP_FAMILIES: readonly IpFamily[] = ['ipv4'];
/** DHCPv6 carries no prefix length: the IA_NA address is reported as a /128 unless ipv6PrefixLength says otherwise. */
export const DEFAULT_IPV6_PREFIX_LENGTH = 128;

export interface ProvideOption {
  code: number;
  value?: string;
  fromArg?: string;
}

export interface DhcpIpamConfig {
  cniVersion: CniVersion;
  name: string;
  socketPath: string;
  /** the final parameter request list */
  requestList: number[];
  provide: ProvideOption[];
  priority?: number;
  /** ours: leave the gateway and every default route out of the result (reference #698) */
  omitGateway: boolean;
  /** ours: when the server hands out another address than the pod's, move the pod to it, or release it and report LOST */
  onAddressChange: AddressChangePolicy;
  /** ours: ARP-probe the offered address before answering ADD */
  arpProbe: ArpProbeConfig;
  /** ours: which families to lease, in the order given (ipv4 first when both) */
  ipFamilies: IpFamily[];
  /** ours: the prefix length the IPv6 address is reported with (1..128) */
  ipv6PrefixLength: number;
  prevResult?: unknown;
  validAttachments?: Array<{ containerId: string; ifname: string }>;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** What to do when, after a NAK or an expiry, the server hands out another address than the pod's. */
export type AddressChangePolicy = 'move' | 'release';
export const ADDRESS_CHANGE_POLICIES: readonly AddressChangePolicy[] = ['move', 'release'];

function parseAddressChange(ipam: Record<string, unknown>): AddressChangePolicy {
  const v = ipam.onAddressChange;
  if (v === undefined) return 'move';
  if (typeof v === 'string' && (ADDRESS_CHANGE_POLICIES as readonly string[]).includes(v)) return v as AddressChangePolicy;
  throw new InvalidConfigError(`ipam.onAddressChange must be "move" or "release", got ${JSON.stringify(v)}`);
}

/** `ipam.ipFamilies`: a non-empty list of distinct "ipv4"/"ipv6"; code 7 names the key and the bad value. */
export function parseIpFamilies(raw: unknown, key = 'ipam.ipFamilies'): IpFamily[] {
  if (raw === undefined) return [...DEFAULT_IP_FAMILIES];
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new InvalidConfigError(`${key} must be a non-empty array of "ipv4" and "ipv6", got ${JSON.stringify(raw)}`);
  }
  const out: IpFamily[] = [];
  raw.forEach((f, i) => {
    if (typeof f !== 'string' || !(IP_FAMILIES as readonly string[]).includes(f)) {
      throw new InvalidConfigError(`${key}[${i}]: unknown address family ${JSON.stringify(f)}`, 'use "ipv4" and/or "ipv6"');
    }
    if (out.includes(f as IpFamily)) throw new InvalidConfigError(`${key}[${i}]: ${JSON.stringify(f)} is listed twice`);
    out.push(f as IpFamily);
  });
  // one order whatever the config says: results list the IPv4 address first, like the reference's dual-stack plugins
  return IP_FAMILIES.filter((f) => out.includes(f));
}

/** `ipam.ipv6PrefixLength`: an integer 1..128; absent: /128. */
export function parseIpv6PrefixLength(raw: unknown, key = 'ipam.ipv6PrefixLength'): number {
  if (raw === undefined) return DEFAULT_IPV6_PREFIX_LENGTH;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > 128) {
    throw new InvalidConfigError(`${key} must be an integer from 1 to 128, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

export function optionCode(raw: unknown, key: string): number {
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 && raw <= 255) return raw;
  if (typeof raw === 'string') {
    const named = OPTION_NAMES[raw];
    if (named !== undefined) return named;
    if (/^\d{1,3}$/.test(raw) && Number(raw) <= 255) return Number(raw);
  }
  throw new InvalidConfigError(
    `${key}: unknown DHCP option ${JSON.stringify(raw)}`,
    `use a number from 0 to 255 or one of: ${Object.keys(OPTION_NAMES).join(', ')}`,
  );
}

function asArray(v: unknown, key: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidConfigError(`${key} must be an array`);
  return v;
}

function asObject(v: unknown, key: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InvalidConfigError(`${key} must be an object`);
  return v as Record<string, unknown>;
}

function parseRequest(ipam: Record<string, unknown>): number[] {
  const entries = asArray(ipam.request, 'ipam.request');
  let skipDefault = false;
  const extra: number[] = [];
  entries.forEach((e, i) => {
    const o = asObject(e, `ipam.request[${i}]`);
    if (o.skipDefault !== undefined && typeof o.skipDefault !== 'boolean') {
      throw new InvalidConfigError(`ipam.request[${i}].skipDefault must be a boolean`);
    }
    if (o.skipDefault) skipDefault = true;
    extra.push(optionCode(o.option, `ipam.request[${i}].option`));
  });
  const base = skipDefault ? [] : DEFAULT_REQUEST_LIST;
  return [...new Set([...base, ...extra])].filter((c) => c !== 0 && c !== 255);
}

function parseProvide(ipam: Record<string, unknown>): ProvideOption[] {
  return asArray(ipam.provide, 'ipam.provide').map((e, i) => {
    const key = `ipam.provide[${i}]`;
    const o = asObject(e, key);
    const code = optionCode(o.option, `${key}.option`);
    if (code !== CLIENT_ID_OPTION && CLIENT_OWNED_OPTIONS.has(code)) throw new InvalidConfigError(`${key}.option: option ${code} is set by the client itself`);
    const hasValue = o.value !== undefined;
    const hasArg = o.fromArg !== undefined;
    if (hasValue === hasArg) throw new InvalidConfigError(`${key}: give exactly one of "value" or "fromArg"`);
    if (hasValue && typeof o.value !== 'string') throw new InvalidConfigError(`${key}.value must be a string`);
    if (hasArg && (typeof o.fromArg !== 'string' || o.fromArg === '')) {
      throw new InvalidConfigError(`${key}.fromArg must be a non-empty string naming a CNI_ARGS key`);
    }
    if (hasValue && (Buffer.byteLength(o.value as string) > 255 || o.value === '')) {
      throw new InvalidConfigError(`${key}.value must be 1 to 255 bytes`);
    }
    return hasValue ? { code, value: o.value as string } : { code, fromArg: o.fromArg as string };
  });
}

/** `ipam.arpProbe`: absent → the default, `false` → off, `true` → the default, or `{count, intervalMs}`. */
export function parseArpProbe(raw: unknown, key = 'ipam.arpProbe'): ArpProbeConfig {
  if (raw === undefined || raw === true) return DEFAULT_ARP_PROBE;
  if (raw === false) return false;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError(`${key} must be false, true or {"count": N, "intervalMs": M}, got ${JSON.stringify(raw)}`);
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'count' && k !== 'intervalMs') throw new InvalidConfigError(`${key}.${k}: unknown key (use "count" and "intervalMs")`);
  }
  const field = (k: 'count' | 'intervalMs'): number => {
    const v = o[k] ?? (DEFAULT_ARP_PROBE as { count: number; intervalMs: number })[k];
    const { min, max } = ARP_PROBE_LIMITS[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new InvalidConfigError(`${key}.${k} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  return { count: field('count'), intervalMs: field('intervalMs') };
}

/** CNI 1.1 GC's `cni.dev/valid-attachments`, shared by every plugin that releases anything. */
export function parseValidAttachments(cfg: Record<string, unknown>): DhcpIpamConfig['validAttachments'] {
  const raw = cfg['cni.dev/valid-attachments'];
  if (raw === undefined) return undefined;
  return asArray(raw, 'cni.dev/valid-attachments').map((e, i) => {
    const o = asObject(e, `cni.dev/valid-attachments[${i}]`);
    if (typeof o.containerID !== 'string' || typeof o.ifname !== 'string') {
      throw new InvalidConfigError(`cni.dev/valid-attachments[${i}] needs string "containerID" and "ifname"`);
    }
    return { containerId: o.containerID, ifname: o.ifname };
  });
}

export function parseDhcpConfig(cfg: Record<string, unknown>): DhcpIpamConfig {
  const cniVersion = requireSupportedVersion(cfg.cniVersion);
  if (typeof cfg.name !== 'string' || !NAME_RE.test(cfg.name)) {
    throw new InvalidConfigError(`invalid network name ${JSON.stringify(cfg.name)}`, 'name must match [a-zA-Z0-9][a-zA-Z0-9_.-]*');
  }
  if (cfg.ipam === undefined) throw new InvalidConfigError('missing "ipam" section');
  const ipam = asObject(cfg.ipam, 'ipam');
  if (ipam.type !== undefined && typeof ipam.type !== 'string') throw new InvalidConfigError('ipam.type must be a string');
  const socketPath = ipam.daemonSocketPath ?? DEFAULT_SOCKET_PATH;
  if (typeof socketPath !== 'string' || !socketPath.startsWith('/')) {
    throw new InvalidConfigError(`ipam.daemonSocketPath must be an absolute path, got ${JSON.stringify(socketPath)}`);
  }
  let priority: number | undefined;
  if (ipam.priority !== undefined) {
    if (typeof ipam.priority !== 'number' || !Number.isInteger(ipam.priority) || ipam.priority < 0 || ipam.priority > 0xffffffff) {
      throw new InvalidConfigError(`ipam.priority must be an integer from 0 to 4294967295, got ${JSON.stringify(ipam.priority)}`);
    }
    priority = ipam.priority;
  }
  if (ipam.omitGateway !== undefined && typeof ipam.omitGateway !== 'boolean') {
    throw new InvalidConfigError('ipam.omitGateway must be a boolean');
  }
  const out: DhcpIpamConfig = {
    cniVersion,
    name: cfg.name,
    socketPath,
    requestList: parseRequest(ipam),
    provide: parseProvide(ipam),
    omitGateway: ipam.omitGateway === true,
    onAddressChange: parseAddressChange(ipam),
    arpProbe: parseArpProbe(ipam.arpProbe),
    ipFamilies: parseIpFamilies(ipam.ipFamilies),
    ipv6PrefixLength: parseIpv6PrefixLength(ipam.ipv6PrefixLength),
    prevResult: cfg.prevResult,
    validAttachments: parseValidAttachments(cfg),
  };
  if (priority !== undefined) out.priority = priority;
  return out;
}

/** Resolves `provide` against CNI_ARGS; a fromArg key that is absent is skipped, as the reference does. */
export function resolveProvide(provide: ProvideOption[], args: Map<string, string>): Array<{ code: number; value: string }> {
  const out: Array<{ code: number; value: string }> = [];
  for (const p of provide) {
    const value = p.value ?? (p.fromArg !== undefined ? args.get(p.fromArg) : undefined);
    if (value !== undefined && value !== '') out.push({ code: p.code, value: value.slice(0, 255) });
  }
  return out;
}
