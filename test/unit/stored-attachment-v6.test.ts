import { strict as assert } from 'node:assert';
import { validateEntry, STORE_FORMAT } from '../../daemon/stored-attachment';

const v4lease = { address: '198.18.0.10', prefixLength: 24, serverId: '198.18.0.1', boundAt: 1, leaseTime: 120, t1: 60, t2: 105, params: { rejected: [] } };
const lease6 = { address: '2001:db8::10', iaid: 7, duid: '0004aabb', serverId: '0001cc', boundAt: 1, preferredLifetime: 60, validLifetime: 120, t1: 30, t2: 48, dnsServers: ['2001:db8::53'] };
const base = { format: STORE_FORMAT, containerId: 'c', netName: 'n', ifname: 'eth0', netns: '/run/netns/x', mac: '02:00:00:00:00:01', clientId: '00', provide: [], requestList: [1] };

describe('lease files with IPv6', () => {
  it('a file without families is IPv4-only and needs lease, as before', () => {
    assert.doesNotThrow(() => validateEntry({ ...base, lease: v4lease }));
    assert.throws(() => validateEntry({ ...base }), /lease is not an object/);
  });

  it('dual stack needs both leases; IPv6-only needs lease6 and no lease', () => {
    assert.doesNotThrow(() => validateEntry({ ...base, families: ['ipv4', 'ipv6'], lease: v4lease, lease6 }));
    assert.doesNotThrow(() => validateEntry({ ...base, families: ['ipv6'], lease6, ipv6PrefixLength: 64 }));
    assert.throws(() => validateEntry({ ...base, families: ['ipv4', 'ipv6'], lease: v4lease }), /lease6 is not an object/);
  });

  it('names the first bad field of lease6, families or ipv6PrefixLength', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ families: ['ipv7'], lease6 }, /families\[0\]: unknown address family "ipv7"/],
      [{ families: ['ipv6'], lease6, ipv6PrefixLength: 129 }, /ipv6PrefixLength must be an integer from 1 to 128/],
      [{ families: ['ipv6'], lease6: { ...lease6, address: '198.18.0.1' } }, /lease6\.address is not an IPv6 address/],
      [{ families: ['ipv6'], lease6: { ...lease6, duid: 'xyz' } }, /lease6\.duid is not hex/],
      [{ families: ['ipv6'], lease6: { ...lease6, iaid: -1 } }, /lease6\.iaid is not a number/],
      [{ families: ['ipv6'], lease6: { ...lease6, dnsServers: ['198.18.0.53'] } }, /lease6\.dnsServers is not a list of IPv6 addresses/],
      [{ families: ['ipv6'], lease6: { ...lease6, validLifetime: 'long' } }, /lease6\.validLifetime is not a number/],
    ];
    for (const [extra, re] of cases) assert.throws(() => validateEntry({ ...base, ...extra }), re, JSON.stringify(extra));
  });
});
