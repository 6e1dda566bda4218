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
  Pools: 'whereabouts.pools',
} as const;

/**
 * `whereabouts.pools`: every pool of one store and its allocations. With `ipam` (a network's
 * ipam section), the store that network uses, opened by the daemon with the daemon's
 * credentials; without, the file store and every store the daemon has open.
 */
export interface WbPoolsParams {
  ipam?: Record<string, unknown>;
}

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
