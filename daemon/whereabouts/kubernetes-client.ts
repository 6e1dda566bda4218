/**
 * @kubernetes/client-node, loaded on first use only: from its own bundle beside the daemon's
 * (dist/lib/kubernetes-client.js, built by scripts/build.mjs) or, from source, the package.
 * The shim never reaches this file, and a daemon that serves only file or etcd pools never
 * parses the client (it is larger than the rest of the daemon).
 *
 * Credentials: `kubernetes.kubeconfig` when the config names one, else the pod's service
 * account (KUBERNETES_SERVICE_HOST/PORT and /var/run/secrets/kubernetes.io/serviceaccount).
 * Namespace, as Whereabouts chooses it: the kubeconfig's current context's namespace, else
 * kube-system; in-cluster, the service account's namespace (what Whereabouts' installer
 * writes into the kubeconfig it generates).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import type * as K8s from '@kubernetes/client-node';
import { DEFAULT_NAMESPACE } from './k8s-names';

export type K8sModule = typeof K8s;

let loaded: K8sModule | undefined;

export function loadK8sClient(): K8sModule {
  if (loaded) return loaded;
  const built = path.join(__dirname, 'kubernetes-client.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded = (fs.existsSync(built) ? require(built) : require('@kubernetes/client-node')) as K8sModule;
  return loaded;
}

export interface K8sConnection {
  k8s: K8sModule;
  kc: K8s.KubeConfig;
  namespace: string;
  /** what error messages name: the API server's URL and the namespace */
  endpoint: string;
  /** keep-alive agents by TLS identity (client-node makes a new agent, so a new TLS connection, per request) */
  agents: Map<string, https.Agent>;
}

/** `serviceAccountRoot`: where /var/run/secrets/kubernetes.io/serviceaccount is found (tests point it at a directory of their own) */
export function connect(kubeconfig: string | undefined, serviceAccountRoot = ''): K8sConnection {
  const k8s = loadK8sClient();
  const kc = new k8s.KubeConfig();
  let namespace: string;
  if (kubeconfig !== undefined) {
    kc.loadFromFile(kubeconfig);
    namespace = kc.getContextObject(kc.getCurrentContext())?.namespace || DEFAULT_NAMESPACE;
  } else {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new Error('no kubernetes.kubeconfig in the ipam config, and not in a pod (KUBERNETES_SERVICE_HOST/PORT unset)');
    }
    kc.loadFromCluster(serviceAccountRoot);
    namespace = (kc.getContextObject(kc.getCurrentContext())?.namespace ?? '').trim() || DEFAULT_NAMESPACE;
  }
  const server = kc.getCurrentCluster()?.server ?? '(no cluster in kubeconfig)';
  return { k8s, kc, namespace, endpoint: `kubernetes ${server} namespace ${namespace}`, agents: new Map() };
}

/**
 * The agent client-node made for this request (with the credentials as they are now: a
 * rotated certificate makes a new one) swapped for a kept-alive one with the same TLS
 * options. Not for a proxied cluster, whose agent is client-node's own kind.
 */
function keptAlive(conn: K8sConnection, made: unknown): https.Agent | undefined {
  if (!(made instanceof https.Agent) || conn.kc.getCurrentCluster()?.proxyUrl) return undefined;
  const o = made.options;
  const id = createHash('sha256')
    .update(JSON.stringify([String(o.ca ?? ''), String(o.cert ?? ''), String(o.key ?? ''), o.rejectUnauthorized ?? null, o.servername ?? null]))
    .digest('hex');
  let agent = conn.agents.get(id);
  if (!agent) {
    for (const old of conn.agents.values()) old.destroy();
    conn.agents.clear();
    agent = new https.Agent({ ...o, keepAlive: true, maxSockets: 32 });
    conn.agents.set(id, agent);
  }
  return agent;
}

/** per-request options that abort the HTTP request after `ms` (and set a header when asked) */
export function requestOptions(conn: K8sConnection, ms: number, contentType?: string): K8s.ConfigurationOptions {
  const k8s = conn.k8s;
  const middleware: K8s.ObservableMiddleware[] = [
    {
      pre: (ctx) => {
        const agent = keptAlive(conn, ctx.getAgent());
        if (agent) ctx.setAgent(agent);
        ctx.setSignal(AbortSignal.timeout(Math.max(1, ms)));
        if (contentType) ctx.setHeaderParam('Content-Type', contentType);
        return new k8s.Observable(Promise.resolve(ctx)) as never;
      },
      post: (res) => new k8s.Observable(Promise.resolve(res)) as never,
    },
  ];
  return { middleware, middlewareMergeStrategy: 'append' };
}

/** the HTTP status of a client-node error, undefined when the request got no answer */
export function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

/** the API server's Status message, when the error carries one */
export function statusMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const s = JSON.parse(body) as { message?: string; reason?: string };
      if (s.message) return `${s.reason ?? ''} ${s.message}`.trim();
    } catch {
      /* plain text */
    }
    return body.slice(0, 200);
  }
  return (err as Error).message ?? String(err);
}
