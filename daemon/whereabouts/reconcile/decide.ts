/**
 * The reconciler's decision, pure: for each allocation of pools read FIRST, and a living set
 * read AFTER, keep or free, and why. Only what is certainly dead is freed:
 *
 * - another node's allocation is that node's daemon's to judge ('other-node');
 * - an allocation younger than the grace period is kept whatever the living set says: its
 *   pod's liveness may not be recorded anywhere yet ('young');
 * - any evidence of life keeps it: its container id + ifname ('alive-container') or, from a
 *   source that sees pods, its pod + ifname ('alive-pod');
 * - a pod name alive with a known set of sandboxes that does not include this container id
 *   does not keep it: that is an earlier sandbox of a re-created pod (a StatefulSet pod), and
 *   it is freed only if its own container is known gone;
 * - known gone (or absent from a complete listing) frees it ('gone');
 * - nothing known keeps it ('unknown').
 */
import type { AllocationRecord, PoolRef, PoolSnapshot } from '../store';
import { attachmentKey, podKey, type LiveSet } from './live-set';

export type KeepReason = 'other-node' | 'young' | 'alive-container' | 'alive-pod' | 'unknown';
export type FreeReason = 'gone';

export type Decision =
  | { pool: PoolRef; allocation: AllocationRecord; action: 'keep'; reason: KeepReason; evidence?: string }
  | { pool: PoolRef; allocation: AllocationRecord; action: 'free'; reason: FreeReason; evidence: string };

export interface DecideOptions {
  node: string;
  /** ms since the epoch */
  now: number;
  graceMs: number;
}

function lookup(map: ReadonlyMap<string, string>, id: string, ifname: string): string | undefined {
  return map.get(attachmentKey(id, ifname)) ?? map.get(attachmentKey(id, '*'));
}

export function decideOne(pool: PoolRef, a: AllocationRecord, live: LiveSet, o: DecideOptions): Decision {
  const keep = (reason: KeepReason, evidence?: string): Decision => ({ pool, allocation: a, action: 'keep', reason, ...(evidence === undefined ? {} : { evidence }) });
  if (a.node !== o.node) return keep('other-node');
  // a createdAt in the future (a clock stepped back) is young too
  if (!(o.now - a.createdAt >= o.graceMs)) return keep('young');
  const alive = lookup(live.alive, a.containerId, a.ifname);
  if (alive !== undefined) return keep('alive-container', alive);
  const gone = lookup(live.gone, a.containerId, a.ifname) ?? (live.complete ? 'not listed' : undefined);
  if (a.podRef !== '') {
    const pod = live.pods.get(podKey(a.podRef, a.ifname)) ?? live.pods.get(podKey(a.podRef, '*'));
    const earlierSandbox = pod?.containerIds !== undefined && !pod.containerIds.has(a.containerId);
    if (pod && !(earlierSandbox && gone !== undefined)) return keep('alive-pod', pod.evidence);
    if (pod) return { pool, allocation: a, action: 'free', reason: 'gone', evidence: `${gone}; pod ${a.podRef} lives on in another sandbox` };
  }
  if (gone !== undefined) return { pool, allocation: a, action: 'free', reason: 'gone', evidence: gone };
  return keep('unknown');
}

export function decide(snapshots: readonly PoolSnapshot[], live: LiveSet, o: DecideOptions): Decision[] {
  return snapshots.flatMap((s) => s.allocations.map((a) => decideOne(s.pool, a, live, o)));
}
