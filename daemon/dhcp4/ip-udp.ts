/**
 * IPv4 + UDP framing for the AF_PACKET SOCK_DGRAM socket (ETH_P_IP): we write and read
 * everything from the IP header up; the kernel handles the Ethernet header.
 */
import { MalformedPacketError } from '../../shared/errors';
import { bufferToIp, ipToBuffer } from './addr';
import { ByteWriter } from './byte-writer';

const IP_HEADER_LEN = 20;
const UDP_HEADER_LEN = 8;
const PROTO_UDP = 17;
const DEFAULT_TTL = 64;
const FLAG_MF = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

export interface IpUdpPacket {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export interface IpUdpSpec extends IpUdpPacket {
  ttl?: number;
}

/** RFC 1071 one's complement sum over `parts`, folded to 16 bits (not yet inverted). */
function onesComplementSum(parts: Buffer[]): number {
  let sum = 0;
  let odd: number | undefined; // a byte left over from an odd-length part pairs with the next
  for (const part of parts) {
    for (const b of part) {
      if (odd === undefined) {
        odd = b;
      } else {
        sum += (odd << 8) | b;
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

export function internetChecksum(...parts: Buffer[]): number {
  return ~onesComplementSum(parts) & 0xffff;
}

function pseudoHeader(src: Buffer, dst: Buffer, udpLength: number): Buffer {
  const p = Buffer.alloc(12);
  src.copy(p, 0);
  dst.copy(p, 4);
  p[9] = PROTO_UDP;
  p.writeUInt16BE(udpLength, 10);
  return p;
}

export function encodeIpUdp(spec: IpUdpSpec): Buffer {
  const src = ipToBuffer(spec.srcIp);
  const dst = ipToBuffer(spec.dstIp);
  const udpLength = UDP_HEADER_LEN + spec.payload.length;
  const totalLength = IP_HEADER_LEN + udpLength;
  if (totalLength > 0xffff) throw new RangeError(`payload of ${spec.payload.length} bytes is too large`);

  const w = new ByteWriter(totalLength);
  w.u8(0x45).u8(0).u16(totalLength); // version 4, IHL 5, TOS 0
  w.u16(0).u16(0); // id 0, no flags: a 300-600 byte DHCP message never needs fragmenting
  w.u8(spec.ttl ?? DEFAULT_TTL).u8(PROTO_UDP).u16(0);
  w.bytes(src).bytes(dst);
  w.u16(spec.srcPort).u16(spec.dstPort).u16(udpLength).u16(0);
  w.bytes(spec.payload);
  const packet = w.toBuffer();

  packet.writeUInt16BE(internetChecksum(packet.subarray(0, IP_HEADER_LEN)), 10);
  packet.writeUInt16BE(udpChecksum(src, dst, packet.subarray(IP_HEADER_LEN)), IP_HEADER_LEN + 6);
  return packet;
}

/**
 * The UDP checksum to write into `udp` (header + payload, its checksum field 0), over the
 * IPv4 pseudo header. RFC 768: a computed 0 is sent as 0xffff, since 0 means "no checksum".
 */
export function udpChecksum(src: Buffer, dst: Buffer, udp: Buffer): number {
  const sum = internetChecksum(pseudoHeader(src, dst, udp.length), udp);
  return sum === 0 ? 0xffff : sum;
}

export function decodeIpUdp(buf: Buffer): IpUdpPacket {
  if (!Buffer.isBuffer(buf) || buf.length < IP_HEADER_LEN) {
    throw new MalformedPacketError(`IP packet shorter than ${IP_HEADER_LEN} bytes`);
  }
  const version = buf[0]! >> 4;
  const ihl = (buf[0]! & 0x0f) * 4;
  if (version !== 4) throw new MalformedPacketError(`IP version ${version}`);
  if (ihl < IP_HEADER_LEN) throw new MalformedPacketError(`IP header length ${ihl} < ${IP_HEADER_LEN}`);
  const totalLength = buf.readUInt16BE(2);
  if (totalLength > buf.length) {
    throw new MalformedPacketError(`IP total length ${totalLength} exceeds the ${buf.length} bytes received`);
  }
  if (totalLength < ihl + UDP_HEADER_LEN) {
    throw new MalformedPacketError(`IP total length ${totalLength} leaves no room for a UDP header`);
  }
  const frag = buf.readUInt16BE(6);
  if (frag & FLAG_MF || frag & FRAGMENT_OFFSET_MASK) throw new MalformedPacketError('IP fragment');
  if (buf[9] !== PROTO_UDP) throw new MalformedPacketError(`IP protocol ${buf[9]} is not UDP`);
  if (internetChecksum(buf.subarray(0, ihl)) !== 0) throw new MalformedPacketError('bad IP header checksum');

  // Bytes past the IP total length are Ethernet padding for short frames.
  const ip = buf.subarray(0, totalLength);
  const udpLength = ip.readUInt16BE(ihl + 4);
  if (udpLength < UDP_HEADER_LEN || ihl + udpLength > totalLength) {
    throw new MalformedPacketError(`UDP length ${udpLength} does not fit IP payload of ${totalLength - ihl}`);
  }
  const udp = ip.subarray(ihl, ihl + udpLength);
  const src = ip.subarray(12, 16);
  const dst = ip.subarray(16, 20);
  if (udp.readUInt16BE(6) !== 0 && internetChecksum(pseudoHeader(src, dst, udpLength), udp) !== 0) {
    throw new MalformedPacketError('bad UDP checksum');
  }
  return {
    srcIp: bufferToIp(src),
    dstIp: bufferToIp(dst),
    srcPort: udp.readUInt16BE(0),
    dstPort: udp.readUInt16BE(2),
    payload: Buffer.from(udp.subarray(UDP_HEADER_LEN)),
  };
}
