/**
 * An AF_PACKET socket for ARP (ETH_P_ARP) on a pod's interface, opened for one address
 * probe and closed after it. Same machinery as the DHCP packet socket: created inside the
 * pod namespace, a kernel BPF filter (arp-filter.ts), readiness from libuv (poller.ts),
 * closed on the thread pool (fd-closer.ts).
 */
import * as libc from './libc';
import { PacketIoError } from './errors';
import { encodeProgram } from './bpf';
import { arpConflictFilter } from './arp-filter';
import { closeFdAsync } from './fd-closer';
import { assertIfname, getIfindex } from './link';
import { withNetns } from './netns';
import { sockaddrLl } from './packet-socket';
import { FdWatcher } from './poller';
import { receiveOne } from './receive';

const BROADCAST = Buffer.alloc(6, 0xff);
const MAX_RECV_PER_EVENT = 64;

export interface ArpSocket {
  /** Broadcasts one ARP packet (the 28 bytes after the Ethernet header). */
  send(arp: Buffer): void;
  close(): void;
}

export interface OpenArpSocketOptions {
  netnsPath: string;
  ifname: string;
  /** only ARP that can conflict with this address reaches onArp */
  address: string;
  onArp: (arp: Buffer) => void;
  onError: (err: Error) => void;
}

export function openArpSocket(opts: OpenArpSocketOptions): ArpSocket {
  assertIfname(opts.ifname);
  const where = `ARP socket on ${opts.ifname} in ${opts.netnsPath}`;
  const opened = withNetns(opts.netnsPath, () => {
    const fd = libc.socket(libc.AF_PACKET, libc.SOCK_DGRAM | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0);
    if (fd < 0) throw libc.sysError('socket', where);
    try {
      const ifindex = getIfindex(fd, opts.ifname);
      if (libc.attachFilter(fd, encodeProgram(arpConflictFilter(opts.address))) !== 0) {
        throw libc.sysError('setsockopt(SO_ATTACH_FILTER)', where);
      }
      if (libc.bind(fd, sockaddrLl(ifindex, undefined, libc.ETH_P_ARP), libc.SOCKADDR_LL_SIZE) !== 0) {
        throw libc.sysError('bind', where);
      }
      return { fd, ifindex };
    } catch (err) {
      closeFdAsync(fd);
      throw err;
    }
  });
  try {
    return new AfPacketArpSocket(opened.fd, opened.ifindex, where, opts);
  } catch (err) {
    closeFdAsync(opened.fd);
    throw err;
  }
}

class AfPacketArpSocket implements ArpSocket {
  private fd: number;
  private readonly watcher: FdWatcher;

  constructor(fd: number, private readonly ifindex: number, private readonly where: string, private readonly opts: OpenArpSocketOptions) {
    this.fd = fd;
    this.watcher = new FdWatcher(fd, (status) => this.onReady(status));
  }

  send(arp: Buffer): void {
    if (this.fd < 0) throw new PacketIoError(`${this.where}: socket is closed`, 'EBADF', 'sendto');
    const n = libc.sendto(this.fd, arp, arp.length, 0, sockaddrLl(this.ifindex, BROADCAST, libc.ETH_P_ARP), libc.SOCKADDR_LL_SIZE);
    if (n < 0) throw libc.sysError('sendto', this.where);
  }

  private onReady(status: number): void {
    if (this.fd < 0) return;
    if (status < 0) return this.fail(new PacketIoError(`${this.where}: the link went down or away`, 'ENETDOWN', 'poll'));
    for (let i = 0; i < MAX_RECV_PER_EVENT && this.fd >= 0; i++) {
      const r = receiveOne(this.fd);
      if (r.kind === 'again') return;
      if (r.kind === 'truncated') continue;
      if (r.kind === 'error') return this.fail(libc.sysError('recvmsg', this.where, r.errno));
      this.opts.onArp(r.packet);
    }
  }

  /** Idempotent; the fd is closed on the thread pool (fd-closer.ts). */
  close(): void {
    if (this.fd >= 0) {
      this.watcher.close();
      closeFdAsync(this.fd);
    }
    this.fd = -1;
  }

  private fail(err: Error): void {
    this.close();
    this.opts.onError(err);
  }
}
