/**
 * An AF_PACKET socket on a pod's interface, opened for one address-conflict probe and closed
 * after it: ARP for IPv4 (arp-socket.ts), ICMPv6 Neighbour Discovery for IPv6 (nd-socket.ts).
 * Same machinery as the DHCP packet socket: created inside the pod namespace, a kernel BPF
 * filter, readiness from libuv (poller.ts), closed on the thread pool (fd-closer.ts).
 */
import * as libc from './libc';
import { PacketIoError } from './errors';
import { encodeProgram, type BpfInsn } from './bpf';
import { closeFdAsync } from './fd-closer';
import { assertIfname, getIfindex } from './link';
import { withNetns } from './netns';
import { sockaddrLl } from './packet-socket';
import { FdWatcher } from './poller';
import { receiveOne } from './receive';

const MAX_RECV_PER_EVENT = 64;
/** linux/if_packet.h: struct packet_mreq is int ifindex, u16 type, u16 alen, u8 address[8] */
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_MR_MULTICAST = 0;
const PACKET_MREQ_SIZE = 16;

export interface ProbeSocket {
  /** Sends one frame payload (what follows the Ethernet header) to `dstMac`. */
  send(payload: Buffer, dstMac: Buffer): void;
  close(): void;
}

export interface OpenProbeSocketOptions {
  netnsPath: string;
  ifname: string;
  /** ethertype bound to and sent with */
  protocol: number;
  filter: BpfInsn[];
  /** a link-layer multicast group the interface must receive while the socket is open */
  joinMac?: Buffer;
  /** what the socket is, for error messages: "ARP socket" */
  what: string;
  /** each frame that passed the filter, and its Ethernet source; must not throw */
  onFrame: (payload: Buffer, srcMac: Buffer) => void;
  onError: (err: Error) => void;
}

export function openProbeSocket(opts: OpenProbeSocketOptions): ProbeSocket {
  assertIfname(opts.ifname);
  const where = `${opts.what} on ${opts.ifname} in ${opts.netnsPath}`;
  const opened = withNetns(opts.netnsPath, () => {
    const fd = libc.socket(libc.AF_PACKET, libc.SOCK_DGRAM | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0);
    if (fd < 0) throw libc.sysError('socket', where);
    try {
      const ifindex = getIfindex(fd, opts.ifname);
      if (libc.attachFilter(fd, encodeProgram(opts.filter)) !== 0) throw libc.sysError('setsockopt(SO_ATTACH_FILTER)', where);
      if (libc.bind(fd, sockaddrLl(ifindex, undefined, opts.protocol), libc.SOCKADDR_LL_SIZE) !== 0) throw libc.sysError('bind', where);
      if (opts.joinMac) {
        // the membership ends with the socket: the kernel drops it at close
        const mreq = Buffer.alloc(PACKET_MREQ_SIZE);
        mreq.writeInt32LE(ifindex, 0);
        mreq.writeUInt16LE(PACKET_MR_MULTICAST, 4);
        mreq.writeUInt16LE(6, 6);
        opts.joinMac.copy(mreq, 8, 0, 6);
        if (libc.setsockopt(fd, libc.SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, mreq.length) !== 0) {
          throw libc.sysError('setsockopt(PACKET_ADD_MEMBERSHIP)', where);
        }
      }
      return { fd, ifindex };
    } catch (err) {
      closeFdAsync(fd);
      throw err;
    }
  });
  try {
    return new AfPacketProbeSocket(opened.fd, opened.ifindex, where, opts);
  } catch (err) {
    closeFdAsync(opened.fd);
    throw err;
  }
}

class AfPacketProbeSocket implements ProbeSocket {
  private fd: number;
  private readonly watcher: FdWatcher;

  constructor(fd: number, private readonly ifindex: number, private readonly where: string, private readonly opts: OpenProbeSocketOptions) {
    this.fd = fd;
    this.watcher = new FdWatcher(fd, (status) => this.onReady(status));
  }

  send(payload: Buffer, dstMac: Buffer): void {
    if (this.fd < 0) throw new PacketIoError(`${this.where}: socket is closed`, 'EBADF', 'sendto');
    const n = libc.sendto(this.fd, payload, payload.length, 0, sockaddrLl(this.ifindex, dstMac, this.opts.protocol), libc.SOCKADDR_LL_SIZE);
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
      this.opts.onFrame(r.packet, r.srcMac);
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
