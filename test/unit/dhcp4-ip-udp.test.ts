import assert from 'node:assert/strict';
import { MalformedPacketError } from '../../shared/errors';
import { decodeIpUdp, encodeIpUdp, internetChecksum } from '../../daemon/dhcp4';
import {
  DISCOVER_HEX, HELLO_HEX, WIKIPEDIA_HEADER_CHECKSUM, WIKIPEDIA_HEADER_HEX,
} from '../fixtures/dhcp4/ip-udp-vectors';

const hello = () => Buffer.from(HELLO_HEX, 'hex');

/** Edits an IP header field, then fixes the header checksum so only the edit is under test. */
function withHeaderEdit(buf: Buffer, edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(buf);
  edit(b);
  const ihl = (b[0]! & 0x0f) * 4;
  b.writeUInt16BE(0, 10);
  b.writeUInt16BE(internetChecksum(b.subarray(0, ihl)), 10);
  return b;
}

function rejects(buf: Buffer, pattern: RegExp): void {
  assert.throws(() => decodeIpUdp(buf), (err: unknown) => err instanceof MalformedPacketError && pattern.test(err.message));
}

describe('dhcp4 IPv4/UDP framing', () => {
  it('the internet checksum of the textbook IPv4 header is 0xb861', () => {
    assert.equal(internetChecksum(Buffer.from(WIKIPEDIA_HEADER_HEX, 'hex')), WIKIPEDIA_HEADER_CHECKSUM);
  });

  it('encodes the tcpdump-verified vector with an odd-length payload byte for byte', () => {
    const out = encodeIpUdp({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 68, dstPort: 67, payload: Buffer.from('hello') });
    assert.equal(out.toString('hex'), HELLO_HEX);
  });

  it('encodes a broadcast DISCOVER from 0.0.0.0 matching the tcpdump-verified vector', () => {
    const v = Buffer.from(DISCOVER_HEX, 'hex');
    const payload = v.subarray(28);
    const out = encodeIpUdp({ srcIp: '0.0.0.0', dstIp: '255.255.255.255', srcPort: 68, dstPort: 67, payload });
    assert.equal(out.toString('hex'), DISCOVER_HEX);
    assert.equal(out[8], 64, 'TTL 64');
    assert.equal(out.readUInt16BE(6), 0, 'DF off, not a fragment');
  });

  it('decodes the vectors back to addresses, ports and payload', () => {
    assert.deepEqual(decodeIpUdp(hello()), {
      srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 68, dstPort: 67, payload: Buffer.from('hello'),
    });
    const d = decodeIpUdp(Buffer.from(DISCOVER_HEX, 'hex'));
    assert.equal(d.dstIp, '255.255.255.255');
    assert.equal(d.payload.length, 300);
  });

  it('honours a custom TTL', () => {
    const out = encodeIpUdp({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 1, dstPort: 2, payload: Buffer.alloc(0), ttl: 1 });
    assert.equal(out[8], 1);
    assert.equal(decodeIpUdp(out).payload.length, 0);
  });

  it('a computed UDP checksum of zero is sent as 0xffff and verifies', () => {
    const base = { srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 68, dstPort: 67 };
    const payload = Buffer.from([1, 2, 3, 4, 0, 0]);
    // With the last word equal to the checksum computed without it, the full sum becomes 0.
    payload.writeUInt16BE(encodeIpUdp({ ...base, payload }).readUInt16BE(26), 4);
    const out = encodeIpUdp({ ...base, payload });
    assert.equal(out.readUInt16BE(26), 0xffff);
    assert.deepEqual(decodeIpUdp(out).payload, payload);
  });

  it('trims Ethernet padding past the IP total length', () => {
    const padded = Buffer.concat([hello(), Buffer.alloc(27, 0xee)]);
    assert.deepEqual(decodeIpUdp(padded).payload, Buffer.from('hello'));
  });

  it('accepts a header with IP options (IHL 6)', () => {
    const h = hello();
    const withOptions = Buffer.concat([h.subarray(0, 20), Buffer.from([1, 1, 1, 0]), h.subarray(20)]);
    const b = withHeaderEdit(withOptions, (x) => { x[0] = 0x46; x.writeUInt16BE(x.length, 2); });
    assert.deepEqual(decodeIpUdp(b).payload, Buffer.from('hello'));
  });

  it('accepts a UDP checksum of 0 (none sent)', () => {
    const b = hello();
    b.writeUInt16BE(0, 26);
    assert.deepEqual(decodeIpUdp(b).payload, Buffer.from('hello'));
  });

  it('a fragment is rejected: MF set, or a non-zero offset', () => {
    rejects(withHeaderEdit(hello(), (b) => b.writeUInt16BE(0x2000, 6)), /fragment/);
    rejects(withHeaderEdit(hello(), (b) => b.writeUInt16BE(0x0001, 6)), /fragment/);
    rejects(withHeaderEdit(hello(), (b) => b.writeUInt16BE(0x00b9, 6)), /fragment/);
  });

  it('DF alone is not a fragment', () => {
    assert.equal(decodeIpUdp(withHeaderEdit(hello(), (b) => b.writeUInt16BE(0x4000, 6))).srcPort, 68);
  });

  it('rejects wrong version, short IHL, short or overlong total length, non-UDP', () => {
    rejects(hello().subarray(0, 19), /shorter than 20/);
    rejects(withHeaderEdit(hello(), (b) => { b[0] = 0x65; }), /version 6/);
    rejects(withHeaderEdit(hello(), (b) => { b[0] = 0x44; }), /header length 16/);
    rejects(withHeaderEdit(hello(), (b) => b.writeUInt16BE(34, 2)), /exceeds the 33 bytes/);
    rejects(withHeaderEdit(hello(), (b) => b.writeUInt16BE(27, 2)), /no room for a UDP header/);
    rejects(withHeaderEdit(hello(), (b) => { b[9] = 6; }), /protocol 6/);
  });

  it('rejects a bad IP header checksum', () => {
    const b = hello();
    b[11] = b[11]! ^ 1;
    rejects(b, /bad IP header checksum/);
  });

  it('rejects a bad UDP checksum and a corrupted payload', () => {
    const b = hello();
    b[27] = b[27]! ^ 1;
    rejects(b, /bad UDP checksum/);
    const c = hello();
    c[30] = 0x4c;
    rejects(c, /bad UDP checksum/);
  });

  it('rejects a UDP length shorter than its header or longer than the IP payload', () => {
    const short = hello();
    short.writeUInt16BE(7, 24);
    rejects(short, /UDP length 7/);
    const long = hello();
    long.writeUInt16BE(14, 24);
    rejects(long, /UDP length 14/);
  });

  it('uses the UDP length when it is shorter than the IP payload', () => {
    const p = encodeIpUdp({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 68, dstPort: 67, payload: Buffer.from('hi') });
    const trailing = withHeaderEdit(Buffer.concat([p, Buffer.from([0xaa, 0xbb])]), (b) => b.writeUInt16BE(b.length, 2));
    assert.deepEqual(decodeIpUdp(trailing).payload, Buffer.from('hi'));
  });

  it('refuses to encode invalid addresses, ports or oversize payloads', () => {
    const ok = { srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 68, dstPort: 67, payload: Buffer.alloc(1) };
    assert.throws(() => encodeIpUdp({ ...ok, srcIp: '10.0.0' }), RangeError);
    assert.throws(() => encodeIpUdp({ ...ok, dstPort: 65536 }), RangeError);
    assert.throws(() => encodeIpUdp({ ...ok, payload: Buffer.alloc(65536 - 28) }), RangeError);
  });
});
