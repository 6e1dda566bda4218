/**
 * What one ADD writes, decided from one consistent read of the store (pure): one address per
 * range, each with its overlapping-range reservation, all in one list of conditional writes
 * that the store commits all or nothing. An attachment that already holds an address in a
 * pool keeps it; when the runtime re-created the sandbox (same pod and ifname, new container
 * id) the records move to the new container id, so its DEL finds them.
 */
import { RangeExhaustedError } from '../../shared/errors';
import { addressOffset, assign, offsetAddress, type Claimant, type RangePlan } from './allocator';
import type { AllocationRecord, PoolRef, PoolSnapshot, ReservationRecord, StoreWrite } from './store';

export interface AddContext {
  who: Claimant;
  /** the CNI network name, kept on each record for GC */
  network: string;
  node: string;
  now: number;
  /** false: enable_overlapping_ranges off, no reservations read or written */
  overlapping: boolean;
}

export interface PlannedIp {
  pool: PoolRef;
  address: string;
  prefix: number;
}

export function samePool(a: PoolRef, b: PoolRef): boolean {
  return a.networkName === b.networkName && a.range === b.range;
}

function reservationFor(pool: PoolRef, rec: AllocationRecord): ReservationRecord {
  return { networkName: pool.networkName, address: rec.address, containerId: rec.containerId, podRef: rec.podRef, ifname: rec.ifname, pool };
}

/** Throws RangeExhaustedError naming the range and its size when one range has no free address. */
export function planAdd(
  plans: RangePlan[],
  snapshots: PoolSnapshot[],
  reservations: ReservationRecord[],
  ctx: AddContext,
): { writes: StoreWrite[]; ips: PlannedIp[] } {
  const writes: StoreWrite[] = [];
  const ips: PlannedIp[] = [];
  plans.forEach((plan, i) => {
    const snap = snapshots[i] as PoolSnapshot;
    const pool = snap.pool;
    const holders = snap.allocations.map((a) => ({ ...a, offset: BigInt(a.offset) }));
    // addresses other pools of this network_name hold (their ranges overlap ours)
    const elsewhere = ctx.overlapping
      ? reservations
          .filter((r) => !samePool(r.pool, pool))
          .map((r) => addressOffset(plan, r.address))
          .filter((o): o is bigint => o !== undefined)
      : [];
    // addresses this very ADD takes in an earlier range of the same network_name
    for (const ip of ips) {
      const o = addressOffset(plan, ip.address);
      if (o !== undefined && ip.pool.networkName === pool.networkName) elsewhere.push(o);
    }
    const got = assign(plan, holders, elsewhere, ctx.who);
    if (got.kind === 'exhausted') {
      throw new RangeExhaustedError(
        `no free address in range ${plan.range}${pool.networkName ? ` (network_name ${pool.networkName})` : ''}: all ${plan.capacity} usable addresses are allocated`,
        'free addresses with DEL or GC, or widen the range',
      );
    }
    const fresh: AllocationRecord = {
      offset: '',
      address: '',
      containerId: ctx.who.containerId,
      podRef: ctx.who.podRef,
      ifname: ctx.who.ifname,
      node: ctx.node,
      createdAt: ctx.now,
      network: ctx.network,
    };
    if (got.kind === 'existing') {
      const old = snap.allocations.find((a) => a.offset === got.holder.offset.toString()) as AllocationRecord;
      ips.push({ pool, address: old.address, prefix: plan.prefix });
      if (old.containerId === ctx.who.containerId) return;
      const moved = { ...fresh, offset: old.offset, address: old.address };
      writes.push({ op: 'delete', pool, allocation: old }, { op: 'create', pool, allocation: moved });
      if (ctx.overlapping) {
        const held = reservations.find((r) => r.address === old.address && samePool(r.pool, pool));
        if (held) writes.push({ op: 'unreserve', reservation: held });
        writes.push({ op: 'reserve', reservation: reservationFor(pool, moved) });
      }
      return;
    }
    const rec = { ...fresh, offset: got.offset.toString(), address: offsetAddress(plan, got.offset) };
    ips.push({ pool, address: rec.address, prefix: plan.prefix });
    writes.push({ op: 'create', pool, allocation: rec });
    if (ctx.overlapping) writes.push({ op: 'reserve', reservation: reservationFor(pool, rec) });
  });
  return { writes, ips };
}

/**
 * Frees in one commit, at most: each free is a delete and an unreserve, and in etcd the delete
 * also removes the pod-index key, so 3 operations a free; 32 × 3 = 96 stays within etcd's
 * default limit of 128 operations per transaction (`--max-txn-ops`), which a larger GC or
 * reconciler run would otherwise exceed and fail as a whole.
 */
export const MAX_FREES_PER_COMMIT = 32;

/** The writes that release every allocation `release` picks, with the reservations they hold. */
export function planRelease(
  snapshots: PoolSnapshot[],
  reservations: ReservationRecord[],
  release: (a: AllocationRecord) => boolean,
  limit = Infinity,
): { writes: StoreWrite[]; released: AllocationRecord[] } {
  const writes: StoreWrite[] = [];
  const released: AllocationRecord[] = [];
  for (const snap of snapshots) {
    for (const a of snap.allocations) {
      if (released.length >= limit) break;
      if (!release(a)) continue;
      released.push(a);
      writes.push({ op: 'delete', pool: snap.pool, allocation: a });
      const held = reservations.find(
        (r) => r.address === a.address && samePool(r.pool, snap.pool) && r.containerId === a.containerId && r.ifname === a.ifname,
      );
      if (held) writes.push({ op: 'unreserve', reservation: held });
    }
  }
  return { writes, released };
}
