/**
 * The ARP packet for Ethernet and IPv4 (RFC 826), as a SOCK_DGRAM packet socket sends and
 * receives it: the 28 bytes after the Ethernet header. Pure: bytes in, fields out.
 */
import { bufferToIp, ipToBuffer } from '../dhcp4/addr';

export const ARP_PACKET_SIZE = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;

export interface ArpPacket {
  op: number;
  /** sender hardware address, 6 bytes */
  senderMac: Buffer;
  senderIp: string;
  targetMac: Buffer;
  targetIp: string;
}

export class MalformedArpError extends Error {
  static override readonly name = 'MalformedArpError';
}

export function encodeArp(p: ArpPacket): Buffer {
  if (p.senderMac.length !== 6 || p.targetMac.length !== 6) throw new RangeError('ARP hardware addresses must be 6 bytes');
  const b = Buffer.alloc(ARP_PACKET_SIZE);
  b.writeUInt16BE(HTYPE_ETHERNET, 0);
  b.writeUInt16BE(PTYPE_IPV4, 2);
  b.writeUInt8(6, 4);
  b.writeUInt8(4, 5);
  b.writeUInt16BE(p.op, 6);
  p.senderMac.copy(b, 8);
  ipToBuffer(p.senderIp).copy(b, 14);
  p.targetMac.copy(b, 18);
  ipToBuffer(p.targetIp).copy(b, 24);
  return b;
}

/** Frames may carry Ethernet padding after the 28 bytes; it is ignored. */
export function decodeArp(b: Buffer): ArpPacket {
  if (b.length < ARP_PACKET_SIZE) throw new MalformedArpError(`ARP packet of ${b.length} bytes, need ${ARP_PACKET_SIZE}`);
  if (b.readUInt16BE(0) !== HTYPE_ETHERNET || b.readUInt16BE(2) !== PTYPE_IPV4 || b[4] !== 6 || b[5] !== 4) {
    throw new MalformedArpError('not an Ethernet/IPv4 ARP packet');
  }
  return {
    op: b.readUInt16BE(6),
    senderMac: Buffer.from(b.subarray(8, 14)),
    senderIp: bufferToIp(b, 14),
    targetMac: Buffer.from(b.subarray(18, 24)),
    targetIp: bufferToIp(b, 24),
  };
}

/** RFC 5227 2.1.1: an ARP request with sender IP 0.0.0.0 and a zero target MAC, asking who has `address`. */
export function buildProbe(mac: Buffer, address: string): Buffer {
  return encodeArp({ op: ARP_REQUEST, senderMac: mac, senderIp: '0.0.0.0', targetMac: Buffer.alloc(6), targetIp: address });
}
