/**
 * The shim ↔ daemon protocol: JSON-RPC 2.0, one JSON object per line, over the Unix socket.
 * Errors carry the CNI error code as the JSON-RPC error code (JSON-RPC's own codes are
 * negative, so they never collide), and CNI `details` in error.data.details.
 */
import type { ArpProbeConfig, IpFamily } from './dhcp-config';

import type { AddressChangePolicy } from './dhcp-config';

export const Method = {
  Add: 'cni.add',
  Del: 'cni.del',
  Check: 'cni.check',
  Gc: 'cni.gc',
  Status: 'cni.status',
  Leases: 'daemon.leases',
  DaemonStatus: 'daemon.status',
  Release: 'daemon.release',
} as const;
export type MethodName = (typeof Method)[keyof typeof Method];

/** Frames above this size are refused and the connection is closed. */
export const MAX_FRAME_BYTES = 1 << 20;

export interface AttachmentRef {
  containerId: string;
  netName: string;
  ifname: string;
}

export interface AddParams extends AttachmentRef {
  netns: string;
  /** option 12/60/61/77/... values already resolved from `provide` */
  provide: Array<{ code: number; value: string }>;
  requestList: number[];
  /** ARP probe of the offered address (ipam.arpProbe); absent: the default */
  arpProbe?: ArpProbeConfig;
  /** K8S_POD_NAME / K8S_POD_NAMESPACE when the runtime sent them, for operators */
  podName?: string;
  podNamespace?: string;
  /** ipam.onAddressChange; absent means "move" */
  onAddressChange?: AddressChangePolicy;
  /** ipam.ipFamilies; absent means ["ipv4"] */
  ipFamilies?: IpFamily[];
  /** ipam.ipv6PrefixLength; absent means 128 */
  ipv6PrefixLength?: number;
}
export interface DelParams extends AttachmentRef {
  netns?: string;
}
export interface CheckParams extends AttachmentRef {
  netns: string;
  /** CIDR addresses from prevResult; the lease must hold one of them */
  expectedAddresses: string[];
}
export interface GcParams {
  netName: string;
  validAttachments: Array<{ containerId: string; ifname: string }>;
}
/**
 * `daemon.leases` answers one page: the `limit` leases after the first `offset` that match
 * (in the daemon's order, oldest attachment first). Without `limit` it answers every match, which
 * stops fitting in one frame past ~1.5k leases: callers page (the CLI asks LEASES_PAGE_SIZE at
 * a time until a page comes back short). ADDs and DELs between pages may shift a lease by one.
 */
export interface LeasesParams {
  containerId?: string;
  state?: string;
  offset?: number;
  limit?: number;
}
/** Small enough that a page of the largest views the params allow stays far below MAX_FRAME_BYTES. */
export const LEASES_PAGE_SIZE = 100;
export const LEASES_PAGE_MAX = 1000;
export interface ReleaseParams {
  containerId: string;
  ifname?: string;
}

export interface RouteView {
  dst: string;
  gw: string;
}

/** The IPv6 (DHCPv6 IA_NA) half of an attachment; `duid` and `iaid` are ours, `serverId` the server's DUID (hex). */
export interface Lease6View {
  state: string;
  xid: number;
  duid: string;
  iaid: number;
  address?: string;
  prefixLength?: number;
  serverId?: string;
  dnsServers?: string[];
  domainSearch?: string[];
  /** ms since epoch */
  boundAt?: number;
  preferredLifetime?: number;
  validLifetime?: number;
  renewAt?: number;
  rebindAt?: number;
  expiresAt?: number;
  lastError?: string;
  /** "address/prefix" the pod carried before the driver moved it to `address` (after an expiry or NotOnLink) */
  changedFrom?: string;
  /** ms since epoch */
  changedAt?: number;
}

/**
 * One attachment. The top-level lease fields are the IPv4 lease, as before IPv6 existed; an
 * attachment with IPv6 has `ipv6`, and `families` lists what it holds. For an IPv6-only one the
 * top-level state and xid are the IPv6 machine's and the IPv4 fields are absent.
 */
export interface LeaseView extends AttachmentRef {
  netns: string;
  podName?: string;
  podNamespace?: string;
  mac: string;
  state: string;
  xid: number;
  address?: string;
  prefixLength?: number;
  serverId?: string;
  routers?: string[];
  staticRoutes?: RouteView[];
  classlessRoutes?: RouteView[];
  dnsServers?: string[];
  domainName?: string;
  domainSearch?: string[];
  mtu?: number;
  /** ms since epoch; undefined when not bound; renewAt/rebindAt/expiresAt undefined for infinite leases */
  boundAt?: number;
  leaseTime?: number;
  renewAt?: number;
  rebindAt?: number;
  expiresAt?: number;
  /** true when the lease ran out and we are trying to get the address back */
  expired: boolean;
  /** the address/prefix the pod carried before the server gave it this one, and when (ms) the pod was moved */
  changedFrom?: string;
  changedAt?: number;
  /** state LOST: the address the server offered instead (released), when, and why the pod was not moved */
  lost?: { at: number; offered: string; reason: string };
  lastError?: string;
  /** absent: ["ipv4"] */
  families?: IpFamily[];
  ipv6?: Lease6View;
}

export interface GcResult {
  released: number;
}
export interface StatusResult {
  ok: true;
  version: string;
}
export interface DaemonStatusResult {
  version: string;
  pid: number;
  uptimeSeconds: number;
  socketPath: string;
  stateDir: string;
  leasesByState: Record<string, number>;
  /** leases by address family, then by that family's state */
  leasesByFamily?: Record<string, Record<string, number>>;
  leases: number;
  /** lease files the last start-up could not read and moved to quarantine/ */
  quarantined: Array<{ name: string; movedTo?: string; reason: string }>;
}
