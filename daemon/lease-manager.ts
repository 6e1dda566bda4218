/**
 * All attachments of this node. Operations on one attachment are serialized; different
 * attachments proceed in parallel. Owns the restore-after-restart and vanished-pod sweeps.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Attachment, BadReply, FamilyFailed, HOLDING, netnsIdentity, type AttachmentSpec } from './attachment';
import { KeyedQueue } from './keyed-queue';
import { attachmentKey, type LeaseStore, type QuarantinedFile, type StoredAttachment } from './lease-store';
import { assertNetworkNamespace, type openPacketSocket } from './io';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import {
  CheckFailedError,
  DhcpBadReplyError,
  DhcpNakError,
  InvalidEnvError,
  IoError,
  TryAgainLaterError,
  UnknownContainerError,
} from '../shared/errors';
import type { AttachmentRef, LeasesParams, LeaseView } from '../shared/rpc-protocol';
import { DEFAULT_ARP_PROBE, parseArpProbe, type ArpProbeConfig } from '../shared/dhcp-config';
import type { openUdp6Socket } from './io/udp6-socket';
import type { LeaseCounts } from './metrics';

/** The state dir refused a new lease: code 5 (I/O), with the path and errno in the message. */
class LeaseNotWritten extends IoError {
  static override readonly name: string = 'LeaseNotWritten';
}

export interface ManagerOptions {
  store: LeaseStore;
  log: Logger;
  metrics: Metrics;
  hostPrefix: string;
  alwaysBroadcast: boolean;
  timeoutMs: number;
  resendMaxMs: number;
  resendTimeoutMs: number;
  /** how often to look for namespaces that vanished without a DEL */
  sweepIntervalMs?: number;
  /** opens each attachment's socket in the pod namespace; unit tests give an in-memory packet path */
  openSocket?: typeof openPacketSocket;
  openSocket6?: typeof openUdp6Socket;
}

export class LeaseManager {
  private readonly attachments = new Map<string, Attachment>();
  private readonly queue = new KeyedQueue();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** lease files set aside by the last restore(), for `cni-dhcp status` */
  quarantined: QuarantinedFile[] = [];

  constructor(private readonly opts: ManagerOptions) {}

  /** The path as the daemon sees it: -hostprefix + the caller's path, normalized. */
  hostPath(p: string): string {
    return this.opts.hostPrefix ? path.join(this.opts.hostPrefix, p) : p;
  }

  get count(): number {
    return this.attachments.size;
  }

  /** Attachments by their state (the IPv4 machine's, or the IPv6 one's for IPv6-only). */
  byState(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.attachments.values()) out[a.state] = (out[a.state] ?? 0) + 1;
    return out;
  }

  /** Leases by family, then by that family's machine state. */
  byFamily(): LeaseCounts {
    const out: LeaseCounts = {};
    const count = (family: string, state: string) => {
      const f = (out[family] ??= {});
      f[state] = (f[state] ?? 0) + 1;
    };
    for (const a of this.attachments.values()) {
      if (a.v4) count('ipv4', a.v4.machine.state);
      if (a.v6) count('ipv6', a.v6.machine.state);
    }
    return out;
  }

  add(spec: AttachmentSpec): Promise<LeaseView> {
    const key = attachmentKey(spec.containerId, spec.netName, spec.ifname);
    return this.queue.run(key, async () => {
      const netns = this.checkNetns(spec.netns, 'CNI_NETNS');
      const existing = this.attachments.get(key);
      // an attachment whose lease expired asks for the same address again (option 50)
      let requestedIp: string | undefined;
      if (existing && !existing.closed) {
        if (existing.spec.netns === netns && existing.holding && sameFamilies(existing, spec)) return existing.view();
        requestedIp = existing.v4?.machine.lease?.address;
        this.drop(existing, 'replaced by a new ADD');
      }
      let att: Attachment;
      try {
        att = this.newAttachment({ ...spec, netns });
      } catch (err) {
        throw new IoError(`cannot open ${spec.ifname} in ${spec.netns}: ${(err as Error).message}`);
      }
      this.attachments.set(key, att);
      let deadline: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          att.acquire(requestedIp),
          new Promise<never>((_, reject) => {
            deadline = setTimeout(() => reject(this.deadlineError(att)), this.opts.timeoutMs);
          }),
        ]);
        const clash = this.holderOf(att);
        const lease = att.v4?.machine.lease;
        if (clash && lease) {
          // A server that keys leases by MAC alone (busybox udhcpd) hands pods that share a MAC
          // (ipvlan) the same address. Refuse it rather than let two pods use one address; no
          // RELEASE, which would free the other pod's lease on the server.
          throw new DhcpBadReplyError(
            `server ${lease.serverId} offered ${lease.address}, which ${clash.spec.containerId}/${clash.spec.ifname} already holds`,
            'the server does not tell clients apart by client id (option 61); give pods distinct MACs or fix the server',
          );
        }
        await this.persistNew(att);
        return att.view();
      } catch (caught) {
        const failed = caught instanceof FamilyFailed ? caught : undefined;
        const err = failed?.cause ?? (caught as Error);
        if (err instanceof LeaseNotWritten) this.release(att, 'its lease could not be written to the state dir');
        else if (err instanceof DhcpBadReplyError) this.drop(att, 'ADD failed');
        else this.releaseBound(att, `ADD failed${failed ? ` (${failed.family})` : ''}`, err);
        await this.forgetFile(key);
        const family = failed && att.families.length > 1 ? ` (${failed.family})` : '';
        if (err instanceof BadReply) {
          throw new DhcpBadReplyError(`unusable DHCP${failed?.family === 'ipv6' ? 'v6' : ''} reply${family}: ${err.message}`);
        }
        throw err;
      } finally {
        clearTimeout(deadline);
      }
    });
  }

  /**
   * Writes a new lease before the ADD answers: a lease the runtime is told about but a restart
   * would forget is a lie. A failed write fails the ADD with code 5 and the lease is released.
   */
  private async persistNew(att: Attachment): Promise<void> {
    try {
      await this.opts.store.saveNew(att.stored());
    } catch (err) {
      const addresses = [att.v4?.current?.address, att.v6?.current?.address].filter((a) => a !== undefined).join(', ');
      throw new LeaseNotWritten(
        `cannot write the lease of ${att.key} (${addresses}) to the state dir ${this.opts.store.dir}: ${(err as Error).message}`,
        'the lease was released; fix the state dir (read-only, full, or not a directory) and retry',
      );
    }
  }

  /** A failed ADD leaves no file: the next start must not resume a lease nobody holds. */
  private async forgetFile(key: string): Promise<void> {
    try {
      await this.opts.store.removeDurably(key);
    } catch (err) {
      this.opts.log.warn('could not remove a lease file', { key, err: (err as Error).message });
    }
  }

  del(ref: AttachmentRef): Promise<void> {
    const key = attachmentKey(ref.containerId, ref.netName, ref.ifname);
    return this.queue.run(key, async () => {
      const att = this.attachments.get(key);
      if (att) this.release(att, 'DEL');
      await this.opts.store.removeDurably(key);
    });
  }

  check(ref: AttachmentRef, netns: string, expected: string[]): Promise<LeaseView> {
    const key = attachmentKey(ref.containerId, ref.netName, ref.ifname);
    return this.queue.run(key, async () => {
      const att = this.attachments.get(key);
      if (!att) throw new CheckFailedError(`no lease held for ${key}`);
      const v = att.view();
      if (v.state === 'LOST') {
        throw new CheckFailedError(
          `lease for ${key} is LOST: the pod keeps ${v.address}/${v.prefixLength}, which no server vouches for; the server offered ${v.lost?.offered || 'another address'} (released, onAddressChange "release")`,
          v.lost?.reason,
        );
      }
      if (!HOLDING.has(v.state)) throw new CheckFailedError(`lease for ${key} is ${v.state}, not bound`, v.lastError);
      if (v.ipv6 && !HOLDING.has(v.ipv6.state)) {
        throw new CheckFailedError(`IPv6 lease for ${key} is ${v.ipv6.state}, not bound`, v.ipv6.lastError);
      }
      if (netns && this.hostPath(netns) !== att.spec.netns) {
        throw new CheckFailedError(`lease for ${key} was taken in ${att.spec.netns}, not ${netns}`);
      }
      if (v.ipv6) {
        const held6 = `${v.ipv6.address}/${v.ipv6.prefixLength}`;
        if (!expected.includes(held6)) throw new CheckFailedError(`IPv6 lease for ${key} holds ${held6}, prevResult has ${expected.join(', ')}`);
      }
      if (!att.v4) return v;
      const held = `${v.address}/${v.prefixLength}`;
      if (!expected.includes(held)) {
        if (v.changedFrom !== undefined && expected.includes(v.changedFrom)) {
          // the runtime's cached result is stale: that is the truth, so CHECK says so
          throw new CheckFailedError(
            `lease for ${key} moved from ${v.changedFrom} to ${held} at ${new Date(v.changedAt ?? 0).toISOString()} (the server would not give ${v.changedFrom} back); prevResult still has ${expected.join(', ')}`,
            `the pod's ${att.spec.ifname} now carries ${held}`,
          );
        }
        throw new CheckFailedError(`lease for ${key} holds ${held}, prevResult has ${expected.join(', ')}`);
      }
      return v;
    });
  }

  async gc(netName: string, valid: Array<{ containerId: string; ifname: string }>): Promise<number> {
    const keep = new Set(valid.map((v) => `${v.containerId}\0${v.ifname}`));
    const stale = [...this.attachments.values()].filter(
      (a) => a.spec.netName === netName && !keep.has(`${a.spec.containerId}\0${a.spec.ifname}`),
    );
    await Promise.all(stale.map((a) => this.del(a.spec)));
    return stale.length;
  }

  /** Operator release: every attachment of a container, or one interface. */
  async releaseContainer(containerId: string, ifname?: string): Promise<number> {
    const hits = [...this.attachments.values()].filter(
      (a) => a.spec.containerId === containerId && (ifname === undefined || a.spec.ifname === ifname),
    );
    await Promise.all(hits.map((a) => this.del(a.spec)));
    return hits.length;
  }

  /** The views that match, `offset` of them skipped, at most `limit`; only those are built. */
  list(filter: LeasesParams = {}): LeaseView[] {
    const state = filter.state?.toUpperCase();
    const offset = filter.offset ?? 0;
    const limit = filter.limit ?? Infinity;
    const out: LeaseView[] = [];
    let skipped = 0;
    for (const a of this.attachments.values()) {
      if (out.length >= limit) break;
      if (filter.containerId && !a.spec.containerId.startsWith(filter.containerId)) continue;
      if (state && a.state !== state && a.v6?.machine.state !== state) continue;
      if (skipped++ < offset) continue;
      out.push(a.view());
    }
    return out;
  }

  /** Reloads persisted leases and resumes each in the state its timers imply. */
  restore(): { resumed: number; dropped: number; quarantined: number } {
    const report = this.opts.store.load();
    this.quarantined = report.quarantined;
    for (const q of report.quarantined) {
      this.opts.log.warn('unreadable lease file quarantined', { file: q.name, movedTo: q.movedTo, reason: q.reason });
    }
    let resumed = 0;
    let dropped = 0;
    for (const entry of report.entries) {
      const key = attachmentKey(entry.containerId, entry.netName, entry.ifname);
      const log = this.opts.log.child({ containerId: entry.containerId, ifname: entry.ifname, net: entry.netName });
      const id = netnsIdentity(entry.netns);
      if (!id || (entry.netnsId && entry.netnsId !== id)) {
        log.warn('pod namespace vanished while the daemon was down; dropping its lease', { netns: entry.netns, address: storedAddresses(entry) });
        this.opts.store.remove(key);
        dropped++;
        continue;
      }
      try {
        const spec: AttachmentSpec = {
          containerId: entry.containerId,
          netName: entry.netName,
          ifname: entry.ifname,
          netns: entry.netns,
          provide: entry.provide,
          requestList: entry.requestList,
        };
        if (entry.podName) spec.podName = entry.podName;
        if (entry.podNamespace) spec.podNamespace = entry.podNamespace;
        if (entry.arpProbe !== undefined) spec.arpProbe = storedArpProbe(entry.arpProbe);
        if (entry.families) spec.ipFamilies = entry.families;
        if (entry.ipv6PrefixLength !== undefined) spec.ipv6PrefixLength = entry.ipv6PrefixLength;
        const att = this.newAttachment(spec, entry);
        this.attachments.set(key, att);
        att.resume(entry);
        resumed++;
      } catch (err) {
        log.warn('cannot reopen the pod interface; dropping its lease', { err: (err as Error).message, address: storedAddresses(entry) });
        this.opts.store.remove(key);
        dropped++;
      }
    }
    return { resumed, dropped, quarantined: report.quarantined.length };
  }

  startSweeps(): void {
    this.sweepTimer = setInterval(() => this.sweep(), this.opts.sweepIntervalMs ?? 5000);
    this.sweepTimer.unref();
  }

  /** A namespace path that is gone, or now names another namespace, means the pod vanished without DEL. */
  sweep(): number {
    let n = 0;
    for (const att of [...this.attachments.values()]) {
      const id = netnsIdentity(att.spec.netns);
      if (id !== undefined && id === att.netnsId) continue;
      n++;
      void this.queue.run(att.key, async () => {
        if (this.attachments.get(att.key) !== att) return;
        // our socket still pins the old namespace, so the RELEASE can still leave through it
        this.release(att, 'namespace vanished without DEL');
        // in the same turn as the release, as restore() does: once the lease is gone from the
        // daemon's list its file is gone too (the RPC paths, DEL, await the thread pool instead)
        this.opts.store.remove(att.key);
      });
    }
    return n;
  }

  /** Daemon shutdown: stop everything without RELEASE; leases stay on disk for the next start. */
  shutdown(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const att of this.attachments.values()) att.stop(new Error('daemon shutting down'));
    this.attachments.clear();
  }

  private newAttachment(spec: AttachmentSpec, stored?: StoredAttachment): Attachment {
    return new Attachment(
      spec,
      {
        store: this.opts.store,
        log: this.opts.log,
        metrics: this.opts.metrics,
        alwaysBroadcast: this.opts.alwaysBroadcast,
        resendMaxMs: this.opts.resendMaxMs,
        resendTimeoutMs: this.opts.resendTimeoutMs,
        timeoutMs: this.opts.timeoutMs,
        onGone: (a) => this.forget(a, 'interface or namespace gone'),
        ...(this.opts.openSocket ? { openSocket: this.opts.openSocket } : {}),
        ...(this.opts.openSocket6 ? { openSocket6: this.opts.openSocket6 } : {}),
      },
      stored,
    );
  }

  /** Another attachment of the same network that holds the address `att` was just given. */
  private holderOf(att: Attachment): Attachment | undefined {
    const mine = att.v4?.machine.lease;
    if (!mine) return undefined;
    for (const other of this.attachments.values()) {
      if (other === att || other.spec.netName !== att.spec.netName || !other.v4 || !HOLDING.has(other.v4.machine.state)) continue;
      const theirs = other.v4.machine.lease;
      if (theirs && theirs.address === mine.address && theirs.serverId === mine.serverId) return other;
    }
    return undefined;
  }

  private checkNetns(netns: string, what: string): string {
    const p = this.hostPath(netns);
    // path.join resolves "..": a caller's "/../../proc/1/ns/net" must not leave the host prefix
    if (this.opts.hostPrefix && !p.startsWith(path.join(this.opts.hostPrefix, '/'))) {
      throw new InvalidEnvError(`${what} ${netns} is not under -hostprefix ${this.opts.hostPrefix}`);
    }
    if (!fs.existsSync(p)) throw new UnknownContainerError(`${what} ${netns} does not exist`);
    try {
      assertNetworkNamespace(p);
    } catch (err) {
      throw new InvalidEnvError(`${what} ${netns} is not a network namespace: ${(err as Error).message}`);
    }
    return p;
  }

  private release(att: Attachment, reason: string): void {
    this.releaseBound(att, reason);
  }

  /** RELEASE for each family that holds a lease (the others are stopped); the attachment is forgotten. */
  private releaseBound(att: Attachment, reason: string, err: Error = new Error(reason)): void {
    const sent: string[] = [];
    if (att.v4 && HOLDING.has(att.v4.machine.state)) sent.push('ipv4');
    if (att.v6 && HOLDING.has(att.v6.machine.state)) sent.push('ipv6');
    att.releaseBound(err);
    for (const family of sent) this.opts.metrics.releases.inc({ family });
    const fields: Record<string, unknown> = { containerId: att.spec.containerId, ifname: att.spec.ifname, reason, sentRelease: sent.length > 0 };
    if (att.families.includes('ipv6')) fields.released = sent;
    this.opts.log.info('lease released', fields);
    if (this.attachments.get(att.key) === att) this.attachments.delete(att.key);
  }

  /** The ADD deadline passed: code 11 naming the family (or families) still without a lease. */
  private deadlineError(att: Attachment): Error {
    const pending = att.unbound();
    const v6 = pending.length === 1 && pending[0] === 'ipv6';
    const named = att.families.length > 1 ? ` (${pending.join(', ')})` : '';
    const msg = `no DHCP${v6 ? 'v6' : ''} lease${named} for ${att.spec.ifname} within ${this.opts.timeoutMs / 1000} s`;
    const last = pending.includes('ipv4') ? att.v4?.lastError : att.v6?.lastError;
    const why = last ?? `no DHCP${v6 ? 'v6' : ''} server answered on this interface`;
    // a NAK from our server was the last word: code 100, as documented, not "try again" (11)
    return pending.includes('ipv4') && att.v4?.lastError?.startsWith('NAK from ') ? new DhcpNakError(msg, why) : new TryAgainLaterError(msg, why);
  }

  private drop(att: Attachment, reason: string): void {
    att.stop(new Error(reason));
    if (this.attachments.get(att.key) === att) this.attachments.delete(att.key);
  }

  private forget(att: Attachment, reason: string): void {
    void this.queue.run(att.key, async () => {
      if (this.attachments.get(att.key) !== att) return;
      this.attachments.delete(att.key);
      this.opts.store.remove(att.key);
      this.opts.log.info('lease dropped', { containerId: att.spec.containerId, ifname: att.spec.ifname, reason });
    });
  }
}

function sameFamilies(att: Attachment, spec: AttachmentSpec): boolean {
  const want = spec.ipFamilies ?? ['ipv4'];
  return want.length === att.families.length && want.every((f) => att.families.includes(f));
}

function storedAddresses(entry: StoredAttachment): string {
  return [entry.lease?.address, entry.lease6?.address].filter((a) => a !== undefined).join(', ');
}

/** A hand-edited or damaged arpProbe in a lease file falls back to the default. */
function storedArpProbe(raw: unknown): ArpProbeConfig {
  try {
    return parseArpProbe(raw);
  } catch {
    return DEFAULT_ARP_PROBE;
  }
}
