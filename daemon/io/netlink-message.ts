/**
 * The rtnetlink messages we need to move a pod's IPv4 address (RTM_NEWADDR, RTM_DELADDR) and
 * re-point its routes (RTM_GETROUTE dump, RTM_NEWROUTE, RTM_DELROUTE), encoded and decoded on
 * bytes (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h). Pure: no socket, no koffi, so
 * it is tested without root; daemon/io/netlink-route.ts carries the bytes to the kernel.
 * Netlink is host-endian; like the rest of daemon/io this assumes little-endian Linux.
 */
import { bufferToIp, ipToBuffer, ipToUint32, uint32ToIp } from '../dhcp4/addr';
import { ip6ToBuffer } from '../dhcp6/addr6';

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_CREATE = 0x400;

export const AF_INET = 2;
export const AF_INET6 = 10;
/** linux/if_addr.h: no kernel DAD for this address (the daemon probed it, daemon/nd) */
export const IFA_F_NODAD = 0x02;
export const RT_TABLE_MAIN = 254;
export const RT_SCOPE_UNIVERSE = 0;
export const RTN_UNICAST = 1;
/** what `ip route add` and the CNI plugins (vishvananda/netlink) use */
export const RTPROT_BOOT = 3;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_TABLE = 15;

const IFLA_LINK = 5;
const IFLA_OPERSTATE = 16;
const IFLA_LINKINFO = 18;
const IFLA_LINK_NETNSID = 37;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const IFLA_BRPORT_STATE = 1;

/** IFLA_OPERSTATE of a link that carries traffic (RFC 2863 "up") */
export const IF_OPER_UP = 6;
/** IFLA_BRPORT_STATE of a bridge port that forwards (linux/if_bridge.h BR_STATE_FORWARDING) */
export const BR_STATE_FORWARDING = 3;

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTMSG_LEN = 12;

export class NetlinkDecodeError extends Error {
  static override readonly name = 'NetlinkDecodeError';
}

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

export interface AddressSpec {
  ifindex: number;
  address: string;
  prefixLength: number;
}

/** An IPv4 route as RTM_NEWROUTE/RTM_DELROUTE carry it and a dump reports it. */
export interface RouteSpec {
  dst: string;
  dstLen: number;
  gateway?: string;
  oif?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  metric?: number;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function attr(type: number, value: Buffer): Buffer {
  const out = Buffer.alloc(align4(4 + value.length));
  out.writeUInt16LE(4 + value.length, 0);
  out.writeUInt16LE(type, 2);
  value.copy(out, 4);
  return out;
}

function message(type: number, flags: number, seq: number, body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  const hdr = Buffer.alloc(NLMSG_HDRLEN);
  hdr.writeUInt32LE(NLMSG_HDRLEN + payload.length, 0);
  hdr.writeUInt16LE(type, 4);
  hdr.writeUInt16LE(flags, 6);
  hdr.writeUInt32LE(seq >>> 0, 8);
  hdr.writeUInt32LE(0, 12);
  return Buffer.concat([hdr, payload]);
}

function checkPrefix(prefixLength: number): void {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new RangeError(`prefix length must be 0 to 32, got ${prefixLength}`);
  }
}

/** The directed broadcast address of address/prefix, as `ip addr add ... brd +` sets it. */
export function broadcastOf(address: string, prefixLength: number): string {
  checkPrefix(prefixLength);
  const host = prefixLength === 0 ? 0xffffffff : prefixLength === 32 ? 0 : (0xffffffff >>> prefixLength) >>> 0;
  return uint32ToIp((ipToUint32(address) | host) >>> 0);
}

/**
 * RTM_NEWADDR (create or replace) or RTM_DELADDR for address/prefix on ifindex. As the main
 * plugins configure it: local = address = the lease, with the subnet's broadcast below /31.
 */
export function encodeAddress(type: typeof RTM_NEWADDR | typeof RTM_DELADDR, seq: number, spec: AddressSpec): Buffer {
  checkPrefix(spec.prefixLength);
  const ifa = Buffer.alloc(IFADDRMSG_LEN);
  ifa.writeUInt8(AF_INET, 0);
  ifa.writeUInt8(spec.prefixLength, 1);
  ifa.writeUInt8(0, 2);
  ifa.writeUInt8(RT_SCOPE_UNIVERSE, 3);
  ifa.writeUInt32LE(spec.ifindex >>> 0, 4);
  const local = ipToBuffer(spec.address);
  const attrs = [attr(IFA_LOCAL, local), attr(IFA_ADDRESS, local)];
  if (type === RTM_NEWADDR && spec.prefixLength < 31) attrs.push(attr(IFA_BROADCAST, ipToBuffer(broadcastOf(spec.address, spec.prefixLength))));
  const flags = NLM_F_REQUEST | NLM_F_ACK | (type === RTM_NEWADDR ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  return message(type, flags, seq, [ifa, ...attrs]);
}

/** RTM_NEWROUTE (create or replace the route with this table, dst and metric) or RTM_DELROUTE. */
export function encodeRoute(type: typeof RTM_NEWROUTE | typeof RTM_DELROUTE, seq: number, route: RouteSpec): Buffer {
  checkPrefix(route.dstLen);
  const rtm = Buffer.alloc(RTMSG_LEN);
  rtm.writeUInt8(AF_INET, 0);
  rtm.writeUInt8(route.dstLen, 1);
  rtm.writeUInt8(route.table < 256 ? route.table : 0, 4);
  rtm.writeUInt8(route.protocol, 5);
  rtm.writeUInt8(route.scope, 6);
  rtm.writeUInt8(route.type, 7);
  const attrs: Buffer[] = [];
  if (route.dstLen > 0) attrs.push(attr(RTA_DST, ipToBuffer(route.dst)));
  if (route.gateway !== undefined) attrs.push(attr(RTA_GATEWAY, ipToBuffer(route.gateway)));
  if (route.oif !== undefined) attrs.push(attr(RTA_OIF, u32(route.oif)));
  if (route.metric !== undefined) attrs.push(attr(RTA_PRIORITY, u32(route.metric)));
  attrs.push(attr(RTA_TABLE, u32(route.table)));
  const flags = NLM_F_REQUEST | NLM_F_ACK | (type === RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  return message(type, flags, seq, [rtm, ...attrs]);
}

/** RTM_GETROUTE dump of every IPv4 route in every table. */
export function encodeRouteDump(seq: number): Buffer {
  const rtm = Buffer.alloc(RTMSG_LEN);
  rtm.writeUInt8(AF_INET, 0);
  return message(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, [rtm]);
}

/** RTM_GETLINK of one link by index (the kernel answers with one RTM_NEWLINK, or an error). */
export function encodeLinkGet(seq: number, ifindex: number): Buffer {
  if (!Number.isInteger(ifindex) || ifindex <= 0 || ifindex > 0x7fffffff) throw new RangeError(`ifindex must be a positive int32, got ${ifindex}`);
  const ifi = Buffer.alloc(IFINFOMSG_LEN);
  ifi.writeInt32LE(ifindex, 4);
  return message(RTM_GETLINK, NLM_F_REQUEST, seq, [ifi]);
}

/** What an RTM_NEWLINK says about a link, as far as the daemon uses it. */
export interface LinkInfo {
  /** IFLA_INFO_KIND: "veth", "macvlan", "ipvlan", ...; undefined for a link without one (a physical NIC) */
  kind: string | undefined;
  /** IFLA_LINK: for a veth, the index of its peer */
  link?: number;
  /** IFLA_LINK_NETNSID is present: the IFLA_LINK index is in another namespace */
  linkElsewhere: boolean;
  /** IFLA_OPERSTATE (IF_OPER_UP once the kernel's link watcher has run) */
  operstate?: number;
  /** IFLA_INFO_SLAVE_KIND: what the link is a port of ("bridge", "bond", ...) */
  portOf?: string;
  /** IFLA_INFO_SLAVE_DATA → IFLA_BRPORT_STATE, for a bridge port */
  bridgePortState?: number;
}

/** Decodes the attributes of an RTM_NEWLINK the daemon reads; throws NetlinkDecodeError on bad framing. */
export function decodeLink(msg: NetlinkMessage): LinkInfo {
  if (msg.type !== RTM_NEWLINK) throw new NetlinkDecodeError(`message type ${msg.type} is not RTM_NEWLINK`);
  if (msg.payload.length < IFINFOMSG_LEN) throw new NetlinkDecodeError('truncated ifinfomsg');
  const attrs = attributes(msg.payload.subarray(IFINFOMSG_LEN));
  const info = attrs.get(IFLA_LINKINFO);
  const nested = info === undefined ? undefined : attributes(info);
  const out: LinkInfo = { kind: stringOf(nested?.get(IFLA_INFO_KIND)), linkElsewhere: attrs.has(IFLA_LINK_NETNSID) };
  const link = u32Of(attrs.get(IFLA_LINK), 'IFLA_LINK');
  if (link !== undefined) out.link = link;
  const oper = attrs.get(IFLA_OPERSTATE);
  if (oper !== undefined) {
    if (oper.length !== 1) throw new NetlinkDecodeError(`IFLA_OPERSTATE is ${oper.length} bytes, not 1`);
    out.operstate = oper.readUInt8(0);
  }
  const portOf = stringOf(nested?.get(IFLA_INFO_SLAVE_KIND));
  if (portOf !== undefined) out.portOf = portOf;
  const portData = nested?.get(IFLA_INFO_SLAVE_DATA);
  if (portOf === 'bridge' && portData !== undefined) {
    const state = attributes(portData).get(IFLA_BRPORT_STATE);
    if (state !== undefined) {
      if (state.length !== 1) throw new NetlinkDecodeError(`IFLA_BRPORT_STATE is ${state.length} bytes, not 1`);
      out.bridgePortState = state.readUInt8(0);
    }
  }
  return out;
}

/** A string attribute, with or without its NUL. */
function stringOf(value: Buffer | undefined): string | undefined {
  if (value === undefined) return undefined;
  const end = value.indexOf(0);
  return value.toString('latin1', 0, end >= 0 ? end : value.length);
}

/** Splits one datagram from the kernel into messages; throws NetlinkDecodeError on bad framing. */
export function decodeMessages(buf: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < NLMSG_HDRLEN) throw new NetlinkDecodeError(`truncated netlink header at ${off}`);
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) throw new NetlinkDecodeError(`netlink message length ${len} at ${off} overruns ${buf.length} bytes`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** NLMSG_ERROR: 0 for an acknowledgement, else the (positive) errno. */
export function decodeError(msg: NetlinkMessage): number {
  if (msg.type !== NLMSG_ERROR) throw new NetlinkDecodeError(`message type ${msg.type} is not NLMSG_ERROR`);
  if (msg.payload.length < 4) throw new NetlinkDecodeError('truncated NLMSG_ERROR');
  const error = msg.payload.readInt32LE(0);
  return error === 0 ? 0 : -error;
}

function attributes(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) throw new NetlinkDecodeError(`attribute length ${len} at ${off} overruns ${buf.length} bytes`);
    // the high bits are NLA_F_NESTED / NLA_F_NET_BYTEORDER
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

function ipOf(value: Buffer | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.length !== 4) throw new NetlinkDecodeError(`${what} is ${value.length} bytes, not 4`);
  return bufferToIp(value);
}

function u32Of(value: Buffer | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (value.length !== 4) throw new NetlinkDecodeError(`${what} is ${value.length} bytes, not 4`);
  return value.readUInt32LE(0);
}

/** An RTM_NEWROUTE from a dump; undefined for a non-IPv4 or multipath route (we never install those). */
export function decodeRoute(msg: NetlinkMessage): RouteSpec | undefined {
  if (msg.type !== RTM_NEWROUTE) throw new NetlinkDecodeError(`message type ${msg.type} is not RTM_NEWROUTE`);
  const p = msg.payload;
  if (p.length < RTMSG_LEN) throw new NetlinkDecodeError('truncated rtmsg');
  if (p.readUInt8(0) !== AF_INET) return undefined;
  const dstLen = p.readUInt8(1);
  if (dstLen > 32) throw new NetlinkDecodeError(`rtm_dst_len ${dstLen} > 32`);
  const attrs = attributes(p.subarray(RTMSG_LEN));
  const route: RouteSpec = {
    dst: ipOf(attrs.get(RTA_DST), 'RTA_DST') ?? '0.0.0.0',
    dstLen,
    table: u32Of(attrs.get(RTA_TABLE), 'RTA_TABLE') ?? p.readUInt8(4),
    protocol: p.readUInt8(5),
    scope: p.readUInt8(6),
    type: p.readUInt8(7),
  };
  const gateway = ipOf(attrs.get(RTA_GATEWAY), 'RTA_GATEWAY');
  const oif = u32Of(attrs.get(RTA_OIF), 'RTA_OIF');
  const metric = u32Of(attrs.get(RTA_PRIORITY), 'RTA_PRIORITY');
  if (gateway !== undefined) route.gateway = gateway;
  if (oif !== undefined) route.oif = oif;
  if (metric !== undefined) route.metric = metric;
  return route;
}

/**
 * RTM_NEWADDR (create or replace) or RTM_DELADDR for an IPv6 address/prefix on ifindex, as the
 * main plugins configure a DHCPv6 lease: IFA_ADDRESS, global scope, no kernel DAD (the daemon's
 * own probe ran before it, docs/dhcpv6.md).
 */
export function encodeAddress6(type: typeof RTM_NEWADDR | typeof RTM_DELADDR, seq: number, spec: AddressSpec): Buffer {
  if (!Number.isInteger(spec.prefixLength) || spec.prefixLength < 0 || spec.prefixLength > 128) {
    throw new RangeError(`prefix length must be 0 to 128, got ${spec.prefixLength}`);
  }
  const ifa = Buffer.alloc(IFADDRMSG_LEN);
  ifa.writeUInt8(AF_INET6, 0);
  ifa.writeUInt8(spec.prefixLength, 1);
  ifa.writeUInt8(type === RTM_NEWADDR ? IFA_F_NODAD : 0, 2);
  ifa.writeUInt8(RT_SCOPE_UNIVERSE, 3);
  ifa.writeUInt32LE(spec.ifindex >>> 0, 4);
  const flags = NLM_F_REQUEST | NLM_F_ACK | (type === RTM_NEWADDR ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  return message(type, flags, seq, [ifa, attr(IFA_ADDRESS, ip6ToBuffer(spec.address))]);
}
