/**
 * A UDP socket on port 68 inside a pod namespace, for the client's unicast messages
 * (RENEWING REQUESTs, RELEASE). Bound to the leased address and, with SO_BINDTODEVICE, to
 * the pod's interface: the pod's own routes and neighbour table pick the next hop (a
 * gateway, a VRRP virtual MAC), which the ACK's source MAC on the packet socket is not when
 * a relay that is not the gateway forwarded it.
 *
 * It never receives: a BPF filter drops every datagram, because the packet socket already
 * sees every reply to port 68 for our MAC (docs/unicast-and-arp.md). Its existence alone stops the
 * pod's kernel from answering each unicast ACK with ICMP port-unreachable.
 */
import * as libc from './libc';
import { PacketIoError } from './errors';
import { BPF_K, BPF_RET, encodeProgram, insn } from './bpf';
import { assertIfname } from './link';
import { withNetns } from './netns';
import { ipToBuffer } from '../dhcp4/addr';

const CLIENT_PORT = 68;
const SERVER_PORT = 67;
const DROP_ALL = encodeProgram([insn(BPF_RET | BPF_K, 0)]);

export interface UdpSender {
  /** the local address it is bound to */
  readonly address: string;
  /** Sends a DHCP message (BOOTP payload only) to dstIp:67. */
  send(payload: Buffer, dstIp: string): void;
  close(): void;
}

function sockaddrIn(ip: string, port: number): Buffer {
  const sa = Buffer.alloc(libc.SOCKADDR_IN_SIZE);
  sa.writeUInt16LE(libc.AF_INET, 0);
  sa.writeUInt16BE(port, 2);
  ipToBuffer(ip).copy(sa, 4);
  return sa;
}

/**
 * Throws a PacketIoError; errno 'EADDRNOTAVAIL' means the address is not (yet, or any more)
 * on the pod's side, 'EADDRINUSE' that something in the pod holds :68 for this interface.
 */
export function openUdpSender(netnsPath: string, ifname: string, address: string): UdpSender {
  assertIfname(ifname);
  const where = `UDP socket ${address}:${CLIENT_PORT} on ${ifname} in ${netnsPath}`;
  const fd = withNetns(netnsPath, () => {
    const s = libc.socket(libc.AF_INET, libc.SOCK_DGRAM | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0);
    if (s < 0) throw libc.sysError('socket', where);
    try {
      const dev = Buffer.from(`${ifname}\0`, 'utf8');
      // before bind: two interfaces of one pod may each hold :68, told apart by the device
      if (libc.setsockopt(s, libc.SOL_SOCKET, libc.SO_BINDTODEVICE, dev, dev.length) !== 0) {
        throw libc.sysError('setsockopt(SO_BINDTODEVICE)', where);
      }
      if (libc.attachFilter(s, DROP_ALL) !== 0) throw libc.sysError('setsockopt(SO_ATTACH_FILTER)', where);
      if (libc.bind(s, sockaddrIn(address, CLIENT_PORT), libc.SOCKADDR_IN_SIZE) !== 0) throw libc.sysError('bind', where);
      return s;
    } catch (err) {
      libc.close(s);
      throw err;
    }
  });
  return new KernelUdpSender(fd, address, where);
}

class KernelUdpSender implements UdpSender {
  constructor(private fd: number, readonly address: string, private readonly where: string) {}

  send(payload: Buffer, dstIp: string): void {
    if (this.fd < 0) throw new PacketIoError(`${this.where}: socket is closed`, 'EBADF', 'sendto');
    const sa = sockaddrIn(dstIp, SERVER_PORT);
    if (libc.sendto(this.fd, payload, payload.length, 0, sa, sa.length) < 0) throw libc.sysError('sendto', this.where);
  }

  close(): void {
    if (this.fd < 0) return;
    libc.close(this.fd);
    this.fd = -1;
  }
}
