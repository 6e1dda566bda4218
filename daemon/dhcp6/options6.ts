/**
 * The DHCPv6 option TLV format (RFC 8415 §21.1): 16-bit code, 16-bit length, value. The same
 * walk serves the message level and the options nested in IA_NA and IA Address.
 */
import { MalformedPacketError } from '../../shared/errors';
import type { ByteWriter } from '../wire/byte-writer';
import type { RawOption6 } from './types';

/**
 * Options accepted at one level. A server message carries a dozen or two; a packet of
 * empty options could hold thousands, each a separate object for every consumer to walk.
 */
export const MAX_OPTIONS6 = 256;

/**
 * The options in buf[start, end). Every TLV must lie wholly inside the area: a length that
 * overruns it is malformed (the dhcpcd CVE-2019-11579 and dnsmasq CVE-2017-14493 class), as is
 * a trailing fragment too short for a header. Values are copied out.
 */
export function walkOptions6(buf: Buffer, start: number, end: number, area: string): RawOption6[] {
  if (start < 0 || end > buf.length || start > end) throw new MalformedPacketError(`${area}: bad bounds`);
  const out: RawOption6[] = [];
  let p = start;
  while (p < end) {
    if (end - p < 4) throw new MalformedPacketError(`${area}: ${end - p} stray byte(s) at offset ${p}`);
    const code = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    if (p + 4 + len > end) {
      throw new MalformedPacketError(`${area}: option ${code} at offset ${p} claims ${len} bytes, only ${end - p - 4} left`);
    }
    if (out.length === MAX_OPTIONS6) throw new MalformedPacketError(`${area}: more than ${MAX_OPTIONS6} options`);
    out.push({ code, data: Buffer.from(buf.subarray(p + 4, p + 4 + len)) });
    p += 4 + len;
  }
  return out;
}

/** Writes the options in order. A value over 65535 bytes cannot be encoded (RangeError). */
export function writeOptions6(w: ByteWriter, options: readonly RawOption6[]): void {
  for (const o of options) {
    if (o.data.length > 0xffff) throw new RangeError(`option ${o.code} value of ${o.data.length} bytes`);
    w.u16(o.code).u16(o.data.length).bytes(o.data);
  }
}

