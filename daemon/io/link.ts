/**
 * Interface queries through struct ifreq ioctls. The kernel answers them in the namespace
 * of the socket passed as `sockFd`, not the caller's, so after the socket exists they no
 * longer need the thread to be inside the pod namespace. That is also why the MAC is read
 * here and not from /sys/class/net, which shows the daemon's own namespace.
 */
import * as libc from './libc';
import { PacketIoError } from './errors';
import { validateIfname } from '../../shared/cni-env';

/** Throws unless `ifname` passes the kernel's dev_valid_name() (shared/cni-env.ts holds the one rule). */
export function assertIfname(ifname: string): void {
  const bad = validateIfname(ifname);
  if (bad) throw new PacketIoError(`invalid interface name ${JSON.stringify(ifname)}: it ${bad}`, 'EINVAL', '');
}

function ifreq(ifname: string): Buffer {
  const req = Buffer.alloc(libc.IFREQ_SIZE);
  req.write(ifname, 0, libc.IFNAMSIZ - 1, 'utf8');
  return req;
}

function ifIoctl(sockFd: number, request: number, req: Buffer, name: string, ifname: string): void {
  if (libc.ioctl(sockFd, request, req) === 0) return;
  const code = libc.errno();
  const what = code === libc.ENODEV ? `no such interface: ${ifname}` : `interface ${ifname}`;
  throw libc.sysError(name, what, code);
}

export function getIfindex(sockFd: number, ifname: string): number {
  const req = ifreq(ifname);
  ifIoctl(sockFd, libc.SIOCGIFINDEX, req, 'SIOCGIFINDEX', ifname);
  return req.readInt32LE(libc.IFNAMSIZ);
}

/** The 6-byte MAC; throws unless the link is Ethernet (veth, bridge port, macvlan, ...). */
export function getMac(sockFd: number, ifname: string): Buffer {
  const req = ifreq(ifname);
  ifIoctl(sockFd, libc.SIOCGIFHWADDR, req, 'SIOCGIFHWADDR', ifname);
  const family = req.readUInt16LE(libc.IFNAMSIZ);
  if (family !== libc.ARPHRD_ETHER) {
    throw new PacketIoError(`interface ${ifname} is not Ethernet (ARPHRD ${family})`, 'EINVAL', 'SIOCGIFHWADDR');
  }
  return Buffer.from(req.subarray(libc.IFNAMSIZ + 2, libc.IFNAMSIZ + 8));
}

export function getFlags(sockFd: number, ifname: string): number {
  const req = ifreq(ifname);
  ifIoctl(sockFd, libc.SIOCGIFFLAGS, req, 'SIOCGIFFLAGS', ifname);
  return req.readUInt16LE(libc.IFNAMSIZ);
}

/**
 * What a family's socket can tell about the pod's link before the first send, without a setns
 * (daemon/link-settle.ts waits on it).
 */
export interface LinkReadiness {
  /** IFF_RUNNING of the pod's link, read through the socket, which lives in the pod namespace */
  isRunning(): boolean;
  /** the far end of the pod's veth up and forwarding, or nothing there to wait for (vethPeerSettledHere, in the daemon's namespace) */
  peerSettled(): boolean;
}

/**
 * IFF_RUNNING of `ifname` in the socket's namespace (operstate up: the kernel's link watcher has
 * run for it since it came up); false when it cannot be read.
 */
export function isRunningOn(sockFd: number, ifname: string): boolean {
  if (sockFd < 0) return false;
  try {
    return (getFlags(sockFd, ifname) & libc.IFF_RUNNING) !== 0;
  } catch {
    return false;
  }
}

/** The link MTU, which bounds the DHCP message we can receive (option 57). */
export function getMtu(sockFd: number, ifname: string): number {
  const req = ifreq(ifname);
  ifIoctl(sockFd, libc.SIOCGIFMTU, req, 'SIOCGIFMTU', ifname);
  return req.readInt32LE(libc.IFNAMSIZ);
}

/**
 * Sets IFF_UP if it is clear. The bridge plugin runs IPAM before it sets the veth up; the
 * reference daemon's first send then fails with ENETDOWN and it waits about 2 s to retry.
 * Returns whether the link had to be brought up.
 */
export function ensureUp(sockFd: number, ifname: string): boolean {
  const flags = getFlags(sockFd, ifname);
  if (flags & libc.IFF_UP) return false;
  const req = ifreq(ifname);
  req.writeUInt16LE((flags | libc.IFF_UP) & 0xffff, libc.IFNAMSIZ);
  ifIoctl(sockFd, libc.SIOCSIFFLAGS, req, 'SIOCSIFFLAGS', ifname);
  return true;
}

/** The name of ifindex in the socket's namespace, or undefined if there is no such link. */
export function nameOfIndex(sockFd: number, ifindex: number): string | undefined {
  const req = Buffer.alloc(libc.IFREQ_SIZE);
  req.writeInt32LE(ifindex, libc.IFNAMSIZ);
  if (libc.ioctl(sockFd, libc.SIOCGIFNAME, req) !== 0) {
    const code = libc.errno();
    if (code === libc.ENODEV) return undefined;
    throw libc.sysError('SIOCGIFNAME', `interface #${ifindex}`, code);
  }
  const end = req.indexOf(0);
  return req.toString('utf8', 0, end >= 0 && end < libc.IFNAMSIZ ? end : libc.IFNAMSIZ);
}
