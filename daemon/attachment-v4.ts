/**
 * The IPv4 half of one pod attachment: the pure LeaseMachine wired to its packet socket in the
 * pod namespace, its single timer and the ARP probe. All the machine's actions are carried out
 * here; nothing here decides protocol behaviour. The attachment (attachment.ts) owns the file
 * this lease is persisted in, with the IPv6 half's.
 */
import * as crypto from 'node:crypto';
import { LeaseMachine } from './client/lease-machine';
import type { LeaseRecord, MachineAction, MachineConfig, MachineEvent } from './client/machine-types';
import { decodeIpUdp, decodeMessage, encodeIpUdp, encodeMessage, parseReplyParams } from './dhcp4';
import { BootOp } from './dhcp4/types';
import { BROADCAST_IP, ZERO_IP } from './client/client-messages';
import { macToString } from './dhcp4/addr';
import { openPacketSocket, type PacketSocket } from './io';
import { cidr } from './client/address-change';
import { acquireBroadcastOf, linkMaxMessageSize, movePod, type MoveOutcome } from './pod-address';
import type { Logger } from './log';
import { startConflictCheck, type ConflictVerdict } from './conflict-check';
import { UnicastPath } from './unicast-path';
import { MachineTimer } from './machine-timer';
import { BindWaiters } from './bind-waiters';
import { DEFAULT_ARP_PROBE, type ArpProbeConfig } from '../shared/dhcp-config';
import type { AttachmentRef, LeaseView } from '../shared/rpc-protocol';
import type { AddressChangePolicy } from '../shared/dhcp-config';
import type { AttachmentSpec, FamilyDeps } from './attachment-spec';
import { beginWhenSettled } from './link-settle';

const CLIENT_PORT = 68;
const SERVER_PORT = 67;

export interface Family4Deps extends FamilyDeps {
  alwaysBroadcast: boolean;
  resendMaxMs: number;
  resendTimeoutMs: number;
  /** the pod-netns socket; tests put an in-memory packet path here */
  openSocket?: typeof openPacketSocket;
}

/** Option 61 as the reference sends it: type 0, then containerID/netName/ifName, at most 255 bytes. */
export function defaultClientId(ref: AttachmentRef): Buffer {
  const id = Buffer.from(`${ref.containerId}/${ref.netName}/${ref.ifname}`, 'utf8');
  return Buffer.concat([Buffer.from([0]), id.subarray(0, 254)]);
}

/** What the IPv4 half resumes from: the identity and policy of the stored lease. */
export interface Stored4 {
  clientId: string;
  onAddressChange?: AddressChangePolicy;
}

export class Family4 {
  readonly family = 'ipv4';
  readonly machine: LeaseMachine;
  readonly mac: Buffer;
  readonly clientId: Buffer;
  lastError: string | undefined;
  readonly onAddressChange: AddressChangePolicy;
  private socket: PacketSocket | undefined;
  private readonly timer: MachineTimer;
  /** what the file holds for this family: the last bound lease, or the LOST pod lease */
  current: LeaseRecord | undefined;
  private readonly waiters: BindWaiters<LeaseRecord>;
  private readonly log: Logger;
  private readonly now: () => number;
  private batches = 0;
  private readonly unicast: UnicastPath;
  private cancelProbe: (() => void) | undefined;
  private routeError: string | undefined;

  /** Opens the packet socket in the pod namespace (throws with a clear message when it cannot). */
  constructor(readonly spec: AttachmentSpec, private readonly deps: Family4Deps, stored?: Stored4) {
    this.now = deps.now;
    this.log = deps.log;
    this.timer = new MachineTimer(this.now, () => this.dispatch({ type: 'timer' }));
    this.waiters = new BindWaiters('ipv4', deps);
    this.socket = (deps.openSocket ?? openPacketSocket)({
      netnsPath: spec.netns,
      ifname: spec.ifname,
      bringUp: true,
      onPacket: (ip, srcMac) => this.onFrame(ip, srcMac),
      onError: (err) => this.onSocketError(err),
    });
    this.mac = this.socket.mac;
    const link = this.socket.linkKind;
    if (link !== undefined && !link.ok) this.log.debug('cannot read the link kind; the broadcast flag stays set until BOUND', { err: link.error });
    this.unicast = new UnicastPath(spec.netns, spec.ifname, this.log);
    const provide = new Map<number, Buffer>();
    for (const p of spec.provide) provide.set(p.code, Buffer.from(p.value, 'utf8'));
    const provided61 = provide.get(61);
    provide.delete(61);
    // a resumed lease keeps the identity it was obtained with
    this.clientId = stored
      ? Buffer.from(stored.clientId, 'hex')
      : provided61
        ? Buffer.concat([Buffer.from([0]), provided61]).subarray(0, 255)
        : defaultClientId(spec);
    this.onAddressChange = spec.onAddressChange ?? stored?.onAddressChange ?? 'move';
    const config: MachineConfig = {
      clientId: this.clientId,
      chaddr: this.mac,
      provide,
      paramRequestList: spec.requestList,
      alwaysBroadcast: deps.alwaysBroadcast,
      acquireBroadcast: deps.alwaysBroadcast ? 'always' : acquireBroadcastOf(this.socket.linkKind),
      resendMaxMs: deps.resendMaxMs,
      resendTimeoutMs: deps.resendTimeoutMs,
      maxMessageSize: linkMaxMessageSize(spec.netns, spec.ifname, this.log),
      onAddressChange: this.onAddressChange,
      probeAddress: this.arpProbe !== false,
    };
    this.machine = new LeaseMachine(config, {
      now: this.now,
      randomU32: () => crypto.randomBytes(4).readUInt32BE(0),
      random: Math.random,
    });
  }

  get arpProbe(): ArpProbeConfig {
    return this.spec.arpProbe ?? DEFAULT_ARP_PROBE;
  }

  get clientIdHex(): string {
    return this.clientId.toString('hex');
  }

  /** Starts DORA once the link is settled (daemon/link-settle.ts); resolves on the first bound lease. */
  acquire(requestedIp?: string): Promise<LeaseRecord> {
    const p = this.waiters.wait();
    beginWhenSettled(this.socket, this.timer, this.now, () => this.closed, () => {
      if (!this.closed) this.dispatch(requestedIp ? { type: 'start', requestedIp } : { type: 'start' });
    });
    return p;
  }

  resume(lease: LeaseRecord): void {
    this.dispatch({ type: 'resume', lease });
  }

  /** DEL: RELEASE when bound (best effort), then close everything. */
  release(): void {
    this.dispatch({ type: 'release' });
    this.close(new Error('released'));
  }

  /** Stop without a RELEASE (shutdown, failed ADD). */
  stop(reason: Error): void {
    this.dispatch({ type: 'stop' });
    this.close(reason);
  }

  get closed(): boolean {
    return this.socket === undefined;
  }

  /** The IPv4 fields of the attachment's view (the top level, as before IPv6 existed). */
  view(v: LeaseView): void {
    // LOST: the address the pod carries, which no server vouches for any more
    const lease = this.machine.lease ?? (this.machine.state === 'LOST' ? this.machine.podLease : undefined);
    v.state = this.machine.state;
    v.xid = this.machine.xid;
    v.expired = this.machine.state === 'EXPIRED';
    if (this.lastError) v.lastError = this.lastError;
    if (lease) {
      const p = lease.params;
      Object.assign(v, {
        address: lease.address,
        prefixLength: lease.prefixLength,
        serverId: lease.serverId,
        boundAt: lease.boundAt,
        leaseTime: lease.leaseTime,
      });
      if (lease.leaseTime !== 0xffffffff) {
        v.renewAt = lease.boundAt + lease.t1 * 1000;
        v.rebindAt = lease.boundAt + lease.t2 * 1000;
        v.expiresAt = lease.boundAt + lease.leaseTime * 1000;
      }
      if (p.routers) v.routers = p.routers;
      if (p.staticRoutes) v.staticRoutes = p.staticRoutes;
      if (p.classlessRoutes) v.classlessRoutes = p.classlessRoutes;
      if (p.dnsServers) v.dnsServers = p.dnsServers;
      if (p.domainName) v.domainName = p.domainName;
      if (p.domainSearch) v.domainSearch = p.domainSearch;
      if (p.mtu) v.mtu = p.mtu;
      if (lease.changedFrom) {
        v.changedFrom = cidr(lease.changedFrom);
        v.changedAt = lease.changedFrom.at;
      }
      if (lease.lost) v.lost = { ...lease.lost };
    }
  }

  dispatch(event: MachineEvent): void {
    let actions: MachineAction[];
    try {
      actions = this.machine.handle(event);
    } catch (err) {
      // the machine is pure and tested never to throw; if it does, this lease stops, no other
      this.log.error('lease state machine failed', { err: (err as Error).message, event: event.type });
      this.stop(err as Error);
      return;
    }
    // An action may dispatch again (a failed address move abandons the lease); what is left of
    // this batch is then stale (the T1 timer of the lease just given up) and is not applied.
    const batch = ++this.batches;
    for (const action of actions) {
      if (this.batches !== batch) break;
      this.apply(action);
    }
  }

  private apply(a: MachineAction): void {
    switch (a.type) {
      case 'send':
        this.send(a.msg, a.srcIp, a.dstIp, a.dstMac);
        break;
      case 'arm':
        this.arm(a.at);
        break;
      case 'disarm':
        this.disarm();
        break;
      case 'bound':
        if (a.changedFrom !== undefined && !this.movePod(a.changedFrom, a.lease)) break;
        this.onBound(a.lease, a.renewed);
        break;
      case 'lost':
        this.onLost(a.podLease, a.reason, a.offered);
        break;
      case 'expired':
        this.deps.metrics.expiries.inc({ family: 'ipv4' });
        this.log.warn('lease expired without renewal; the pod keeps its link, asking for the same address again', {
          address: a.lease.address,
          server: a.lease.serverId,
          xid: this.machine.xid,
        });
        break;
      case 'nak':
        this.deps.metrics.naks.inc();
        this.log.warn('DHCPNAK from our server: lease lost, starting over', { server: a.serverId, reason: a.message, xid: this.machine.xid });
        this.lastError = `NAK from ${a.serverId}${a.message ? `: ${a.message}` : ''}`;
        break;
      case 'transition':
        this.log.info(`${a.from} -> ${a.to}`, { reason: a.reason, xid: a.xid, state: a.to });
        if (a.to === 'REBINDING') this.deps.metrics.rebinds.inc({ family: 'ipv4' });
        if (a.to === 'RENEWING') {
          this.deps.metrics.renewals.inc({ family: 'ipv4' });
          this.waiters.renewing();
        }
        break;
      case 'ignored':
        this.deps.metrics.dropped.inc({ family: 'ipv4', reason: a.label ?? 'ignored' });
        this.log.debug('reply ignored', { reason: a.reason, xid: this.machine.xid, state: this.machine.state });
        break;
      case 'probe':
        this.probeAddress(a.address);
        break;
      case 'bad-reply':
        this.lastError = a.reason;
        this.log.warn('unusable reply', { reason: a.reason, xid: this.machine.xid });
        this.waiters.reject(new BadReply(a.reason));
        break;
    }
  }

  private onBound(lease: LeaseRecord, renewed: boolean): void {
    // a route that failed in the last move stays visible until the next change
    this.lastError = this.routeError;
    this.current = lease;
    this.waiters.bound(lease, renewed, {
      address: `${lease.address}/${lease.prefixLength}`,
      server: lease.serverId,
      leaseTime: lease.leaseTime,
      xid: this.machine.xid,
      state: this.machine.state,
    });
  }

  // ---- the pod's address changed (after a NAK or an expiry the server gave another one) ----

  /** False when the pod could not be moved: the machine is told to give the new lease up (LOST). */
  private movePod(from: LeaseRecord, to: LeaseRecord): boolean {
    const socket = this.socket;
    const outcome: MoveOutcome = socket
      ? movePod({ netns: this.spec.netns, ifname: this.spec.ifname, ifindex: socket.ifindex, log: this.log, metrics: this.deps.metrics }, from, to)
      : { moved: false, reason: 'the packet socket is closed' };
    if (!outcome.moved) {
      this.dispatch({ type: 'abandon', podLease: from, reason: outcome.reason });
      return false;
    }
    this.routeError = outcome.routeError;
    return true;
  }

  private onLost(podLease: LeaseRecord, reason: string, offered: LeaseRecord | undefined): void {
    this.deps.metrics.lost.inc();
    this.lastError = reason;
    this.log.warn('attachment LOST: the pod keeps an address no server vouches for', {
      podAddress: cidr(podLease),
      offered: offered ? cidr(offered) : undefined,
      reason,
      policy: this.onAddressChange,
    });
    this.current = podLease;
    this.deps.persist(true);
  }

  private send(msg: Parameters<typeof encodeMessage>[0], srcIp: string, dstIp: string, dstMac?: Buffer): void {
    if (!this.socket) return;
    try {
      const payload = encodeMessage(msg);
      if (this.sendUnicast(payload, srcIp, dstIp)) return;
      const frame = encodeIpUdp({ srcIp, dstIp, srcPort: CLIENT_PORT, dstPort: SERVER_PORT, payload });
      this.socket.send(frame, dstMac);
    } catch (err) {
      this.lastError = `send failed: ${(err as Error).message}`;
      this.log.warn('send failed', { err: (err as Error).message, xid: this.machine.xid, state: this.machine.state });
    }
  }

  /**
   * A message from our leased address to one server (RENEWING, RELEASE) goes through the pod's
   * routing; false when it is not unicast or that path is unavailable (then the packet socket).
   */
  private sendUnicast(payload: Buffer, srcIp: string, dstIp: string): boolean {
    if (srcIp === ZERO_IP || dstIp === BROADCAST_IP) return false;
    return this.unicast.send(payload, srcIp, dstIp);
  }

  /** RFC 5227 probe of a newly ACKed address; the verdict goes back to the machine. */
  private probeAddress(address: string): void {
    const timing = this.arpProbe;
    if (timing === false) {
      this.dispatch({ type: 'probe-result', address, conflict: false });
      return;
    }
    this.cancelProbe?.();
    this.cancelProbe = startConflictCheck({
      netnsPath: this.spec.netns,
      ifname: this.spec.ifname,
      mac: this.mac,
      address,
      timing,
      now: this.now,
      onDone: (v) => {
        this.cancelProbe = undefined;
        this.onProbeVerdict(address, v);
      },
    });
  }

  private onProbeVerdict(address: string, v: ConflictVerdict): void {
    if (this.closed) return;
    if (v.conflict) {
      this.deps.metrics.declines.inc({ family: 'ipv4' });
      this.lastError = `${address} is in use by ${macToString(v.mac)} (${v.reason}); declined`;
      this.log.warn('offered address is in use by another host: DHCPDECLINE, asking for another', {
        address,
        holder: macToString(v.mac),
        reason: v.reason,
        server: this.machine.lease?.serverId,
        xid: this.machine.xid,
      });
    } else if (v.error !== undefined) {
      this.log.warn('ARP probe could not run; taking the address unprobed', { address, err: v.error });
    }
    this.dispatch({ type: 'probe-result', address, conflict: v.conflict });
  }

  private onFrame(ip: Buffer, srcMac: Buffer): void {
    try {
      const udp = decodeIpUdp(ip);
      if (udp.srcPort !== SERVER_PORT || udp.dstPort !== CLIENT_PORT) throw new Error('not from port 67 to 68');
      const msg = decodeMessage(udp.payload);
      if (msg.op !== BootOp.REPLY) throw new Error(`op ${msg.op} is not BOOTREPLY`);
      const params = parseReplyParams(msg.options);
      for (const r of params.rejected) {
        this.log.debug('option rejected', { option: r.option, reason: r.reason, xid: msg.xid });
      }
      this.dispatch({ type: 'packet', msg, params, srcMac });
    } catch (err) {
      this.deps.metrics.dropped.inc({ family: 'ipv4', reason: 'malformed' });
      this.log.debug('malformed packet dropped', { err: (err as Error).message });
    }
  }

  private onSocketError(err: Error): void {
    this.lastError = err.message;
    this.log.warn('packet socket error; the interface or namespace is gone', { err: err.message });
    this.stop(err);
    this.deps.onGone();
  }

  private arm(at: number): void {
    this.timer.arm(at);
  }

  private disarm(): void {
    this.timer.disarm();
  }

  private close(reason: Error): void {
    this.disarm();
    this.cancelProbe?.();
    this.cancelProbe = undefined;
    this.unicast.close();
    this.waiters.reject(reason);
    const s = this.socket;
    this.socket = undefined;
    s?.close();
  }
}

export class BadReply extends Error {
  static override readonly name = 'BadReply';
}
