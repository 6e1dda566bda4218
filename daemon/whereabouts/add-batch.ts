/**
 * Many ADDs for one ipam config decided from one read (pure): each member is planned against
 * the read plus what the members before it took, so each gets a distinct lowest-free address
 * and the whole batch commits as one all-or-nothing transaction. A member that fails alone
 * (its range is exhausted) fails alone; a member that names the same attachment as an earlier
 * one waits for the next round (its plan depends on the earlier one's commit), and so does
 * every member past the store's transaction size. Each member's own writes are kept apart
 * (`groups`), so a store that commits them one group at a time lets a member whose address
 * another node took lose alone while the rest of the batch lands.
 */
import { sameAttachment, type RangePlan } from './allocator';
import { planAdd, samePool, type AddContext, type PlannedIp } from './add-plan';
import type { PoolSnapshot, ReservationRecord, StoreWrite } from './store';

/**
 * etcd's default --max-txn-ops is 128 operations per transaction, and the etcd store adds one
 * key per allocation written or deleted (the pod index): 64 writes stay within it.
 */
export const MAX_COMMIT_WRITES = 64;

export interface BatchPlan {
  /** every member's writes, in member order */
  writes: StoreWrite[];
  /** index into the members → its own writes (all or nothing for that member); none: it already holds its addresses */
  groups: Map<number, StoreWrite[]>;
  /** index into the members → what it gets once `writes` commit */
  taken: Map<number, PlannedIp[]>;
  failed: Map<number, unknown>;
  /** members for a later round */
  later: number[];
}

export function planAddBatch(
  plans: RangePlan[],
  snapshots: PoolSnapshot[],
  reservations: ReservationRecord[],
  members: AddContext[],
  maxWrites = MAX_COMMIT_WRITES,
): BatchPlan {
  const work = snapshots.map((s) => ({ ...s, allocations: [...s.allocations] }));
  let held = [...reservations];
  const out: BatchPlan = { writes: [], groups: new Map(), taken: new Map(), failed: new Map(), later: [] };
  const planned: AddContext[] = [];
  members.forEach((ctx, i) => {
    const clash = planned.some((p) => sameAttachment(p.who, ctx.who) || (p.who.containerId === ctx.who.containerId && p.who.ifname === ctx.who.ifname));
    if (clash) return out.later.push(i);
    let plan: ReturnType<typeof planAdd>;
    try {
      plan = planAdd(plans, work, held, ctx);
    } catch (err) {
      return out.failed.set(i, err);
    }
    if (plan.writes.length > 0 && out.writes.length > 0 && out.writes.length + plan.writes.length > maxWrites) return out.later.push(i);
    for (const w of plan.writes) {
      if (w.op === 'reserve') held.push(w.reservation);
      else if (w.op === 'unreserve') held = held.filter((r) => !(r.address === w.reservation.address && samePool(r.pool, w.reservation.pool)));
      else {
        const snap = work.find((s) => samePool(s.pool, w.pool)) as PoolSnapshot;
        if (w.op === 'create') snap.allocations.push(w.allocation);
        else snap.allocations = snap.allocations.filter((a) => a.offset !== w.allocation.offset);
      }
    }
    out.writes.push(...plan.writes);
    if (plan.writes.length > 0) out.groups.set(i, plan.writes);
    out.taken.set(i, plan.ips);
    planned.push(ctx);
  });
  return out;
}
