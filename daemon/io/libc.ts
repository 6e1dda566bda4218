/**
 * The libc calls the packet I/O edge needs, declared once through koffi, with Linux
 * constants. Every wrapper is synchronous and returns the raw result; callers turn -1 into
 * a PacketIoError with `sysError`, which reads errno right after the call.
 *
 * Layouts assume 64-bit little-endian Linux (x86_64, aarch64); the module refuses to load
 * anywhere else rather than corrupt memory.
 */
import os from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { koffi } from './koffi';
import { PacketIoError } from './errors';

if (process.platform !== 'linux' || os.endianness() !== 'LE' || koffi.sizeof('void *') !== 8) {
  throw new Error(`daemon/io supports 64-bit little-endian Linux only (got ${process.platform}/${process.arch})`);
}

export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_PACKET = 17;
export const AF_INET6 = 10;
/** struct sockaddr_in6 */
export const SOCKADDR_IN6_SIZE = 28;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_ERROR = 4;
export const SO_BINDTODEVICE = 25;
export const SO_ATTACH_FILTER = 26;
export const SOL_PACKET = 263;
export const PACKET_AUXDATA = 8;
export const MSG_TRUNC = 0x20;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
/** struct sockaddr_in */
export const SOCKADDR_IN_SIZE = 16;
export const ARPHRD_ETHER = 1;
export const CLONE_NEWNET = 0x40000000;
export const NSFS_MAGIC = 0x6e736673;
/** _IO(0xb7, 0x3) from linux/nsfs.h */
export const NS_GET_NSTYPE = 0xb703;
export const SIOCGIFNAME = 0x8910;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
export const SIOCGIFHWADDR = 0x8927;
export const SIOCGIFINDEX = 0x8933;
export const SIOCGIFMTU = 0x8921;
export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const NETLINK_ROUTE = 0;
export const SO_RCVTIMEO = 20;
/** struct sockaddr_nl */
export const SOCKADDR_NL_SIZE = 12;
export const IFF_UP = 0x1;
/** set when the link is operationally up: carrier on and the kernel's link watcher has run */
export const IFF_RUNNING = 0x40;
export const IFNAMSIZ = 16;
/** struct ifreq: 16-byte name, then a 24-byte union */
export const IFREQ_SIZE = 40;
/** struct sockaddr_ll */
export const SOCKADDR_LL_SIZE = 20;
/** tpacket_auxdata.tp_status bit: the checksum is partial (offloaded, never computed) */
export const TP_STATUS_CSUMNOTREADY = 1 << 3;

const lib = koffi.load('libc.so.6');

// open and ioctl are variadic in C; declaring them so keeps the call ABI-correct.
const openV = lib.func('int open(const char *path, int flags, ...)');
const ioctlV = lib.func('int ioctl(int fd, unsigned long request, ...)');

export const close: (fd: number) => number = lib.func('int close(int fd)');
export const LOCK_EX = 2;
export const LOCK_NB = 4;
/** advisory lock on an open file; released by the kernel when the process dies (the whereabouts state dir lock) */
export const flock: (fd: number, operation: number) => number = lib.func('int flock(int fd, int operation)');
export const setns: (fd: number, nstype: number) => number = lib.func('int setns(int fd, int nstype)');
export const socket: (domain: number, type: number, protocol: number) => number =
  lib.func('int socket(int domain, int type, int protocol)');
export const bind: (fd: number, addr: Buffer, len: number) => number =
  lib.func('int bind(int fd, const void *addr, uint32_t len)');
export const setsockopt: (fd: number, level: number, name: number, val: Buffer, len: number) => number =
  lib.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)');
export const getsockopt: (fd: number, level: number, name: number, val: Buffer, len: Buffer) => number =
  lib.func('int getsockopt(int fd, int level, int name, void *val, void *len)');
export const sendto: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number =
  lib.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)');
/** `msg` is a native pointer (the receive arena in receive.ts), not a Buffer */
export const recvmsg: (fd: number, msg: unknown, flags: number) => number =
  lib.func('long recvmsg(int fd, void *msg, int flags)');
const SockFprog = koffi.struct({ len: 'uint16_t', filter: 'void *' });
const setsockoptFprog = lib.func('setsockopt', 'int', ['int', 'int', 'int', koffi.pointer(SockFprog), 'uint32_t']);
/** SO_ATTACH_FILTER with a classic BPF program (struct sock_filter[], see bpf.ts). */
export function attachFilter(fd: number, prog: Buffer): number {
  // koffi passes `prog` by address for the duration of the call; the kernel copies it.
  return setsockoptFprog(fd, SOL_SOCKET, SO_ATTACH_FILTER, { len: prog.length / 8, filter: prog }, koffi.sizeof(SockFprog)) as number;
}
/** `addr` receives the sender (struct sockaddr_in6 for the DHCPv6 socket); `addrLen` is its in/out u32 */
export const recvfrom: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrLen: Buffer) => number =
  lib.func('long recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *addrlen)');
export const fstatfs: (fd: number, buf: Buffer) => number = lib.func('int fstatfs(int fd, void *buf)');
export const recv: (fd: number, buf: Buffer, len: number, flags: number) => number =
  lib.func('long recv(int fd, void *buf, size_t len, int flags)');
export const malloc: (size: number) => unknown = lib.func('void *malloc(size_t size)');
export const free: (ptr: unknown) => void = lib.func('void free(void *ptr)');
/** addr as a number: user-space addresses are below 2^47 on the 64-bit Linux this module accepts */
export const madvise: (addr: number, len: number, advice: number) => number = lib.func('int madvise(uintptr_t addr, size_t len, int advice)');
export const MADV_DONTNEED = 4;

export function open(path: string, flags: number): number {
  return openV(path, flags) as number;
}

/** ioctl with a pointer argument (struct ifreq and friends) or none (NS_GET_NSTYPE). */
export function ioctl(fd: number, request: number, arg?: Buffer): number {
  return (arg === undefined ? ioctlV(fd, request) : ioctlV(fd, request, 'void *', arg)) as number;
}

export function errno(): number {
  return koffi.errno();
}

const errorMap = getSystemErrorMap();

/** "ENODEV (No such device)" for an errno number. */
export function describeErrno(code: number): { name: string; text: string } {
  const entry = errorMap.get(-code);
  return entry ? { name: entry[0], text: `${entry[0]} (${entry[1]})` } : { name: `E${code}`, text: `errno ${code}` };
}

/**
 * Builds the error for a call that just returned -1. `what` says what we were doing, in the
 * caller's terms: "open netns /run/netns/x", "send on net1".
 */
export function sysError(syscall: string, what: string, code = koffi.errno()): PacketIoError {
  const e = describeErrno(code);
  return new PacketIoError(`${what}: ${syscall}: ${e.text}`, e.name, syscall);
}

export const EINTR = 4;
export const ENOENT = 2;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const ENXIO = 6;
export const EAGAIN = 11;
export const ENETDOWN = 100;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
