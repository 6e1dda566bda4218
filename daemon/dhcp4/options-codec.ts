/**
 * The options TLV format (RFC 2132 §2) and long-option splitting/concatenation (RFC 3396).
 * Pad (0) is a single byte with no length; End (255) stops the walk.
 */
import { MalformedPacketError } from '../../shared/errors';
import { Opt } from './types';
import type { ByteWriter } from '../wire/byte-writer';

/**
 * Collects option fragments across the options, file and sname areas, keeping first-seen order.
 * Fragments are views into the packet; `build` copies them out once, so the total allocated is
 * bounded by the packet size whatever the option count.
 */
export class OptionAccumulator {
  private readonly parts = new Map<number, Buffer[]>();

  add(code: number, value: Buffer): void {
    const list = this.parts.get(code);
    if (list) list.push(value);
    else this.parts.set(code, [value]);
  }

  get(code: number): Buffer[] | undefined {
    return this.parts.get(code);
  }

  delete(code: number): void {
    this.parts.delete(code);
  }

  build(): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    for (const [code, list] of this.parts) out.set(code, Buffer.concat(list));
    return out;
  }
}

/**
 * Walks the TLVs in buf[start, end). A missing End is accepted when every TLV before the end of
 * the area is complete; a length that overruns the area is malformed (dhcpcd CVE-2019-11579).
 * `skip` lists codes to drop silently (option 52 found inside sname/file must not start
 * another overload pass).
 */
export function walkOptions(
  buf: Buffer,
  start: number,
  end: number,
  area: string,
  acc: OptionAccumulator,
  skip?: number,
): void {
  let p = start;
  while (p < end) {
    const code = buf[p] as number;
    if (code === Opt.PAD) {
      p += 1;
      continue;
    }
    if (code === Opt.END) return;
    if (p + 1 >= end) {
      throw new MalformedPacketError(`${area}: option ${code} at offset ${p} has no length byte`);
    }
    const len = buf[p + 1] as number;
    const valueStart = p + 2;
    if (valueStart + len > end) {
      throw new MalformedPacketError(
        `${area}: option ${code} at offset ${p} claims ${len} bytes, only ${end - valueStart} left`,
      );
    }
    if (code !== skip) acc.add(code, buf.subarray(valueStart, valueStart + len));
    p = valueStart + len;
  }
}

/**
 * Writes the options in Map order, message type first, then End. A value longer than 255 bytes
 * becomes consecutive instances of the same code (RFC 3396 §7). Pad, End and Overload are
 * framing, not data, and are refused: a caller that passes them has a bug.
 */
export function writeOptions(w: ByteWriter, options: Map<number, Buffer>): void {
  const mt = options.get(Opt.MESSAGE_TYPE);
  if (mt !== undefined) writeOne(w, Opt.MESSAGE_TYPE, mt);
  for (const [code, value] of options) {
    if (code !== Opt.MESSAGE_TYPE) writeOne(w, code, value);
  }
  w.u8(Opt.END);
}

function writeOne(w: ByteWriter, code: number, value: Buffer): void {
  if (!Number.isInteger(code) || code <= Opt.PAD || code >= Opt.END || code === Opt.OVERLOAD) {
    throw new RangeError(`option code ${code} cannot be encoded as data`);
  }
  if (value.length === 0) {
    w.u8(code).u8(0);
    return;
  }
  for (let off = 0; off < value.length; off += 255) {
    const chunk = value.subarray(off, off + 255);
    w.u8(code).u8(chunk.length).bytes(chunk);
  }
}
