/**
 * BOOTP/DHCP message encode and decode (RFC 2131 §2, RFC 2132, RFC 3396, RFC 1542).
 *
 *   0      op htype hlen hops | 4 xid | 8 secs flags | 12 ciaddr | 16 yiaddr | 20 siaddr
 *   24     giaddr | 28 chaddr[16] | 44 sname[64] | 108 file[128] | 236 magic cookie | 240 options
 */
import { MalformedPacketError } from '../../shared/errors';
import { bufferToIp } from './addr';
import { ByteWriter } from '../wire/byte-writer';
import { OptionAccumulator, walkOptions, writeOptions } from './options-codec';
import { BootOp, Opt, type DhcpMessage } from './types';

export const MAGIC_COOKIE = 0x63825363;
const SNAME_OFFSET = 44;
const SNAME_LEN = 64;
const FILE_OFFSET = 108;
const FILE_LEN = 128;
const COOKIE_OFFSET = 236;
export const OPTIONS_OFFSET = 240;
const CHADDR_OFFSET = 28;
const CHADDR_LEN = 16;
/** RFC 1542 §3.1.1: some relays drop BOOTP messages shorter than 300 bytes. */
export const MIN_MESSAGE_SIZE = 300;

const OVERLOAD_FILE = 1;
const OVERLOAD_SNAME = 2;

export function decodeMessage(buf: Buffer): DhcpMessage {
  if (!Buffer.isBuffer(buf)) throw new MalformedPacketError('not a buffer');
  if (buf.length < OPTIONS_OFFSET) {
    throw new MalformedPacketError(`message is ${buf.length} bytes, the minimum is ${OPTIONS_OFFSET}`);
  }
  const op = buf.readUInt8(0);
  if (op !== BootOp.REQUEST && op !== BootOp.REPLY) throw new MalformedPacketError(`bad op ${op}`);
  const hlen = buf.readUInt8(2);
  if (hlen > CHADDR_LEN) throw new MalformedPacketError(`hlen ${hlen} exceeds ${CHADDR_LEN}`);
  const cookie = buf.readUInt32BE(COOKIE_OFFSET);
  if (cookie !== MAGIC_COOKIE) {
    throw new MalformedPacketError(`bad magic cookie 0x${cookie.toString(16).padStart(8, '0')}`);
  }

  const acc = new OptionAccumulator();
  walkOptions(buf, OPTIONS_OFFSET, buf.length, 'options', acc);
  const overload = readOverload(acc);
  // RFC 2131 §4.1: options first, then file, then sname. Option 52 inside those areas is
  // dropped, so overload is honoured exactly once and cannot loop.
  if (overload & OVERLOAD_FILE) {
    walkOptions(buf, FILE_OFFSET, FILE_OFFSET + FILE_LEN, 'file', acc, Opt.OVERLOAD);
  }
  if (overload & OVERLOAD_SNAME) {
    walkOptions(buf, SNAME_OFFSET, SNAME_OFFSET + SNAME_LEN, 'sname', acc, Opt.OVERLOAD);
  }

  return {
    op,
    htype: buf.readUInt8(1),
    hlen,
    hops: buf.readUInt8(3),
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: bufferToIp(buf, 12),
    yiaddr: bufferToIp(buf, 16),
    siaddr: bufferToIp(buf, 20),
    giaddr: bufferToIp(buf, 24),
    chaddr: Buffer.from(buf.subarray(CHADDR_OFFSET, CHADDR_OFFSET + hlen)),
    sname: overload & OVERLOAD_SNAME ? '' : cString(buf, SNAME_OFFSET, SNAME_LEN),
    file: overload & OVERLOAD_FILE ? '' : cString(buf, FILE_OFFSET, FILE_LEN),
    options: acc.build(),
  };
}

/**
 * Option 52 is consumed here and does not appear in the decoded options: it describes framing,
 * and its effect is already visible as '' in sname/file plus the merged options.
 */
function readOverload(acc: OptionAccumulator): number {
  const parts = acc.get(Opt.OVERLOAD);
  if (parts === undefined) return 0;
  acc.delete(Opt.OVERLOAD);
  const value = Buffer.concat(parts);
  const v = value[0];
  if (value.length !== 1 || v === undefined || v < 1 || v > 3) {
    throw new MalformedPacketError(`option 52 (overload) must be one byte 1..3, got ${value.toString('hex')}`);
  }
  return v;
}

function cString(buf: Buffer, offset: number, len: number): string {
  const field = buf.subarray(offset, offset + len);
  const nul = field.indexOf(0);
  return field.toString('latin1', 0, nul === -1 ? len : nul);
}

/**
 * Encodes a message. Options are never overloaded into sname/file: we only send small
 * messages, and a server must accept up to 576 bytes (RFC 2131 §2). Invalid field values are
 * programming errors and throw RangeError.
 */
export function encodeMessage(msg: DhcpMessage): Buffer {
  if (msg.chaddr.length > CHADDR_LEN || msg.chaddr.length !== msg.hlen) {
    throw new RangeError(`chaddr is ${msg.chaddr.length} bytes but hlen is ${msg.hlen} (max ${CHADDR_LEN})`);
  }
  const w = new ByteWriter(MIN_MESSAGE_SIZE + 64);
  w.u8(msg.op).u8(msg.htype).u8(msg.hlen).u8(msg.hops);
  w.u32(msg.xid).u16(msg.secs).u16(msg.flags);
  w.ip(msg.ciaddr).ip(msg.yiaddr).ip(msg.siaddr).ip(msg.giaddr);
  w.bytes(msg.chaddr).zeros(CHADDR_LEN - msg.chaddr.length);
  w.bytes(fixedText(msg.sname, SNAME_LEN, 'sname'));
  w.bytes(fixedText(msg.file, FILE_LEN, 'file'));
  w.u32(MAGIC_COOKIE);
  writeOptions(w, msg.options);
  if (w.length < MIN_MESSAGE_SIZE) w.zeros(MIN_MESSAGE_SIZE - w.length);
  return w.toBuffer();
}

/** latin1 text NUL-padded to `len`; refuses text that would not decode back to itself. */
function fixedText(s: string, len: number, what: string): Buffer {
  if (s.length > len || /[^\x01-\xff]/.test(s)) {
    throw new RangeError(`${what} must be at most ${len} latin1 characters without NUL`);
  }
  const out = Buffer.alloc(len);
  out.write(s, 'latin1');
  return out;
}
