import { strict as assert } from 'node:assert';
import { renderResult, addressesOf, type IpamResult } from '../../shared/cni-result';
import { leaseToResult } from '../../shared/dhcp-result';
import { SUPPORTED_VERSIONS } from '../../shared/cni-version';
import type { LeaseView } from '../../shared/rpc-protocol';

const lease: LeaseView = {
  containerId: 'c1',
  netName: 'n',
  ifname: 'eth1',
  netns: '/var/run/netns/p',
  mac: '02:00:00:00:00:01',
  state: 'BOUND',
  xid: 1,
  expired: false,
  address: '198.18.0.10',
  prefixLength: 24,
  serverId: '198.18.0.1',
  routers: ['198.18.0.1', '198.18.0.2'],
  staticRoutes: [{ dst: '198.19.5.0/24', gw: '198.18.0.3' }],
  dnsServers: ['198.18.0.53'],
  domainName: 'example.test',
  domainSearch: ['a.example.test', 'example.test'],
};

describe('lease → CNI result', () => {
  it('without option 121: option 33 routes plus a default route via the first router', () => {
    const r = leaseToResult(lease, { omitGateway: false });
    assert.deepEqual(r.ips, [{ address: '198.18.0.10/24', gateway: '198.18.0.1' }]);
    assert.deepEqual(r.routes, [
      { dst: '198.19.5.0/24', gw: '198.18.0.3' },
      { dst: '0.0.0.0/0', gw: '198.18.0.1' },
    ]);
    assert.deepEqual(r.dns, { nameservers: ['198.18.0.53'], domain: 'example.test', search: ['a.example.test', 'example.test'] });
  });

  it('option 121 overrides 33 and the router; a 0.0.0.0 next hop becomes a link-scope route', () => {
    const r = leaseToResult(
      { ...lease, classlessRoutes: [{ dst: '198.19.0.0/16', gw: '198.18.0.9' }, { dst: '198.18.7.0/24', gw: '0.0.0.0' }] },
      { omitGateway: false },
    );
    assert.deepEqual(r.routes, [
      { dst: '198.19.0.0/16', gw: '198.18.0.9' },
      { dst: '198.18.7.0/24', scope: 253 },
    ]);
  });

  it('priority is set on every route', () => {
    const r = leaseToResult(lease, { omitGateway: false, priority: 200 });
    assert.ok(r.routes.length === 2 && r.routes.every((x) => x.priority === 200));
  });

  it('omitGateway drops the gateway and every default route, keeps the others', () => {
    const r = leaseToResult(lease, { omitGateway: true });
    assert.deepEqual(r.ips, [{ address: '198.18.0.10/24' }]);
    assert.deepEqual(r.routes, [{ dst: '198.19.5.0/24', gw: '198.18.0.3' }]);
  });

  it('a lease with no address is an error, not an empty result', () => {
    assert.throws(() => leaseToResult({ ...lease, address: undefined }, { omitGateway: false }), /holds no address/);
  });
});

describe('result formats per cniVersion', () => {
  const result: IpamResult = {
    ips: [{ address: '198.18.0.10/24', gateway: '198.18.0.1' }],
    routes: [{ dst: '0.0.0.0/0', gw: '198.18.0.1', priority: 5 }],
    dns: { nameservers: ['198.18.0.53'] },
  };
  it('0.1.0 and 0.2.0 use ip4 with nested routes', () => {
    for (const v of ['0.1.0', '0.2.0'] as const) {
      assert.deepEqual(renderResult(result, v), {
        cniVersion: v,
        ip4: { ip: '198.18.0.10/24', gateway: '198.18.0.1', routes: [{ dst: '0.0.0.0/0', gw: '198.18.0.1' }] },
        dns: { nameservers: ['198.18.0.53'] },
      });
    }
  });
  it('0.3.x and 0.4.0 carry version "4" in ips', () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0'] as const) {
      const out = renderResult(result, v);
      assert.deepEqual(out.ips, [{ version: '4', address: '198.18.0.10/24', gateway: '198.18.0.1' }]);
      assert.equal(out.cniVersion, v);
    }
  });
  it('1.0.0 and 1.1.0 drop the version field', () => {
    for (const v of ['1.0.0', '1.1.0'] as const) {
      assert.deepEqual(renderResult(result, v), {
        cniVersion: v,
        ips: [{ address: '198.18.0.10/24', gateway: '198.18.0.1' }],
        routes: [{ dst: '0.0.0.0/0', gw: '198.18.0.1', priority: 5 }],
        dns: { nameservers: ['198.18.0.53'] },
      });
    }
  });
  it('empty dns is left out in every version', () => {
    for (const v of SUPPORTED_VERSIONS) assert.equal(renderResult({ ...result, dns: {} }, v).dns, undefined);
  });
  it('addressesOf reads prevResult of every format', () => {
    for (const v of SUPPORTED_VERSIONS) assert.deepEqual(addressesOf(renderResult(result, v)), ['198.18.0.10/24']);
    assert.deepEqual(addressesOf(null), []);
    assert.deepEqual(addressesOf({ ips: [{ address: 5 }] }), []);
  });
});
