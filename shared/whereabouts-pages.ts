/**
 * Paging of the whereabouts listings (WbPageParams), one order for the daemon that cuts pages
 * and the CLI that joins them. Pure.
 */
import { parseIP } from './go-ip';
import type { WbPageParams, WbPoolView } from './whereabouts-protocol';

/** the slots a pool takes in a page: one per allocation, or one when it has none */
export function slotsOf(pool: WbPoolView): number {
  return Math.max(1, pool.allocations.length);
}

export function slotCount(pools: WbPoolView[]): number {
  return pools.reduce((n, p) => n + slotsOf(p), 0);
}

/** numeric order of address text (IPv4 before IPv6), text order for anything that does not parse */
function compareAddress(a: string, b: string): number {
  const x = parseIP(a);
  const y = parseIP(b);
  if (x === null || y === null) return a < b ? -1 : a > b ? 1 : 0;
  for (let i = 0; i < 16; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The listing order: pools by store, network_name and range; allocations by address. Sorts in place. */
export function sortPools(pools: WbPoolView[]): WbPoolView[] {
  for (const p of pools) p.allocations.sort((a, b) => compareAddress(a.address, b.address) || byText(a.ifname, b.ifname));
  return pools.sort((a, b) => byText(a.store, b.store) || byText(a.networkName, b.networkName) || byText(a.range, b.range));
}

/** The pools within slots [offset, offset + limit); a pool the window cuts keeps the allocations inside it. */
export function poolWindow(pools: WbPoolView[], w: WbPageParams): WbPoolView[] {
  const from = w.offset ?? 0;
  const to = w.limit === undefined ? Infinity : from + w.limit;
  const out: WbPoolView[] = [];
  let at = 0;
  for (const p of pools) {
    if (at >= to) break;
    const n = slotsOf(p);
    if (at + n > from) {
      out.push(p.allocations.length === 0 ? p : { ...p, allocations: p.allocations.slice(Math.max(0, from - at), to - at) });
    }
    at += n;
  }
  return out;
}

export function allocationWindow<T>(rows: T[], w: WbPageParams): T[] {
  const from = w.offset ?? 0;
  return rows.slice(from, w.limit === undefined ? undefined : from + w.limit);
}

const samePool = (a: WbPoolView, b: WbPoolView): boolean => a.store === b.store && a.networkName === b.networkName && a.range === b.range;

/** Appends the next page to the pools so far: a pool the last page cut goes on. */
export function appendPoolPage(all: WbPoolView[], page: WbPoolView[]): WbPoolView[] {
  for (const p of page) {
    const last = all[all.length - 1];
    if (last !== undefined && samePool(last, p)) {
      last.allocations.push(...p.allocations);
      last.revision = p.revision;
    } else all.push({ ...p, allocations: [...p.allocations] });
  }
  return all;
}
