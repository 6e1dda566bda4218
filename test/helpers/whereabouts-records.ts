/** Records for Whereabouts store tests: one allocation (and its reservation) per racer. */
import type { AllocationRecord, PoolRef, ReservationRecord, StoreWrite } from '../../daemon/whereabouts/store';

export const POOL_A: PoolRef = { networkName: '', range: '198.18.0.0/24' };
export const POOL_B: PoolRef = { networkName: 'blue', range: '198.18.0.0/24' };

/** the allocation `who` makes of `offset` in a /24 or /16 starting at 198.18.0.0 */
export function alloc(offset: number, who: string, node = 'node-a'): AllocationRecord {
  return {
    offset: String(offset),
    address: `198.18.${offset >> 8}.${offset & 255}`,
    containerId: `cid-${who}`,
    podRef: `default/pod-${who}`,
    ifname: 'eth0',
    node,
    createdAt: Date.now(),
  };
}

export function reservation(pool: PoolRef, a: AllocationRecord): ReservationRecord {
  return { networkName: pool.networkName, address: a.address, containerId: a.containerId, podRef: a.podRef, ifname: a.ifname, pool };
}

/** an allocation and its overlapping-range reservation, as the IPAM service commits them */
export function allocate(pool: PoolRef, a: AllocationRecord): StoreWrite[] {
  return [
    { op: 'create', pool, allocation: a },
    { op: 'reserve', reservation: reservation(pool, a) },
  ];
}

export function release(pool: PoolRef, a: AllocationRecord): StoreWrite[] {
  return [
    { op: 'delete', pool, allocation: a },
    { op: 'unreserve', reservation: reservation(pool, a) },
  ];
}

export const soon = (ms = 15_000): { deadline: number } => ({ deadline: Date.now() + ms });
