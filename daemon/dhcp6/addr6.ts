/**
 * IPv6 address helpers. Addresses travel through the code base as RFC 5952 canonical text
 * (lower case, the longest run of two or more zero groups as "::", the first on a tie), so the
 * same address is always the same string; these are the only conversions to and from bytes.
 */
import { MalformedPacketError } from '../../shared/errors';

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Text → 16 bytes, or undefined. Accepts "::", a dotted-quad tail, any case; no zone. */
function parse(text: string): Buffer | undefined {
  if (typeof text !== 'string' || text.length < 2 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (const [i, p] of pieces.entries()) {
      const quad = i === pieces.length - 1 ? DOTTED.exec(p) : null;
      if (quad) {
        const o = quad.slice(1).map(Number);
        if (o.some((x, j) => x > 255 || (quad[j + 1]!.length > 1 && quad[j + 1]!.startsWith('0')))) return undefined;
        out.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
      } else if (HEX_GROUP.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  // A dotted quad may only end the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const buf = Buffer.alloc(16);
  all.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  return buf;
}

export function isValidIPv6(text: string): boolean {
  return parse(text) !== undefined;
}

/** Text → 16 bytes. Throws RangeError on anything that is not an IPv6 address. */
export function ip6ToBuffer(text: string): Buffer {
  const buf = parse(text);
  if (buf === undefined) throw new RangeError(`invalid IPv6 address: ${JSON.stringify(text)}`);
  return buf;
}

/** 16 bytes at `offset` → canonical text. A short buffer is a malformed packet. */
export function bufferToIp6(buf: Buffer, offset = 0): string {
  if (!Number.isInteger(offset) || offset < 0 || offset + 16 > buf.length) {
    throw new MalformedPacketError(`need 16 address bytes at offset ${offset}, have ${buf.length}`);
  }
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(offset + i * 2));
  let bestAt = -1;
  let bestLen = 1; // RFC 5952 4.2.2: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/** Canonical form of an address given as text; throws RangeError if it is not one. */
export function canonicalIp6(text: string): string {
  return bufferToIp6(ip6ToBuffer(text));
}

/** fe80::/10 */
export function isLinkLocal6(text: string): boolean {
  const b = parse(text);
  return b !== undefined && b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;
}

/** ff00::/8 */
export function isMulticast6(text: string): boolean {
  const b = parse(text);
  return b !== undefined && b[0] === 0xff;
}

/** An address a server may lease to us: not ::, not loopback, not multicast, not link-local. */
export function isLeasable6(text: string | undefined): text is string {
  if (text === undefined) return false;
  const b = parse(text);
  if (b === undefined || b[0] === 0xff || isLinkLocal6(text)) return false;
  const zeroUpTo15 = b.subarray(0, 15).every((x) => x === 0);
  return !(zeroUpTo15 && (b[15] === 0 || b[15] === 1));
}

/** The EUI-64 link-local address (RFC 4291 appendix A) a kernel derives from a 6-byte MAC. */
export function linkLocalFromMac(mac: Buffer): string {
  if (mac.length !== 6) throw new RangeError(`MAC must be 6 bytes, got ${mac.length}`);
  const b = Buffer.alloc(16);
  b[0] = 0xfe;
  b[1] = 0x80;
  b[8] = mac[0]! ^ 0x02;
  b[9] = mac[1]!;
  b[10] = mac[2]!;
  b[11] = 0xff;
  b[12] = 0xfe;
  b[13] = mac[3]!;
  b[14] = mac[4]!;
  b[15] = mac[5]!;
  return bufferToIp6(b);
}

/** The Ethernet destination of an IPv6 multicast address (RFC 2464 §7): 33:33 + its low 32 bits. */
export function multicastMac6(text: string): Buffer {
  const b = ip6ToBuffer(text);
  if (b[0] !== 0xff) throw new RangeError(`${text} is not a multicast address`);
  return Buffer.from([0x33, 0x33, b[12]!, b[13]!, b[14]!, b[15]!]);
}
