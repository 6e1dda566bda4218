/**
 * DHCPv6 message encode and decode (RFC 8415 §8, §9).
 *
 *   client/server:  0 msg-type | 1 transaction-id (3) | 4 options
 *   relay:          0 msg-type | 1 hop-count | 2 link-address (16) | 18 peer-address (16) | 34 options
 */
import { MalformedPacketError } from '../../shared/errors';
import { ByteWriter } from '../wire/byte-writer';
import { bufferToIp6 } from './addr6';
import { walkOptions6, writeOptions6 } from './options6';
import { MessageType6, type Dhcp6Packet } from './types';

const HEADER_LEN = 4;
const RELAY_HEADER_LEN = 34;
/** The largest UDP payload over IPv6 without jumbograms. */
export const MAX_MESSAGE6 = 65_535 - 8;

export function isRelayType(type: number): boolean {
  return type === MessageType6.RELAY_FORW || type === MessageType6.RELAY_REPL;
}

export function decodeMessage6(buf: Buffer): Dhcp6Packet {
  if (!Buffer.isBuffer(buf)) throw new MalformedPacketError('not a buffer');
  if (buf.length < HEADER_LEN) throw new MalformedPacketError(`message is ${buf.length} bytes, the minimum is ${HEADER_LEN}`);
  if (buf.length > MAX_MESSAGE6) throw new MalformedPacketError(`message is ${buf.length} bytes, the maximum is ${MAX_MESSAGE6}`);
  const type = buf[0]!;
  if (type < MessageType6.SOLICIT || type > MessageType6.RELAY_REPL) {
    throw new MalformedPacketError(`unknown message type ${type}`);
  }
  if (isRelayType(type)) {
    if (buf.length < RELAY_HEADER_LEN) {
      throw new MalformedPacketError(`relay message is ${buf.length} bytes, the minimum is ${RELAY_HEADER_LEN}`);
    }
    return {
      kind: 'relay',
      type,
      hopCount: buf[1]!,
      linkAddress: bufferToIp6(buf, 2),
      peerAddress: bufferToIp6(buf, 18),
      options: walkOptions6(buf, RELAY_HEADER_LEN, buf.length, 'relay options'),
    };
  }
  return {
    kind: 'message',
    type,
    xid: buf.readUIntBE(1, 3),
    options: walkOptions6(buf, HEADER_LEN, buf.length, 'options'),
  };
}

/** Invalid field values are programming errors and throw RangeError. */
export function encodeMessage6(msg: Dhcp6Packet): Buffer {
  const w = new ByteWriter(256);
  if (isRelayType(msg.type) !== (msg.kind === 'relay')) {
    throw new RangeError(`message type ${msg.type} does not match kind ${msg.kind}`);
  }
  if (msg.type < MessageType6.SOLICIT || msg.type > MessageType6.RELAY_REPL) {
    throw new RangeError(`unknown message type ${msg.type}`);
  }
  w.u8(msg.type);
  if (msg.kind === 'relay') {
    w.u8(msg.hopCount).ip6(msg.linkAddress).ip6(msg.peerAddress);
  } else {
    if (!Number.isInteger(msg.xid) || msg.xid < 0 || msg.xid > 0xffffff) throw new RangeError(`xid out of range: ${msg.xid}`);
    w.u8(msg.xid >>> 16).u16(msg.xid & 0xffff);
  }
  writeOptions6(w, msg.options);
  if (w.length > MAX_MESSAGE6) throw new RangeError(`message of ${w.length} bytes`);
  return w.toBuffer();
}
