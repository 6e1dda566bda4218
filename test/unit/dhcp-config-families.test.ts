import { strict as assert } from 'node:assert';
import { parseDhcpConfig } from '../../shared/dhcp-config';
import { CniCode, CniError } from '../../shared/errors';

const cfg = (ipam: Record<string, unknown>) => ({ cniVersion: '1.0.0', name: 'n', ipam: { type: 'dhcp', ...ipam } });

function code7(ipam: Record<string, unknown>, re: RegExp): void {
  assert.throws(() => parseDhcpConfig(cfg(ipam)), (err: unknown) => {
    assert.ok(err instanceof CniError);
    assert.equal(err.code, CniCode.InvalidConfig);
    assert.match(err.message, re);
    return true;
  });
}

describe('ipam.ipFamilies and ipam.ipv6PrefixLength', () => {
  it('absent: IPv4 only, /128 for a (never leased) IPv6 address', () => {
    const c = parseDhcpConfig(cfg({}));
    assert.deepEqual(c.ipFamilies, ['ipv4']);
    assert.equal(c.ipv6PrefixLength, 128);
  });

  it('takes ipv6 alone and both, always in the order ipv4, ipv6', () => {
    assert.deepEqual(parseDhcpConfig(cfg({ ipFamilies: ['ipv6'] })).ipFamilies, ['ipv6']);
    assert.deepEqual(parseDhcpConfig(cfg({ ipFamilies: ['ipv4', 'ipv6'] })).ipFamilies, ['ipv4', 'ipv6']);
    assert.deepEqual(parseDhcpConfig(cfg({ ipFamilies: ['ipv6', 'ipv4'] })).ipFamilies, ['ipv4', 'ipv6']);
    assert.equal(parseDhcpConfig(cfg({ ipFamilies: ['ipv6'], ipv6PrefixLength: 64 })).ipv6PrefixLength, 64);
  });

  it('refuses an unknown family with code 7 naming the key and the value', () => {
    code7({ ipFamilies: ['ipv4', 'inet6'] }, /ipam\.ipFamilies\[1\]: unknown address family "inet6"/);
    code7({ ipFamilies: ['IPv6'] }, /ipam\.ipFamilies\[0\]: unknown address family "IPv6"/);
    code7({ ipFamilies: [4] }, /ipam\.ipFamilies\[0\]: unknown address family 4/);
    code7({ ipFamilies: 'ipv6' }, /ipam\.ipFamilies must be a non-empty array .*got "ipv6"/);
    code7({ ipFamilies: [] }, /ipam\.ipFamilies must be a non-empty array .*got \[\]/);
    code7({ ipFamilies: ['ipv6', 'ipv6'] }, /ipam\.ipFamilies\[1\]: "ipv6" is listed twice/);
  });

  it('refuses an ipv6PrefixLength that is not 1..128', () => {
    for (const bad of [0, 129, 64.5, '64', -1, null]) {
      code7({ ipFamilies: ['ipv6'], ipv6PrefixLength: bad }, /ipam\.ipv6PrefixLength must be an integer from 1 to 128, got /);
    }
  });
});
