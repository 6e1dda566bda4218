/**
 * Liveness on the kubernetes store, pure: which allocations a pod list keeps, frees or leaves
 * unknown (kept), and through decide.ts what a run does with them.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { LivePod } from '../../daemon/whereabouts/k8s-pods';
import { decideOne } from '../../daemon/whereabouts/reconcile/decide';
import { CLOCK_SLACK_MS, judgeAllocation, podLiveSet } from '../../daemon/whereabouts/reconcile/k8s-liveness';
import type { AllocationRecord } from '../../daemon/whereabouts/store';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;
const POOL = { networkName: '', range: '198.18.0.0/24' };
const O = { node: 'n0', now: NOW, graceMs: 0 };

const alloc = (o: Partial<AllocationRecord> = {}): AllocationRecord => ({
  offset: '5',
  address: '198.18.0.5',
  containerId: 'c-new',
  podRef: 'db/db-0',
  ifname: 'net1',
  node: 'n0',
  createdAt: NOW - HOUR,
  ...o,
});
const pod = (o: Partial<LivePod> = {}): LivePod => ({
  podRef: 'db/db-0',
  uid: 'u-1',
  createdAt: NOW - HOUR - 5_000,
  networkStatus: [{ name: 'db/macvlan', interface: 'net1', ips: ['198.18.0.5'] }],
  phase: 'Running',
  deletionTimestamp: undefined,
  ...o,
});
const verdict = (a: AllocationRecord, pods: LivePod[]) => judgeAllocation(a, new Map(pods.map((p) => [p.podRef, p])));
const action = (a: AllocationRecord, pods: LivePod[]) => {
  const d = decideOne(POOL, a, podLiveSet([a], pods), O);
  return `${d.action}:${d.reason}`;
};

describe('whereabouts reconciler: kubernetes liveness (pure)', () => {
  it('a running pod whose network-status lists the address on the interface is alive', () => {
    assert.equal(action(alloc(), [pod()]), 'keep:alive-container');
    assert.match(verdict(alloc(), [pod()])!.evidence, /network-status of db\/db-0 uid u-1/);
    // Multus without the interface name: the address alone
    assert.equal(action(alloc(), [pod({ networkStatus: [{ name: 'x', interface: '', ips: ['198.18.0.5'] }] })]), 'keep:alive-container');
  });

  it('race 1: a pod whose network-status is not written yet keeps its address (unknown), however old the allocation', () => {
    assert.equal(action(alloc(), [pod({ networkStatus: undefined })]), 'keep:unknown');
    assert.equal(action(alloc({ createdAt: NOW - 30 * 24 * HOUR }), [pod({ networkStatus: undefined, createdAt: NOW - 30 * 24 * HOUR })]), 'keep:unknown');
  });

  it('a pod whose network-status names another address, or the address on another interface, keeps it (a sandbox being re-created)', () => {
    assert.equal(action(alloc(), [pod({ networkStatus: [{ name: 'n', interface: 'net1', ips: ['198.18.0.9'] }] })]), 'keep:unknown');
    assert.equal(action(alloc(), [pod({ networkStatus: [{ name: 'n', interface: 'net2', ips: ['198.18.0.5'] }] })]), 'keep:unknown');
  });

  it('a pod not listed is gone; a pod Succeeded or Failed is gone; a pod being deleted is kept', () => {
    assert.equal(action(alloc(), []), 'free:gone');
    assert.match(verdict(alloc(), [])!.evidence, /^pod-gone/);
    for (const phase of ['Succeeded', 'Failed']) assert.equal(action(alloc(), [pod({ phase })]), 'free:gone');
    assert.equal(action(alloc(), [pod({ deletionTimestamp: NOW - 1000 })]), 'keep:alive-container');
    assert.equal(action(alloc(), [pod({ deletionTimestamp: NOW - 1000, networkStatus: undefined })]), 'keep:alive-container');
    assert.equal(action(alloc(), [pod({ podRef: 'db/db-1' })]), 'free:gone');
  });

  it('race 3: an earlier pod\'s record (older than the re-created pod by more than the slack) is freed; the new pod\'s own record is kept', () => {
    const reborn = pod({ uid: 'u-2', createdAt: NOW - 60_000, networkStatus: undefined });
    const old = alloc({ containerId: 'c-old', offset: '7', address: '198.18.0.7', createdAt: NOW - HOUR });
    assert.equal(action(old, [reborn]), 'free:gone');
    assert.match(verdict(old, [reborn])!.evidence, /^earlier-pod \(db\/db-0 uid u-2/);
    // the re-created pod's ADD moved or made its own record: younger than the pod, kept
    assert.equal(action(alloc({ createdAt: NOW - 50_000 }), [reborn]), 'keep:unknown');
    // within the slack: not provably an earlier pod's, kept
    assert.equal(action(alloc({ createdAt: NOW - 60_000 - CLOCK_SLACK_MS + 1 }), [reborn]), 'keep:unknown');
    // the network-status proves the address whatever the times (a record older than its pod)
    assert.equal(action(alloc(), [pod({ createdAt: NOW })]), 'keep:alive-container');
  });

  it('an allocation without a pod is not judged; dual-stack: alive on one address keeps the attachment', () => {
    assert.equal(verdict(alloc({ podRef: '' }), []), undefined);
    assert.equal(action(alloc({ podRef: '' }), []), 'keep:unknown');
    const v4 = alloc();
    const v6 = alloc({ offset: '5', address: '2001:db8::5' });
    const live = podLiveSet([v6, v4], [pod()]);
    assert.equal(live.gone.size, 0);
    assert.equal(live.alive.size, 1);
  });

  it('property: never frees an allocation whose pod lists its address, is being deleted, or has no network-status and is not older than the pod', () => {
    fc.assert(
      fc.property(
        fc.record({
          age: fc.integer({ min: 0, max: 10 * HOUR }),
          podAge: fc.integer({ min: 0, max: 10 * HOUR }),
          status: fc.constantFrom('none', 'lists', 'other'),
          phase: fc.constantFrom('Pending', 'Running', 'Succeeded', 'Failed', ''),
          deleting: fc.boolean(),
          listed: fc.boolean(),
        }),
        (r) => {
          const a = alloc({ createdAt: NOW - r.age });
          const p = pod({
            createdAt: NOW - r.podAge,
            phase: r.phase,
            deletionTimestamp: r.deleting ? NOW : undefined,
            networkStatus: r.status === 'none' ? undefined : [{ name: 'n', interface: 'net1', ips: [r.status === 'lists' ? a.address : '198.18.0.200'] }],
          });
          const d = decideOne(POOL, a, podLiveSet([a], r.listed ? [p] : []), O);
          const terminated = r.phase === 'Succeeded' || r.phase === 'Failed';
          const earlier = a.createdAt < p.createdAt - CLOCK_SLACK_MS;
          const mustKeep = r.listed && !terminated && (r.status === 'lists' || r.deleting || !earlier);
          const mustFree = !r.listed || terminated;
          if (mustKeep) assert.equal(d.action, 'keep');
          if (mustFree) assert.equal(d.action, 'free');
        },
      ),
    );
  });
});
