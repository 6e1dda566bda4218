/**
 * The whereabouts shim ↔ daemon protocol: the same framing as dhcp's (rpc-protocol.ts), its own
 * methods. The shim sends the network's ipam section with the flat file already merged in;
 * the daemon parses it with the same code (whereabouts-config.ts), so both agree on it.
 */
export const WbMethod = {
  Add: 'whereabouts.add',
  Del: 'whereabouts.del',
  Check: 'whereabouts.check',
  Gc: 'whereabouts.gc',
  Status: 'whereabouts.status',
  Allocations: 'whereabouts.allocations',
  /** run the reconciler now; answers its WbReconcileSummary */
  Reconcile: 'whereabouts.reconcile',
  /** the schedule and the last run's summary (WbReconcilerStatus) */
  ReconcileStatus: 'whereabouts.reconcile-status',
  /** WbFreeParams: without `confirm` lists what would be freed; with it frees exactly those */
  Free: 'whereabouts.free',
  Pools: 'whereabouts.pools',
} as const;

/**
 * `whereabouts.pools`: every pool of one store and its allocations. With `ipam` (a network's
 * ipam section), the store that network uses, opened by the daemon with the daemon's
 * credentials; without, the file store and every store the daemon has open.
 */
export interface WbPoolsParams extends WbPageParams {
  ipam?: Record<string, unknown>;
}

/**
 * A window of a listing that may not fit one 1 MiB answer (a /16 holds 65k allocations, ~250 B
 * each as a view). `whereabouts.allocations` counts allocations; `whereabouts.pools` counts
 * slots, one per allocation and one per pool without any (so every pool shows), in the
 * daemon's order: by store, network_name and range, then by address. Without `limit` the answer
 * holds every match. Callers ask WB_PAGE_SIZE at a time until an answer comes back short;
 * writes between pages may shift a row by one.
 */
export interface WbPageParams {
  offset?: number;
  limit?: number;
}
export const WB_PAGE_SIZE = 1000;
export const WB_PAGE_MAX = 2000;

/** One pool of `cni-dhcp whereabouts pools`. */
export interface WbPoolView {
  store: string;
  networkName: string;
  range: string;
  revision: string;
  allocations: WbAllocationView[];
}

export interface WbAttachmentParams {
  /** the CNI network name (config `name`) */
  network: string;
  ipam: Record<string, unknown>;
  containerId: string;
  ifname: string;
  /** `K8S_POD_NAMESPACE/K8S_POD_NAME`, '' when the runtime sent neither */
  podRef: string;
  /** CNI_NETNS, for the reconciler's liveness (absent from an older shim) */
  netns?: string;
}

export interface WbCheckParams extends WbAttachmentParams {
  /** CIDR addresses from prevResult */
  expected: string[];
}

export interface WbGcParams {
  network: string;
  ipam: Record<string, unknown>;
  validAttachments: Array<{ containerId: string; ifname: string }>;
}

export interface WbStatusParams {
  ipam: Record<string, unknown>;
}

export interface WbAllocatedIp {
  address: string;
  prefix: number;
  range: string;
}

/** One row of `cni-dhcp whereabouts allocations`. */
export interface WbAllocationView {
  store: string;
  networkName: string;
  range: string;
  address: string;
  containerId: string;
  podRef: string;
  ifname: string;
  network?: string;
  node: string;
  createdAt: number;
}

export const WB_DAEMON = { daemonName: 'whereabouts daemon', startHint: 'whereabouts daemon' } as const;

/** One allocation the reconciler freed, and the evidence that its pod was gone. */
export interface WbFreedView extends Pick<WbAllocationView, 'store' | 'networkName' | 'range' | 'address' | 'containerId' | 'podRef' | 'ifname'> {
  evidence: string;
}

/** What one reconciler run examined, kept and freed, and why. */
export interface WbReconcileSummary {
  /** schedule, now (--reconcile-now), rpc (the CLI) */
  trigger: string;
  startedAt: number;
  finishedAt: number;
  stores: number;
  examined: number;
  kept: number;
  freed: number;
  /** `keep:young`, `keep:alive-container`, `free:gone`, `keep:changed` (a free the store refused) ... */
  reasons: Record<string, number>;
  /** what was freed (the first 100) */
  freedAllocations: WbFreedView[];
  errors: string[];
}

export interface WbReconcilerStatus {
  expression: string;
  configFile?: string;
  nextRun?: number;
  graceMs: number;
  running: boolean;
  last?: WbReconcileSummary;
}

/** An allocation as `cni-dhcp whereabouts free` shows it before freeing it. */
export interface WbFreeMatch extends WbAllocationView {
  offset: string;
}

export interface WbFreeParams {
  /** one address (with networkName and range), or every allocation of one node */
  address?: string;
  networkName?: string;
  range?: string;
  node?: string;
  /** the matches the operator confirmed: each is freed only if still exactly so */
  confirm?: WbFreeMatch[];
}

export interface WbFreeResult {
  matches: WbFreeMatch[];
  /** with confirm: the ones freed (a match that changed meanwhile is not) */
  freed: WbFreeMatch[];
}
