/**
 * Liveness on the `kubernetes` store: the cluster's pods, listed (all namespaces, paged) AFTER
 * the run read the pools. The allocation record carries no pod uid (Whereabouts' wire format
 * is {id, podref, ifname}) and Multus' network-status carries no sandbox id, so which pod an
 * allocation belongs to is told from what both sides do carry: the podRef, the addresses
 * Multus recorded, and time (the allocation's createdAt against the pod's creationTimestamp).
 * Per allocation of this node, in this order:
 *
 * - no podRef: unknown (kept; not a pod's);
 * - no pod of that namespace/name listed: gone ('pod-gone'), the list being complete;
 * - the pod is Succeeded or Failed: gone ('pod-terminated'): the kubelet tears down a finished
 *   pod's sandbox;
 * - the pod's network-status lists this address on this interface: alive ('network-status'),
 *   whatever the times say;
 * - the pod is being deleted (deletionTimestamp): alive ('pod-terminating'): its sandbox runs
 *   through the termination grace and the runtime's DEL frees the address; if the DEL is lost,
 *   a run after the pod object is gone frees it;
 * - the allocation is older than the pod object by more than CLOCK_SLACK_MS: gone
 *   ('earlier-pod'): it was made for an earlier pod of that name (a StatefulSet pod deleted and
 *   re-created), whose sandbox the API server no longer holds. A re-created pod's own ADD
 *   writes a fresh record (idempotent per pod + ifname, with its own container id and time),
 *   so it is never taken for an earlier pod's;
 * - anything else is unknown and kept: a pod whose network-status is not written yet, or that
 *   records another address (a sandbox being re-created).
 *
 * The slack covers the node's clock lagging the API server's and the second-granular
 * creationTimestamp; a node clock behind by more than it could free a live pod's address, so
 * it is generous. An earlier pod's record made within the slack of its successor's creation is
 * kept while the successor lives.
 */
import type { AllocationRecord, StoreDeadline } from '../store';
import type { LivePod } from '../k8s-pods';
import { attachmentKey, type LiveSet, type LivenessSource } from './live-set';

export const CLOCK_SLACK_MS = 60_000;

/** what a store that sees pods offers (KubernetesStore) */
export interface PodLister {
  listPods(opts: StoreDeadline): Promise<LivePod[]>;
}

export function isPodLister(x: unknown): x is PodLister {
  return typeof (x as Partial<PodLister>).listPods === 'function';
}

export type PodVerdict = { alive: true; evidence: string } | { alive: false; evidence: string } | undefined;

const iso = (ms: number) => new Date(ms).toISOString();

/** the verdict on one allocation, given every pod listed by podRef (pure) */
export function judgeAllocation(a: AllocationRecord, pods: ReadonlyMap<string, LivePod>, slackMs = CLOCK_SLACK_MS): PodVerdict {
  if (a.podRef === '') return undefined;
  const pod = pods.get(a.podRef);
  if (!pod) return { alive: false, evidence: `pod-gone (${a.podRef} not listed)` };
  const who = `${a.podRef} uid ${pod.uid}`;
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return { alive: false, evidence: `pod-terminated (${who} ${pod.phase})` };
  const listed = pod.networkStatus?.some((e) => (e.interface === a.ifname || e.interface === '') && e.ips.includes(a.address));
  if (listed) return { alive: true, evidence: `network-status of ${who}` };
  if (pod.deletionTimestamp !== undefined) return { alive: true, evidence: `pod-terminating (${who} since ${iso(pod.deletionTimestamp)})` };
  if (pod.createdAt > 0 && a.createdAt < pod.createdAt - slackMs) {
    return { alive: false, evidence: `earlier-pod (${who} created ${iso(pod.createdAt)}, after this allocation of ${iso(a.createdAt)})` };
  }
  return undefined;
}

/** the living set for `allocations` from a complete pod list (pure) */
export function podLiveSet(allocations: readonly AllocationRecord[], pods: readonly LivePod[], slackMs = CLOCK_SLACK_MS): LiveSet {
  const byRef = new Map(pods.map((p) => [p.podRef, p]));
  const alive = new Map<string, string>();
  const gone = new Map<string, string>();
  for (const a of allocations) {
    const v = judgeAllocation(a, byRef, slackMs);
    if (!v) continue;
    const key = attachmentKey(a.containerId, a.ifname);
    if (v.alive) {
      alive.set(key, v.evidence);
      gone.delete(key);
    } else if (!alive.has(key)) gone.set(key, v.evidence);
  }
  // the verdicts are per allocation already: decide.ts's pod-level rules have nothing to add
  return { alive, gone, pods: new Map(), complete: false };
}

export class K8sLiveness implements LivenessSource {
  readonly name = 'kubernetes (pods and their Multus network-status)';

  constructor(private readonly lister: PodLister) {}

  async snapshot(allocations: readonly AllocationRecord[], opts: StoreDeadline): Promise<LiveSet> {
    // listed after the pools were read (run.ts): a pod an allocation in the snapshot was made for existed before it
    return podLiveSet(allocations, await this.lister.listPods(opts));
  }
}
