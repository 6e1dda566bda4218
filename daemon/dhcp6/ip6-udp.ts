/**
 * IPv6 + UDP framing for an AF_PACKET SOCK_DGRAM socket (ETH_P_IPV6): we write and read
 * everything from the IPv6 header up; the kernel handles the Ethernet header. DHCPv6 messages
 * are never fragmented and carry no extension headers, so anything but a UDP next header is
 * refused rather than walked.
 */
import { MalformedPacketError } from '../../shared/errors';
import { ByteWriter } from '../wire/byte-writer';
import { internetChecksum, udpChecksum } from '../wire/checksum';
import { bufferToIp6, ip6ToBuffer } from './addr6';

export const IP6_HEADER_LEN = 40;
const UDP_HEADER_LEN = 8;
const NEXT_UDP = 17;
/** RFC 8415 §7: link-scoped DHCPv6 goes out with hop limit 1 (also what the kernel uses for ff02::). */
const DEFAULT_HOP_LIMIT = 1;

export interface Ip6UdpPacket {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export interface Ip6UdpSpec extends Ip6UdpPacket {
  hopLimit?: number;
}

/** RFC 8200 §8.1 pseudo-header: source, destination, upper-layer length (32 bits), next header. */
function pseudoHeader6(src: Buffer, dst: Buffer, udpLength: number): Buffer {
  const p = Buffer.alloc(40);
  src.copy(p, 0);
  dst.copy(p, 16);
  p.writeUInt32BE(udpLength, 32);
  p[39] = NEXT_UDP;
  return p;
}

/** The UDP checksum over IPv6 of `udp` (its checksum field as given). */
export function udp6Checksum(src: Buffer, dst: Buffer, udp: Buffer): number {
  return internetChecksum(pseudoHeader6(src, dst, udp.length), udp);
}

export function encodeIp6Udp(spec: Ip6UdpSpec): Buffer {
  const src = ip6ToBuffer(spec.srcIp);
  const dst = ip6ToBuffer(spec.dstIp);
  const udpLength = UDP_HEADER_LEN + spec.payload.length;
  if (udpLength > 0xffff) throw new RangeError(`payload of ${spec.payload.length} bytes is too large`);
  const w = new ByteWriter(IP6_HEADER_LEN + udpLength);
  w.u32(0x60000000); // version 6, traffic class 0, flow label 0
  w.u16(udpLength).u8(NEXT_UDP).u8(spec.hopLimit ?? DEFAULT_HOP_LIMIT);
  w.bytes(src).bytes(dst);
  w.u16(spec.srcPort).u16(spec.dstPort).u16(udpLength).u16(0);
  w.bytes(spec.payload);
  const packet = w.toBuffer();
  const udp = packet.subarray(IP6_HEADER_LEN);
  // RFC 8200 §8.1: the checksum is mandatory over IPv6; a computed 0 goes out as 0xffff.
  packet.writeUInt16BE(udpChecksum(pseudoHeader6(src, dst, udpLength), udp), IP6_HEADER_LEN + 6);
  return packet;
}

export function decodeIp6Udp(buf: Buffer): Ip6UdpPacket {
  if (!Buffer.isBuffer(buf) || buf.length < IP6_HEADER_LEN + UDP_HEADER_LEN) {
    throw new MalformedPacketError(`IPv6 packet shorter than ${IP6_HEADER_LEN + UDP_HEADER_LEN} bytes`);
  }
  const version = buf[0]! >> 4;
  if (version !== 6) throw new MalformedPacketError(`IP version ${version}`);
  const payloadLength = buf.readUInt16BE(4);
  if (buf[6] !== NEXT_UDP) throw new MalformedPacketError(`next header ${buf[6]} is not UDP`);
  if (IP6_HEADER_LEN + payloadLength > buf.length) {
    throw new MalformedPacketError(`IPv6 payload length ${payloadLength} exceeds the ${buf.length - IP6_HEADER_LEN} bytes received`);
  }
  // Bytes past the payload length are Ethernet padding for short frames.
  const udpArea = buf.subarray(IP6_HEADER_LEN, IP6_HEADER_LEN + payloadLength);
  if (udpArea.length < UDP_HEADER_LEN) throw new MalformedPacketError('IPv6 payload leaves no room for a UDP header');
  const udpLength = udpArea.readUInt16BE(4);
  if (udpLength < UDP_HEADER_LEN || udpLength > udpArea.length) {
    throw new MalformedPacketError(`UDP length ${udpLength} does not fit IPv6 payload of ${udpArea.length}`);
  }
  const udp = udpArea.subarray(0, udpLength);
  const src = buf.subarray(8, 24);
  const dst = buf.subarray(24, 40);
  if (udp.readUInt16BE(6) === 0) throw new MalformedPacketError('UDP over IPv6 without a checksum');
  if (udp6Checksum(src, dst, udp) !== 0) throw new MalformedPacketError('bad UDP checksum');
  return {
    srcIp: bufferToIp6(src),
    dstIp: bufferToIp6(dst),
    srcPort: udp.readUInt16BE(0),
    dstPort: udp.readUInt16BE(2),
    payload: Buffer.from(udp.subarray(UDP_HEADER_LEN)),
  };
}
