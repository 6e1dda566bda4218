/**
 * The pure allocator: which offset of a range an attachment gets. No I/O, no clock.
 *
 * As Whereabouts (pkg/allocate, pkg/iphelpers): the usable addresses are the range's network
 * without its network and broadcast addresses (IPv6 too); `range_start` counts only when it
 * lies in [first usable, last usable] and `range_end` only when it lies in [start, last
 * usable], otherwise each is silently ignored; excluded CIDRs are skipped whole; the lowest
 * free address wins; an attachment that already holds an address in the pool gets it again.
 * Unlike Whereabouts, nothing walks the range: used and excluded offsets are merged intervals.
 */
import type { WhereaboutsRange } from '../../shared/whereabouts-config';
import { addrText, bitsOf, parseAddr, parseNetwork, type Addr, type Family } from './ip-math';
import { coveredWithin, mergeIntervals, type Interval } from './intervals';

/** A range, resolved once: offsets are from the network address (Whereabouts' pool keys). */
export interface RangePlan {
  range: string;
  family: Family;
  prefix: number;
  network: bigint;
  /** first and last offset that may be handed out */
  first: bigint;
  last: bigint;
  excluded: Interval[];
  /** addresses in [first, last] that are not excluded */
  capacity: bigint;
}

function inside(a: Addr | undefined, family: Family, lo: bigint, hi: bigint): a is Addr {
  return a !== undefined && a.family === family && a.value >= lo && a.value <= hi;
}

/**
 * `gateway`: never handed out when it lies in the range (ours: Whereabouts would give the
 * router's address to a pod unless the user excludes it).
 */
export function planRange(r: WhereaboutsRange, gateway?: string): RangePlan {
  const { network, prefix, size } = parseNetwork(r.range);
  const firstUsable = network.value + 1n;
  const lastUsable = network.value + size - 2n;
  const start = r.rangeStart === undefined ? undefined : parseAddr(r.rangeStart);
  const end = r.rangeEnd === undefined ? undefined : parseAddr(r.rangeEnd);
  const first = inside(start, network.family, firstUsable, lastUsable) ? start.value : firstUsable;
  const last = inside(end, network.family, first, lastUsable) ? end.value : lastUsable;
  const gw = gateway === undefined ? undefined : `${gateway}/${bitsOf(network.family)}`;
  const excluded = mergeIntervals(
    [...r.exclude, ...(gw && parseAddr(gateway as string).family === network.family ? [gw] : [])]
      .map((cidr) => parseNetwork(cidr))
      .filter((x) => x.network.family === network.family)
      .map((x) => ({ start: x.network.value - network.value, end: x.network.value + x.size - 1n - network.value })),
  );
  const firstOff = first - network.value;
  const lastOff = last - network.value;
  return {
    range: r.range,
    family: network.family,
    prefix,
    network: network.value,
    first: firstOff,
    last: lastOff,
    excluded,
    capacity: lastOff - firstOff + 1n - coveredWithin(excluded, firstOff, lastOff),
  };
}

export function offsetAddress(plan: RangePlan, offset: bigint): string {
  return addrText({ family: plan.family, value: plan.network + offset });
}

/** The offset of `address` in the plan's network, or undefined when it is not in it. */
export function addressOffset(plan: RangePlan, address: string): bigint | undefined {
  let a: Addr;
  try {
    a = parseAddr(address);
  } catch {
    return undefined;
  }
  const size = 1n << BigInt((plan.family === 4 ? 32 : 128) - plan.prefix);
  if (a.family !== plan.family || a.value < plan.network || a.value >= plan.network + size) return undefined;
  return a.value - plan.network;
}

export interface Holder {
  offset: bigint;
  containerId: string;
  podRef: string;
  ifname: string;
}

export interface Claimant {
  containerId: string;
  /** `namespace/name`, '' when the runtime sent no pod */
  podRef: string;
  ifname: string;
}

/** Pod + ifname when the pod is known (a re-created sandbox keeps its address), else container + ifname. */
export function sameAttachment(h: { containerId: string; podRef: string; ifname: string }, c: Claimant): boolean {
  if (h.ifname !== c.ifname) return false;
  return c.podRef !== '' ? h.podRef === c.podRef : h.containerId === c.containerId;
}

export type Assignment =
  | { kind: 'existing'; holder: Holder }
  | { kind: 'new'; offset: bigint }
  | { kind: 'exhausted' };

/**
 * `holders`: the pool's allocations; `alsoUsed`: offsets held elsewhere (overlapping-range
 * reservations of other pools). Cost: O(allocations + exclusions).
 */
export function assign(plan: RangePlan, holders: Holder[], alsoUsed: bigint[], who: Claimant): Assignment {
  const mine = holders.find((h) => sameAttachment(h, who));
  if (mine) return { kind: 'existing', holder: mine };
  const offsets = [...holders.map((h) => h.offset), ...alsoUsed];
  const offset = plan.last <= BigInt(Number.MAX_SAFE_INTEGER) ? lowestFreeSmall(plan, offsets) : lowestFreeBig(plan, offsets);
  return offset === undefined ? { kind: 'exhausted' } : { kind: 'new', offset };
}

/**
 * Offsets that fit a double (every IPv4 range, IPv6 up to /75): sort the used ones as a
 * Float64Array and walk them beside the excluded intervals, O(n log n) on numbers.
 */
function lowestFreeSmall(plan: RangePlan, offsets: bigint[]): bigint | undefined {
  const used = Float64Array.from(offsets, Number).sort();
  const last = Number(plan.last);
  let candidate = Number(plan.first);
  let u = 0;
  for (let ex = 0; candidate <= last; ) {
    const iv = plan.excluded[ex];
    if (iv && Number(iv.end) < candidate) {
      ex++;
    } else if (iv && Number(iv.start) <= candidate) {
      candidate = Number(iv.end) + 1;
    } else {
      while (u < used.length && (used[u] as number) < candidate) u++;
      if (u < used.length && used[u] === candidate) candidate++;
      else return BigInt(candidate);
    }
  }
  return undefined;
}

/** Larger IPv6 ranges: the same walk over a set of bigints, O(n) steps at most. */
function lowestFreeBig(plan: RangePlan, offsets: bigint[]): bigint | undefined {
  const used = new Set(offsets);
  let candidate = plan.first;
  for (let ex = 0; candidate <= plan.last; ) {
    const iv = plan.excluded[ex];
    if (iv && iv.end < candidate) ex++;
    else if (iv && iv.start <= candidate) candidate = iv.end + 1n;
    else if (used.has(candidate)) candidate++;
    else return candidate;
  }
  return undefined;
}
