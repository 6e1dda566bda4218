/**
 * IP and CIDR parsing and printing exactly as Go's `net` package (Go 1.19) does them, because
 * the reference plugin's output is whatever `net.IP.String()` and `net.IPNet.String()` print:
 * "::ffff:10.0.0.5/120" comes out as "10.0.0.5/24", "2001:DB8:0:0:1::1" as "2001:db8::1:0:0:1",
 * and "010.0.0.1" is rejected. Node's `net.isIP` disagrees with Go on several of these.
 */

/** An address in Go's 16-byte form; IPv4 is stored as ::ffff:a.b.c.d. */
export type GoIp = Uint8Array;

/** A parsed CIDR as Go keeps it: the host address (not masked) and the mask length in bits. */
export interface GoCidr {
  ip: GoIp;
  prefix: number;
  /** 32 when the text parsed as IPv4, 128 otherwise (including "::ffff:a.b.c.d/n") */
  bits: 32 | 128;
}

const BIG = 0xffffff;
const V4_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Go's dtoi: leading decimal digits of s; ok is false when there are none or too many. */
function dtoi(s: string): { n: number; i: number; ok: boolean } {
  let n = 0;
  let i = 0;
  for (; i < s.length && isDigit(s[i]); i++) {
    n = n * 10 + (s.charCodeAt(i) - 48);
    if (n >= BIG) return { n: BIG, i, ok: false };
  }
  return { n, i, ok: i > 0 };
}

/** Go's xtoi: leading hex digits of s. */
function xtoi(s: string): { n: number; i: number; ok: boolean } {
  let n = 0;
  let i = 0;
  for (; i < s.length; i++) {
    const d = Number.parseInt(s[i] as string, 16);
    if (Number.isNaN(d)) break;
    n = n * 16 + d;
    if (n >= BIG) return { n: 0, i, ok: false };
  }
  return { n, i, ok: i > 0 };
}

function v4(a: number, b: number, c: number, d: number): GoIp {
  return Uint8Array.from([...V4_PREFIX, a, b, c, d]);
}

/**
 * `sloppy`: accept leading zeros as decimal ("010.0.0.1" is 10.0.0.1), as Go before 1.17 and
 * k8s.io/utils/net's ParseIPSloppy do; Whereabouts parses its ranges that way.
 */
export function parseIPv4(text: string, sloppy = false): GoIp | null {
  let s = text;
  const p: number[] = [];
  for (let i = 0; i < 4; i++) {
    if (s.length === 0) return null;
    if (i > 0) {
      if (s[0] !== '.') return null;
      s = s.slice(1);
    }
    const { n, i: c, ok } = dtoi(s);
    if (!ok || n > 0xff) return null;
    if (!sloppy && c > 1 && s[0] === '0') return null; // leading zeros are rejected since Go 1.17
    s = s.slice(c);
    p.push(n);
  }
  if (s.length !== 0) return null;
  return v4(p[0] as number, p[1] as number, p[2] as number, p[3] as number);
}

export function parseIPv6(text: string, sloppy = false): GoIp | null {
  let s = text;
  const ip = new Uint8Array(16);
  let ellipsis = -1;
  if (s.length >= 2 && s[0] === ':' && s[1] === ':') {
    ellipsis = 0;
    s = s.slice(2);
    if (s.length === 0) return ip;
  }
  let i = 0;
  while (i < 16) {
    const { n, i: c, ok } = xtoi(s);
    if (!ok || n > 0xffff) return null;
    if (c < s.length && s[c] === '.') {
      if (ellipsis < 0 && i !== 12) return null;
      if (i + 4 > 16) return null;
      const ip4 = parseIPv4(s, sloppy);
      if (!ip4) return null;
      ip.set(ip4.subarray(12), i);
      s = '';
      i += 4;
      break;
    }
    ip[i] = n >> 8;
    ip[i + 1] = n & 0xff;
    i += 2;
    s = s.slice(c);
    if (s.length === 0) break;
    if (s[0] !== ':' || s.length === 1) return null;
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) return null;
      ellipsis = i;
      s = s.slice(1);
      if (s.length === 0) break;
    }
  }
  if (s.length !== 0) return null;
  if (i < 16) {
    if (ellipsis < 0) return null;
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j] as number;
    for (let j = ellipsis + n - 1; j >= ellipsis; j--) ip[j] = 0;
  } else if (ellipsis >= 0) {
    return null; // "::" must stand for at least one zero group
  }
  return ip;
}

/** net.ParseIP: the first "." or ":" decides the family. */
export function parseIP(s: string, sloppy = false): GoIp | null {
  for (const c of s) {
    if (c === '.') return parseIPv4(s, sloppy);
    if (c === ':') return parseIPv6(s, sloppy);
  }
  return null;
}

/** net.ParseCIDR, keeping the host address as the reference's types.ParseCIDR does. */
export function parseCIDR(s: string, sloppy = false): GoCidr | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const addr = s.slice(0, slash);
  const mask = s.slice(slash + 1);
  let bits: 32 | 128 = 32;
  let ip = parseIPv4(addr, sloppy);
  if (!ip) {
    bits = 128;
    ip = parseIPv6(addr, sloppy);
  }
  const { n, i, ok } = dtoi(mask);
  if (!ip || !ok || i !== mask.length || n > bits) return null;
  return { ip, prefix: n, bits };
}

/** net.IP.To4: the 4-byte form of an IPv4 (or v4-mapped) address, else null. */
export function to4(ip: GoIp): Uint8Array | null {
  for (let i = 0; i < 12; i++) if (ip[i] !== V4_PREFIX[i]) return null;
  return ip.subarray(12);
}

export function isV4(ip: GoIp): boolean {
  return to4(ip) !== null;
}

export function ipEqual(a: GoIp, b: GoIp): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** net.IP.String: dotted IPv4 for v4-mapped addresses, RFC 5952 text otherwise. */
export function ipString(ip: GoIp): string {
  const p4 = to4(ip);
  if (p4) return Array.from(p4).join('.');
  const group = (i: number) => ((ip[i] as number) << 8) | (ip[i + 1] as number);
  let e0 = -1;
  let e1 = -1;
  for (let i = 0; i < 16; i += 2) {
    let j = i;
    while (j < 16 && group(j) === 0) j += 2;
    if (j > i && j - i > e1 - e0) {
      e0 = i;
      e1 = j;
      i = j;
    }
  }
  if (e1 - e0 <= 2) {
    e0 = -1;
    e1 = -1;
  }
  let out = '';
  for (let i = 0; i < 16; i += 2) {
    if (i === e0) {
      out += '::';
      i = e1;
      if (i >= 16) break;
    } else if (i > 0) {
      out += ':';
    }
    out += group(i).toString(16);
  }
  return out;
}

/**
 * Go's networkNumberAndMask: the comparable form of a CIDR. A v4-mapped address parsed as
 * IPv6 keeps only the low 32 bits of its 128-bit mask, which is why "::ffff:a.b.c.d/120"
 * behaves as a /24 and "/96" as a /0.
 */
function numberAndMask(c: GoCidr): { nn: Uint8Array; maskLen: number } {
  const ip4 = to4(c.ip);
  if (ip4) return { nn: ip4, maskLen: c.bits === 32 ? c.prefix : Math.max(0, c.prefix - 96) };
  return { nn: c.ip, maskLen: c.prefix };
}

/** net.IPNet.String with the host address kept: "10.0.0.5/24". */
export function cidrString(c: GoCidr): string {
  const { nn, maskLen } = numberAndMask(c);
  return `${ipString(nn.length === 4 ? v4(nn[0] as number, nn[1] as number, nn[2] as number, nn[3] as number) : nn)}/${maskLen}`;
}

/** net.IPNet.Contains. */
export function cidrContains(c: GoCidr, ip: GoIp): boolean {
  const { nn, maskLen } = numberAndMask(c);
  const x = to4(ip) ?? ip;
  if (x.length !== nn.length) return false;
  for (let bit = 0; bit < maskLen; bit++) {
    const byte = bit >> 3;
    const m = 0x80 >> (bit & 7);
    if (((nn[byte] as number) & m) !== ((x[byte] as number) & m)) return false;
  }
  return true;
}

/** IPNet.String() of what net.ParseCIDR returns: the network address (host bits cleared) and the prefix. */
export function cidrNetworkString(c: GoCidr): string {
  const { nn, maskLen } = numberAndMask(c);
  const out = Uint8Array.from(nn);
  for (let bit = maskLen; bit < out.length * 8; bit++) out[bit >> 3] = (out[bit >> 3] as number) & ~(0x80 >> (bit & 7));
  return `${ipString(out.length === 4 ? v4(out[0] as number, out[1] as number, out[2] as number, out[3] as number) : out)}/${maskLen}`;
}
