/**
 * What a liveness source knows at one instant, as plain data for the pure decision
 * (decide.ts): attachments known alive, pods known alive, attachments known gone. Anything a
 * source knows nothing about is unknown, and an unknown allocation is kept.
 */
import type { AllocationRecord, StoreDeadline } from '../store';

/** `containerId\0ifname`; ifname `*` means every interface of that container */
export const attachmentKey = (containerId: string, ifname: string): string => `${containerId}\0${ifname}`;
/** `podRef\0ifname`; ifname `*` means every interface of that pod */
export const podKey = (podRef: string, ifname: string): string => `${podRef}\0${ifname}`;

export interface LivePod {
  evidence: string;
  /** the pod's current sandboxes, when the source knows them (then an allocation of another container id is an earlier sandbox's) */
  containerIds?: ReadonlySet<string>;
}

export interface LiveSet {
  /** attachments (attachmentKey) alive, with the evidence: 'gc-list', 'netns', ... */
  alive: ReadonlyMap<string, string>;
  /** pods (podKey) alive: a source that sees pods rather than sandboxes (Kubernetes) */
  pods: ReadonlyMap<string, LivePod>;
  /** attachments (attachmentKey) known gone, with the evidence: 'netns-gone', 'not-in-gc-list', ... */
  gone: ReadonlyMap<string, string>;
  /** true when the source lists everything alive, so an attachment it does not name is gone (a full pod list) */
  complete: boolean;
}

/**
 * One way of telling which attachments of this node are alive. It is asked after the pools
 * were read, and is given the allocations read, so it can judge them (a GC list judges only
 * allocations older than itself).
 */
export interface LivenessSource {
  readonly name: string;
  snapshot(allocations: readonly AllocationRecord[], opts: StoreDeadline): Promise<LiveSet>;
}
