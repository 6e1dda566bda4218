/**
 * What an attachment does to the pod's own interface: option 57 from its MTU, and moving it to
 * another address when the server hands one out after a NAK or an expiry. Kept out of
 * attachment.ts, which wires the machine to its socket; this is the rtnetlink side.
 */
import { cidr } from './client/address-change';
import type { LeaseRecord } from './client/machine-types';
import { interfaceMtu } from './io/interface-status';
import { movePodAddress } from './io/netlink-route';
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
  try {
    const report = movePodAddress({ netnsPath: t.netns, ifname: t.ifname, ifindex: t.ifindex, pod: from, next: to });
    t.metrics.addressChanges.inc();
    t.log.warn('the server gave another address; the pod was moved to it', {
      from: cidr(from),
      to: cidr(to),
      server: to.serverId,
      routes: report.repointed.join(', ') || 'none',
      droppedRoutes: report.dropped.join(', ') || undefined,
    });
    if (report.routeErrors.length === 0) return { moved: true };
    t.log.warn('routes not re-pointed after the address change', { errors: report.routeErrors.join('; ') });
    return { moved: true, routeError: `moved to ${cidr(to)}, but routes failed: ${report.routeErrors.join('; ')}` };
  } catch (err) {
    t.log.error('address change failed; releasing the new lease', { err: (err as Error).message, from: cidr(from), to: cidr(to) });
    return { moved: false, reason: `cannot move the pod from ${cidr(from)} to ${cidr(to)}: ${(err as Error).message}` };
  }
}
