/**
 * The DHCPv6 client socket of one attachment: a UDP socket on [::]:546 inside the pod
 * namespace, bound to the pod's interface (SO_BINDTODEVICE), polled on Node's loop. The
 * kernel's own IPv6 stack picks the link-local source, answers the server's Neighbour
 * Solicitation for it and routes a unicast RENEW; servers reply unicast to that link-local
 * address, so it has to be the kernel's own anyway (docs/dhcpv6.md, "The socket").
 *
 * Before it brings the link up it sets accept_dad=0 on the interface (optimistic DAD when
 * that cannot be written): the measured difference is 34 ms against 1.2-3.6 s to a lease.
 */
import * as fs from 'node:fs';
import * as libc from './libc';
import { PacketIoError } from './errors';
import { assertIfname, ensureUp, getFlags, getIfindex, getMac, isRunningOn, nameOfIndex, type LinkReadiness } from './link';
import { linkKindHere, vethPeerSettledHere, type LinkKind } from './netlink-route';
import { probeNetns, withNetnsFd } from './netns';
import { FdWatcher } from './poller';
import { bufferToIp6, ip6ToBuffer } from '../dhcp6/addr6';
import { CLIENT_PORT6, SERVER_PORT6 } from '../dhcp6/types';

const RECV_BUFFER = 65536;
const MAX_RECV_PER_EVENT = 64;

export interface Udp6Socket extends LinkReadiness {
  readonly ifindex: number;
  readonly mac: Buffer;
  /** how the pod's DAD was set before link up: "accept_dad=0", "optimistic_dad", or why neither */
  readonly dad: string;
  /** Sends a DHCPv6 message to dstIp:547 (ff02::1:2 or a server's unicast address) out of the pod's interface. */
  send(payload: Buffer, dstIp: string): void;
  close(): void;
}

export interface OpenUdp6Options {
  netnsPath: string;
  ifname: string;
  /** each datagram to :546 on this interface; must not throw */
  onMessage: (payload: Buffer, srcIp: string, srcPort: number) => void;
  /** the interface is gone; the socket stops receiving */
  onError: (err: Error) => void;
}

export function sockaddrIn6(ip: string, port: number, scopeId: number): Buffer {
  const sa = Buffer.alloc(libc.SOCKADDR_IN6_SIZE);
  sa.writeUInt16LE(libc.AF_INET6, 0);
  sa.writeUInt16BE(port, 2);
  ip6ToBuffer(ip).copy(sa, 8);
  sa.writeUInt32LE(scopeId, 24);
  return sa;
}

/** Writes one IPv6 sysctl of `ifname` in the calling thread's namespace; the error text, or undefined. */
function setConf6(ifname: string, key: string, value: string): string | undefined {
  try {
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${ifname}/${key}`, value);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * accept_dad=0 before link up, so the link-local address is usable at once; the kernel reads it
 * when an address is added, so it must come first. Optimistic DAD when /proc/sys is read-only.
 */
function skipDad(ifname: string): string {
  const e1 = setConf6(ifname, 'accept_dad', '0');
  if (e1 === undefined) return 'accept_dad=0';
  const e2 = setConf6(ifname, 'optimistic_dad', '1') ?? setConf6(ifname, 'use_optimistic', '1');
  if (e2 === undefined) return 'optimistic_dad';
  return `DAD left on (${e1})`;
}

/** What the socket's setup in the pod namespace found. */
interface Opened6 {
  fd: number;
  ifindex: number;
  mac: Buffer;
  dad: string;
  link: LinkKind;
}

export function openUdp6Socket(opts: OpenUdp6Options): Udp6Socket {
  assertIfname(opts.ifname);
  const probe = probeNetns(opts.netnsPath);
  if (!probe.ok) throw probe.error;
  const where = `DHCPv6 socket [::]:${CLIENT_PORT6} on ${opts.ifname} in ${opts.netnsPath}`;
  let opened: Opened6;
  try {
    opened = withNetnsFd(probe.fd, opts.netnsPath, () => {
      const fd = libc.socket(libc.AF_INET6, libc.SOCK_DGRAM | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0);
      if (fd < 0) throw libc.sysError('socket', where);
      try {
        const ifindex = getIfindex(fd, opts.ifname);
        const mac = getMac(fd, opts.ifname);
        const up = (getFlags(fd, opts.ifname) & libc.IFF_UP) !== 0;
        const dad = up ? 'link was already up' : skipDad(opts.ifname);
        const dev = Buffer.from(`${opts.ifname}\0`, 'utf8');
        // before bind: two interfaces of one pod each hold :546, told apart by the device
        if (libc.setsockopt(fd, libc.SOL_SOCKET, libc.SO_BINDTODEVICE, dev, dev.length) !== 0) {
          throw libc.sysError('setsockopt(SO_BINDTODEVICE)', where);
        }
        if (libc.bind(fd, sockaddrIn6('::', CLIENT_PORT6, 0), libc.SOCKADDR_IN6_SIZE) !== 0) throw libc.sysError('bind', where);
        ensureUp(fd, opts.ifname);
        return { fd, ifindex, mac, dad, link: linkKindHere(ifindex, where) };
      } catch (err) {
        libc.close(fd);
        throw err;
      }
    });
  } catch (err) {
    if (err instanceof PacketIoError) throw new PacketIoError(`netns ${opts.netnsPath}: ${err.message}`, err.errno, err.syscall);
    throw err;
  } finally {
    libc.close(probe.fd);
  }
  return new KernelUdp6Socket(opened, where, opts);
}

/**
 * One receive buffer for every socket: a read fills it and the datagram is copied out before the
 * next read, all synchronously in onReady, so no two sockets ever use it at once. A buffer per
 * socket held 64 KiB of memory per IPv6 attachment for good (64 MB at 1000 leases), most of
 * what a dual-stack lease cost over an IPv4-only one in bench/dual-stack-memory.ts.
 */
const recvBuf = Buffer.alloc(RECV_BUFFER);
const recvFrom = Buffer.alloc(libc.SOCKADDR_IN6_SIZE);
const recvFromLen = Buffer.alloc(4);

class KernelUdp6Socket implements Udp6Socket {
  private fd: number;
  private readonly watcher: FdWatcher;
  private readonly buf = recvBuf;
  private readonly from = recvFrom;
  private readonly fromLen = recvFromLen;

  readonly ifindex: number;
  readonly mac: Buffer;
  readonly dad: string;
  private readonly link: LinkKind;

  constructor(opened: Opened6, private readonly where: string, private readonly opts: OpenUdp6Options) {
    this.fd = opened.fd;
    this.ifindex = opened.ifindex;
    this.mac = opened.mac;
    this.dad = opened.dad;
    this.link = opened.link;
    this.watcher = new FdWatcher(this.fd, (status) => this.onReady(status));
  }

  isRunning(): boolean {
    return isRunningOn(this.fd, this.opts.ifname);
  }

  peerSettled(): boolean {
    return vethPeerSettledHere(this.link, this.ifindex);
  }

  send(payload: Buffer, dstIp: string): void {
    if (this.fd < 0) throw new PacketIoError(`${this.where}: socket is closed`, 'EBADF', 'sendto');
    const sa = sockaddrIn6(dstIp, SERVER_PORT6, this.ifindex);
    if (libc.sendto(this.fd, payload, payload.length, 0, sa, sa.length) < 0) throw libc.sysError('sendto', `${this.where} to ${dstIp}`);
  }

  close(): void {
    if (this.fd < 0) return;
    this.watcher.close();
    libc.close(this.fd);
    this.fd = -1;
  }

  private onReady(status: number): void {
    if (this.fd < 0) return;
    for (let i = 0; i < MAX_RECV_PER_EVENT && this.fd >= 0 && status >= 0; i++) {
      this.fromLen.writeUInt32LE(libc.SOCKADDR_IN6_SIZE, 0);
      const n = libc.recvfrom(this.fd, this.buf, this.buf.length, 0, this.from, this.fromLen);
      if (n >= 0) {
        if (this.from.readUInt16LE(0) !== libc.AF_INET6) continue;
        this.opts.onMessage(Buffer.from(this.buf.subarray(0, n)), bufferToIp6(this.from, 8), this.from.readUInt16BE(2));
        continue;
      }
      const code = libc.errno();
      if (code === libc.EAGAIN || code === libc.EINTR) return;
      status = -code;
    }
    if (status >= 0) return;
    // an error: the interface left the namespace or was deleted (else keep polling)
    let name: string | undefined;
    try {
      name = nameOfIndex(this.fd, this.ifindex);
    } catch {
      name = undefined;
    }
    if (name === this.opts.ifname) {
      try {
        this.watcher.restart();
        return;
      } catch {
        // fall through: report it
      }
    }
    this.watcher.close();
    this.opts.onError(new PacketIoError(`receive on ${this.opts.ifname} in ${this.opts.netnsPath}: the interface is gone`, 'ENXIO', 'recvfrom'));
  }
}
