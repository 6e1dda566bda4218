/**
 * Closed intervals of bigint offsets, sorted and merged: the excluded and the used parts of a
 * range. Cost grows with the number of intervals (allocations, exclude entries), never with
 * the number of addresses the range holds.
 */
export interface Interval {
  start: bigint;
  end: bigint;
}

/** Sorts and merges overlapping or touching intervals. */
export function mergeIntervals(list: Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Interval[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last && iv.start <= last.end + 1n) {
      if (iv.end > last.end) last.end = iv.end;
    } else {
      out.push({ ...iv });
    }
  }
  return out;
}

/** How many values of [from, to] the merged intervals cover. */
export function coveredWithin(blocked: Interval[], from: bigint, to: bigint): bigint {
  let n = 0n;
  for (const iv of blocked) {
    const s = iv.start > from ? iv.start : from;
    const e = iv.end < to ? iv.end : to;
    if (s <= e) n += e - s + 1n;
  }
  return n;
}
