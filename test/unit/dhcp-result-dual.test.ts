import { strict as assert } from 'node:assert';
import { leaseToResult } from '../../shared/dhcp-result';
import type { LeaseView } from '../../shared/rpc-protocol';

const base: LeaseView = { containerId: 'c', netName: 'n', ifname: 'eth0', netns: '/x', mac: '02:00:00:00:00:01', state: 'BOUND', xid: 1, expired: false };
const v6 = { state: 'BOUND', xid: 2, duid: '0004aa', iaid: 1, address: '2001:db8::10', prefixLength: 128, dnsServers: ['2001:db8::53', '198.18.0.53'], domainSearch: ['v6.example', 'lab.example'] };

describe('leaseToResult with IPv6', () => {
  it('dual stack: the IPv4 address with its gateway first, the IA_NA address without one, DNS of both merged once', () => {
    const r = leaseToResult({
      ...base, families: ['ipv4', 'ipv6'], address: '198.18.0.10', prefixLength: 24, routers: ['198.18.0.1'],
      dnsServers: ['198.18.0.53'], domainSearch: ['lab.example'], ipv6: v6,
    }, { omitGateway: false });
    assert.deepEqual(r.ips, [{ address: '198.18.0.10/24', gateway: '198.18.0.1' }, { address: '2001:db8::10/128' }]);
    assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0', gw: '198.18.0.1' }]);
    assert.deepEqual(r.dns.nameservers, ['198.18.0.53', '2001:db8::53']);
    assert.deepEqual(r.dns.search, ['lab.example', 'v6.example']);
  });

  it('IPv6 only: one address, no routes; a view without its IPv6 address is refused', () => {
    const r = leaseToResult({ ...base, families: ['ipv6'], ipv6: { ...v6, prefixLength: 64 } }, { omitGateway: false });
    assert.deepEqual(r.ips, [{ address: '2001:db8::10/64' }]);
    assert.deepEqual(r.routes, []);
    assert.throws(() => leaseToResult({ ...base, families: ['ipv6'], ipv6: { state: 'SOLICITING', xid: 1, duid: '00', iaid: 1 } }, { omitGateway: false }), /no IPv6 address/);
  });
});
