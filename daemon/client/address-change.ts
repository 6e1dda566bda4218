/**
 * When the server hands out another address than the one the pod carries (after a NAK or an
 * expiry), the pod is moved to it: this file decides what a move changes. Pure; the edge
 * (daemon/io/netlink-route.ts) carries the plan out in the pod's namespace.
 */
import type { ReplyParams } from '../dhcp4/types';
import type { LeaseRecord } from './machine-types';

export function cidr(lease: Pick<LeaseRecord, 'address' | 'prefixLength'>): string {
  return `${lease.address}/${lease.prefixLength}`;
}

/** The pod has to be touched: another address, or the same one with another mask. */
export function isAddressChange(pod: Pick<LeaseRecord, 'address' | 'prefixLength'>, next: Pick<LeaseRecord, 'address' | 'prefixLength'>): boolean {
  return pod.address !== next.address || pod.prefixLength !== next.prefixLength;
}

/** An IPv4 route as the kernel reports it on the pod's interface (the fields a move keeps). */
export interface PodRoute {
  dst: string;
  dstLen: number;
  gateway?: string;
  table: number;
  metric?: number;
  protocol: number;
  scope: number;
}

export interface MovePlan {
  addAddress: { address: string; prefixLength: number };
  removeAddress: { address: string; prefixLength: number };
  /**
   * routes via one of the old lease's gateways, each with the gateway it moves to (perhaps the
   * same): all are written again after the address swap, which may have flushed them
   */
  repoint: Array<{ route: PodRoute; gateway: string }>;
  /** routes via an old gateway for which the new lease has none: deleted, not left dangling */
  drop: PodRoute[];
}

function dstKey(dst: string, len: number): string {
  return `${dst}/${len}`;
}

/**
 * The gateway of each destination a lease routes, as the result the main plugin configured
 * it (shared/dhcp-result.ts): option 121 when present, else option 33 plus 0/0 via option 3.
 */
export function leaseGateways(params: ReplyParams): Map<string, string> {
  const out = new Map<string, string>();
  const add = (dst: string, gw: string) => {
    if (gw !== '0.0.0.0' && !out.has(dst)) out.set(dst, gw);
  };
  if (params.classlessRoutes !== undefined && params.classlessRoutes.length > 0) {
    for (const r of params.classlessRoutes) add(normalizeDst(r.dst), r.gw);
    return out;
  }
  for (const r of params.staticRoutes ?? []) add(normalizeDst(r.dst), r.gw);
  const router = params.routers?.[0];
  if (router !== undefined) add('0.0.0.0/0', router);
  return out;
}

function normalizeDst(dst: string): string {
  return dst.includes('/') ? dst : `${dst}/32`;
}

/**
 * Moving the pod from `pod` to `next`: the new address with its mask replaces the old one, and
 * every route on the interface (`routes`: the caller passes only those) via a gateway of the
 * old lease is re-pointed at the new lease's gateway for the same destination, or its first
 * router, keeping its table and metric (the config's "priority"). Routes the old lease did not
 * put there (other gateways, link-scope routes) are left alone.
 */
export function planMove(pod: LeaseRecord, next: LeaseRecord, routes: PodRoute[]): MovePlan {
  const oldGateways = new Set(leaseGateways(pod.params).values());
  for (const r of pod.params.routers ?? []) oldGateways.add(r);
  const newGateways = leaseGateways(next.params);
  const fallback = next.params.routers?.[0];
  const plan: MovePlan = {
    addAddress: { address: next.address, prefixLength: next.prefixLength },
    removeAddress: { address: pod.address, prefixLength: pod.prefixLength },
    repoint: [],
    drop: [],
  };
  for (const route of routes) {
    if (route.gateway === undefined || !oldGateways.has(route.gateway)) continue;
    const gateway = newGateways.get(dstKey(route.dst, route.dstLen)) ?? fallback;
    if (gateway === undefined) plan.drop.push(route);
    else plan.repoint.push({ route, gateway });
  }
  return plan;
}
