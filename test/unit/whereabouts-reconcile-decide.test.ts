/** The reconciler's pure decision: never frees anything alive, young or another node's; frees exactly the dead and old of its node. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, decideOne } from '../../daemon/whereabouts/reconcile/decide';
import { attachmentKey, podKey, type LivePod, type LiveSet } from '../../daemon/whereabouts/reconcile/live-set';
import type { AllocationRecord, PoolSnapshot } from '../../daemon/whereabouts/store';

const POOL = { networkName: '', range: '198.18.0.0/24' };
const NOW = 1_800_000_000_000;
const GRACE = 300_000;
const O = { node: 'n0', now: NOW, graceMs: GRACE };

const cid = fc.constantFrom('c0', 'c1', 'c2', 'c3');
const ifn = fc.constantFrom('eth0', 'net1');
const pod = fc.constantFrom('', 'ns/p0', 'ns/p1');

const allocation = fc
  .record({ offset: fc.nat(250), containerId: cid, podRef: pod, ifname: ifn, node: fc.constantFrom('n0', 'n1'), age: fc.integer({ min: -GRACE, max: 3 * GRACE }) })
  .map(
    (r): AllocationRecord => ({ offset: String(r.offset), address: `198.18.0.${r.offset}`, containerId: r.containerId, podRef: r.podRef, ifname: r.ifname, node: r.node, createdAt: NOW - r.age }),
  );

const keyOf = (id: fc.Arbitrary<string>) => fc.tuple(id, fc.constantFrom('eth0', 'net1', '*')).map(([a, b]) => attachmentKey(a, b));
const liveSet = fc
  .record({
    alive: fc.uniqueArray(keyOf(cid), { maxLength: 4 }),
    gone: fc.uniqueArray(keyOf(cid), { maxLength: 4 }),
    pods: fc.uniqueArray(
      fc.record({ key: fc.tuple(fc.constantFrom('ns/p0', 'ns/p1'), fc.constantFrom('eth0', 'net1', '*')), ids: fc.option(fc.uniqueArray(cid, { maxLength: 2 }), { nil: undefined }) }),
      { maxLength: 3, selector: (p) => p.key.join('\0') },
    ),
    complete: fc.boolean(),
  })
  .map(
    (r): LiveSet => ({
      alive: new Map(r.alive.map((k) => [k, 'netns'])),
      gone: new Map(r.gone.map((k) => [k, 'netns-gone'])),
      pods: new Map(r.pods.map((p): [string, LivePod] => [podKey(p.key[0], p.key[1]), p.ids === undefined ? { evidence: 'pod' } : { evidence: 'pod', containerIds: new Set(p.ids) }])),
      complete: r.complete,
    }),
  );

/** the rules, said once more independently of the code's order */
function model(a: AllocationRecord, live: LiveSet): boolean {
  const has = (m: ReadonlyMap<string, unknown>, id: string) => m.has(attachmentKey(id, a.ifname)) || m.has(attachmentKey(id, '*'));
  const own = a.node === 'n0';
  const old = NOW - a.createdAt >= GRACE;
  const aliveContainer = has(live.alive, a.containerId);
  const knownGone = has(live.gone, a.containerId) || live.complete;
  const p = a.podRef === '' ? undefined : (live.pods.get(podKey(a.podRef, a.ifname)) ?? live.pods.get(podKey(a.podRef, '*')));
  const podKeeps = p !== undefined && (p.containerIds === undefined || p.containerIds.has(a.containerId));
  return own && old && !aliveContainer && knownGone && !podKeeps;
}

describe('whereabouts reconciler: decide (pure)', () => {
  it('frees exactly the dead and old allocations of its own node', () => {
    fc.assert(
      fc.property(fc.array(allocation, { maxLength: 12 }), liveSet, (allocs, live) => {
        const snaps: PoolSnapshot[] = [{ pool: POOL, allocations: allocs, revision: '1' }];
        const out = decide(snaps, live, O);
        assert.equal(out.length, allocs.length);
        out.forEach((d, i) => assert.equal(d.action === 'free', model(allocs[i]!, live), JSON.stringify(d)));
      }),
      { numRuns: 5000 },
    );
  });

  it('never frees anything alive, young or another node\'s, whatever else the living set says', () => {
    fc.assert(
      fc.property(allocation, liveSet, (a, live) => {
        const d = decideOne(POOL, a, live, O);
        if (a.node !== 'n0') assert.deepEqual([d.action, d.reason], ['keep', 'other-node']);
        else if (NOW - a.createdAt < GRACE) assert.deepEqual([d.action, d.reason], ['keep', 'young']);
        const aliveMap = new Map(live.alive);
        aliveMap.set(attachmentKey(a.containerId, a.ifname), 'gc-list');
        assert.equal(decideOne(POOL, a, { ...live, alive: aliveMap }, O).action, 'keep');
      }),
      { numRuns: 3000 },
    );
  });

  it('a living set that knows nothing keeps everything (unknown liveness is not death)', () => {
    fc.assert(
      fc.property(fc.array(allocation, { maxLength: 10 }), (allocs) => {
        const empty: LiveSet = { alive: new Map(), gone: new Map(), pods: new Map(), complete: false };
        for (const d of decide([{ pool: POOL, allocations: allocs, revision: '1' }], empty, O)) assert.equal(d.action, 'keep');
      }),
    );
  });

  it('a StatefulSet pod re-created under its name: the earlier sandbox\'s record is freed only when its own container is gone', () => {
    const old: AllocationRecord = { offset: '5', address: '198.18.0.5', containerId: 'c-old', podRef: 'db/db-0', ifname: 'net1', node: 'n0', createdAt: NOW - 2 * GRACE };
    const pods = new Map([[podKey('db/db-0', 'net1'), { evidence: 'pod', containerIds: new Set(['c-new']) }]]);
    const base: LiveSet = { alive: new Map(), gone: new Map(), pods, complete: false };
    // the pod's name lives on, but nothing says the old sandbox is gone: keep
    assert.deepEqual([decideOne(POOL, old, base, O).action, decideOne(POOL, old, base, O).reason], ['keep', 'alive-pod']);
    // its netns is gone: free (the new sandbox took over the record, or will allocate anew)
    const gone = { ...base, gone: new Map([[attachmentKey('c-old', 'net1'), 'netns-gone']]) };
    assert.equal(decideOne(POOL, old, gone, O).action, 'free');
    // the record already moved to the new sandbox (idempotent ADD per pod + ifname): kept as alive
    const moved = { ...old, containerId: 'c-new', createdAt: NOW - 1000 };
    assert.equal(decideOne(POOL, moved, { ...gone, alive: new Map([[attachmentKey('c-new', 'net1'), 'netns']]) }, O).action, 'keep');
    // a pod source that does not know sandboxes keeps by name
    assert.equal(decideOne(POOL, old, { ...gone, pods: new Map([[podKey('db/db-0', '*'), { evidence: 'pod' }]]) }, O).reason, 'alive-pod');
  });
});
