/**
 * The receive path: recvmsg() into one native buffer shared by every socket (all receives
 * happen synchronously on the main thread), with the source sockaddr_ll and the
 * PACKET_AUXDATA control message.
 *
 * Frames that crossed a veth or a bridge from a local sender usually still carry a partial
 * UDP checksum (checksum offload: the kernel never computed it, and says so with
 * TP_STATUS_CSUMNOTREADY). We complete it here (IPv4 and IPv6), so the codec can check checksums on every
 * packet the same way. This is what sd-dhcp-client and busybox udhcpc do too.
 */
import { koffi } from './koffi';
import * as libc from './libc';
import { udp4Checksum } from '../dhcp4/ip-udp';
import { IP6_HEADER_LEN, udp6Checksum } from '../dhcp6/ip6-udp';

/** Larger frames are dropped (reported as 'truncated'); DHCP replies are far smaller. */
export const RX_BUFFER_SIZE = 2048;

const Msghdr = koffi.struct({
  msg_name: 'void *',
  msg_namelen: 'uint32_t',
  msg_iov: 'void *',
  msg_iovlen: 'size_t',
  msg_control: 'void *',
  msg_controllen: 'size_t',
  msg_flags: 'int',
});
const OFF = {
  msghdr: 0,
  iovec: 64,
  name: 80,
  control: 112,
  data: 176,
};
const NAME_SIZE = 32;
const CONTROL_SIZE = 64;
const ARENA_SIZE = OFF.data + RX_BUFFER_SIZE;

interface Arena {
  ptr: unknown;
  mem: Buffer;
}
let arena: Arena | undefined;

function getArena(): Arena {
  if (arena) return arena;
  if (koffi.sizeof(Msghdr) > OFF.iovec) throw new Error('struct msghdr larger than expected');
  // Native memory, so the pointers written into msghdr never move; never freed.
  const ptr = libc.malloc(ARENA_SIZE);
  if (ptr === null) throw new Error('daemon/io: malloc failed');
  const mem = Buffer.from(koffi.view(ptr, ARENA_SIZE));
  mem.fill(0);
  const base = koffi.address(ptr);
  const at = (o: number): bigint => base + BigInt(o);
  mem.writeBigUInt64LE(at(OFF.data), OFF.iovec);
  mem.writeBigUInt64LE(BigInt(RX_BUFFER_SIZE), OFF.iovec + 8);
  mem.writeBigUInt64LE(at(OFF.name), koffi.offsetof(Msghdr, 'msg_name'));
  mem.writeBigUInt64LE(at(OFF.iovec), koffi.offsetof(Msghdr, 'msg_iov'));
  mem.writeBigUInt64LE(1n, koffi.offsetof(Msghdr, 'msg_iovlen'));
  mem.writeBigUInt64LE(at(OFF.control), koffi.offsetof(Msghdr, 'msg_control'));
  arena = { ptr, mem };
  return arena;
}

export type ReceiveResult =
  | { kind: 'packet'; packet: Buffer; srcMac: Buffer }
  | { kind: 'truncated' }
  | { kind: 'again' }
  | { kind: 'error'; errno: number };

/** One non-blocking recvmsg on fd. The returned packet is a copy. */
export function receiveOne(fd: number): ReceiveResult {
  const { ptr, mem } = getArena();
  mem.writeUInt32LE(NAME_SIZE, koffi.offsetof(Msghdr, 'msg_namelen'));
  mem.writeBigUInt64LE(BigInt(CONTROL_SIZE), koffi.offsetof(Msghdr, 'msg_controllen'));
  mem.writeInt32LE(0, koffi.offsetof(Msghdr, 'msg_flags'));
  // MSG_TRUNC makes recvmsg return the real frame length, so oversize frames are detected.
  let n: number;
  do {
    n = libc.recvmsg(fd, ptr, libc.MSG_TRUNC);
  } while (n < 0 && libc.errno() === libc.EINTR);
  if (n < 0) {
    const code = libc.errno();
    return code === libc.EAGAIN ? { kind: 'again' } : { kind: 'error', errno: code };
  }
  if (n > RX_BUFFER_SIZE) return { kind: 'truncated' };
  const packet = Buffer.from(mem.subarray(OFF.data, OFF.data + n));
  const halen = mem[OFF.name + 11] ?? 0;
  const srcMac = Buffer.from(mem.subarray(OFF.name + 12, OFF.name + 12 + Math.min(halen, 8)));
  if (auxStatus(mem) & libc.TP_STATUS_CSUMNOTREADY) completeUdpChecksum(packet);
  return { kind: 'packet', packet, srcMac };
}

/** tp_status from the PACKET_AUXDATA control message, 0 if absent. */
function auxStatus(mem: Buffer): number {
  const controlLen = Number(mem.readBigUInt64LE(koffi.offsetof(Msghdr, 'msg_controllen')));
  let off = 0;
  while (off + 16 <= controlLen && off + 16 <= CONTROL_SIZE) {
    const len = Number(mem.readBigUInt64LE(OFF.control + off));
    const level = mem.readInt32LE(OFF.control + off + 8);
    const type = mem.readInt32LE(OFF.control + off + 12);
    if (len < 16) break;
    if (level === libc.SOL_PACKET && type === libc.PACKET_AUXDATA && off + 20 <= CONTROL_SIZE) {
      return mem.readUInt32LE(OFF.control + off + 16);
    }
    off += (len + 7) & ~7;
  }
  return 0;
}

/**
 * Writes the UDP checksum of an IPv4/UDP or IPv6/UDP packet (no extension headers) in place;
 * leaves anything else alone.
 */
export function completeUdpChecksum(pkt: Buffer): void {
  const version = (pkt[0] ?? 0) >> 4;
  let udpAt: number;
  let src: Buffer;
  let dst: Buffer;
  if (version === 4) {
    if (pkt.length < 20 || pkt[9] !== 17) return;
    udpAt = (pkt[0]! & 0x0f) * 4;
    if (udpAt < 20) return;
    src = pkt.subarray(12, 16);
    dst = pkt.subarray(16, 20);
  } else if (version === 6) {
    if (pkt.length < IP6_HEADER_LEN || pkt[6] !== 17) return;
    udpAt = IP6_HEADER_LEN;
    src = pkt.subarray(8, 24);
    dst = pkt.subarray(24, 40);
  } else {
    return;
  }
  if (pkt.length < udpAt + 8) return;
  const udpLen = pkt.readUInt16BE(udpAt + 4);
  if (udpLen < 8 || udpAt + udpLen > pkt.length) return;
  const udp = pkt.subarray(udpAt, udpAt + udpLen);
  udp.writeUInt16BE(0, 6);
  const sum = version === 4 ? udp4Checksum(src, dst, udp) : udp6Checksum(src, dst, udp);
  udp.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
}
