/**
 * What the IPv6 driver does with a lease the machine bound, given the address the pod carries.
 * Pure. The DAD probe (daemon/nd) runs on every bind of a new address: the first lease, and a
 * different address after an expiry or NotOnLink, never a renewal of the address the pod holds.
 * A different address is then moved onto the pod, as IPv4 does after a NAK or an expiry.
 */
import type { ChangedFrom6, Lease6Record } from './types6';

export interface BindPlan6 {
  /** probe the lease's address before taking it */
  probe: boolean;
  /** the pod carries this other address: move it to the lease's */
  moveFrom?: string;
  /** what the record keeps of the last change (a renewal keeps it; a move makes a new one) */
  changedFrom?: ChangedFrom6;
}

/** `pod`: the record of the address the pod carries (undefined before the first ADD is answered). */
export function planBind6(pod: Lease6Record | undefined, lease: Lease6Record, probeOn: boolean): BindPlan6 {
  if (pod === undefined) return { probe: probeOn };
  if (pod.address === lease.address) return pod.changedFrom ? { probe: false, changedFrom: pod.changedFrom } : { probe: false };
  return { probe: probeOn, moveFrom: pod.address };
}
