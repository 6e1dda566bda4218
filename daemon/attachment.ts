/**
 * One pod attachment (containerID + network + ifname): one driver per address family it asked
 * for (attachment-v4.ts, attachment-v6.ts), each with its own machine, socket and timer, and
 * the one lease file that holds them all. ADD waits for every family; DEL releases every one.
 */
import * as fs from 'node:fs';
import { Family4, type Family4Deps } from './attachment-v4';
import { Family6, type Family6Deps } from './attachment-v6';
import type { AttachmentSpec } from './attachment-spec';
import type { LeaseRecord } from './client/machine-types';
import type { Lease6Record } from './client6/types6';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import { macToString } from './dhcp4/addr';
import { STORE_FORMAT, type LeaseStore, type StoredAttachment } from './lease-store';
import { DEFAULT_IP_FAMILIES, type IpFamily } from '../shared/dhcp-config';
import type { LeaseView } from '../shared/rpc-protocol';

export type { AttachmentSpec } from './attachment-spec';
export { BadReply, defaultClientId } from './attachment-v4';

export const HOLDING = new Set(['BOUND', 'RENEWING', 'REBINDING']);

export interface AttachmentDeps {
  store: LeaseStore;
  log: Logger;
  metrics: Metrics;
  alwaysBroadcast: boolean;
  resendMaxMs: number;
  resendTimeoutMs: number;
  timeoutMs: number;
  now?: () => number;
  /** the attachment reached a terminal state by itself (vanished link) and should be forgotten */
  onGone: (a: Attachment) => void;
  openSocket?: Family4Deps['openSocket'];
  openSocket6?: Family6Deps['openSocket6'];
}

export function netnsIdentity(path: string): string | undefined {
  try {
    const st = fs.statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** A family that did not bind: the error names it. */
export class FamilyFailed extends Error {
  constructor(readonly family: IpFamily, override readonly cause: Error) {
    super(cause.message);
  }
}

export class Attachment {
  readonly key: string;
  readonly netnsId: string | undefined;
  readonly families: IpFamily[];
  readonly v4: Family4 | undefined;
  readonly v6: Family6 | undefined;
  private readonly log: Logger;

  /** Opens each family's socket in the pod namespace (throws with a clear message when one cannot). */
  constructor(readonly spec: AttachmentSpec, private readonly deps: AttachmentDeps, stored?: StoredAttachment) {
    this.key = `${spec.containerId}/${spec.netName}/${spec.ifname}`;
    this.families = [...(spec.ipFamilies ?? stored?.families ?? DEFAULT_IP_FAMILIES)];
    this.log = deps.log.child({ containerId: spec.containerId, ifname: spec.ifname, net: spec.netName });
    this.netnsId = netnsIdentity(spec.netns);
    const now = deps.now ?? Date.now;
    const common = (family: IpFamily) => ({
      log: this.families.length > 1 || family !== 'ipv4' ? this.log.child({ family }) : this.log,
      metrics: deps.metrics,
      now,
      persist: (sync: boolean) => this.persist(sync),
      onGone: () => this.gone(),
    });
    // IPv6 first: it turns DAD off on the pod interface, which must happen before link up
    if (this.families.includes('ipv6')) {
      const d6: Family6Deps = { ...common('ipv6'), timeoutMs: deps.timeoutMs };
      if (deps.openSocket6) d6.openSocket6 = deps.openSocket6;
      this.v6 = new Family6(spec, d6, stored?.lease6 ? { lease6: stored.lease6 } : undefined);
    }
    if (this.families.includes('ipv4')) {
      const d4: Family4Deps = {
        ...common('ipv4'),
        alwaysBroadcast: deps.alwaysBroadcast,
        resendMaxMs: deps.resendMaxMs,
        resendTimeoutMs: deps.resendTimeoutMs,
      };
      if (deps.openSocket) d4.openSocket = deps.openSocket;
      try {
        this.v4 = new Family4(spec, d4, stored?.lease ? stored : undefined);
      } catch (err) {
        this.v6?.stop(err as Error);
        throw err;
      }
    }
  }

  private get drivers(): Array<Family4 | Family6> {
    return [this.v4, this.v6].filter((d): d is Family4 | Family6 => d !== undefined);
  }

  /** The attachment's state: the IPv4 machine's when it has one, else the IPv6 machine's. */
  get state(): string {
    return (this.v4 ?? this.v6)!.machine.state;
  }

  /** Every family holds a lease. */
  get holding(): boolean {
    return this.drivers.every((d) => HOLDING.has(d.machine.state));
  }

  get closed(): boolean {
    return this.drivers.some((d) => d.closed);
  }

  get lastError(): string | undefined {
    for (const d of this.drivers) if (d.lastError) return d.lastError;
    return undefined;
  }

  /** The families that hold no lease yet (for the ADD deadline's message). */
  unbound(): IpFamily[] {
    return this.drivers.filter((d) => !HOLDING.has(d.machine.state)).map((d) => d.family);
  }

  /** Resolves when every family is bound; rejects with FamilyFailed on the first that fails. */
  async acquire(requestedIp?: string): Promise<void> {
    const tagged = <T>(family: IpFamily, p: Promise<T>) => p.catch((err: Error) => Promise.reject(new FamilyFailed(family, err)));
    const all: Array<Promise<unknown>> = [];
    if (this.v6) all.push(tagged('ipv6', this.v6.acquire()));
    if (this.v4) all.push(tagged('ipv4', this.v4.acquire(requestedIp)));
    await Promise.all(all);
  }

  resume(entry: StoredAttachment): void {
    if (this.v4 && entry.lease) this.v4.resume(entry.lease);
    else this.v4?.acquire().catch(() => undefined);
    if (this.v6 && entry.lease6) this.v6.resume(entry.lease6);
    else this.v6?.acquire().catch(() => undefined);
  }

  /** DEL: RELEASE for every family that holds a lease, then close. */
  release(): void {
    for (const d of this.drivers) d.release();
  }

  /** A failed ADD: the families that did bind are released, the others stopped. */
  releaseBound(reason: Error): void {
    for (const d of this.drivers) {
      if (HOLDING.has(d.machine.state)) d.release();
      else d.stop(reason);
    }
  }

  /** Stop without a RELEASE (shutdown, a refused duplicate). */
  stop(reason: Error): void {
    for (const d of this.drivers) d.stop(reason);
  }

  view(): LeaseView {
    const first = (this.v4 ?? this.v6)!;
    const v: LeaseView = {
      containerId: this.spec.containerId,
      netName: this.spec.netName,
      ifname: this.spec.ifname,
      netns: this.spec.netns,
      mac: macToString(first.mac) ?? '',
      state: first.machine.state,
      xid: first.machine.xid,
      expired: false,
    };
    if (this.spec.podName) v.podName = this.spec.podName;
    if (this.spec.podNamespace) v.podNamespace = this.spec.podNamespace;
    this.v4?.view(v);
    if (this.v6) {
      v.ipv6 = this.v6.view();
      v.lastError ??= this.v6.lastError;
      if (v.lastError === undefined) delete v.lastError;
    }
    if (this.families.includes('ipv6')) v.families = [...this.families];
    return v;
  }

  /** The lease file: every family's current lease. */
  stored(): StoredAttachment {
    const s: StoredAttachment = {
      format: STORE_FORMAT,
      containerId: this.spec.containerId,
      netName: this.spec.netName,
      ifname: this.spec.ifname,
      netns: this.spec.netns,
      mac: macToString((this.v4 ?? this.v6)!.mac) ?? '',
      clientId: this.v4?.clientIdHex ?? '00',
      provide: this.spec.provide,
      requestList: this.spec.requestList,
    };
    const l4: LeaseRecord | undefined = this.v4?.current;
    if (l4) s.lease = l4;
    const l6: Lease6Record | undefined = this.v6?.current;
    if (l6) s.lease6 = l6;
    if (this.families.includes('ipv6')) {
      s.families = [...this.families];
      if (this.v6 && this.v6.prefixLength !== 128) s.ipv6PrefixLength = this.v6.prefixLength;
    }
    if (this.netnsId) s.netnsId = this.netnsId;
    if (this.v4 && this.v4.onAddressChange !== 'move') s.onAddressChange = this.v4.onAddressChange;
    if (this.spec.arpProbe !== undefined) s.arpProbe = this.spec.arpProbe;
    if (this.spec.podName) s.podName = this.spec.podName;
    if (this.spec.podNamespace) s.podNamespace = this.spec.podNamespace;
    return s;
  }

  /**
   * A renewal or a change one family made by itself. A renewal that cannot be written leaves the
   * previous file, which a restart still renews.
   */
  private persist(sync: boolean): void {
    try {
      this.deps.store.save(this.stored(), sync);
    } catch (err) {
      this.log.error('could not persist lease', { err: (err as Error).message });
    }
  }

  private gone(): void {
    this.stop(new Error('interface or namespace gone'));
    this.deps.onGone(this);
  }
}
