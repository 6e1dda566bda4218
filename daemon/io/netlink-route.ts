/**
 * Moves a pod's IPv4 address over rtnetlink, and reads the kind of its link: a NETLINK_ROUTE
 * socket created inside the pod namespace (it stays bound to that namespace after we switch
 * back, like the packet socket), the plan from daemon/client/address-change.ts, the bytes from
 * netlink-message.ts.
 *
 * The kernel handles an rtnetlink request inside sendto() and queues its answer before
 * returning, so a blocking recv() with a short timeout never waits in practice; the timeout
 * only bounds a kernel that misbehaves.
 */
import * as libc from './libc';
import { PacketIoError } from './errors';
import { probeNetns, withNetnsFd } from './netns';
import * as nl from './netlink-message';
import { cidr, planMove, type PodRoute } from '../client/address-change';
import type { LeaseRecord } from '../client/machine-types';

const RECV_BUFFER = 64 * 1024;
const RECV_TIMEOUT_S = 2;
const ESRCH = 3;
const EADDRNOTAVAIL = 99;
/** routes the kernel makes for an address (the subnet route): it makes them again for the new one */
const RTPROT_KERNEL = 2;

export interface MoveRequest {
  netnsPath: string;
  ifname: string;
  ifindex: number;
  /** the lease whose address the pod carries */
  pod: LeaseRecord;
  /** the lease to move it to */
  next: LeaseRecord;
}

export interface MoveReport {
  /** "dst/len via gw" of each route written */
  repointed: string[];
  dropped: string[];
  /** routes that could not be written (a gateway off the new subnet, say); the address moved all the same */
  routeErrors: string[];
}

/** One receive buffer for every RouteSocket: they are used synchronously, one at a time. */
let receiveBuffer: Buffer | undefined;

class RouteSocket {
  private seq = 0;
  private readonly buf = (receiveBuffer ??= Buffer.alloc(RECV_BUFFER));

  constructor(private readonly fd: number, private readonly where: string) {}

  /** Sends one request and waits for its ack; `tolerate` lists errnos that mean "already so". */
  request(what: string, bytes: Buffer, tolerate: number[] = []): void {
    const seq = this.send(bytes);
    for (;;) {
      for (const msg of this.receive(what)) {
        if (msg.seq !== seq || msg.type !== nl.NLMSG_ERROR) continue;
        const errno = nl.decodeError(msg);
        if (errno === 0 || tolerate.includes(errno)) return;
        const e = libc.describeErrno(errno);
        throw new PacketIoError(`${this.where}: ${what}: ${e.text}`, e.name, 'netlink');
      }
    }
  }

  routes(): nl.RouteSpec[] {
    const seq = this.send(nl.encodeRouteDump(0));
    const out: nl.RouteSpec[] = [];
    for (;;) {
      for (const msg of this.receive('RTM_GETROUTE dump')) {
        if (msg.seq !== seq) continue;
        if (msg.type === nl.NLMSG_DONE) return out;
        if (msg.type === nl.NLMSG_ERROR) {
          const e = libc.describeErrno(nl.decodeError(msg));
          throw new PacketIoError(`${this.where}: RTM_GETROUTE dump: ${e.text}`, e.name, 'netlink');
        }
        const route = msg.type === nl.RTM_NEWROUTE ? nl.decodeRoute(msg) : undefined;
        if (route !== undefined) out.push(route);
      }
    }
  }

  /** What RTM_GETLINK says about link `ifindex`. */
  link(ifindex: number): nl.LinkInfo {
    const seq = this.send(nl.encodeLinkGet(0, ifindex));
    for (;;) {
      for (const msg of this.receive('RTM_GETLINK')) {
        if (msg.seq !== seq) continue;
        if (msg.type === nl.RTM_NEWLINK) return nl.decodeLink(msg);
        if (msg.type === nl.NLMSG_ERROR) {
          const e = libc.describeErrno(nl.decodeError(msg));
          throw new PacketIoError(`${this.where}: RTM_GETLINK: ${e.text}`, e.name, 'netlink');
        }
      }
    }
  }

  private send(bytes: Buffer): number {
    this.seq += 1;
    bytes.writeUInt32LE(this.seq, 8);
    const kernel = Buffer.alloc(libc.SOCKADDR_NL_SIZE);
    kernel.writeUInt16LE(libc.AF_NETLINK, 0);
    if (libc.sendto(this.fd, bytes, bytes.length, 0, kernel, kernel.length) !== bytes.length) {
      throw libc.sysError('sendto', `${this.where}: netlink request`);
    }
    return this.seq;
  }

  private receive(what: string): nl.NetlinkMessage[] {
    const n = libc.recv(this.fd, this.buf, this.buf.length, 0);
    if (n < 0) throw libc.sysError('recv', `${this.where}: ${what}`);
    return nl.decodeMessages(Buffer.from(this.buf.subarray(0, n)));
  }
}

/** A NETLINK_ROUTE socket in the calling thread's namespace, with the receive timeout set. */
function routeSocketHere(where: string): number {
  const fd = libc.socket(libc.AF_NETLINK, libc.SOCK_RAW | libc.SOCK_CLOEXEC, libc.NETLINK_ROUTE);
  if (fd < 0) throw libc.sysError('socket', `netlink socket in ${where}`);
  const timeout = Buffer.alloc(16);
  timeout.writeBigInt64LE(BigInt(RECV_TIMEOUT_S), 0);
  if (libc.setsockopt(fd, libc.SOL_SOCKET, libc.SO_RCVTIMEO, timeout, timeout.length) !== 0) {
    const err = libc.sysError('setsockopt(SO_RCVTIMEO)', `netlink socket in ${where}`);
    libc.close(fd);
    throw err;
  }
  return fd;
}

function openRouteSocket(netnsPath: string): number {
  const probe = probeNetns(netnsPath);
  if (!probe.ok) throw probe.error;
  try {
    return withNetnsFd(probe.fd, netnsPath, () => routeSocketHere(netnsPath));
  } finally {
    libc.close(probe.fd);
  }
}

/**
 * The kind of a link ("veth", "macvlan", "ipvlan", ...; undefined for a physical NIC), or why it
 * could not be read. `peer`: for a veth whose other end is in another namespace, that end's index
 * there (where bridge leaves it: the node's namespace, a port of its bridge).
 */
export type LinkKind = { ok: true; kind: string | undefined; peer?: number } | { ok: false; error: string };

/**
 * Reads the kind of link `ifindex` in the namespace the calling thread is in (the packet socket
 * asks while it is inside the pod namespace anyway). Never throws.
 */
export function linkKindHere(ifindex: number, where: string): LinkKind {
  try {
    const fd = routeSocketHere(where);
    try {
      const info = new RouteSocket(fd, where).link(ifindex);
      const out: LinkKind = { ok: true, kind: info.kind };
      if (info.kind === 'veth' && info.linkElsewhere && info.link !== undefined && info.link > 0) out.peer = info.link;
      return out;
    } finally {
      libc.close(fd);
    }
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/**
 * Whether the far end of a pod's veth (`link.peer`: its index in the calling thread's namespace, if it is there),
 * can carry the pod's first frame: up (the link watcher has run for it) and, as a bridge port,
 * forwarding. A pod end reports IFF_RUNNING as soon as the link watcher has run for it, which
 * can be before it has run for this end: a DISCOVER sent then reaches the bridge and is dropped.
 *
 * "settled" also when there is nothing here to wait for: no peer elsewhere, no link `peer` here, a link that is not the
 * veth whose other end is `podIfindex` (the peer is in some other namespace), or a read error.
 * Never throws.
 */
export function vethPeerSettledHere(link: LinkKind, podIfindex: number): boolean {
  if (!link.ok || link.peer === undefined) return true;
  const peer = link.peer;
  try {
    const fd = routeSocketHere('the node namespace');
    try {
      const info = new RouteSocket(fd, `link ${peer} of the node namespace`).link(peer);
      if (info.kind !== 'veth' || !info.linkElsewhere || info.link !== podIfindex) return true;
      if (info.operstate !== nl.IF_OPER_UP) return false;
      return info.portOf !== 'bridge' || info.bridgePortState === nl.BR_STATE_FORWARDING;
    } finally {
      libc.close(fd);
    }
  } catch {
    return true;
  }
}

function describe(r: Pick<PodRoute, 'dst' | 'dstLen'>, gateway: string | undefined): string {
  return `${r.dst}/${r.dstLen}${gateway === undefined ? '' : ` via ${gateway}`}`;
}

type EncodeAddress = (type: typeof nl.RTM_NEWADDR | typeof nl.RTM_DELADDR, seq: number, spec: nl.AddressSpec) => Buffer;

/**
 * Adds `fresh`, then removes `old`; when the old cannot be removed the fresh one is taken off
 * again and the error thrown, so the pod is left as it was.
 */
function replaceAddress(sock: RouteSocket, fresh: nl.AddressSpec, old: nl.AddressSpec, encode: EncodeAddress): void {
  sock.request(`RTM_NEWADDR ${cidr(fresh)}`, encode(nl.RTM_NEWADDR, 0, fresh));
  try {
    sock.request(`RTM_DELADDR ${cidr(old)}`, encode(nl.RTM_DELADDR, 0, old), [EADDRNOTAVAIL]);
  } catch (err) {
    try {
      sock.request(`RTM_DELADDR ${cidr(fresh)}`, encode(nl.RTM_DELADDR, 0, fresh), [EADDRNOTAVAIL]);
    } catch {
      // the original error is what the caller reports
    }
    throw err;
  }
}

/**
 * Replaces the pod's address with the new lease's (address with its mask, as the main plugins
 * set it) and re-points the old lease's routes, keeping their table and metric.
 *
 * The new address goes on first, so a move to another subnet never leaves the link without an
 * address: removing a link's last IPv4 address flushes every route on it. Inside one subnet
 * the new address is a secondary of the old, and deleting a primary deletes its secondaries
 * (unless the pod set promote_secondaries), so the new address is written again after the old
 * one is gone, and every route the dump found on the link is written again too.
 *
 * Throws when the new address cannot be added (the pod is then untouched) or the old one
 * cannot be removed (the new one is taken off again). A route that cannot be written does not
 * undo the move: the address is what the server granted, and the main plugin would have failed
 * on the same route at ADD; it is reported in `routeErrors`.
 */
export function movePodAddress(req: MoveRequest): MoveReport {
  const where = `${req.ifname} in ${req.netnsPath}`;
  const fd = openRouteSocket(req.netnsPath);
  try {
    const sock = new RouteSocket(fd, where);
    const onLink = sock
      .routes()
      .filter((r) => r.oif === req.ifindex && r.type === nl.RTN_UNICAST && r.table !== 255);
    const plan = planMove(req.pod, req.next, onLink);
    const fresh: nl.AddressSpec = { ifindex: req.ifindex, ...plan.addAddress };
    const old: nl.AddressSpec = { ifindex: req.ifindex, ...plan.removeAddress };
    replaceAddress(sock, fresh, old, nl.encodeAddress);
    // deleting a primary took its secondaries (the new one, inside one subnet) along: again
    sock.request(`RTM_NEWADDR ${cidr(fresh)}`, nl.encodeAddress(nl.RTM_NEWADDR, 0, fresh));
    const report: MoveReport = { repointed: [], dropped: [], routeErrors: [] };
    const attempt = (what: string, fn: () => void): boolean => {
      try {
        fn();
        return true;
      } catch (err) {
        report.routeErrors.push(`${what}: ${(err as Error).message}`);
        return false;
      }
    };
    const write = (route: nl.RouteSpec) => {
      const what = describe(route, route.gateway);
      return attempt(what, () => sock.request(`RTM_NEWROUTE ${what}`, nl.encodeRoute(nl.RTM_NEWROUTE, 0, route))) ? what : undefined;
    };
    const planned = new Set<PodRoute>([...plan.repoint.map((p) => p.route), ...plan.drop]);
    for (const { route, gateway } of plan.repoint) {
      const done = write({ ...(route as nl.RouteSpec), gateway, oif: req.ifindex });
      if (done !== undefined) report.repointed.push(done);
    }
    // routes the lease did not put there are left alone, unless the old address took them along
    const key = (r: nl.RouteSpec) => `${r.table} ${r.dst}/${r.dstLen} ${r.metric ?? 0}`;
    const present = new Set(sock.routes().filter((r) => r.oif === req.ifindex).map(key));
    for (const route of onLink) {
      if (route.protocol !== RTPROT_KERNEL && !planned.has(route) && !present.has(key(route))) write(route);
    }
    for (const route of plan.drop) {
      const spec: nl.RouteSpec = { ...(route as nl.RouteSpec), oif: req.ifindex };
      const what = describe(route, route.gateway);
      if (attempt(what, () => sock.request(`RTM_DELROUTE ${what}`, nl.encodeRoute(nl.RTM_DELROUTE, 0, spec), [ESRCH]))) report.dropped.push(what);
    }
    return report;
  } finally {
    libc.close(fd);
  }
}

export interface Move6Request {
  netnsPath: string;
  ifname: string;
  ifindex: number;
  /** what the pod carries, and what it moves to: address and prefix length */
  pod: Omit<nl.AddressSpec, 'ifindex'>;
  next: Omit<nl.AddressSpec, 'ifindex'>;
}

/**
 * Replaces the pod's IPv6 address with the new lease's. DHCPv6 carries no routes: the on-link
 * prefix route is the kernel's (it follows the address) and the default route comes from router
 * advertisements, via the router's link-local address, so nothing else needs re-pointing. Throws
 * with the pod as it was when the addresses cannot be swapped.
 */
export function movePodAddress6(req: Move6Request): void {
  const where = `${req.ifname} in ${req.netnsPath}`;
  const fd = openRouteSocket(req.netnsPath);
  try {
    const sock = new RouteSocket(fd, where);
    const fresh: nl.AddressSpec = { ...req.next, ifindex: req.ifindex };
    const old: nl.AddressSpec = { ...req.pod, ifindex: req.ifindex };
    replaceAddress(sock, fresh, old, nl.encodeAddress6);
  } finally {
    libc.close(fd);
  }
}

/** linkKindHere for a link in another namespace: for tests and tools, not the ADD path. */
export function podLinkKind(netnsPath: string, ifname: string, ifindex: number): LinkKind {
  const probe = probeNetns(netnsPath);
  if (!probe.ok) return { ok: false, error: probe.error.message };
  try {
    return withNetnsFd(probe.fd, netnsPath, () => linkKindHere(ifindex, `${ifname} in ${netnsPath}`));
  } finally {
    libc.close(probe.fd);
  }
}
