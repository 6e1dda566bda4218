/**
 * The living pods, as the reconciler needs them: who each pod is (namespace/name and uid, so a
 * StatefulSet pod re-created under the same name is another pod), since when, and the
 * addresses Multus recorded for each of its interfaces in `k8s.v1.cni.cncf.io/network-status`.
 * The parse is pure; listLivePods is one paged LIST through @kubernetes/client-node.
 */
import type * as K8s from '@kubernetes/client-node';
import { connect, requestOptions, statusMessage, type K8sConnection } from './kubernetes-client';

export const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';

export interface NetworkStatusEntry {
  /** the attachment's network ("namespace/name" of the NetworkAttachmentDefinition, or the default network's name) */
  name: string;
  /** the interface in the pod, '' when Multus did not record one */
  interface: string;
  ips: string[];
}

export interface LivePod {
  /** `namespace/name`, as Whereabouts' podref */
  podRef: string;
  uid: string;
  /** metadata.creationTimestamp in ms since the epoch (0 when absent) */
  createdAt: number;
  /** undefined while Multus has not written the annotation (or wrote something unreadable) */
  networkStatus: NetworkStatusEntry[] | undefined;
  phase: string;
  /** ms since the epoch when the pod is being deleted, else undefined */
  deletionTimestamp: number | undefined;
}

/** Multus' network-status annotation; undefined when absent or not a JSON array */
export function parseNetworkStatus(text: string | undefined): NetworkStatusEntry[] | undefined {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  return v.flatMap((e) => {
    if (typeof e !== 'object' || e === null) return [];
    const o = e as Record<string, unknown>;
    if (typeof o.name !== 'string') return [];
    const ips = Array.isArray(o.ips) ? o.ips.filter((x): x is string => typeof x === 'string') : [];
    return [{ name: o.name, interface: typeof o.interface === 'string' ? o.interface : '', ips }];
  });
}

const ms = (t: unknown): number | undefined => {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'string') {
    const n = Date.parse(t);
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
};

export function livePod(pod: K8s.V1Pod): LivePod {
  const m = pod.metadata ?? {};
  return {
    podRef: `${m.namespace ?? ''}/${m.name ?? ''}`,
    uid: m.uid ?? '',
    createdAt: ms(m.creationTimestamp) ?? 0,
    networkStatus: parseNetworkStatus(m.annotations?.[NETWORK_STATUS]),
    phase: pod.status?.phase ?? '',
    deletionTimestamp: ms(m.deletionTimestamp),
  };
}

export interface ListPodsOptions {
  /** one namespace; all when absent */
  namespace?: string;
  /** only the pods scheduled to this node (fieldSelector spec.nodeName) */
  nodeName?: string;
  /** ms since the epoch */
  deadline: number;
}

/** every pod (of one namespace and/or node), paged; throws with the API server's message */
export async function listLivePods(target: { kubeconfig?: string } | K8sConnection, opts: ListPodsOptions): Promise<LivePod[]> {
  const conn = 'kc' in target ? target : connect(target.kubeconfig);
  const api = conn.kc.makeApiClient(conn.k8s.CoreV1Api);
  const out: LivePod[] = [];
  let cont: string | undefined;
  do {
    const left = opts.deadline - Date.now();
    if (left <= 0) throw new Error(`${conn.endpoint}: list pods: no answer by the deadline`);
    const common = { limit: 500, ...(cont ? { _continue: cont } : {}), ...(opts.nodeName ? { fieldSelector: `spec.nodeName=${opts.nodeName}` } : {}) };
    const o = requestOptions(conn, left);
    let page: K8s.V1PodList;
    try {
      page = opts.namespace === undefined ? await api.listPodForAllNamespaces(common, o) : await api.listNamespacedPod({ namespace: opts.namespace, ...common }, o);
    } catch (err) {
      throw new Error(`${conn.endpoint}: list pods: ${statusMessage(err)}`);
    }
    out.push(...page.items.map(livePod));
    cont = page.metadata?._continue || undefined;
  } while (cont);
  return out;
}
