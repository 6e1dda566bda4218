/**
 * Many ADDs for one ipam config decided from one read (pure): each member is planned against
 * the read plus what the members before it took, so each gets a distinct lowest-free address
 * and the whole batch commits as one all-or-nothing transaction. A member that fails alone
 * (its range is exhausted) fails alone; a member that names the same attachment as an earlier
 * one waits for the next round (its plan depends on the earlier one's commit), and so does
 * every member past the store's transaction size.
 */
import { sameAttachment, type RangePlan } from './allocator';
import { planAdd, samePool, type AddContext, type PlannedIp } from './add-plan';
import type { PoolSnapshot, ReservationRecord, StoreWrite } from './store';

/** etcd's default --max-txn-ops: one transaction takes at most this many operations */
export const MAX_COMMIT_WRITES = 128;

export interface BatchPlan {
  writes: StoreWrite[];
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
  const out: BatchPlan = { writes: [], taken: new Map(), failed: new Map(), later: [] };
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
    out.taken.set(i, plan.ips);
    planned.push(ctx);
  });
  return out;
}
