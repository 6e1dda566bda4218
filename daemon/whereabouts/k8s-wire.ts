/**
 * The shapes of Whereabouts' custom resources (whereabouts.cni.cncf.io/v1alpha1) and how our
 * records map onto them. Pure: no I/O.
 *
 * IPPool.spec.allocations is keyed by the decimal offset of the address from the range's
 * network address and holds `{id, podref, ifname}` exactly as Whereabouts' Go types marshal
 * them (ifname omitted when empty). Whereabouts' CRD prunes any other field of an allocation,
 * so what Whereabouts has no field for (the node that allocated, when, and the CNI network)
 * goes into one annotation per allocation on the IPPool:
 *
 *   metadata.annotations["allocations.cni-dhcp.io/<offset>"] = '["<node>",<createdAt ms>,"<network>","<id prefix>"]'
 *
 * Annotations are never pruned, and Whereabouts' own pool updates (a JSON Patch of
 * spec.allocations) leave them alone. An annotation whose id prefix does not match the
 * allocation at its offset is stale (Whereabouts freed and re-used the offset) and ignored.
 * A reservation keeps the pool that holds it in `reservations.cni-dhcp.io/pool`.
 */
import type { AllocationRecord, PoolRef, ReservationRecord } from './store';
import { API_VERSION } from './k8s-names';
import { addrText, parseAddr, parseNetwork } from './ip-math';

export const META_PREFIX = 'allocations.cni-dhcp.io/';
export const POOL_ANNOTATION = 'reservations.cni-dhcp.io/pool';
/** how much of the container id the annotation repeats to detect a stale entry */
const ID_PREFIX = 12;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
}

/** Whereabouts' IPAllocation (json tags id, podref, ifname,omitempty) */
export interface IPAllocation {
  id: string;
  podref: string;
  ifname?: string;
}

export interface IPPoolObject {
  apiVersion: string;
  kind: 'IPPool';
  metadata: ObjectMeta;
  spec: { range: string; allocations: Record<string, IPAllocation> };
}

export interface ReservationObject {
  apiVersion: string;
  kind: 'OverlappingRangeIPReservation';
  metadata: ObjectMeta;
  spec: { containerid?: string; podref: string; ifname?: string };
}

export function wireAllocation(a: AllocationRecord): IPAllocation {
  const out: IPAllocation = { id: a.containerId, podref: a.podRef };
  if (a.ifname !== '') out.ifname = a.ifname;
  return out;
}

export function metaKey(offset: string): string {
  return `${META_PREFIX}${offset}`;
}

export function metaValue(a: AllocationRecord): string {
  return JSON.stringify([a.node, a.createdAt, a.network ?? null, a.containerId.slice(0, ID_PREFIX)]);
}

function parseMeta(text: string | undefined, id: string): { node: string; createdAt: number; network?: string } | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (!Array.isArray(v) || typeof v[0] !== 'string' || typeof v[1] !== 'number' || v[3] !== id.slice(0, ID_PREFIX)) return undefined;
    const out: { node: string; createdAt: number; network?: string } = { node: v[0], createdAt: v[1] };
    if (typeof v[2] === 'string') out.network = v[2];
    return out;
  } catch {
    return undefined;
  }
}

export function newPool(name: string, namespace: string, range: string): IPPoolObject {
  return { apiVersion: API_VERSION, kind: 'IPPool', metadata: { name, namespace }, spec: { range, allocations: {} } };
}

/**
 * Our records of one IPPool object. An offset that is not a decimal number, or outside the
 * range, is skipped as Whereabouts skips it; an allocation Whereabouts made (no annotation of
 * ours) reads with node '' and createdAt 0.
 */
export function decodeAllocations(obj: IPPoolObject, pool: PoolRef): AllocationRecord[] {
  const { network, size } = parseNetwork(pool.range);
  const notes = obj.metadata.annotations ?? {};
  const out: AllocationRecord[] = [];
  for (const [offset, a] of Object.entries(obj.spec?.allocations ?? {})) {
    if (!/^(0|[1-9][0-9]*)$/.test(offset) || BigInt(offset) >= size || typeof a !== 'object' || a === null) continue;
    const id = typeof a.id === 'string' ? a.id : '';
    const rec: AllocationRecord = {
      offset,
      address: addrText({ family: network.family, value: network.value + BigInt(offset) }),
      containerId: id,
      podRef: typeof a.podref === 'string' ? a.podref : '',
      ifname: typeof a.ifname === 'string' ? a.ifname : '',
      node: '',
      createdAt: 0,
    };
    const meta = parseMeta(notes[metaKey(offset)], id);
    if (meta) {
      rec.node = meta.node;
      rec.createdAt = meta.createdAt;
      if (meta.network !== undefined) rec.network = meta.network;
    }
    out.push(rec);
  }
  return out.sort((x, y) => (BigInt(x.offset) < BigInt(y.offset) ? -1 : BigInt(x.offset) > BigInt(y.offset) ? 1 : 0));
}

export function newReservation(name: string, namespace: string, r: ReservationRecord): ReservationObject {
  const spec: ReservationObject['spec'] = { containerid: r.containerId, podref: r.podRef };
  if (r.ifname !== '') spec.ifname = r.ifname;
  return {
    apiVersion: API_VERSION,
    kind: 'OverlappingRangeIPReservation',
    metadata: { name, namespace, annotations: { [POOL_ANNOTATION]: JSON.stringify([r.pool.networkName, r.pool.range]) } },
    spec,
  };
}

/** the pool a reservation names in our annotation; undefined for one Whereabouts made */
export function reservationPool(obj: ReservationObject): PoolRef | undefined {
  const text = obj.metadata.annotations?.[POOL_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string') return { networkName: v[0], range: v[1] };
  } catch {
    /* not ours */
  }
  return undefined;
}

/** holder fields of a reservation object (the address comes from the caller: names are lossy) */
export function reservationHolder(obj: ReservationObject): { containerId: string; podRef: string; ifname: string } {
  return { containerId: obj.spec?.containerid ?? '', podRef: obj.spec?.podref ?? '', ifname: obj.spec?.ifname ?? '' };
}

/** the address of a reservation object's name within a network_name ("blue-2001-db8--9" → "2001:db8::9") */
export function reservationAddress(name: string, networkName: string): string | undefined {
  const body = networkName === '' ? name : name.startsWith(`${networkName}-`) ? name.slice(networkName.length + 1) : undefined;
  if (body === undefined) return undefined;
  const text = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/.test(body) ? body : body.replace(/-/g, ':');
  try {
    return addrText(parseAddr(text.endsWith('::0') ? text.slice(0, -1) : text));
  } catch {
    return undefined;
  }
}

/** offset of an address within a range, as the decimal string Whereabouts keys by */
export function offsetOf(range: string, address: string): string {
  const { network } = parseNetwork(range);
  return (parseAddr(address).value - network.value).toString(10);
}
