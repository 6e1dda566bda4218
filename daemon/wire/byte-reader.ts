/**
 * A bounds-checked cursor over a Buffer. Every read past the end throws MalformedPacketError,
 * so parsers written against it cannot read out of bounds (the dhcpcd CVE-2019-11579 class).
 */
import { MalformedPacketError } from '../../shared/errors';
import { bufferToIp6 } from '../dhcp6/addr6';

export class ByteReader {
  private pos = 0;

  /** `what` names the structure being read, for error messages. */
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n > this.remaining) {
      throw new MalformedPacketError(
        `${this.what}: need ${n} byte(s) at offset ${this.pos}, only ${this.remaining} left`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A view (not a copy) of the next n bytes. */
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** The next 4 bytes as a dotted quad. */
  ip(): string {
    const b = this.bytes(4);
    return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  }

  /** The next 16 bytes as canonical IPv6 text. */
  ip6(): string {
    return bufferToIp6(this.bytes(16));
  }
}
