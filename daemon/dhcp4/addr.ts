/**
 * IPv4 and MAC address helpers. Addresses travel through the code base as strings (dotted
 * quads, aa:bb:cc:dd:ee:ff); these are the only conversions between that form and wire bytes.
 */
import { MalformedPacketError } from '../../shared/errors';

const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/**
 * Strict dotted quad: four decimal octets 0..255. Leading zeros are refused because inet_aton
 * reads "010" as octal 8, and the same string must never mean two addresses.
 */
export function isValidIPv4(s: string): boolean {
  if (typeof s !== 'string' || s.length > 15) return false;
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  return parts.every((p) => OCTET.test(p) && Number(p) <= 255);
}

/** Dotted quad → 4 bytes. Throws RangeError on anything isValidIPv4 refuses. */
export function ipToBuffer(ip: string): Buffer {
  if (!isValidIPv4(ip)) throw new RangeError(`invalid IPv4 address: ${JSON.stringify(ip)}`);
  return Buffer.from(ip.split('.').map(Number));
}

/** Dotted quad → unsigned 32-bit number. */
export function ipToUint32(ip: string): number {
  return ipToBuffer(ip).readUInt32BE(0);
}

/** Unsigned 32-bit number → dotted quad. */
export function uint32ToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** 4 bytes at `offset` → dotted quad. A short buffer is a malformed packet. */
export function bufferToIp(buf: Buffer, offset = 0): string {
  if (!Number.isInteger(offset) || offset < 0 || offset + 4 > buf.length) {
    throw new MalformedPacketError(`need 4 address bytes at offset ${offset}, have ${buf.length}`);
  }
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** Prefix length 0..32 → mask as a number. */
export function maskBitsFromPrefix(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Prefix length 0..32 → dotted mask, e.g. 24 → "255.255.255.0". */
export function maskFromPrefix(prefix: number): string {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new RangeError(`invalid prefix length: ${prefix}`);
  }
  return uint32ToIp(maskBitsFromPrefix(prefix));
}

/** Dotted mask → prefix length, or undefined if the mask is invalid or not contiguous. */
export function prefixFromMask(mask: string): number | undefined {
  if (!isValidIPv4(mask)) return undefined;
  const bits = ipToUint32(mask);
  // A contiguous mask is all ones then all zeros, so its inverse plus one is a power of two.
  const inverse = ~bits >>> 0;
  if ((inverse & (inverse + 1)) !== 0) return undefined;
  let prefix = 0;
  for (let b = bits; b !== 0; b = (b << 1) >>> 0) prefix++;
  return prefix;
}

/** "aa:bb:cc:dd:ee:ff" for a 6-byte MAC, undefined otherwise. */
export function macToString(mac: Buffer | undefined): string | undefined {
  if (mac === undefined || mac.length !== 6) return undefined;
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The inverse of macToString; undefined for anything that is not six hex pairs. */
export function macFromString(mac: string | undefined): Buffer | undefined {
  if (mac === undefined || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) return undefined;
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}
