import assert from 'node:assert/strict';
import { isAddressChange, leaseGateways, planMove, type PodRoute } from '../../daemon/client/address-change';
import type { LeaseRecord } from '../../daemon/client/machine-types';
import type { ReplyParams } from '../../daemon/dhcp4/types';

function lease(address: string, prefixLength: number, params: Partial<ReplyParams>): LeaseRecord {
  return { address, prefixLength, serverId: '198.18.0.1', boundAt: 0, leaseTime: 120, t1: 60, t2: 105, params: { rejected: [], ...params } };
}

function route(dst: string, dstLen: number, gateway?: string, metric?: number): PodRoute {
  const r: PodRoute = { dst, dstLen, table: 254, protocol: 3, scope: 0 };
  if (gateway !== undefined) r.gateway = gateway;
  if (metric !== undefined) r.metric = metric;
  return r;
}

describe('address change: what moving a pod touches', () => {
  it('another address or another mask is a change; the same address and mask is not', () => {
    assert.equal(isAddressChange({ address: '198.18.0.5', prefixLength: 24 }, { address: '198.18.0.6', prefixLength: 24 }), true);
    assert.equal(isAddressChange({ address: '198.18.0.5', prefixLength: 24 }, { address: '198.18.0.5', prefixLength: 16 }), true);
    assert.equal(isAddressChange({ address: '198.18.0.5', prefixLength: 24 }, { address: '198.18.0.5', prefixLength: 24 }), false);
  });

  it('the gateways a lease routes through follow the result rules: 121 overrides 33 and the router', () => {
    assert.deepEqual(
      [...leaseGateways({ rejected: [], routers: ['10.0.0.1'], staticRoutes: [{ dst: '10.9.0.5/32', gw: '10.0.0.2' }] })],
      [['10.9.0.5/32', '10.0.0.2'], ['0.0.0.0/0', '10.0.0.1']],
    );
    assert.deepEqual(
      [...leaseGateways({ rejected: [], routers: ['10.0.0.1'], classlessRoutes: [{ dst: '10.8.0.0/16', gw: '10.0.0.3' }, { dst: '10.7.0.0/16', gw: '0.0.0.0' }] })],
      [['10.8.0.0/16', '10.0.0.3']],
    );
  });

  it('moves the address with its mask and re-points the default route at the new router, keeping its metric', () => {
    const pod = lease('198.18.0.50', 24, { routers: ['198.18.0.1'] });
    const next = lease('198.18.1.60', 23, { routers: ['198.18.1.1'] });
    const plan = planMove(pod, next, [route('0.0.0.0', 0, '198.18.0.1', 100), route('198.18.0.0', 24)]);
    assert.deepEqual(plan.addAddress, { address: '198.18.1.60', prefixLength: 23 });
    assert.deepEqual(plan.removeAddress, { address: '198.18.0.50', prefixLength: 24 });
    assert.deepEqual(plan.repoint, [{ route: route('0.0.0.0', 0, '198.18.0.1', 100), gateway: '198.18.1.1' }]);
    assert.deepEqual(plan.drop, []);
  });

  it("option 121 routes move to the new lease's gateway for the same destination, others to its router", () => {
    const pod = lease('198.18.0.50', 24, { routers: ['198.18.0.1'], classlessRoutes: [{ dst: '10.8.0.0/16', gw: '198.18.0.3' }, { dst: '10.9.0.0/16', gw: '198.18.0.4' }] });
    const next = lease('198.18.1.60', 24, { routers: ['198.18.1.1'], classlessRoutes: [{ dst: '10.8.0.0/16', gw: '198.18.1.3' }] });
    const plan = planMove(pod, next, [route('10.8.0.0', 16, '198.18.0.3'), route('10.9.0.0', 16, '198.18.0.4')]);
    assert.deepEqual(plan.repoint.map((r) => [r.route.dst, r.gateway]), [['10.8.0.0', '198.18.1.3'], ['10.9.0.0', '198.18.1.1']]);
  });

  it('routes the old lease did not put there are left alone; same-gateway routes are rewritten after the swap', () => {
    const pod = lease('198.18.0.50', 24, { routers: ['198.18.0.1'] });
    const next = lease('198.18.0.60', 24, { routers: ['198.18.0.1'] });
    const plan = planMove(pod, next, [route('0.0.0.0', 0, '198.18.0.1'), route('10.5.0.0', 16, '198.18.0.9'), route('10.6.0.0', 16)]);
    assert.deepEqual(plan.repoint, [{ route: route('0.0.0.0', 0, '198.18.0.1'), gateway: '198.18.0.1' }]);
  });

  it('without any router in the new lease the old routes are dropped, not left pointing at the old one', () => {
    const pod = lease('198.18.0.50', 24, { routers: ['198.18.0.1'] });
    const next = lease('198.18.1.60', 24, {});
    const plan = planMove(pod, next, [route('0.0.0.0', 0, '198.18.0.1')]);
    assert.deepEqual(plan.repoint, []);
    assert.deepEqual(plan.drop, [route('0.0.0.0', 0, '198.18.0.1')]);
  });
});
