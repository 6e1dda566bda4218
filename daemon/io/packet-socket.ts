/**
 * An AF_PACKET socket on one interface inside a pod network namespace. This is the only
 * variant that worked everywhere in the probe (docs/architecture.md, "Packet I/O"): a UDP socket with
 * SO_BINDTODEVICE sent with another interface's source address, and its replies were
 * dropped by rp_filter in multi-homed pods. A packet socket sits below IP, so neither
 * routing nor rp_filter applies, and we write source 0.0.0.0 ourselves.
 */
import * as libc from './libc';
import { PacketIoError } from './errors';
import { dhcpClientFilter, encodeProgram } from './bpf';
import { ensureUp, getIfindex, getMac, isRunningOn, nameOfIndex, assertIfname, type LinkReadiness } from './link';
import { probeNetns, withNetnsFd } from './netns';
import { linkKindHere, vethPeerSettledHere, type LinkKind } from './netlink-route';
import { FdWatcher } from './poller';
import { receiveOne } from './receive';
import { closeFdAsync } from './fd-closer';

export interface PacketSocket extends LinkReadiness {
  readonly ifindex: number;
  /** 6 bytes, read in the pod namespace via SIOCGIFHWADDR */
  readonly mac: Buffer;
  /** Sends an IPv4 packet (IP header + UDP + payload); dstMac defaults to broadcast. */
  send(ipPacket: Buffer, dstMac?: Buffer): void;
  /** true when we had to bring the link up ourselves at open */
  readonly broughtUp: boolean;
  /** the link's kind, read over rtnetlink while the socket was opened in the pod namespace */
  readonly linkKind?: LinkKind;
  /** Idempotent: stops polling and closes the fd. */
  close(): void;
}

export interface OpenPacketSocketOptions {
  netnsPath: string;
  ifname: string;
  bringUp: boolean;
  /** each frame that passed the BPF filter; must not throw (an exception is rethrown later, uncaught) */
  onPacket: (ipPacket: Buffer, srcMac: Buffer) => void;
  /** the socket can no longer receive (link gone, unexpected socket error); close it */
  onError: (err: Error) => void;
}

const BROADCAST = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
/** receives per readiness event before yielding to the loop; uv_poll is level-triggered */
const MAX_RECV_PER_EVENT = 64;
/** more socket errors than this within ERROR_WINDOW_MS means something is wrong for good */
const MAX_ERRORS_IN_WINDOW = 8;
const ERROR_WINDOW_MS = 1000;

export function openPacketSocket(opts: OpenPacketSocketOptions): PacketSocket {
  assertIfname(opts.ifname);
  const probe = probeNetns(opts.netnsPath);
  if (!probe.ok) throw probe.error;
  let opened: Opened;
  try {
    opened = withNetnsFd(probe.fd, opts.netnsPath, () => openInNetns(opts.ifname, opts.bringUp));
  } catch (err) {
    if (err instanceof PacketIoError) {
      throw new PacketIoError(`netns ${opts.netnsPath}: ${err.message}`, err.errno, err.syscall);
    }
    throw err;
  } finally {
    libc.close(probe.fd);
  }
  try {
    return new AfPacketSocket(opened, opts);
  } catch (err) {
    closeFdAsync(opened.fd);
    throw err;
  }
}

interface Opened {
  fd: number;
  ifindex: number;
  mac: Buffer;
  broughtUp: boolean;
  linkKind: LinkKind;
}

/** Runs inside the pod namespace: everything here is synchronous. */
function openInNetns(ifname: string, bringUp: boolean): Opened {
  const where = `interface ${ifname}`;
  // Protocol 0: the socket receives nothing until bind(), so no frame can be queued
  // before the filter is attached.
  const fd = libc.socket(libc.AF_PACKET, libc.SOCK_DGRAM | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0);
  if (fd < 0) throw libc.sysError('socket', `packet socket for ${ifname}`);
  try {
    const ifindex = getIfindex(fd, ifname);
    const mac = getMac(fd, ifname);
    const broughtUp = bringUp ? ensureUp(fd, ifname) : false;
    if (libc.attachFilter(fd, encodeProgram(dhcpClientFilter(mac))) !== 0) {
      throw libc.sysError('setsockopt(SO_ATTACH_FILTER)', where);
    }
    const one = Buffer.alloc(4);
    one.writeInt32LE(1, 0);
    if (libc.setsockopt(fd, libc.SOL_PACKET, libc.PACKET_AUXDATA, one, 4) !== 0) {
      throw libc.sysError('setsockopt(PACKET_AUXDATA)', where);
    }
    if (libc.bind(fd, sockaddrLl(ifindex), libc.SOCKADDR_LL_SIZE) !== 0) {
      throw libc.sysError('bind', where);
    }
    drain(fd);
    return { fd, ifindex, mac, broughtUp, linkKind: linkKindHere(ifindex, where) };
  } catch (err) {
    // Queues the close only; the pool thread's namespace does not matter for close().
    closeFdAsync(fd);
    throw err;
  }
}

/** Belt and braces: with protocol 0 until bind(), nothing should be queued yet. */
function drain(fd: number): void {
  for (let i = 0; i < 1024; i++) {
    const r = receiveOne(fd);
    if (r.kind === 'again' || r.kind === 'error') return;
  }
}

/** struct sockaddr_ll for bind() (no MAC) and sendto() (the destination MAC). */
export function sockaddrLl(ifindex: number, dstMac?: Buffer, protocol = libc.ETH_P_IP): Buffer {
  const sa = Buffer.alloc(libc.SOCKADDR_LL_SIZE);
  sa.writeUInt16LE(libc.AF_PACKET, 0);
  sa.writeUInt16BE(protocol, 2);
  sa.writeInt32LE(ifindex, 4);
  if (dstMac) {
    sa.writeUInt8(6, 11);
    dstMac.copy(sa, 12, 0, 6);
  }
  return sa;
}

class AfPacketSocket implements PacketSocket {
  private fd: number;
  private readonly watcher: FdWatcher;
  private recentErrors = 0;
  private errorWindowStart = 0;
  private failed = false;
  readonly ifindex: number;
  readonly mac: Buffer;
  readonly broughtUp: boolean;
  readonly linkKind: LinkKind;

  constructor(opened: Opened, private readonly opts: OpenPacketSocketOptions) {
    const fd = opened.fd;
    this.fd = fd;
    this.ifindex = opened.ifindex;
    this.mac = opened.mac;
    this.broughtUp = opened.broughtUp;
    this.linkKind = opened.linkKind;
    this.watcher = new FdWatcher(fd, (status) => this.onReady(status));
  }

  send(ipPacket: Buffer, dstMac: Buffer = BROADCAST): void {
    const where = `send on ${this.opts.ifname} in ${this.opts.netnsPath}`;
    if (this.fd < 0) throw new PacketIoError(`${where}: socket is closed`, 'EBADF', 'sendto');
    if (dstMac.length !== 6) throw new PacketIoError(`${where}: destination MAC must be 6 bytes`, 'EINVAL', 'sendto');
    if (ipPacket.length < 20 || ipPacket[0]! >> 4 !== 4) {
      throw new PacketIoError(`${where}: not an IPv4 packet`, 'EINVAL', 'sendto');
    }
    const n = libc.sendto(this.fd, ipPacket, ipPacket.length, 0, sockaddrLl(this.ifindex, dstMac), libc.SOCKADDR_LL_SIZE);
    if (n < 0) {
      const code = libc.errno();
      const what = code === libc.ENXIO || code === libc.ENODEV ? `${where}: the interface is gone` : where;
      throw libc.sysError('sendto', what, code);
    }
  }

  isRunning(): boolean {
    return isRunningOn(this.fd, this.opts.ifname);
  }

  peerSettled(): boolean {
    return vethPeerSettledHere(this.linkKind, this.ifindex);
  }

  close(): void {
    if (this.fd < 0) return;
    this.watcher.close();
    closeFdAsync(this.fd);
    this.fd = -1;
  }

  private onReady(status: number): void {
    if (this.fd < 0 || this.failed) return;
    if (status < 0) {
      // POLLERR: the kernel set sk_err, which packet sockets do when the link goes down or
      // away. libuv has stopped the handle; SO_ERROR reads and clears the error.
      this.recoverOrFail(this.takeSocketError());
      return;
    }
    for (let i = 0; i < MAX_RECV_PER_EVENT && this.fd >= 0; i++) {
      const r = receiveOne(this.fd);
      if (r.kind === 'again') return;
      if (r.kind === 'truncated') continue;
      if (r.kind === 'error') {
        this.recoverOrFail(r.errno);
        return;
      }
      this.opts.onPacket(r.packet, r.srcMac);
    }
  }

  private takeSocketError(): number {
    const val = Buffer.alloc(4);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(4, 0);
    if (libc.getsockopt(this.fd, libc.SOL_SOCKET, libc.SO_ERROR, val, len) !== 0) return libc.errno();
    return val.readInt32LE(0);
  }

  /**
   * A link that went down comes back by itself (the kernel re-hooks the socket on
   * NETDEV_UP), and sends fail with ENETDOWN meanwhile, so keep polling. A link that
   * was deleted or moved never comes back to this socket: report it.
   */
  private recoverOrFail(code: number): void {
    const where = `receive on ${this.opts.ifname} in ${this.opts.netnsPath}`;
    let name: string | undefined;
    try {
      name = nameOfIndex(this.fd, this.ifindex);
    } catch {
      name = undefined;
    }
    const gone = name !== this.opts.ifname;
    const now = Date.now();
    if (now - this.errorWindowStart > ERROR_WINDOW_MS) {
      this.errorWindowStart = now;
      this.recentErrors = 0;
    }
    this.recentErrors++;
    let err: Error | undefined;
    if (gone) {
      err = new PacketIoError(`${where}: the interface is gone`, 'ENXIO', 'recvmsg');
    } else if ((code !== 0 && code !== libc.ENETDOWN) || this.recentErrors > MAX_ERRORS_IN_WINDOW) {
      err = libc.sysError('recvmsg', where, code === 0 ? libc.ENETDOWN : code);
    } else {
      try {
        this.watcher.restart();
        return;
      } catch (e) {
        err = new PacketIoError(`${where}: ${(e as Error).message}`, '', 'uv_poll_start');
      }
    }
    this.failed = true;
    this.watcher.close();
    this.opts.onError(err);
  }
}
