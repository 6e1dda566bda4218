import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, type DhcpMessage } from '../../daemon/dhcp4';
import { OFFER_BYTES } from '../fixtures/dhcp4/offer';
import { COOKIE, header, MAC, tlv } from '../fixtures/dhcp4/bytes';

function discover(options: Array<[number, number[]]>, extra: Partial<DhcpMessage> = {}): DhcpMessage {
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 0xdeadbeef, secs: 0, flags: 0x8000,
    ciaddr: '0.0.0.0', yiaddr: '10.0.0.5', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: Buffer.from(MAC), sname: '', file: '',
    options: new Map(options.map(([c, v]) => [c, Buffer.from(v)])),
    ...extra,
  };
}

describe('dhcp4 encodeMessage', () => {
  it('writes the fixed header, cookie, options and End exactly as built by hand', () => {
    const out = encodeMessage(discover([[53, [1]], [55, [1, 3, 6]]]));
    const expected = [...header({ op: 1 }), ...COOKIE, ...tlv(53, [1]), ...tlv(55, [1, 3, 6]), 255];
    assert.deepEqual([...out.subarray(0, expected.length)], expected);
  });

  it('pads the message to 300 bytes (RFC 1542) with zeros after End', () => {
    const out = encodeMessage(discover([[53, [1]]]));
    assert.equal(out.length, 300);
    assert.ok(out.subarray(244).every((b) => b === 0));
  });

  it('does not pad a message already longer than 300 bytes', () => {
    const out = encodeMessage(discover([[53, [1]], [60, new Array<number>(100).fill(0x61)]]));
    assert.equal(out.length, 240 + 3 + 102 + 1);
  });

  it('puts the message type first whatever the Map order', () => {
    const out = encodeMessage(discover([[61, [0, 1]], [50, [10, 0, 0, 5]], [53, [3]]]));
    assert.deepEqual([...out.subarray(240, 243)], [53, 1, 3]);
    assert.deepEqual([...out.subarray(243, 247)], [61, 2, 0, 1]);
  });

  it('splits a 600-byte value into 255 + 255 + 90 byte instances (RFC 3396)', () => {
    const value = [...Array(600).keys()].map((i) => i & 0xff);
    const out = encodeMessage(discover([[43, value]]));
    assert.deepEqual([out[240], out[241]], [43, 255]);
    assert.deepEqual([out[240 + 257], out[240 + 258]], [43, 255]);
    assert.deepEqual([out[240 + 514], out[240 + 515]], [43, 90]);
    assert.equal(out[240 + 516 + 90], 255);
    assert.deepEqual([...(decodeMessage(out).options.get(43) ?? [])], value);
  });

  it('writes a zero-length option as code and length 0', () => {
    const out = encodeMessage(discover([[80, []]]));
    assert.deepEqual([...out.subarray(240, 243)], [80, 0, 255]);
  });

  it('pads chaddr to 16 bytes and writes sname/file as NUL-padded latin1', () => {
    const out = encodeMessage(discover([], { hlen: 2, chaddr: Buffer.from([0xab, 0xcd]), sname: 'srv', file: 'b\u00e9' }));
    assert.deepEqual([...out.subarray(28, 44)], [0xab, 0xcd, ...new Array<number>(14).fill(0)]);
    assert.equal(out.subarray(44, 48).toString('latin1'), 'srv\0');
    assert.deepEqual([...out.subarray(108, 111)], [0x62, 0xe9, 0]);
  });

  it('re-encodes a decoded OFFER into a message that decodes the same', () => {
    const m = decodeMessage(OFFER_BYTES);
    assert.deepEqual(decodeMessage(encodeMessage(m)), m);
  });

  describe('refuses messages it could not represent faithfully (RangeError)', () => {
    const cases: Array<[string, Partial<DhcpMessage>]> = [
      ['chaddr longer than 16', { hlen: 17, chaddr: Buffer.alloc(17) }],
      ['chaddr length different from hlen', { hlen: 6, chaddr: Buffer.alloc(4) }],
      ['sname longer than 64', { sname: 'x'.repeat(65) }],
      ['file with a NUL inside', { file: 'a\0b' }],
      ['sname with a non-latin1 character', { sname: '\u20ac' }],
      ['an invalid ciaddr', { ciaddr: '10.0.0.256' }],
      ['xid out of range', { xid: 2 ** 32 }],
    ];
    for (const [what, extra] of cases) {
      it(what, () => assert.throws(() => encodeMessage(discover([], extra)), RangeError));
    }
    for (const code of [0, 52, 255, 256, -1]) {
      it(`option code ${code}`, () => assert.throws(() => encodeMessage(discover([[code, [1]]])), RangeError));
    }
  });
});
