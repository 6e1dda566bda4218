/**
 * Where the etcd store keeps things, and how a record is written and checked. Pure: no I/O.
 *
 * One key per address, never one document per pool: a pool document rewritten on every
 * allocation keeps every old version until compaction (measured: ~100 MB for a few thousand
 * allocations), while one small key per address stays small and makes create-if-absent the
 * whole concurrency story.
 *
 *   /whereabouts/<net>/pools/<range>/<offset>      → AllocationRecord (JSON)
 *   /whereabouts/<net>/reservations/<address>      → ReservationRecord (JSON)
 *   /whereabouts/<net>/pods/<range>/<who>/<ifname> → { offset, containerId } (JSON)
 *
 * The pods key is the index that makes "one address per pod + ifname per pool" a condition
 * of the store rather than of one node's read: it is created, if absent, in the transaction
 * that creates the allocation, and deleted in the one that deletes it. <who> is `pod:` and
 * the podRef, or `container:` and the container id when there is no podRef (Whereabouts'
 * identity), percent-encoded like <ifname>.
 *
 * <net> is `_` when network_name is unset, otherwise the name with every character outside
 * [A-Za-z0-9.-] percent-encoded (so a network literally named `_` cannot collide with the
 * unset one). <range> is the CIDR with `/` and `:` turned into `-`, as Whereabouts names its
 * IPPool resources ("198.18.0.0-24", "2001-db8---64"); that is unambiguous because the prefix
 * length is always the last field.
 */
import { normalizeRange } from './k8s-names';
import type { AllocationRecord, PoolRef, ReservationRecord } from './store';

export const ROOT = '/whereabouts/';

export function netSegment(networkName: string): string {
  if (networkName === '') return '_';
  // per code point (the u flag): without it an astral character is two lone surrogates, both encoded as U+FFFD
  return networkName.replace(/[^A-Za-z0-9.-]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** the range as Whereabouts names its IPPool resources (k8s-names), one rule for both stores */
export const rangeSegment: (range: string) => string = normalizeRange;

/** the prefix under which every allocation of one pool lives (ends in `/`) */
export function poolPrefix(pool: PoolRef): string {
  return `${ROOT}${netSegment(pool.networkName)}/pools/${rangeSegment(pool.range)}/`;
}

export function allocationKey(pool: PoolRef, offset: string): string {
  if (!/^(0|[1-9][0-9]*)$/.test(offset)) throw new Error(`allocation offset ${JSON.stringify(offset)} is not a decimal number`);
  return `${poolPrefix(pool)}${offset}`;
}

export function reservationPrefix(networkName: string): string {
  return `${ROOT}${netSegment(networkName)}/reservations/`;
}

export function reservationKey(r: Pick<ReservationRecord, 'networkName' | 'address'>): string {
  if (r.address === '' || /[/\s]/.test(r.address)) throw new Error(`reservation address ${JSON.stringify(r.address)} is not an address`);
  return `${reservationPrefix(r.networkName)}${r.address}`;
}

/**
 * What a key under ROOT names: an allocation's pool, a reservation's network_name, or neither;
 * the inverse of netSegment and rangeSegment (the last `-` of a range is its `/`).
 */
export function keyKind(key: string): { kind: 'pool'; pool: PoolRef } | { kind: 'reservation' | 'pods'; networkName: string } | { kind: 'other' } {
  const m = /^\/whereabouts\/([^/]+)\/(pools\/([^/]+)|reservations|pods)\//.exec(key);
  if (!m) return { kind: 'other' };
  let networkName: string;
  try {
    networkName = m[1] === '_' ? '' : decodeURIComponent(m[1]!);
  } catch {
    return { kind: 'other' };
  }
  if (m[2] === 'pods') return { kind: 'pods', networkName };
  if (m[3] === undefined) return { kind: 'reservation', networkName };
  return { kind: 'pool', pool: { networkName, range: m[3].replace(/-([0-9]+)$/, '/$1').replace(/-/g, ':') } };
}

/** the prefix of every pod-index key of one network_name (ends in `/`) */
export function podIndexPrefix(networkName: string): string {
  return `${ROOT}${netSegment(networkName)}/pods/`;
}

/** the index key of one attachment (pod + ifname, or container + ifname) in one pool */
export function podKey(pool: PoolRef, who: Pick<AllocationRecord, 'podRef' | 'containerId' | 'ifname'>): string {
  const id = who.podRef !== '' ? `pod:${who.podRef}` : `container:${who.containerId}`;
  return `${ROOT}${netSegment(pool.networkName)}/pods/${rangeSegment(pool.range)}/${encodeURIComponent(id)}/${encodeURIComponent(who.ifname)}`;
}

export function encodePodIndex(a: AllocationRecord): string {
  return JSON.stringify({ offset: a.offset, containerId: a.containerId });
}

/** etcd's range_end for "every key with this prefix" */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix, 'utf8');
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** fixed field order, so the same record is always the same bytes */
export function encodeAllocation(a: AllocationRecord): string {
  const { offset, address, containerId, podRef, ifname, node, createdAt, network } = a;
  return JSON.stringify({ offset, address, containerId, podRef, ifname, node, createdAt, ...(network === undefined ? {} : { network }) });
}

export function encodeReservation(r: ReservationRecord): string {
  const { networkName, address, containerId, podRef, ifname, pool } = r;
  return JSON.stringify({ networkName, address, containerId, podRef, ifname, pool: { networkName: pool.networkName, range: pool.range } });
}

function str(o: Record<string, unknown>, k: string, key: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new Error(`etcd key ${key}: field ${k} is ${JSON.stringify(v)}, not a string`);
  return v;
}

function object(text: string, key: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`etcd key ${key} does not hold JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`etcd key ${key} does not hold a JSON object`);
  return v as Record<string, unknown>;
}

export function decodeAllocation(text: string, key: string): AllocationRecord {
  const o = object(text, key);
  const createdAt = o.createdAt;
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt)) throw new Error(`etcd key ${key}: createdAt is not a number`);
  const rec: AllocationRecord = {
    offset: str(o, 'offset', key),
    address: str(o, 'address', key),
    containerId: str(o, 'containerId', key),
    podRef: str(o, 'podRef', key),
    ifname: str(o, 'ifname', key),
    node: str(o, 'node', key),
    createdAt,
  };
  if (o.network !== undefined) rec.network = str(o, 'network', key);
  if (!key.endsWith(`/${rec.offset}`)) throw new Error(`etcd key ${key} holds the allocation of offset ${rec.offset}`);
  return rec;
}

export function decodeReservation(text: string, key: string): ReservationRecord {
  const o = object(text, key);
  const pool = o.pool;
  if (typeof pool !== 'object' || pool === null) throw new Error(`etcd key ${key}: pool is not an object`);
  const p = pool as Record<string, unknown>;
  return {
    networkName: str(o, 'networkName', key),
    address: str(o, 'address', key),
    containerId: str(o, 'containerId', key),
    podRef: str(o, 'podRef', key),
    ifname: str(o, 'ifname', key),
    pool: { networkName: str(p, 'networkName', key), range: str(p, 'range', key) },
  };
}
