/**
 * Neighbour Solicitation and Advertisement (RFC 4861 §4.3, §4.4) as a SOCK_DGRAM packet socket
 * sends and receives them: the IPv6 header, then ICMPv6. Pure: bytes in, fields out. Only what
 * Duplicate Address Detection (RFC 4862 §5.4) needs: building the probe (an NS from :: to the
 * target's solicited-node group) and reading NS/NA with the RFC 4861 §7.1 validity checks, so
 * a frame that fails them can never count as a conflict.
 */
import { bufferToIp6, ip6ToBuffer, multicastMac6 } from '../dhcp6/addr6';
import { IP6_HEADER_LEN } from '../dhcp6/ip6-udp';
import { internetChecksum } from '../wire/checksum';

export const ICMP6_NEXT_HEADER = 58;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
/** RFC 4861: every ND message is sent, and must arrive, with hop limit 255 (not routed) */
export const ND_HOP_LIMIT = 255;
/** type, code, checksum, reserved/flags (4), target (16) */
export const ND_BODY_LEN = 24;
export const UNSPECIFIED6 = '::';
/** option 1: Source Link-Layer Address; a DAD probe (source ::) must not carry it */
const OPT_SOURCE_LLA = 1;

export interface NdPacket {
  type: typeof ND_NEIGHBOR_SOLICIT | typeof ND_NEIGHBOR_ADVERT;
  src: string;
  dst: string;
  target: string;
  /** NA only: the Router, Solicited and Override flags */
  router: boolean;
  solicited: boolean;
  override: boolean;
  /** option types present, in order */
  options: number[];
}

export class MalformedNdError extends Error {
  static override readonly name = 'MalformedNdError';
}

/** ff02::1:ffXX:XXXX, the group a node joins for each of its addresses (RFC 4291 §2.7.1). */
export function solicitedNodeGroup(address: string): string {
  const b = ip6ToBuffer(address);
  const g = ip6ToBuffer('ff02::1:ff00:0');
  b.copy(g, 13, 13, 16);
  return bufferToIp6(g);
}

/** 33:33:ff:XX:XX:XX: the Ethernet group of the solicited-node group of `address`. */
export function solicitedNodeMac(address: string): Buffer {
  return multicastMac6(solicitedNodeGroup(address));
}

function icmp6Checksum(src: Buffer, dst: Buffer, icmp: Buffer): number {
  const pseudo = Buffer.alloc(8);
  pseudo.writeUInt32BE(icmp.length, 0);
  pseudo[7] = ICMP6_NEXT_HEADER;
  return internetChecksum(src, dst, pseudo, icmp);
}

export interface NdSpec {
  type: NdPacket['type'];
  src: string;
  dst: string;
  target: string;
  hopLimit?: number;
  /** NA flags byte (R 0x80, S 0x40, O 0x20) */
  flags?: number;
  /** raw options (each a whole TLV, length in units of 8 bytes) */
  options?: Buffer;
}

/** An IPv6 packet holding one NS or NA, with the ICMPv6 checksum over the RFC 8200 pseudo-header. */
export function encodeNd(spec: NdSpec): Buffer {
  const options = spec.options ?? Buffer.alloc(0);
  const icmp = Buffer.alloc(ND_BODY_LEN + options.length);
  icmp[0] = spec.type;
  icmp[1] = 0;
  icmp[4] = spec.type === ND_NEIGHBOR_ADVERT ? (spec.flags ?? 0) & 0xe0 : 0;
  ip6ToBuffer(spec.target).copy(icmp, 8);
  options.copy(icmp, ND_BODY_LEN);
  const src = ip6ToBuffer(spec.src);
  const dst = ip6ToBuffer(spec.dst);
  icmp.writeUInt16BE(icmp6Checksum(src, dst, icmp), 2);
  const ip = Buffer.alloc(IP6_HEADER_LEN);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(icmp.length, 4);
  ip[6] = ICMP6_NEXT_HEADER;
  ip[7] = spec.hopLimit ?? ND_HOP_LIMIT;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  return Buffer.concat([ip, icmp]);
}

/** RFC 4862 §5.4.2: the DAD probe for `target`: NS from :: to its solicited-node group, no options. */
export function buildDadProbe(target: string): { packet: Buffer; dstMac: Buffer } {
  const dst = solicitedNodeGroup(target);
  return { packet: encodeNd({ type: ND_NEIGHBOR_SOLICIT, src: UNSPECIFIED6, dst, target }), dstMac: multicastMac6(dst) };
}

/**
 * Reads one NS or NA, or throws MalformedNdError. RFC 4861 §7.1.1/§7.1.2: hop limit 255, code
 * 0, a correct checksum, ICMPv6 length >= 24, a target that is not multicast, options of
 * non-zero length inside the message; an NS from :: must go to the target's solicited-node
 * group and carry no Source Link-Layer Address; an NA to a multicast group must not be
 * Solicited. No extension headers (the probe's filter passes none). Ethernet padding after the
 * IPv6 payload is ignored.
 */
export function decodeNd(b: Buffer): NdPacket {
  if (b.length < IP6_HEADER_LEN + ND_BODY_LEN) throw new MalformedNdError(`${b.length} bytes, need ${IP6_HEADER_LEN + ND_BODY_LEN}`);
  if (b[0]! >> 4 !== 6) throw new MalformedNdError(`IP version ${b[0]! >> 4}`);
  const payloadLen = b.readUInt16BE(4);
  if (b[6] !== ICMP6_NEXT_HEADER) throw new MalformedNdError(`next header ${b[6]}, not ICMPv6`);
  if (b[7] !== ND_HOP_LIMIT) throw new MalformedNdError(`hop limit ${b[7]}, not 255`);
  if (payloadLen < ND_BODY_LEN || IP6_HEADER_LEN + payloadLen > b.length) {
    throw new MalformedNdError(`payload length ${payloadLen} with ${b.length - IP6_HEADER_LEN} bytes after the header`);
  }
  const icmp = b.subarray(IP6_HEADER_LEN, IP6_HEADER_LEN + payloadLen);
  const type = icmp[0]!;
  if (type !== ND_NEIGHBOR_SOLICIT && type !== ND_NEIGHBOR_ADVERT) throw new MalformedNdError(`ICMPv6 type ${type}, not NS or NA`);
  if (icmp[1] !== 0) throw new MalformedNdError(`ICMPv6 code ${icmp[1]}`);
  const srcB = b.subarray(8, 24);
  const dstB = b.subarray(24, 40);
  if (icmp6Checksum(srcB, dstB, icmp) !== 0) throw new MalformedNdError('bad ICMPv6 checksum');
  const target = bufferToIp6(icmp, 8);
  if (icmp[8] === 0xff) throw new MalformedNdError(`multicast target ${target}`);
  const options: number[] = [];
  for (let at = ND_BODY_LEN; at < icmp.length; ) {
    if (at + 2 > icmp.length) throw new MalformedNdError('a truncated option');
    const len = icmp[at + 1]! * 8;
    if (len === 0) throw new MalformedNdError(`option ${icmp[at]} of length 0`);
    if (at + len > icmp.length) throw new MalformedNdError(`option ${icmp[at]} overruns the message`);
    options.push(icmp[at]!);
    at += len;
  }
  const src = bufferToIp6(srcB);
  const dst = bufferToIp6(dstB);
  const flags = icmp[4]!;
  const p: NdPacket = {
    type,
    src,
    dst,
    target,
    router: type === ND_NEIGHBOR_ADVERT && (flags & 0x80) !== 0,
    solicited: type === ND_NEIGHBOR_ADVERT && (flags & 0x40) !== 0,
    override: type === ND_NEIGHBOR_ADVERT && (flags & 0x20) !== 0,
    options,
  };
  if (type === ND_NEIGHBOR_SOLICIT && src === UNSPECIFIED6) {
    if (dst !== solicitedNodeGroup(target)) throw new MalformedNdError(`NS from :: to ${dst}, not the solicited-node group of ${target}`);
    if (options.includes(OPT_SOURCE_LLA)) throw new MalformedNdError('NS from :: with a Source Link-Layer Address');
  }
  if (type === ND_NEIGHBOR_ADVERT && p.solicited && dstB[0] === 0xff) throw new MalformedNdError('a Solicited NA to a multicast group');
  return p;
}
