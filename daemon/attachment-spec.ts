/** What an attachment is asked to be, and what each family's driver gets from it. */
import type { AttachmentRef } from '../shared/rpc-protocol';
import type { AddressChangePolicy, ArpProbeConfig, IpFamily } from '../shared/dhcp-config';
import type { Logger } from './log';
import type { Metrics } from './metrics';

export interface AttachmentSpec extends AttachmentRef {
  netns: string;
  podName?: string;
  podNamespace?: string;
  provide: Array<{ code: number; value: string }>;
  requestList: number[];
  /** absent: what the stored lease says, else "move" */
  onAddressChange?: AddressChangePolicy;
  /** absent: DEFAULT_ARP_PROBE */
  arpProbe?: ArpProbeConfig;
  /** absent: ["ipv4"] */
  ipFamilies?: IpFamily[];
  /** absent: 128 */
  ipv6PrefixLength?: number;
}

/** What the attachment hands each family's driver. */
export interface FamilyDeps {
  /** a child logger that already names the attachment and the family */
  log: Logger;
  metrics: Metrics;
  now: () => number;
  /** write the attachment's lease file now (sync: fsync before returning, for a new lease) */
  persist: (sync: boolean) => void;
  /** the family's interface or namespace is gone: the attachment should be forgotten */
  onGone: () => void;
}
