/**
 * An append-only big-endian writer that grows as needed. Values out of range are programming
 * errors (we only ever encode our own messages) and throw RangeError.
 */
import { ipToBuffer } from '../dhcp4/addr';
import { ip6ToBuffer } from '../dhcp6/addr6';

export class ByteWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initialSize = 576) {
    this.buf = Buffer.alloc(initialSize);
  }

  get length(): number {
    return this.len;
  }

  private reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    const at = this.len;
    this.len += n;
    return at;
  }

  u8(v: number): this {
    checkUint(v, 0xff, 'u8');
    const at = this.reserve(1);
    this.buf.writeUInt8(v, at);
    return this;
  }

  u16(v: number): this {
    checkUint(v, 0xffff, 'u16');
    const at = this.reserve(2);
    this.buf.writeUInt16BE(v, at);
    return this;
  }

  u32(v: number): this {
    checkUint(v, 0xffffffff, 'u32');
    const at = this.reserve(4);
    this.buf.writeUInt32BE(v, at);
    return this;
  }

  bytes(b: Uint8Array): this {
    const at = this.reserve(b.length); // before reading this.buf: reserve may replace it
    this.buf.set(b, at);
    return this;
  }

  ip(ip: string): this {
    return this.bytes(ipToBuffer(ip));
  }

  ip6(ip: string): this {
    return this.bytes(ip6ToBuffer(ip));
  }

  /** n zero bytes (the buffer is zero-filled, so reserving is enough). */
  zeros(n: number): this {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`invalid zero count ${n}`);
    this.reserve(n);
    return this;
  }

  /** Overwrites a u16 already written, e.g. a length or checksum filled in afterwards. */
  patchU16(at: number, v: number): void {
    checkUint(v, 0xffff, 'u16');
    if (at < 0 || at + 2 > this.len) throw new RangeError(`patch offset ${at} out of range`);
    this.buf.writeUInt16BE(v, at);
  }

  /** A copy of the bytes written so far. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what} out of range: ${v}`);
}
