import assert from 'node:assert/strict';
import { cidrContains, cidrString, ipString, isV4, parseCIDR, parseIP } from '../../shared/go-ip';

function cidr(s: string) {
  const c = parseCIDR(s);
  assert.ok(c, `${s} should parse`);
  return c;
}

function ip(s: string) {
  const x = parseIP(s);
  assert.ok(x, `${s} should parse`);
  return x;
}

describe('static: Go-compatible IP text', function () {
  it('prints IPv6 in RFC 5952 form, compressing the longest zero run, first on ties', function () {
    assert.equal(ipString(ip('2001:0DB8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
    assert.equal(ipString(ip('2001:db8:0:1:0:0:0:1')), '2001:db8:0:1::1');
    assert.equal(ipString(ip('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1');
    assert.equal(ipString(ip('::')), '::');
    assert.equal(ipString(ip('1::')), '1::');
    assert.equal(ipString(ip('::1')), '::1');
  });

  it('prints a v4-mapped address as dotted IPv4, a v4-compatible one as hex', function () {
    assert.equal(ipString(ip('::ffff:198.18.0.1')), '198.18.0.1');
    assert.equal(ipString(ip('::1.2.3.4')), '::102:304');
    assert.ok(isV4(ip('::ffff:198.18.0.1')));
    assert.ok(!isV4(ip('::1.2.3.4')));
  });

  it('rejects what Go rejects', function () {
    for (const bad of ['198.018.0.1', '198.18.0', '198.18.0.1.', '256.0.0.1', '1:2:3:4:5:6:7::8', '1::2::3', '12345::', 'fe80::1%eth0', '', 'x', ':::1', '1.2.3.4:5::']) {
      assert.equal(parseIP(bad), null, bad);
    }
    assert.ok(parseIP('1:2:3:4:5:6:7::'));
    assert.ok(parseIP('::ffff:1.2.3.4'));
    assert.ok(parseIP('1:2:3:4:5:6:1.2.3.4'));
  });

  it('keeps the host part of a CIDR and accepts leading zeros in the prefix length', function () {
    assert.equal(cidrString(cidr('198.18.7.7/16')), '198.18.7.7/16');
    assert.equal(cidrString(cidr('198.18.3.4/024')), '198.18.3.4/24');
    assert.equal(parseCIDR('198.18.0.1/33'), null);
    assert.equal(parseCIDR('198.18.0.1'), null);
    assert.equal(parseCIDR('198.18.0.1/'), null);
    assert.equal(parseCIDR('198.18.0.1/ 24'), null);
  });

  it('treats a v4-mapped CIDR as IPv4 with the low 32 bits of its mask', function () {
    assert.equal(cidrString(cidr('::ffff:198.18.2.5/120')), '198.18.2.5/24');
    assert.equal(cidrString(cidr('::ffff:198.18.2.5/96')), '198.18.2.5/0');
    assert.equal(cidrString(cidr('::ffff:198.18.2.5/64')), '198.18.2.5/0');
    assert.ok(cidrContains(cidr('::ffff:198.18.2.5/120'), ip('198.18.2.1')));
    assert.ok(!cidrContains(cidr('::ffff:198.18.2.5/120'), ip('198.18.3.1')));
  });

  it('matches a gateway only within the same family', function () {
    assert.ok(cidrContains(cidr('198.18.0.10/24'), ip('198.18.0.1')));
    assert.ok(cidrContains(cidr('198.18.0.10/24'), ip('::ffff:198.18.0.1')));
    assert.ok(!cidrContains(cidr('198.18.0.10/24'), ip('2001:db8::1')));
    assert.ok(cidrContains(cidr('2001:db8:1::10/64'), ip('2001:db8:1::1')));
    assert.ok(!cidrContains(cidr('2001:db8:1::10/64'), ip('2001:db8:2::1')));
  });
});
