import assert from 'node:assert/strict';
import { MalformedPacketError } from '../../shared/errors';
import { decodeIp6Udp, encodeIp6Udp } from '../../daemon/dhcp6';
import { encodeIpUdp, decodeIpUdp } from '../../daemon/dhcp4';
import { completeUdpChecksum } from '../../daemon/io/receive';

/** Built and summed by an independent implementation (Python's struct + a plain RFC 1071 loop). */
const VECTOR_HEX = '6000000000111101fe80000000000000505400fffe123456fe800000000000000042acfffe11000202230222001193fd07123456000e000000';
const VECTOR = {
  srcIp: 'fe80::5054:ff:fe12:3456',
  dstIp: 'fe80::42:acff:fe11:2',
  srcPort: 547,
  dstPort: 546,
  payload: Buffer.from([7, 0x12, 0x34, 0x56, 0, 14, 0, 0, 0]),
};

const malformed = (b: Buffer, re: RegExp) => assert.throws(() => decodeIp6Udp(b), (e: unknown) => e instanceof MalformedPacketError && re.test(e.message));

describe('dhcp6 IPv6/UDP framing', () => {
  it('encodes the independent vector byte for byte (hop limit 1, pseudo-header checksum) and decodes it back', () => {
    const b = encodeIp6Udp(VECTOR);
    assert.equal(b.toString('hex'), VECTOR_HEX);
    assert.deepEqual(decodeIp6Udp(Buffer.from(VECTOR_HEX, 'hex')), VECTOR);
  });

  it('tolerates Ethernet padding after the payload length', () => {
    assert.deepEqual(decodeIp6Udp(Buffer.concat([Buffer.from(VECTOR_HEX, 'hex'), Buffer.alloc(12)])), VECTOR);
  });

  it('refuses bad checksums, a zero checksum, other next headers, and lengths that do not fit', () => {
    const good = Buffer.from(VECTOR_HEX, 'hex');
    const edit = (at: number, v: number) => { const b = Buffer.from(good); b[at] = v; return b; };
    malformed(edit(good.length - 1, 1), /bad UDP checksum/);
    malformed(edit(8 + 15, 0x57), /bad UDP checksum/); // source address is covered by the pseudo-header
    malformed((() => { const b = Buffer.from(good); b.writeUInt16BE(0, 46); return b; })(), /without a checksum/);
    malformed(edit(6, 0), /next header 0 is not UDP/); // hop-by-hop options header
    malformed(edit(0, 0x45), /IP version 4/);
    malformed(edit(5, 0x40), /payload length 64 exceeds/);
    malformed(edit(5, 0x07), /no room for a UDP header/);
    malformed(edit(45, 0x30), /UDP length 48 does not fit/);
    malformed(edit(45, 0x07), /UDP length 7/);
    malformed(good.subarray(0, 47), /shorter than 48/);
  });

  it('completeUdpChecksum fills in a partial (offloaded) checksum, for IPv6 and IPv4 alike', () => {
    const v6 = Buffer.from(VECTOR_HEX, 'hex');
    v6.writeUInt16BE(0x1234, 46); // what CHECKSUM_PARTIAL leaves: the pseudo-header sum, not final
    completeUdpChecksum(v6);
    assert.equal(v6.toString('hex'), VECTOR_HEX);
    const v4spec = { srcIp: '198.18.0.1', dstIp: '198.18.0.57', srcPort: 67, dstPort: 68, payload: Buffer.from('abcde') };
    const v4 = encodeIpUdp(v4spec);
    const want = v4.toString('hex');
    v4.writeUInt16BE(0x1234, 26);
    completeUdpChecksum(v4);
    assert.equal(v4.toString('hex'), want);
    assert.deepEqual(decodeIpUdp(v4), v4spec);
    const junk = Buffer.from([0x60, 1, 2]);
    completeUdpChecksum(junk);
    assert.deepEqual(junk, Buffer.from([0x60, 1, 2]), 'too short: left alone');
  });
});
