/**
 * `cni-dhcp whereabouts free`: the operator frees one address, or every allocation of a node
 * that is gone for good, by hand. Two calls: the first lists exactly what matches; the second
 * names the matches the operator confirmed, and each is freed only if its record is still
 * exactly that one (freeOne: re-read, then the store's compare-delete).
 */
import { InvalidParams } from '../../rpc-validate';
import type { WbFreeMatch, WbFreeParams, WbFreeResult } from '../../../shared/whereabouts-protocol';
import type { AllocationRecord, WhereaboutsStore } from '../store';
import { freeOne } from './run';

const DEADLINE_MS = 30_000;

export function freeParams(p: unknown): WbFreeParams {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new InvalidParams('params must be an object');
  const o = p as Record<string, unknown>;
  const out: WbFreeParams = {};
  for (const k of ['address', 'networkName', 'range', 'node'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length > 512) throw new InvalidParams(`${k} must be a string`);
    out[k] = v;
  }
  if ((out.address === undefined) === (out.node === undefined)) throw new InvalidParams('name an address (with its range) or a node, not both');
  if (out.address !== undefined && out.range === undefined) throw new InvalidParams('an address needs its range');
  if (o.confirm !== undefined) {
    if (!Array.isArray(o.confirm) || o.confirm.length > 100_000) throw new InvalidParams('confirm must be an array of matches');
    out.confirm = o.confirm.map((m) => match(m));
  }
  return out;
}

function match(m: unknown): WbFreeMatch {
  if (typeof m !== 'object' || m === null) throw new InvalidParams('a confirmed match must be an object');
  const o = m as Record<string, unknown>;
  const s = (k: string) => {
    if (typeof o[k] !== 'string') throw new InvalidParams(`confirm[].${k} must be a string`);
    return o[k] as string;
  };
  if (typeof o.createdAt !== 'number') throw new InvalidParams('confirm[].createdAt must be a number');
  const out: WbFreeMatch = {
    store: s('store'),
    networkName: s('networkName'),
    range: s('range'),
    offset: s('offset'),
    address: s('address'),
    containerId: s('containerId'),
    podRef: s('podRef'),
    ifname: s('ifname'),
    node: s('node'),
    createdAt: o.createdAt,
  };
  if (o.network !== undefined) out.network = s('network');
  return out;
}

function view(store: WhereaboutsStore, networkName: string, range: string, a: AllocationRecord): WbFreeMatch {
  const m: WbFreeMatch = { store: store.endpoint, networkName, range, offset: a.offset, address: a.address, containerId: a.containerId, podRef: a.podRef, ifname: a.ifname, node: a.node, createdAt: a.createdAt };
  if (a.network !== undefined) m.network = a.network;
  return m;
}

function record(m: WbFreeMatch): AllocationRecord {
  const a: AllocationRecord = { offset: m.offset, address: m.address, containerId: m.containerId, podRef: m.podRef, ifname: m.ifname, node: m.node, createdAt: m.createdAt };
  if (m.network !== undefined) a.network = m.network;
  return a;
}

export async function manualFree(stores: WhereaboutsStore[], p: WbFreeParams): Promise<WbFreeResult> {
  const deadline = Date.now() + DEADLINE_MS;
  const matches: WbFreeMatch[] = [];
  for (const store of stores) {
    const pools = (await store.listPools({ deadline })).filter(
      (pool) => p.address === undefined || (pool.range === p.range && (p.networkName === undefined || pool.networkName === p.networkName)),
    );
    for (const snap of await store.read(pools, { deadline })) {
      for (const a of snap.allocations) {
        if (p.address !== undefined ? a.address === p.address : a.node === p.node) matches.push(view(store, snap.pool.networkName, snap.pool.range, a));
      }
    }
  }
  const freed: WbFreeMatch[] = [];
  for (const m of p.confirm ?? []) {
    const store = stores.find((s) => s.endpoint === m.store);
    if (!store) continue;
    if (await freeOne(store, { networkName: m.networkName, range: m.range }, record(m), deadline)) freed.push(m);
  }
  return { matches, freed };
}
