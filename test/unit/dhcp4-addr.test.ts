import assert from 'node:assert/strict';
import { MalformedPacketError } from '../../shared/errors';
import {
  bufferToIp, describeMessageType, ipToBuffer, isValidIPv4, maskFromPrefix, prefixFromMask,
} from '../../daemon/dhcp4';
import { ByteWriter } from '../../daemon/wire/byte-writer';
import { ByteReader } from '../../daemon/wire/byte-reader';

describe('dhcp4 address helpers', () => {
  it('isValidIPv4 accepts strict dotted quads only', () => {
    for (const s of ['0.0.0.0', '255.255.255.255', '10.0.0.1', '192.168.100.20']) assert.ok(isValidIPv4(s), s);
    for (const s of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', '1..3.4', '0x1.2.3.4', '1e1.2.3.4']) {
      assert.ok(!isValidIPv4(s), s);
    }
  });

  it('ipToBuffer converts and throws RangeError on invalid input', () => {
    assert.deepEqual([...ipToBuffer('192.168.1.254')], [192, 168, 1, 254]);
    assert.throws(() => ipToBuffer('192.168.1'), RangeError);
  });

  it('bufferToIp reads 4 bytes at an offset; a short buffer is a malformed packet', () => {
    assert.equal(bufferToIp(Buffer.from([9, 10, 0, 0, 7])), '9.10.0.0');
    assert.equal(bufferToIp(Buffer.from([9, 10, 0, 0, 7]), 1), '10.0.0.7');
    assert.throws(() => bufferToIp(Buffer.from([1, 2, 3])), MalformedPacketError);
    assert.throws(() => bufferToIp(Buffer.from([1, 2, 3, 4]), 1), MalformedPacketError);
  });

  it('maskFromPrefix and prefixFromMask are inverse for 0..32', () => {
    for (let n = 0; n <= 32; n++) assert.equal(prefixFromMask(maskFromPrefix(n)), n);
    assert.equal(maskFromPrefix(0), '0.0.0.0');
    assert.equal(maskFromPrefix(20), '255.255.240.0');
    assert.equal(maskFromPrefix(32), '255.255.255.255');
    assert.throws(() => maskFromPrefix(33), RangeError);
    assert.throws(() => maskFromPrefix(1.5), RangeError);
  });

  it('prefixFromMask is undefined for non-contiguous or invalid masks', () => {
    for (const m of ['255.0.255.0', '0.255.255.255', '255.255.255.253', '255.255.255', 'x']) {
      assert.equal(prefixFromMask(m), undefined, m);
    }
  });

  it('describeMessageType names 1..8 and marks anything else', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map(describeMessageType), [
      'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM',
    ]);
    assert.equal(describeMessageType(0), 'UNKNOWN(0)');
    assert.equal(describeMessageType(undefined), 'NONE');
  });
});

describe('dhcp4 byte reader and writer', () => {
  it('the writer grows past its initial size without losing bytes', () => {
    const w = new ByteWriter(2);
    w.u8(1).u16(0x0203).u32(0x04050607).bytes(Buffer.from([8, 9])).zeros(3).ip('10.0.0.1');
    assert.deepEqual([...w.toBuffer()], [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 10, 0, 0, 1]);
  });

  it('the writer refuses out-of-range values', () => {
    assert.throws(() => new ByteWriter().u8(256), RangeError);
    assert.throws(() => new ByteWriter().u16(-1), RangeError);
    assert.throws(() => new ByteWriter().u32(1.5), RangeError);
  });

  it('the reader throws MalformedPacketError instead of reading past the end', () => {
    const r = new ByteReader(Buffer.from([1, 2, 3]), 'test');
    assert.equal(r.u16(), 0x0102);
    assert.throws(() => r.u16(), MalformedPacketError);
    assert.equal(r.u8(), 3);
    assert.throws(() => r.u8(), MalformedPacketError);
    assert.throws(() => new ByteReader(Buffer.alloc(3), 't').ip(), MalformedPacketError);
  });
});
