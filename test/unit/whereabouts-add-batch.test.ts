/**
 * planAddBatch against a sequential model: members planned in order on one read, each new one
 * the lowest address free in the read and not taken by a member before it; a pod already in
 * the read keeps its address; a repeat of a pod planned in this batch, or a member past the
 * write budget, waits for the next round; a member with nothing free fails alone.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { RangeExhaustedError } from '../../shared/errors';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { planRange } from '../../daemon/whereabouts/allocator';
import { planAddBatch } from '../../daemon/whereabouts/add-batch';
import type { AllocationRecord, PoolSnapshot } from '../../daemon/whereabouts/store';

const pool = { networkName: 'n', range: '198.18.4.0/27' };
const plan = planRange(parseWhereaboutsIpam({ type: 'whereabouts', range: pool.range, exclude: ['198.18.4.8/30'] }).ranges[0]!);
const usable = Array.from({ length: 30 }, (_, i) => i + 1).filter((o) => o < 8 || o > 11);

const rec = (offset: number, p: number): AllocationRecord => ({
  offset: String(offset),
  address: `198.18.4.${offset}`,
  containerId: `c${p}`,
  podRef: `ns/p${p}`,
  ifname: 'net1',
  node: 'x',
  createdAt: 0,
});

describe('planAddBatch (pure) against a sequential model', () => {
  it('distinct lowest-free addresses in order, held pods keep theirs, repeats and overflow wait, exhaustion fails alone', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...usable), { maxLength: 26 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 24 }),
        fc.boolean(),
        (heldOffsets, memberPods, maxWrites, overlapping) => {
          // pods 100+ hold the pre-existing addresses; members 0..9 of the pods hit held ones
          const holders = heldOffsets.map((o, k) => rec(o, k < 10 ? k : 100 + k));
          const snap: PoolSnapshot = { pool, allocations: holders, revision: '1' };
          const members = memberPods.map((p) => ({ who: { containerId: `c${p}`, podRef: `ns/p${p}`, ifname: 'net1' }, network: 'net', node: 'me', now: 1, overlapping }));
          const got = planAddBatch([plan], [snap], [], members, maxWrites);

          const used = new Set(heldOffsets);
          const planned = new Set<number>();
          let writes = 0;
          memberPods.forEach((p, i) => {
            if (planned.has(p)) return assert.ok(got.later.includes(i), `member ${i} (pod ${p} again) waits`);
            const mine = holders.find((h) => h.podRef === `ns/p${p}`);
            if (mine) {
              planned.add(p);
              return assert.deepEqual(got.taken.get(i)?.map((x) => x.address), [mine.address]);
            }
            const lowest = usable.find((o) => !used.has(o));
            if (lowest === undefined) return assert.ok(got.failed.get(i) instanceof RangeExhaustedError, `member ${i} finds the range full`);
            const cost = overlapping ? 2 : 1;
            if (writes > 0 && writes + cost > maxWrites) return assert.ok(got.later.includes(i), `member ${i} past the write budget waits`);
            assert.deepEqual(got.taken.get(i)?.map((x) => x.address), [`198.18.4.${lowest}`], `member ${i} gets the lowest free`);
            used.add(lowest);
            planned.add(p);
            writes += cost;
          });
          assert.equal(got.writes.length, writes);
          assert.equal(got.taken.size + got.failed.size + got.later.length, members.length, 'every member is accounted for once');
          const created = got.writes.filter((w) => w.op === 'create').map((w) => (w.op === 'create' ? w.allocation.address : ''));
          assert.equal(new Set(created).size, created.length, 'no address twice in one commit');
        },
      ),
      { numRuns: 500 },
    );
  });
});
