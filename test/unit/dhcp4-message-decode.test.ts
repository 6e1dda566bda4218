import assert from 'node:assert/strict';
import { MalformedPacketError } from '../../shared/errors';
import { decodeMessage, parseReplyParams } from '../../daemon/dhcp4';
import { OFFER_BYTES, OFFER_EXPECTED } from '../fixtures/dhcp4/offer';
import { ascii, COOKIE, header, packet, tlv } from '../fixtures/dhcp4/bytes';

function rejects(buf: Buffer, pattern?: RegExp): void {
  assert.throws(() => decodeMessage(buf), (err: unknown) => {
    assert.ok(err instanceof MalformedPacketError, `expected MalformedPacketError, got ${String(err)}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

function hex(map: Map<number, Buffer>): Array<[number, string]> {
  return [...map].map(([c, v]) => [c, v.toString('hex')]);
}

describe('dhcp4 decodeMessage', () => {
  describe('a complete OFFER built byte by byte', () => {
    it('decodes every header field', () => {
      const m = decodeMessage(OFFER_BYTES);
      const { chaddr, options, ...fields } = m;
      assert.deepEqual(fields, OFFER_EXPECTED.header);
      assert.equal(chaddr.toString('hex'), OFFER_EXPECTED.chaddrHex);
      assert.deepEqual([...options.keys()], OFFER_EXPECTED.optionOrder);
    });

    it('yields the expected reply parameters', () => {
      assert.deepEqual(parseReplyParams(decodeMessage(OFFER_BYTES).options), OFFER_EXPECTED.params);
    });

    it('copies values out, so later changes to the input buffer do not leak in', () => {
      const input = Buffer.from(OFFER_BYTES);
      const m = decodeMessage(input);
      input.fill(0xaa);
      assert.equal(m.chaddr.toString('hex'), OFFER_EXPECTED.chaddrHex);
      assert.equal(m.options.get(54)?.toString('hex'), 'c0a80101');
    });
  });

  describe('truncation', () => {
    it('every length shorter than header + cookie is rejected', () => {
      for (let len = 0; len < 240; len++) rejects(OFFER_BYTES.subarray(0, len), /minimum is 240/);
    });

    it('a packet cut in the middle of the cookie is rejected', () => {
      const p = Buffer.from([...header(), 0x63, 0x82]);
      rejects(p);
    });

    it('header + cookie and no options decodes with no options', () => {
      assert.equal(decodeMessage(packet([])).options.size, 0);
    });

    it('a cut inside an option value is rejected, a cut between options is accepted (missing End)', () => {
      // options area: 53,1,2 | 54,4,192,168,1,1 | ...; offsets relative to byte 240
      rejects(OFFER_BYTES.subarray(0, 240 + 3 + 3), /claims 4 bytes, only 1 left/);
      const m = decodeMessage(OFFER_BYTES.subarray(0, 240 + 3 + 6));
      assert.deepEqual(hex(m.options), [[53, '02'], [54, 'c0a80101']]);
    });

    it('an option code as the last byte, without its length byte, is rejected', () => {
      rejects(packet([...tlv(53, [1]), 61]), /has no length byte/);
    });

    it('a cut at any point of the OFFER either decodes or throws MalformedPacketError', () => {
      for (let len = 240; len <= OFFER_BYTES.length; len++) {
        try {
          decodeMessage(OFFER_BYTES.subarray(0, len));
        } catch (err) {
          assert.ok(err instanceof MalformedPacketError, `length ${len}: ${String(err)}`);
        }
      }
    });
  });

  describe('fixed-field validation', () => {
    it('a wrong magic cookie is rejected', () => {
      rejects(Buffer.from([...header(), 0x63, 0x82, 0x53, 0x64, 255]), /magic cookie/);
    });

    it('op other than 1 or 2 is rejected', () => {
      for (const op of [0, 3, 255]) rejects(packet([255], { op }), /bad op/);
    });

    it('hlen above 16 is rejected', () => {
      rejects(packet([255], { hlen: 17 }), /hlen 17/);
    });

    it('chaddr is exactly the first hlen bytes', () => {
      const chaddr = [...Array(16).keys()].map((i) => i + 1);
      assert.equal(decodeMessage(packet([255], { hlen: 0, chaddr })).chaddr.length, 0);
      assert.equal(decodeMessage(packet([255], { hlen: 6, chaddr })).chaddr.toString('hex'), '010203040506');
      assert.equal(decodeMessage(packet([255], { hlen: 16, chaddr })).chaddr.length, 16);
    });

    it('sname and file are NUL-terminated latin1 text; a full field without NUL is read whole', () => {
      const sname = new Array<number>(64).fill(0x41);
      const file = [0x63, 0xe9, 0, 0x78]; // "cé" then NUL then junk
      const m = decodeMessage(packet([255], { sname, file }));
      assert.equal(m.sname, 'A'.repeat(64));
      assert.equal(m.file, 'c\u00e9');
    });
  });

  describe('option TLV walk', () => {
    it('option length overrunning the buffer is rejected (dhcpcd CVE-2019-11579)', () => {
      rejects(packet([...tlv(53, [2]), 6, 200, 8, 8, 8, 8]), /claims 200 bytes, only 4 left/);
      rejects(packet([54, 4, 1, 2]), /option 54/);
    });

    it('Pad is a single byte, not a TLV: the byte after it is the next option code', () => {
      const m = decodeMessage(packet([0, ...tlv(53, [5]), 0, 0, 0, ...tlv(3, [10, 0, 0, 1]), 0, 255]));
      assert.deepEqual(hex(m.options), [[53, '05'], [3, '0a000001']]);
    });

    it('End stops the walk: bytes after it are ignored, even malformed ones', () => {
      const m = decodeMessage(packet([...tlv(53, [5]), 255, 6, 200, 1]));
      assert.deepEqual(hex(m.options), [[53, '05']]);
    });

    it('repeated options are concatenated in arrival order, keeping the first position (RFC 3396)', () => {
      const m = decodeMessage(
        packet([...tlv(6, [1, 1, 1, 1]), ...tlv(53, [5]), ...tlv(6, [2, 2]), 0, ...tlv(6, [2, 2]), 255]),
      );
      assert.deepEqual(hex(m.options), [[6, '0101010102020202'], [53, '05']]);
      assert.deepEqual(parseReplyParams(m.options).dnsServers, ['1.1.1.1', '2.2.2.2']);
    });

    it('a zero-length option decodes to an empty value', () => {
      assert.deepEqual(hex(decodeMessage(packet([...tlv(80, []), 255])).options), [[80, '']]);
    });

    it('a 600-byte value split over three instances is reassembled', () => {
      const v = [...Array(600).keys()].map((i) => i & 0xff);
      const m = decodeMessage(packet([...tlv(43, v.slice(0, 255)), ...tlv(43, v.slice(255, 510)), ...tlv(43, v.slice(510)), 255]));
      assert.deepEqual([...(m.options.get(43) ?? [])], v);
    });
  });

  describe('option overload (52)', () => {
    const fileOpts = [...tlv(3, [10, 0, 0, 1]), ...tlv(6, [9, 9, 9, 9]), 255];
    const snameOpts = [...tlv(15, 'lan'), ...tlv(6, [8, 8, 8, 8]), 255];

    it('overload 1 reads options from file; sname stays text', () => {
      const m = decodeMessage(packet([...tlv(52, [1]), ...tlv(53, [2]), 255], { file: fileOpts, sname: ascii('srv') }));
      assert.equal(m.file, '');
      assert.equal(m.sname, 'srv');
      assert.deepEqual(hex(m.options), [[53, '02'], [3, '0a000001'], [6, '09090909']]);
    });

    it('overload 2 reads options from sname; file stays text', () => {
      const m = decodeMessage(packet([...tlv(52, [2]), 255], { sname: snameOpts, file: ascii('boot.img') }));
      assert.equal(m.sname, '');
      assert.equal(m.file, 'boot.img');
      assert.deepEqual(hex(m.options), [[15, '6c616e'], [6, '08080808']]);
    });

    it('overload 3 reads options, then file, then sname, concatenating in that order', () => {
      const m = decodeMessage(packet([...tlv(6, [1, 1, 1, 1]), ...tlv(52, [3]), 255], { file: fileOpts, sname: snameOpts }));
      assert.equal(m.sname, '');
      assert.equal(m.file, '');
      assert.deepEqual(hex(m.options), [[6, '010101010909090908080808'], [3, '0a000001'], [15, '6c616e']]);
      assert.equal(m.options.has(52), false, 'option 52 is consumed, not reported');
    });

    it('option 52 inside file or sname does not trigger another pass (overload loop)', () => {
      const file = [...tlv(52, [3]), ...tlv(3, [10, 0, 0, 1]), ...tlv(52, [2])];
      const sname = [...tlv(52, [1]), ...tlv(52, [3])];
      const m = decodeMessage(packet([...tlv(52, [3]), 255], { file, sname }));
      assert.deepEqual(hex(m.options), [[3, '0a000001']]);
    });

    it('option 52 that appears only in file is not honoured', () => {
      const m = decodeMessage(packet([255], { file: [...tlv(52, [2]), 255], sname: [...tlv(3, [1, 2, 3, 4])] }));
      assert.equal(m.options.size, 0);
      assert.equal(m.sname, '\u0003\u0004\u0001\u0002\u0003\u0004');
    });

    it('an overload value other than one byte 1..3 is rejected', () => {
      for (const v of [[0], [4], [255], [], [1, 1]]) rejects(packet([...tlv(52, v), 255]), /option 52/);
    });

    it('two option 52 instances concatenate into an invalid value and are rejected', () => {
      rejects(packet([...tlv(52, [1]), ...tlv(52, [2]), 255]), /option 52/);
    });

    it('an overrunning option inside an overloaded field is rejected', () => {
      rejects(packet([...tlv(52, [1]), 255], { file: [6, 200, 1, 2, 3, 4] }), /file: option 6/);
    });

    it('a field without End is accepted when its TLVs end exactly at the field end', () => {
      const sname = [...tlv(43, new Array<number>(62).fill(7))]; // 64 bytes exactly
      const m = decodeMessage(packet([...tlv(52, [2]), 255], { sname }));
      assert.equal(m.options.get(43)?.length, 62);
    });
  });

  it('a packet that is all header, cookie and Pad decodes', () => {
    assert.equal(decodeMessage(Buffer.from([...header(), ...COOKIE, ...new Array<number>(60).fill(0)])).options.size, 0);
  });
});
