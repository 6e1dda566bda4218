/**
 * The address move against the real kernel, without a DHCP server: a pod namespace whose net1
 * carries what a main plugin configured, moved with daemon/io/netlink-route.ts, checked with
 * `ip`. Covers what the lifecycle tests cannot reach quickly: a move inside one subnet (the
 * secondary-address trap), a mask change, option 121 routes, a gateway off the new subnet,
 * and a failed swap that must leave the pod as it was.
 */
import assert from 'node:assert/strict';
import { movePodAddress } from '../../daemon/io/netlink-route';
import { interfaceMtu } from '../../daemon/io/interface-status';
import type { LeaseRecord } from '../../daemon/client/machine-types';
import type { ReplyParams } from '../../daemon/dhcp4/types';
import { createNetns, createVeth, useNetnsCleanup, type TestNetns } from '../helpers/netns';
import { requireRootTools } from '../helpers/sh';

function lease(address: string, prefixLength: number, params: Partial<ReplyParams>): LeaseRecord {
  return { address, prefixLength, serverId: '198.18.0.1', boundAt: 0, leaseTime: 120, t1: 60, t2: 105, params: { rejected: [], ...params } };
}

function ifindex(ns: TestNetns, ifname: string): number {
  return (JSON.parse(ns.ip('-j', 'link', 'show', 'dev', ifname)) as Array<{ ifindex: number }>)[0]?.ifindex ?? -1;
}

function addrs(ns: TestNetns): string[] {
  return ns.ip('-4', '-o', 'addr', 'show', 'dev', 'net1').trim().split('\n').filter(Boolean).map((l) => l.split(/\s+/).slice(3, 6).join(' '));
}

function routes(ns: TestNetns): string[] {
  return ns.ip('-4', 'route', 'show', 'dev', 'net1').trim().split('\n').map((l) => l.trim());
}

describe('moving a pod address over rtnetlink @root', function () {
  this.timeout(30_000);
  useNetnsCleanup();
  let n = 0;

  before(function () {
    requireRootTools(this, ['/usr/sbin/ip']);
  });

  /** A pod with net1 = 198.18.0.50/24, default via .1 metric 100, 10.8.0.0/16 via .3, a link route, and a route via another gateway. */
  function pod(): { ns: TestNetns; index: number } {
    const ns = createNetns('trumv');
    const peer = createNetns('trupeer');
    createVeth({ ns, ifname: 'net1' }, { ns: peer, ifname: `p${n++}` });
    ns.ip('addr', 'add', '198.18.0.50/24', 'brd', '+', 'dev', 'net1');
    ns.ip('route', 'add', 'default', 'via', '198.18.0.1', 'dev', 'net1', 'metric', '100');
    ns.ip('route', 'add', '10.8.0.0/16', 'via', '198.18.0.3', 'dev', 'net1');
    ns.ip('route', 'add', '10.7.0.0/16', 'dev', 'net1', 'scope', 'link');
    ns.ip('route', 'add', '10.6.0.0/16', 'via', '198.18.0.9', 'dev', 'net1');
    return { ns, index: ifindex(ns, 'net1') };
  }

  const old = lease('198.18.0.50', 24, { routers: ['198.18.0.1'], classlessRoutes: [{ dst: '10.8.0.0/16', gw: '198.18.0.3' }, { dst: '0.0.0.0/0', gw: '198.18.0.1' }, { dst: '10.7.0.0/16', gw: '0.0.0.0' }] });

  it('to another subnet: exactly the new address with its mask and broadcast, the old routes via the new gateways, the rest untouched', () => {
    const { ns, index } = pod();
    const next = lease('198.18.4.60', 23, { routers: ['198.18.4.1'], classlessRoutes: [{ dst: '10.8.0.0/16', gw: '198.18.4.3' }, { dst: '0.0.0.0/0', gw: '198.18.4.1' }] });
    const report = movePodAddress({ netnsPath: ns.path, ifname: 'net1', ifindex: index, pod: old, next });
    assert.deepEqual(report.routeErrors, []);
    assert.deepEqual(addrs(ns), ['198.18.4.60/23 brd 198.18.5.255']);
    const r = routes(ns);
    assert.ok(r.includes('default via 198.18.4.1 metric 100'), r.join('\n'));
    assert.ok(r.includes('10.8.0.0/16 via 198.18.4.3'), r.join('\n'));
    assert.ok(r.includes('10.7.0.0/16 scope link'), 'the link route stays');
    assert.ok(!r.some((l) => / via 198\.18\.0\.[13] /.test(`${l} `)), `nothing via the old lease's gateways: ${r.join('\n')}`);
    assert.ok(r.includes('10.6.0.0/16 via 198.18.0.9'), 'a route the lease did not put there is left alone');
  });

  it('inside the same subnet: the new address survives the old one going (no secondary deleted with its primary)', () => {
    const { ns, index } = pod();
    const next = lease('198.18.0.61', 24, { routers: ['198.18.0.1'] });
    const report = movePodAddress({ netnsPath: ns.path, ifname: 'net1', ifindex: index, pod: lease('198.18.0.50', 24, { routers: ['198.18.0.1'] }), next });
    assert.deepEqual(report.routeErrors, []);
    assert.deepEqual(addrs(ns), ['198.18.0.61/24 brd 198.18.0.255']);
    assert.ok(routes(ns).includes('default via 198.18.0.1 metric 100'), routes(ns).join('\n'));
    assert.ok(routes(ns).includes('10.6.0.0/16 via 198.18.0.9'), 'a route the lease did not put there is left alone');
  });

  it('the same address with another mask', () => {
    const { ns, index } = pod();
    movePodAddress({ netnsPath: ns.path, ifname: 'net1', ifindex: index, pod: lease('198.18.0.50', 24, { routers: ['198.18.0.1'] }), next: lease('198.18.0.50', 16, { routers: ['198.18.0.1'] }) });
    assert.deepEqual(addrs(ns), ['198.18.0.50/16 brd 198.18.255.255']);
  });

  it('a gateway off the new subnet: the address moves all the same, the route error is reported', () => {
    const { ns, index } = pod();
    const next = lease('198.18.1.60', 24, { routers: ['198.18.5.1'] });
    const report = movePodAddress({ netnsPath: ns.path, ifname: 'net1', ifindex: index, pod: lease('198.18.0.50', 24, { routers: ['198.18.0.1'] }), next });
    assert.deepEqual(addrs(ns), ['198.18.1.60/24 brd 198.18.1.255']);
    assert.equal(report.routeErrors.length, 1);
    assert.match(report.routeErrors[0] as string, /0\.0\.0\.0\/0 via 198\.18\.5\.1: .*RTM_NEWROUTE.*ENETUNREACH/);
  });

  it('a swap the kernel refuses leaves the pod as it was and names the step', () => {
    const { ns, index } = pod();
    const before = { a: addrs(ns), r: routes(ns).sort() };
    // an interface index that does not exist in the pod: the very first step fails
    assert.throws(
      () => movePodAddress({ netnsPath: ns.path, ifname: 'net1', ifindex: index + 100, pod: lease('198.18.0.50', 24, { routers: ['198.18.0.1'] }), next: lease('198.18.1.60', 24, { routers: ['198.18.1.1'] }) }),
      /net1 in .*: RTM_NEWADDR 198\.18\.1\.60\/24: ENODEV/,
    );
    assert.deepEqual(addrs(ns), before.a);
    assert.deepEqual(routes(ns).sort(), before.r);
  });

  it('the MTU is read in the pod namespace', () => {
    const { ns } = pod();
    ns.ip('link', 'set', 'net1', 'mtu', '1400');
    assert.equal(interfaceMtu(ns.path, 'net1'), 1400);
    assert.throws(() => interfaceMtu(ns.path, 'nope0'), /no such interface: nope0/);
  });
});
