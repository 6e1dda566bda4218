/**
 * What an attachment reads from and does to the pod's own interface: option 57 from its MTU,
 * the broadcast flag from its kind, and moving it to another address when the server hands one
 * out after a NAK or an expiry (IPv4), or after an expiry or NotOnLink (IPv6). Kept out of
 * attachment.ts, which wires the machine to its socket; this is the rtnetlink side.
 */
import { cidr } from './client/address-change';
import type { AcquireBroadcast, LeaseRecord } from './client/machine-types';
import { interfaceMtu } from './io/interface-status';
import { movePodAddress, movePodAddress6, type LinkKind } from './io/netlink-route';
import type { Logger } from './log';
import type { Metrics } from './metrics';

/** IPv4 and UDP headers: option 57 is the link MTU less these */
const IP_UDP_HEADERS = 28;
/** RFC 2131: every client must accept 576-byte messages; without the MTU we assume Ethernet's 1500 */
const MIN_DHCP_MESSAGE = 576;
const DEFAULT_MTU = 1500;

/** Option 57 from the pod link's MTU, read in its namespace. */
export function linkMaxMessageSize(netns: string, ifname: string, log: Logger): number {
  let mtu = DEFAULT_MTU;
  try {
    mtu = interfaceMtu(netns, ifname);
  } catch (err) {
    log.debug('cannot read the link MTU; assuming 1500', { err: (err as Error).message });
  }
  return Math.min(0xffff, Math.max(MIN_DHCP_MESSAGE, mtu - IP_UDP_HEADERS));
}

/**
 * Link kinds whose pods cannot receive a frame unicast to their own MAC before they hold the
 * address: an ipvlan slave shares its master's MAC, and ipvlan hands a unicast frame to the
 * slave that holds its destination IP, which none does yet.
 */
const BROADCAST_ONLY_KINDS = new Set(['ipvlan', 'ipvtap']);

/**
 * Whether DISCOVER and the REQUESTs before BOUND always set the broadcast flag, from the kind
 * of the pod's link (read when its packet socket opened). When the kind could not be read,
 * "always": it costs flooded replies on a bridge, never an unreachable pod. Pure.
 */
export function acquireBroadcastOf(link: LinkKind | undefined): AcquireBroadcast {
  if (link === undefined || !link.ok) return 'always';
  return link.kind !== undefined && BROADCAST_ONLY_KINDS.has(link.kind) ? 'always' : 'alternate';
}

export interface MoveTarget {
  netns: string;
  ifname: string;
  ifindex: number;
  log: Logger;
  metrics: Metrics;
}

export type MoveOutcome =
  /** `routeError`: the address moved, but some routes could not be written */
  | { moved: true; routeError?: string }
  /** nothing changed on the pod; the new lease must be given up */
  | { moved: false; reason: string };

/** Moves the pod's interface from the old lease's address to the new one, logging and counting it. */
export function movePod(t: MoveTarget, from: LeaseRecord, to: LeaseRecord): MoveOutcome {
  return moveLogged(t, cidr(from), cidr(to), to.serverId, () => {
    const report = movePodAddress({ netnsPath: t.netns, ifname: t.ifname, ifindex: t.ifindex, pod: from, next: to });
    return { details: { routes: report.repointed.join(', ') || 'none', droppedRoutes: report.dropped.join(', ') || undefined }, routeErrors: report.routeErrors };
  });
}

/** An IPv6 address on the pod, as the result reported it: the lease's address and the configured prefix length. */
export interface PodAddress6 {
  address: string;
  prefixLength: number;
  /** the server's DUID, hex, for the log */
  serverId: string;
}

/** The IPv6 move (DHCPv6 leases carry no routes): the same log, counter and outcome as IPv4's. */
export function movePod6(t: MoveTarget, from: PodAddress6, to: PodAddress6): MoveOutcome {
  return moveLogged(t, cidr(from), cidr(to), to.serverId, () => {
    movePodAddress6({ netnsPath: t.netns, ifname: t.ifname, ifindex: t.ifindex, pod: from, next: to });
    return { details: {}, routeErrors: [] };
  });
}

function moveLogged(
  t: MoveTarget,
  from: string,
  to: string,
  server: string,
  move: () => { details: Record<string, string | undefined>; routeErrors: string[] },
): MoveOutcome {
  try {
    const { details, routeErrors } = move();
    t.metrics.addressChanges.inc();
    t.log.warn('the server gave another address; the pod was moved to it', { from, to, server, ...details });
    if (routeErrors.length === 0) return { moved: true };
    t.log.warn('routes not re-pointed after the address change', { errors: routeErrors.join('; ') });
    return { moved: true, routeError: `moved to ${to}, but routes failed: ${routeErrors.join('; ')}` };
  } catch (err) {
    t.log.error('address change failed; releasing the new lease', { err: (err as Error).message, from, to });
    return { moved: false, reason: `cannot move the pod from ${from} to ${to}: ${(err as Error).message}` };
  }
}
