/**
 * Addresses as bigints, so that every range, IPv4 or a whole IPv6 /64 and beyond, is plain
 * arithmetic (Whereabouts keeps IPv6 offsets in 64 bits and loses half of a /64: its #83).
 * Text goes through shared/go-ip, so printed addresses are exactly what Go prints.
 */
import { ipString, isV4, parseIP, type GoIp } from '../../shared/go-ip';

export type Family = 4 | 6;

export interface Addr {
  family: Family;
  value: bigint;
}

export function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128;
}

export function toAddr(ip: GoIp): Addr {
  const v4 = isV4(ip);
  let value = 0n;
  for (const b of v4 ? ip.subarray(12) : ip) value = (value << 8n) | BigInt(b);
  return { family: v4 ? 4 : 6, value };
}

/** Canonical text (as the config module writes it) to an address; throws on anything else. */
export function parseAddr(text: string): Addr {
  const ip = parseIP(text);
  if (!ip) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
  return toAddr(ip);
}

export function addrText(a: Addr): string {
  const ip = new Uint8Array(16);
  let v = a.value;
  for (let i = 15; i >= (a.family === 4 ? 12 : 0); i--) {
    ip[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (a.family === 4) {
    ip[10] = 0xff;
    ip[11] = 0xff;
  }
  return ipString(ip);
}

/** "198.18.0.0/24" → network address, prefix, and the number of addresses it spans. */
export function parseNetwork(cidr: string): { network: Addr; prefix: number; size: bigint } {
  const slash = cidr.indexOf('/');
  const base = parseAddr(cidr.slice(0, slash));
  const prefix = Number(cidr.slice(slash + 1));
  const hostBits = BigInt(bitsOf(base.family) - prefix);
  const size = 1n << hostBits;
  return { network: { family: base.family, value: (base.value >> hostBits) << hostBits }, prefix, size };
}
