import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MalformedPacketError } from '../../shared/errors';
import {
  bufferToIp6, canonicalIp6, ip6ToBuffer, isLeasable6, isLinkLocal6, isMulticast6, isValidIPv6, linkLocalFromMac, multicastMac6,
} from '../../daemon/dhcp6';

describe('dhcp6 addresses', () => {
  it('writes RFC 5952 canonical text', () => {
    const cases: Array<[string, string]> = [
      ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::', 'fe80::'],
      ['ff02::1:2', 'ff02::1:2'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longer run wins
      ['::ffff:198.18.0.1', '::ffff:c612:1'],
    ];
    for (const [input, want] of cases) assert.equal(canonicalIp6(input), want, input);
  });

  it('refuses what is not an address', () => {
    for (const bad of ['', ':', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::', '::1.2.3', '1.2.3.4::', '::256.1.1.1', '::01.1.1.1', 'fe80::1%eth0', ':::', '1:2:3:4:5:6:7::8:9']) {
      assert.equal(isValidIPv6(bad), false, bad);
      assert.throws(() => ip6ToBuffer(bad), RangeError, bad);
    }
    assert.equal(isValidIPv6('1:2:3:4:5:6:7::'), true);
    assert.throws(() => bufferToIp6(Buffer.alloc(15)), MalformedPacketError);
  });

  it('agrees with the WHATWG URL parser on every 16-byte value (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 }), (groups) => {
        const b = Buffer.alloc(16);
        groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
        const text = bufferToIp6(b);
        assert.equal(text, new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1));
        assert.deepEqual(ip6ToBuffer(text), b);
      }),
      { numRuns: 2000 },
    );
  });

  it('derives the kernel’s EUI-64 link-local address and the multicast MAC', () => {
    assert.equal(linkLocalFromMac(Buffer.from([0x02, 0x42, 0xac, 0x11, 0x00, 0x02])), 'fe80::42:acff:fe11:2');
    assert.equal(linkLocalFromMac(Buffer.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])), 'fe80::5054:ff:fe12:3456');
    assert.deepEqual(multicastMac6('ff02::1:2'), Buffer.from([0x33, 0x33, 0, 1, 0, 2]));
    assert.throws(() => multicastMac6('2001:db8::1'), RangeError);
  });

  it('classifies addresses', () => {
    assert.ok(isLinkLocal6('fe80::1') && isLinkLocal6('febf::1') && !isLinkLocal6('fec0::1'));
    assert.ok(isMulticast6('ff02::1:2') && !isMulticast6('2001:db8::1'));
    assert.ok(isLeasable6('2001:db8:5::142'));
    for (const no of ['::', '::1', 'ff02::1', 'fe80::1', 'x', undefined]) assert.equal(isLeasable6(no), false, String(no));
  });
});
