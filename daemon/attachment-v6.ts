/**
 * The IPv6 half of one pod attachment: the pure Lease6Machine wired to its UDP socket on :546
 * in the pod namespace (io/udp6-socket.ts) and its one timer. It carries out the machine's
 * actions and decides nothing about the protocol; the attachment (attachment.ts) persists it.
 * A bound lease of a new address is probed first (DAD, daemon/nd) and, when the pod carried
 * another address, moved onto the pod (pod-address.ts), as the IPv4 half does.
 */
import * as crypto from 'node:crypto';
import { Lease6Machine } from './client6/lease6-machine';
import type { Lease6Record, Machine6Action, Machine6Config, Machine6Event } from './client6/types6';
import { duidForContainer, iaidFor } from './client6/identity6';
import { ALL_DHCP_SERVERS, decodeMessage6, encodeMessage6, parseReply6, SERVER_PORT6, type Dhcp6Message } from './dhcp6';
import { openUdp6Socket, type Udp6Socket } from './io/udp6-socket';
import { PacketIoError } from './io/errors';
import { MachineTimer } from './machine-timer';
import { beginWhenSettled } from './link-settle';
import { BindWaiters } from './bind-waiters';
import type { Logger } from './log';
import type { AttachmentSpec, FamilyDeps } from './attachment-spec';
import { DEFAULT_ARP_PROBE, DEFAULT_IPV6_PREFIX_LENGTH, type ArpProbeConfig } from '../shared/dhcp-config';
import { planBind6 } from './client6/bind-plan6';
import { startDadCheck } from './nd/dad-check';
import type { ConflictVerdict } from './conflict-check';
import { movePod6 } from './pod-address';
import { macToString } from './dhcp4/addr';
import { cidr } from './client/address-change';
import type { Lease6View } from '../shared/rpc-protocol';
import { TryAgainLaterError } from '../shared/errors';

/** DNS servers (23) and the search list (24), which the result's dns takes */
export const ORO6 = [23, 24];
/**
 * A send refused because the link-local address does not exist yet (link just up) is tried
 * again this often, for this long, instead of waiting the machine's first RT (>1 s).
 */
const SEND_RETRY_MS = 5;
const SEND_RETRY_FOR_MS = 3000;
const RETRYABLE = new Set(['EADDRNOTAVAIL', 'ENETDOWN', 'ENETUNREACH']);

export interface Family6Deps extends FamilyDeps {
  /** the daemon's -timeout: a 'start' acquisition gives up after it */
  timeoutMs: number;
  openSocket6?: typeof openUdp6Socket;
  /** the DAD probe; tests may put another here */
  dadCheck?: typeof startDadCheck;
}

/** What the IPv6 half resumes from. */
export interface Stored6 {
  lease6: Lease6Record;
}

export class Family6 {
  readonly family = 'ipv6';
  readonly machine: Lease6Machine;
  readonly duid: Buffer;
  readonly iaid: number;
  readonly prefixLength: number;
  readonly mac: Buffer;
  lastError: string | undefined;
  /** what the file holds for this family: the last bound lease */
  current: Lease6Record | undefined;
  private socket: Udp6Socket | undefined;
  private readonly timer: MachineTimer;
  private retry: NodeJS.Timeout | undefined;
  private readonly openedAt: number;
  private readonly waiters: BindWaiters<Lease6Record>;
  private readonly log: Logger;
  private readonly now: () => number;
  /** an ADD waits for this family's first lease (the DAD probe runs before it is answered) */
  private acquiring = false;
  private cancelProbe: (() => void) | undefined;
  /** addresses declined while the ADD waited, for its error */
  private declinedWhileAdding: string[] = [];

  constructor(readonly spec: AttachmentSpec, private readonly deps: Family6Deps, stored?: Stored6) {
    this.now = deps.now;
    this.log = deps.log;
    this.timer = new MachineTimer(this.now, () => this.dispatch({ type: 'timer' }));
    this.waiters = new BindWaiters('ipv6', deps);
    this.socket = (deps.openSocket6 ?? openUdp6Socket)({
      netnsPath: spec.netns,
      ifname: spec.ifname,
      onMessage: (payload, srcIp, srcPort) => this.onMessage(payload, srcIp, srcPort),
      onError: (err) => this.onSocketError(err),
    });
    this.openedAt = this.now();
    this.mac = this.socket.mac;
    if (this.socket.dad !== 'accept_dad=0') this.log.warn('could not turn DAD off on the pod interface; the first DHCPv6 reply may wait for it', { dad: this.socket.dad });
    this.prefixLength = spec.ipv6PrefixLength ?? DEFAULT_IPV6_PREFIX_LENGTH;
    // a resumed lease keeps the identity it was obtained with
    this.duid = stored ? Buffer.from(stored.lease6.duid, 'hex') : duidForContainer(spec.containerId);
    this.iaid = stored ? stored.lease6.iaid : iaidFor(spec.netName, spec.ifname);
    const config: Machine6Config = {
      duid: this.duid,
      iaid: this.iaid,
      oro: ORO6,
      rapidCommit: true,
      acquireTimeoutMs: deps.timeoutMs,
      // one pod per ADD: the RFC's boot-storm delay would only be the ADD's cost (docs/dhcpv6.md)
      solicitDelayMs: 0,
    };
    this.machine = new Lease6Machine(config, {
      now: this.now,
      randomU32: () => crypto.randomBytes(4).readUInt32BE(0),
      random: Math.random,
    });
  }

  get closed(): boolean {
    return this.socket === undefined;
  }

  /** The address-conflict probe: `ipam.arpProbe` governs both families (docs/dhcpv6.md). */
  get probe(): ArpProbeConfig {
    return this.spec.arpProbe ?? DEFAULT_ARP_PROBE;
  }

  /** Starts the SOLICIT once the link is settled (daemon/link-settle.ts); resolves on the first bound lease. */
  acquire(): Promise<Lease6Record> {
    const p = this.waiters.wait();
    this.acquiring = true;
    beginWhenSettled(this.socket, this.timer, this.now, () => this.closed, () => {
      if (!this.closed) this.dispatch({ type: 'start' });
    });
    return p;
  }

  resume(lease: Lease6Record): void {
    this.current = lease;
    this.dispatch({ type: 'resume', lease });
  }

  /** DEL: RELEASE when bound (its first transmission goes out now), then close. */
  release(): void {
    this.dispatch({ type: 'release' });
    this.close(new Error('released'));
  }

  stop(reason: Error): void {
    this.dispatch({ type: 'stop' });
    this.close(reason);
  }

  view(): Lease6View {
    const lease = this.machine.lease;
    const v: Lease6View = {
      state: this.machine.state,
      xid: this.machine.xid,
      duid: this.duid.toString('hex'),
      iaid: this.iaid,
    };
    if (this.lastError) v.lastError = this.lastError;
    if (lease) {
      v.address = lease.address;
      v.prefixLength = this.prefixLength;
      v.serverId = lease.serverId;
      v.boundAt = lease.boundAt;
      v.preferredLifetime = lease.preferredLifetime;
      v.validLifetime = lease.validLifetime;
      if (lease.validLifetime !== 0xffffffff) {
        v.renewAt = lease.boundAt + lease.t1 * 1000;
        v.rebindAt = lease.boundAt + lease.t2 * 1000;
        v.expiresAt = lease.boundAt + lease.validLifetime * 1000;
      }
      if (lease.dnsServers) v.dnsServers = lease.dnsServers;
      if (lease.domainSearch) v.domainSearch = lease.domainSearch;
      const changed = this.current?.address === lease.address ? this.current.changedFrom : undefined;
      if (changed) {
        v.changedFrom = cidr(changed);
        v.changedAt = changed.at;
      }
    }
    return v;
  }

  dispatch(event: Machine6Event): void {
    let actions: Machine6Action[];
    try {
      actions = this.machine.handle(event);
    } catch (err) {
      this.log.error('DHCPv6 state machine failed', { err: (err as Error).message, event: event.type });
      this.stop(err as Error);
      return;
    }
    for (const a of actions) this.apply(a);
  }

  private apply(a: Machine6Action): void {
    const m = this.deps.metrics;
    switch (a.type) {
      case 'send':
        this.send(a.msg, a.dst);
        break;
      case 'arm':
        this.timer.arm(a.at);
        break;
      case 'disarm':
        this.timer.disarm();
        break;
      case 'bound':
        this.onBound(a.lease, a.renewed);
        break;
      case 'expired':
        m.expiries.inc({ family: 'ipv6' });
        this.lastError = `${a.lease.address}: ${a.reason}`;
        this.log.warn('DHCPv6 lease lost; asking for an address again (the pod keeps its link)', { address: a.lease.address, reason: a.reason, xid: this.machine.xid });
        break;
      case 'declined':
        m.declines.inc({ family: 'ipv6' });
        this.lastError = `${a.lease.address} failed DAD; declined`;
        this.log.warn('address failed DAD: DECLINE, asking for another', { address: a.lease.address, server: a.lease.serverId, xid: this.machine.xid });
        break;
      case 'gave-up': {
        const declined = this.declinedWhileAdding.length > 0 ? `; declined as in use by another host: ${this.declinedWhileAdding.join(', ')}` : '';
        this.lastError = `${a.reason}${declined}`;
        this.acquiring = false;
        this.waiters.reject(new TryAgainLaterError(`no DHCPv6 (ipv6) lease for ${this.spec.ifname}: ${a.reason}${declined}`, declined ? 'every address the DHCPv6 server offered is in use on the link' : 'no DHCPv6 server answered on this interface'));
        break;
      }
      case 'transition':
        this.log.info(`${a.from} -> ${a.to}`, { reason: a.reason, xid: a.xid, state: a.to });
        if (a.to === 'REBINDING') m.rebinds.inc({ family: 'ipv6' });
        if (a.to === 'RENEWING') {
          m.renewals.inc({ family: 'ipv6' });
          this.waiters.renewing();
        }
        break;
      case 'ignored':
        m.dropped.inc({ family: 'ipv6', reason: 'ignored' });
        this.log.debug('DHCPv6 message ignored', { reason: a.reason, xid: this.machine.xid, state: this.machine.state });
        break;
    }
  }

  /**
   * A lease the machine bound: a new address is probed first (the ADD, when one waits, is
   * answered after the probe) and moved onto the pod when it carried another (planBind6).
   */
  private onBound(bound: Lease6Record, renewed: boolean): void {
    const plan = planBind6(this.current, bound, this.probe !== false);
    const lease: Lease6Record = plan.changedFrom ? { ...bound, changedFrom: plan.changedFrom } : bound;
    if (!plan.probe) return this.take(lease, renewed, plan.moveFrom);
    this.cancelProbe?.();
    const timing = this.probe;
    if (timing === false || !this.socket) return this.take(lease, renewed, plan.moveFrom);
    this.cancelProbe = (this.deps.dadCheck ?? startDadCheck)({
      netnsPath: this.spec.netns,
      ifname: this.spec.ifname,
      mac: this.mac,
      address: lease.address,
      timing,
      now: this.now,
      onDone: (v) => {
        this.cancelProbe = undefined;
        this.onProbeVerdict(lease, renewed, plan.moveFrom, v);
      },
    });
  }

  private onProbeVerdict(lease: Lease6Record, renewed: boolean, moveFrom: string | undefined, v: ConflictVerdict): void {
    if (this.closed || this.machine.lease?.address !== lease.address) return;
    if (!v.conflict) {
      if (v.error !== undefined) this.log.warn('DAD probe could not run; taking the address unprobed', { address: lease.address, err: v.error });
      return this.take(lease, renewed, moveFrom);
    }
    this.log.warn('leased IPv6 address is in use by another host', { address: lease.address, holder: macToString(v.mac), reason: v.reason, server: lease.serverId });
    if (this.acquiring) this.declinedWhileAdding.push(`${lease.address} (${macToString(v.mac)}: ${v.reason})`);
    this.dispatch({ type: 'dad-failed', address: lease.address, acquiring: this.acquiring });
    if (!this.closed) this.lastError = `${lease.address} is in use by ${macToString(v.mac)} (${v.reason}); declined`;
  }

  /** The lease is ours: move the pod to it if it carried another address, then report it bound. */
  private take(lease: Lease6Record, renewed: boolean, moveFrom: string | undefined): void {
    if (moveFrom !== undefined) {
      const from = { address: moveFrom, prefixLength: this.prefixLength, serverId: this.current?.serverId ?? '' };
      const outcome = this.socket
        ? movePod6({ netns: this.spec.netns, ifname: this.spec.ifname, ifindex: this.socket.ifindex, log: this.log, metrics: this.deps.metrics }, from, { ...lease, prefixLength: this.prefixLength })
        : { moved: false as const, reason: 'the DHCPv6 socket is closed' };
      if (!outcome.moved) {
        // the pod keeps what it had; the new lease goes back to the server
        this.lastError = `${outcome.reason}; the new lease was released`;
        this.dispatch({ type: 'release' });
        return;
      }
      lease = { ...lease, changedFrom: { address: moveFrom, prefixLength: this.prefixLength, at: this.now() } };
    }
    this.onTaken(lease, renewed);
  }

  private onTaken(lease: Lease6Record, renewed: boolean): void {
    this.acquiring = false;
    this.declinedWhileAdding = [];
    this.lastError = undefined;
    this.current = lease;
    this.waiters.bound(lease, renewed, {
      address: `${lease.address}/${this.prefixLength}`,
      server: lease.serverId,
      validLifetime: lease.validLifetime,
      xid: this.machine.xid,
      state: this.machine.state,
    });
  }

  private send(msg: Dhcp6Message, dst: string): void {
    if (!this.socket) return;
    let payload: Buffer;
    try {
      payload = encodeMessage6(msg);
    } catch (err) {
      this.log.error('could not encode a DHCPv6 message', { err: (err as Error).message });
      return;
    }
    this.clearRetry();
    this.trySend(payload, dst);
  }

  /**
   * A server's option 12 address the pod has no route to (a /128 lease on a link without RAs):
   * the RENEW or RELEASE goes to ff02::1:2 instead, which every server on the link accepts.
   */
  private multicastInstead(payload: Buffer, dst: string, err: Error): boolean {
    if (dst === ALL_DHCP_SERVERS || !this.socket) return false;
    try {
      this.socket.send(payload, ALL_DHCP_SERVERS);
      this.log.debug('no route to the server\'s unicast address; sent to ff02::1:2', { dst, err: err.message });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Right after link up the interface has no link-local address yet (EADDRNOTAVAIL): the send
   * is retried every few ms rather than at the machine's next retransmission, over a second away.
   */
  private trySend(payload: Buffer, dst: string): void {
    const socket = this.socket;
    if (!socket) return;
    try {
      socket.send(payload, dst);
    } catch (err) {
      const errno = err instanceof PacketIoError ? err.errno : '';
      if (dst === ALL_DHCP_SERVERS && RETRYABLE.has(errno) && this.now() - this.openedAt < SEND_RETRY_FOR_MS) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.trySend(payload, dst);
        }, SEND_RETRY_MS);
        return;
      }
      if (this.multicastInstead(payload, dst, err as Error)) return;
      this.lastError = `send failed: ${(err as Error).message}`;
      this.log.warn('DHCPv6 send failed', { err: (err as Error).message, xid: this.machine.xid, state: this.machine.state });
    }
  }

  private clearRetry(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  private onMessage(payload: Buffer, srcIp: string, srcPort: number): void {
    try {
      if (srcPort !== SERVER_PORT6) throw new Error(`from port ${srcPort}, not ${SERVER_PORT6}`);
      const msg = decodeMessage6(payload);
      if (msg.kind !== 'message') throw new Error('a relay message');
      const reply = parseReply6(msg);
      for (const r of reply.rejected) this.log.debug('DHCPv6 option rejected', { option: r.option, reason: r.reason, xid: msg.xid });
      this.dispatch({ type: 'packet', reply });
    } catch (err) {
      this.deps.metrics.dropped.inc({ family: 'ipv6', reason: 'malformed' });
      this.log.debug('malformed DHCPv6 message dropped', { err: (err as Error).message, from: srcIp });
    }
  }

  private onSocketError(err: Error): void {
    this.lastError = err.message;
    this.log.warn('DHCPv6 socket error; the interface or namespace is gone', { err: err.message });
    this.stop(err);
    this.deps.onGone();
  }

  private close(reason: Error): void {
    this.timer.disarm();
    this.cancelProbe?.();
    this.cancelProbe = undefined;
    this.clearRetry();
    this.waiters.reject(reason);
    const s = this.socket;
    this.socket = undefined;
    s?.close();
  }
}
