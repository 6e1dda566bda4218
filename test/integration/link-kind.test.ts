/**
 * The kind of the pod's link, read over rtnetlink in its namespace, and the broadcast-flag
 * policy it selects (daemon/pod-address.ts): the real kernel's answer for the links the main
 * plugins create, and the fallback when the namespace cannot be read.
 */
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { podLinkKind } from '../../daemon/io/netlink-route';
import { acquireBroadcastFor } from '../../daemon/pod-address';
import { createLogger } from '../../daemon/log';
import { createNetns, createVeth, useNetnsCleanup, type TestNetns } from '../helpers/netns';
import { requireRootTools } from '../helpers/sh';

const log = createLogger({ level: 'error', format: 'text' });

function ifindex(ns: TestNetns, ifname: string): number {
  return (JSON.parse(ns.ip('-j', 'link', 'show', 'dev', ifname)) as Array<{ ifindex: number }>)[0]?.ifindex ?? -1;
}

describe('the pod link kind and the broadcast flag it selects @root', function () {
  this.timeout(30_000);
  useNetnsCleanup();

  before(function () {
    requireRootTools(this, ['/usr/sbin/ip']);
  });

  it('a veth (bridge, ptp) and a macvlan answer unicast to their MAC: "alternate"', () => {
    const pod = createNetns('lkpod');
    const node = createNetns('lknode');
    createVeth({ ns: pod, ifname: 'eth1' }, { ns: node, ifname: 'up0' });
    assert.equal(podLinkKind(pod.path, 'eth1', ifindex(pod, 'eth1')), 'veth');
    assert.equal(acquireBroadcastFor(pod.path, 'eth1', ifindex(pod, 'eth1'), log), 'alternate');
    node.ip('link', 'add', 'mv0', 'link', 'up0', 'type', 'macvlan', 'mode', 'bridge');
    node.ip('link', 'set', 'mv0', 'netns', pod.name);
    assert.equal(podLinkKind(pod.path, 'mv0', ifindex(pod, 'mv0')), 'macvlan');
    assert.equal(acquireBroadcastFor(pod.path, 'mv0', ifindex(pod, 'mv0'), log), 'alternate');
  });

  it('lo has no kind, as a physical NIC handed over by host-device has none: "alternate"', () => {
    const pod = createNetns('lkpod');
    assert.equal(podLinkKind(pod.path, 'lo', 1), undefined);
    assert.equal(acquireBroadcastFor(pod.path, 'lo', 1, log), 'alternate');
  });

  it('an ipvlan slave shares its master MAC: "always"', function () {
    const node = createNetns('lknode');
    node.ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1');
    try {
      node.ip('link', 'add', 'ipv0', 'link', 'up0', 'type', 'ipvlan', 'mode', 'l2');
    } catch {
      console.log(`      [link-kind] ipvlan: SKIPPED, this kernel (${os.release()}) cannot create ipvlan links (no CONFIG_IPVLAN); the codec test decodes an ipvlan kind`);
      this.skip();
    }
    assert.equal(podLinkKind(node.path, 'ipv0', ifindex(node, 'ipv0')), 'ipvlan');
    assert.equal(acquireBroadcastFor(node.path, 'ipv0', ifindex(node, 'ipv0'), log), 'always');
  });

  it('a namespace or link that cannot be read: an error from podLinkKind, "always" from the policy', () => {
    const pod = createNetns('lkpod');
    assert.throws(() => podLinkKind(pod.path, 'eth9', 4242), /RTM_GETLINK: .*(No such device|ENODEV)/);
    assert.equal(acquireBroadcastFor(pod.path, 'eth9', 4242, log), 'always');
    assert.equal(acquireBroadcastFor('/run/netns/cdt-no-such-netns', 'eth1', 2, log), 'always');
  });
});
