/**
 * The kind of the pod's link, read over rtnetlink in its namespace as the packet socket opens,
 * and the broadcast-flag policy it selects (daemon/pod-address.ts): the real kernel's answer for
 * the links the main plugins create, and the fallback when the link cannot be read.
 */
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { podLinkKind } from '../../daemon/io/netlink-route';
import { openPacketSocket } from '../../daemon/io';
import { acquireBroadcastOf } from '../../daemon/pod-address';
import { createNetns, createVeth, useNetnsCleanup, type TestNetns } from '../helpers/netns';
import { requireRootTools } from '../helpers/sh';

function ifindex(ns: TestNetns, ifname: string): number {
  return (JSON.parse(ns.ip('-j', 'link', 'show', 'dev', ifname)) as Array<{ ifindex: number }>)[0]?.ifindex ?? -1;
}

describe('the pod link kind and the broadcast flag it selects @root', function () {
  this.timeout(30_000);
  useNetnsCleanup();

  before(function () {
    requireRootTools(this, ['/usr/sbin/ip']);
  });

  it('the packet socket reads it: a veth (bridge, ptp) and a macvlan answer unicast to their MAC, so "alternate"', () => {
    const pod = createNetns('lkpod');
    const node = createNetns('lknode');
    createVeth({ ns: pod, ifname: 'eth1' }, { ns: node, ifname: 'up0' });
    node.ip('link', 'add', 'mv0', 'link', 'up0', 'type', 'macvlan', 'mode', 'bridge');
    node.ip('link', 'set', 'mv0', 'netns', pod.name);
    // the veth names its peer in the other namespace (the end whose port state the first DISCOVER waits for); a macvlan does not
    const expected = { eth1: { ok: true, kind: 'veth', peer: ifindex(node, 'up0') }, mv0: { ok: true, kind: 'macvlan' } };
    for (const ifname of ['eth1', 'mv0'] as const) {
      const sock = openPacketSocket({ netnsPath: pod.path, ifname, bringUp: false, onPacket: () => {}, onError: () => {} });
      try {
        assert.deepEqual(sock.linkKind, expected[ifname]);
        assert.equal(acquireBroadcastOf(sock.linkKind), 'alternate');
      } finally {
        sock.close();
      }
    }
  });

  it('lo has no kind, as a physical NIC handed over by host-device has none: "alternate"', () => {
    const pod = createNetns('lkpod');
    const lo = podLinkKind(pod.path, 'lo', 1);
    assert.deepEqual(lo, { ok: true, kind: undefined });
    assert.equal(acquireBroadcastOf(lo), 'alternate');
  });

  it('an ipvlan slave shares its master MAC: "always"', function () {
    const node = createNetns('lknode');
    node.ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1');
    try {
      node.ip('link', 'add', 'ipv0', 'link', 'up0', 'type', 'ipvlan', 'mode', 'l2');
    } catch {
      console.log(`      [link-kind] ipvlan: SKIPPED, this kernel (${os.release()}) cannot create ipvlan links (no CONFIG_IPVLAN); the unit tests decode an ipvlan kind and map it to "always"`);
      this.skip();
    }
    const kind = podLinkKind(node.path, 'ipv0', ifindex(node, 'ipv0'));
    assert.deepEqual(kind, { ok: true, kind: 'ipvlan' });
    assert.equal(acquireBroadcastOf(kind), 'always');
  });

  it('a link or namespace that cannot be read: the reason, and "always"', () => {
    const pod = createNetns('lkpod');
    const gone = podLinkKind(pod.path, 'eth9', 4242);
    assert.equal(gone.ok, false);
    assert.match(gone.ok ? '' : gone.error, /RTM_GETLINK: .*(No such device|ENODEV)/);
    assert.equal(acquireBroadcastOf(gone), 'always');
    const noNs = podLinkKind('/run/netns/cdt-no-such-netns', 'eth1', 2);
    assert.equal(noNs.ok, false);
    assert.equal(acquireBroadcastOf(noNs), 'always');
  });
});
