/**
 * The DHCPv4 client state machine (RFC 2131 4.4, modelled on sd-dhcp-client). Pure: events
 * go in through handle(), actions come out; the clock and randomness are injected, and the
 * machine owns exactly one timer, which the edge arms and fires on its behalf.
 */
import { MessageType, Opt, type DhcpMessage, type ReplyParams } from '../dhcp4/types';
import * as change from './address-change';
import * as build from './client-messages';
import { isUsableAddress, type ExchangeFields, type SendAction } from './client-messages';
import { MIN_INTERVAL_MS, leaseDeadlines, nakRestartDelayMs, nextRetransmitAt, renewRetryAt, secondsSince } from './lease-timing';
import type { LeaseRecord, LeaseState, MachineAction, MachineConfig, MachineEvent } from './machine-types';
import * as check from './reply-checks';
import { OneTimerMachine } from './one-timer-machine';

export interface MachineDeps {
  /** ms since epoch */
  now: () => number;
  randomU32: () => number;
  /** uniform in [0,1), for retransmission fuzz */
  random: () => number;
}

/** REQUESTs sent in REQUESTING before going back to DISCOVER (~60 s with the 2/4/8/16/32 s schedule). */
export const REQUEST_MAX_ATTEMPTS = 5;
/** After a restart, packets already due are spread over up to this long (and half the time left). */
export const RESUME_SPREAD_MS = 5_000;
/** INIT-REBOOT REQUESTs before falling back to DISCOVER with option 50 (~30 s). */
export const REBOOT_MAX_ATTEMPTS = 4;

type DiscoverState = 'SELECTING' | 'EXPIRED';

export class LeaseMachine extends OneTimerMachine<LeaseState, MachineAction> {
  private held: LeaseRecord | undefined;
  private begun = false;
  /** origin of `secs` */
  private exchangeStart = 0;
  /** origin of the -resendtimeout budget and of the attempt count of the current phase */
  private phaseStart = 0;
  private sends = 0;
  private offer: { address: string; serverId: string } | undefined;
  /** option 50 for DISCOVER: the caller's wish, or the address we lost */
  private wantedIp: string | undefined;
  private discoverState: DiscoverState = 'SELECTING';
  private rebootAddress: string | undefined;
  private naksSinceBound = 0;
  /** the lease whose address the pod's interface carries; outlives a NAK or an expiry */
  private configured: LeaseRecord | undefined;
  /**
   * when the last REQUEST left: the start of the lease its ACK grants. The last, not the first
   * of the exchange: retransmissions are 2 s or more (RENEWING: 60 s) apart, far longer than any round
   * trip that gets an answer, and counting from the first would cut a lossy renewal's lease short.
   */
  private requestSentAt: number | undefined;
  /** `secs` of the last DISCOVER; the REQUEST that answers its OFFER repeats it */
  private discoverSecs = 1;
  /** an ACKed lease waiting for the edge's ARP probe verdict */
  private probing: LeaseRecord | undefined;
  private declinesSinceBound = 0;
  /** "alternate" broadcast flag: 1 when the phase's first send sets it */
  private flagPhase = 0;
  /** whether the last send before BOUND set the broadcast flag */
  private lastFlag = false;

  constructor(
    private readonly config: MachineConfig,
    private readonly deps: MachineDeps,
  ) {
    super('INIT');
  }

  get lease(): LeaseRecord | undefined { return this.held; }
  /** the lease whose address the pod carries (LOST: the one no server vouches for any more) */
  get podLease(): LeaseRecord | undefined { return this.configured; }

  handle(event: MachineEvent): MachineAction[] {
    this.out = [];
    if (this.current === 'RELEASED' || this.current === 'STOPPED' || (this.current === 'LOST' && event.type !== 'release' && event.type !== 'stop')) {
      this.ignore(`${event.type} after ${this.current}`);
      return this.out;
    }
    if ((event.type === 'start' || event.type === 'resume') && this.begun) {
      this.ignore(`${event.type}: already started`);
      return this.out;
    }
    switch (event.type) {
      case 'start': this.onStart(event.requestedIp); break;
      case 'resume': this.onResume(event.lease); break;
      case 'packet': this.onPacket(event.msg, event.params, event.srcMac); break;
      case 'timer': this.onTimer(); break;
      case 'release': this.onRelease(); break;
      case 'stop': this.finish('STOPPED', 'stopped'); break;
      case 'abandon': this.onAbandon(event.podLease, event.reason); break;
      case 'probe-result': this.onProbeResult(event.address, event.conflict); break;
    }
    return this.out;
  }

  // ---- entering states -------------------------------------------------------------------

  private onStart(requestedIp: string | undefined): void {
    this.begun = true;
    this.wantedIp = isUsableAddress(requestedIp) ? requestedIp : undefined;
    this.beginDiscovery('start', 'SELECTING');
  }

  private onResume(stored: LeaseRecord): void {
    this.begun = true;
    const now = this.deps.now();
    const lease = check.checkStoredLease(stored, now);
    if (lease === undefined) return this.beginDiscovery('resume: stored lease unusable', 'SELECTING');
    this.configured = lease;
    if (lease.lost !== undefined) return this.transition('LOST', `resume: ${lease.lost.reason}`);
    const deadlines = leaseDeadlines(lease);
    // A restarted daemon resumes every lease at once; the ones whose next packet is already due
    // go out spread over a few seconds, not in one burst that the server would partly drop.
    const spreadUntil = (limit: number) => now + 1 + Math.floor(this.deps.random() * Math.min(RESUME_SPREAD_MS, Math.max(0, limit - now) / 2));
    if (deadlines !== undefined && now >= deadlines.expiresAt) {
      this.out.push({ type: 'expired', lease });
      this.rebootAddress = lease.address;
      this.transition('INIT_REBOOT', 'resume: lease expired');
      this.arm(spreadUntil(Infinity));
      return;
    }
    this.held = lease;
    if (deadlines !== undefined && now >= deadlines.t1At) {
      const renewing = now < deadlines.t2At;
      this.startExchange();
      this.transition(renewing ? 'RENEWING' : 'REBINDING', `resume: ${renewing ? 'T1' : 'T2'} reached`);
      this.arm(spreadUntil(renewing ? deadlines.t2At : deadlines.expiresAt));
      return;
    }
    this.enterByPhase('resume');
  }

  private sendRebootRequest(): void {
    this.startExchange();
    this.transition('REBOOTING', 'sent INIT-REBOOT REQUEST');
    this.sendAndRetransmit(build.buildRebootRequest(this.config, this.acquiring(), this.rebootAddress ?? ''));
  }

  private beginDiscovery(reason: string, to: DiscoverState): void {
    this.startExchange();
    this.offer = undefined;
    this.discoverState = to;
    this.transition(to, reason);
    this.sendAndRetransmit(build.buildDiscover(this.config, this.acquiring(), this.wantedIp));
  }

  /** Pick BOUND, RENEWING, REBINDING or expiry for the held lease from the clock. */
  private enterByPhase(reason: string): void {
    const lease = this.held;
    if (lease === undefined) return;
    const deadlines = leaseDeadlines(lease);
    const now = this.deps.now();
    if (deadlines === undefined) {
      this.transition('BOUND', reason);
      this.disarm();
    } else if (now < deadlines.t1At) {
      this.transition('BOUND', reason);
      this.arm(deadlines.t1At);
    } else if (now < deadlines.t2At || now < deadlines.expiresAt) {
      const renewing = now < deadlines.t2At;
      this.startExchange();
      this.transition(renewing ? 'RENEWING' : 'REBINDING', `${reason}: ${renewing ? 'T1' : 'T2'} reached`);
      this.sendRenewal(lease, renewing ? deadlines.t2At : deadlines.expiresAt);
    } else {
      this.out.push({ type: 'expired', lease });
      this.held = undefined;
      this.wantedIp = this.configured?.address ?? lease.address;
      this.beginDiscovery(`${reason}: lease expired`, 'EXPIRED');
    }
  }

  private finish(to: 'RELEASED' | 'STOPPED', reason: string): void {
    this.held = undefined;
    this.probing = undefined;
    this.transition(to, reason);
    this.disarm();
  }

  // ---- events ------------------------------------------------------------------------------

  private onTimer(): void {
    const now = this.deps.now();
    if (!this.takeTimer(now)) return;
    const budgetSpent = now >= this.budgetEndsAt();
    switch (this.current) {
      case 'INIT':
        return this.beginDiscovery('NAK backoff over', 'SELECTING');
      case 'INIT_REBOOT':
        return this.sendRebootRequest();
      case 'SELECTING':
      case 'EXPIRED':
        if (budgetSpent) this.startExchange();
        return this.sendAndRetransmit(build.buildDiscover(this.config, this.acquiring(), this.wantedIp));
      case 'REQUESTING':
        if (budgetSpent || this.sends >= REQUEST_MAX_ATTEMPTS) {
          return this.beginDiscovery('no answer to REQUEST', this.discoverState);
        }
        return this.resendSelectingRequest();
      case 'REBOOTING':
        if (budgetSpent || this.sends >= REBOOT_MAX_ATTEMPTS) {
          this.wantedIp = this.rebootAddress;
          return this.beginDiscovery('no answer to INIT-REBOOT REQUEST', 'EXPIRED');
        }
        return this.sendAndRetransmit(build.buildRebootRequest(this.config, this.acquiring(), this.rebootAddress ?? ''));
      case 'BOUND':
      case 'RENEWING':
      case 'REBINDING':
        return this.onLeaseTimer(now);
      default:
        return this.ignore(`timer in ${this.current}`);
    }
  }

  private onLeaseTimer(now: number): void {
    const lease = this.held;
    const deadlines = lease === undefined ? undefined : leaseDeadlines(lease);
    if (lease === undefined || deadlines === undefined) return this.ignore(`timer in ${this.current} without a finite lease`);
    const phaseDeadline = this.current === 'RENEWING' ? deadlines.t2At : deadlines.expiresAt;
    if (this.current === 'BOUND' || now >= phaseDeadline) return this.enterByPhase('timer');
    this.sendRenewal(lease, phaseDeadline);
  }

  /** A RENEWING (unicast) or REBINDING (broadcast) REQUEST, retried until `deadline`. */
  private sendRenewal(lease: LeaseRecord, deadline: number): void {
    const ex = this.fields(this.config.alwaysBroadcast);
    const renewing = this.current === 'RENEWING';
    this.send(renewing ? build.buildRenewRequest(this.config, ex, lease) : build.buildRebindRequest(this.config, ex, lease));
    this.arm(renewRetryAt(this.deps.now(), deadline));
  }

  private onPacket(msg: DhcpMessage, params: ReplyParams, srcMac: Buffer | undefined): void {
    if (this.probing !== undefined) return this.ignore('ARP probe of the ACKed address in progress');
    const ctx: check.ReplyContext = { state: this.current, xid: this.currentXid, chaddr: this.config.chaddr };
    if (this.offer !== undefined) ctx.selectedServer = this.offer.serverId;
    if (this.current === 'REQUESTING' && this.offer !== undefined) ctx.requested = this.offer.address;
    if (this.current === 'REBOOTING' && this.rebootAddress !== undefined) ctx.requested = this.rebootAddress;
    if (this.current === 'RENEWING' || this.current === 'REBINDING') ctx.renewal = this.held;
    const type = check.checkHeader(ctx, msg, params);
    if (check.isRejection(type)) return this.reject(type);
    if (type === MessageType.OFFER) {
      const offer = check.checkOffer(msg, params);
      if (check.isRejection(offer)) return this.reject(offer);
      this.offer = offer;
      this.phaseStart = this.deps.now();
      this.sends = 0;
      this.flagPhase = this.lastFlag ? 1 : 0;
      this.transition('REQUESTING', `OFFER of ${offer.address} from ${offer.serverId}`);
      return this.resendSelectingRequest();
    }
    if (type === MessageType.ACK) {
      const now = this.deps.now();
      const lease = check.checkAck(ctx, msg, params, srcMac, Math.min(now, this.requestSentAt ?? now));
      if (check.isRejection(lease)) return this.reject(lease);
      if (ctx.renewal === undefined && this.config.probeAddress === true) return this.probe(lease);
      return this.bind(lease, ctx.renewal !== undefined);
    }
    const serverId = check.checkNak(ctx, params);
    return check.isRejection(serverId) ? this.reject(serverId) : this.onNak(serverId, params.message);
  }

  /** A new address (never a renewal): the edge ARP-probes it; no timer until the verdict. */
  private probe(lease: LeaseRecord): void {
    this.probing = lease;
    this.disarm();
    this.out.push({ type: 'probe', address: lease.address });
  }

  /** RFC 2131 4.4.1: an address in use is DECLINEd, and we start over without asking for it. */
  private onProbeResult(address: string, conflict: boolean): void {
    const lease = this.probing;
    if (lease === undefined || lease.address !== address) return this.ignore(`probe result for ${address} with no probe of it pending`);
    this.probing = undefined;
    if (!conflict) return this.bind(lease, false);
    this.send(build.buildDecline(this.config, this.currentXid, lease));
    this.forgetAcquisition();
    this.declinesSinceBound += 1;
    this.transition('INIT', `${address} is in use by another host: DECLINE sent to ${lease.serverId}`);
    // RFC 2131 asks for 10 s before restarting; a CNI ADD is waiting, so the first restart is
    // immediate and repeated conflicts back off as repeated NAKs do
    const delay = nakRestartDelayMs(this.declinesSinceBound, this.config.resendMaxMs);
    if (delay === 0) this.beginDiscovery('restart after DECLINE', 'SELECTING');
    else this.arm(this.deps.now() + delay);
  }

  private bind(lease: LeaseRecord, renewed: boolean): void {
    const pod = this.configured;
    const moved = pod !== undefined && change.isAddressChange(pod, lease);
    this.naksSinceBound = 0;
    this.declinesSinceBound = 0;
    this.forgetAcquisition();
    if (moved) {
      if ((this.config.onAddressChange ?? 'move') === 'release') {
        this.held = lease;
        return this.loseAddress(pod, `the server gave ${change.cidr(lease)} instead of the pod's ${change.cidr(pod)} (onAddressChange "release")`);
      }
      lease.changedFrom = { address: pod.address, prefixLength: pod.prefixLength, at: this.deps.now() };
    } else if (pod?.changedFrom !== undefined) {
      lease.changedFrom = pod.changedFrom;
    }
    this.held = lease;
    this.configured = lease;
    this.transition('BOUND', `ACK of ${lease.address} from ${lease.serverId}`);
    const bound: MachineAction = { type: 'bound', lease, renewed };
    if (moved) bound.changedFrom = pod;
    this.out.push(bound);
    const deadlines = leaseDeadlines(lease);
    // the lease started when the REQUEST left, so with a tiny lease T1 may already be due
    if (deadlines === undefined) this.disarm();
    else this.arm(Math.max(deadlines.t1At, this.deps.now() + 1));
  }

  private onNak(serverId: string, message: string | undefined): void {
    const nak: MachineAction = { type: 'nak', serverId };
    if (message !== undefined) nak.message = message;
    this.out.push(nak);
    this.held = undefined;
    this.forgetAcquisition();
    // A server that merely lost its lease database gives the pod's address back when asked.
    this.wantedIp = this.configured?.address;
    this.naksSinceBound += 1;
    this.transition('INIT', `NAK from ${serverId}`);
    const delay = nakRestartDelayMs(this.naksSinceBound, this.config.resendMaxMs);
    if (delay === 0) this.beginDiscovery('restart after NAK', 'SELECTING');
    else this.arm(this.deps.now() + delay);
  }

  /** The edge could not move the pod to the address just bound. */
  private onAbandon(podLease: LeaseRecord, reason: string): void {
    this.configured = podLease;
    this.loseAddress(podLease, reason);
  }

  /** RELEASE whatever we hold (the pod does not use it) and go LOST, keeping the pod's lease. */
  private loseAddress(pod: LeaseRecord, reason: string): void {
    const offered = this.held;
    if (offered !== undefined) {
      this.currentXid = this.newXid();
      this.send(build.buildRelease(this.config, this.currentXid, offered));
    }
    const podLease: LeaseRecord = { ...pod, lost: { at: this.deps.now(), offered: offered === undefined ? '' : change.cidr(offered), reason } };
    this.held = undefined;
    this.configured = podLease;
    this.transition('LOST', reason);
    this.disarm();
    const lost: MachineAction = { type: 'lost', podLease, reason };
    if (offered !== undefined) lost.offered = offered;
    this.out.push(lost);
  }

  private onRelease(): void {
    const lease = this.held;
    const holding = this.current === 'BOUND' || this.current === 'RENEWING' || this.current === 'REBINDING';
    if (lease !== undefined && holding) {
      this.currentXid = this.newXid();
      this.send(build.buildRelease(this.config, this.currentXid, lease));
    }
    this.finish('RELEASED', holding ? 'released' : `release in ${this.current}, nothing to release`);
  }

  // ---- plumbing ----------------------------------------------------------------------------

  private resendSelectingRequest(): void {
    const offer = this.offer;
    if (offer === undefined) return;
    // RFC 2131 4.4.1: the REQUEST carries the same 'secs' as the DISCOVER it follows
    const ex = { ...this.acquiring(), secs: this.discoverSecs };
    this.sendAndRetransmit(build.buildSelectingRequest(this.config, ex, offer.address, offer.serverId));
  }

  private forgetAcquisition(): void {
    this.offer = undefined;
    this.wantedIp = undefined;
    this.rebootAddress = undefined;
  }

  private startExchange(): void {
    const now = this.deps.now();
    this.currentXid = this.newXid();
    this.exchangeStart = now;
    this.phaseStart = now;
    this.sends = 0;
    this.flagPhase = 0;
  }

  private newXid(): number {
    const xid = this.deps.randomU32() >>> 0;
    return xid === this.currentXid ? (xid + 1) >>> 0 : xid;
  }

  private budgetEndsAt(): number {
    return this.phaseStart + Math.max(MIN_INTERVAL_MS, this.config.resendTimeoutMs);
  }

  /**
   * The fields of a send before BOUND. With "alternate", the flag flips on each send of the
   * phase; the REQUEST phase starts with the flag of the DISCOVER last sent, the one the OFFER
   * most likely answered (retransmissions are seconds apart, a round trip is not).
   */
  private acquiring(): ExchangeFields {
    if ((this.config.acquireBroadcast ?? 'always') === 'always') return this.fields(true);
    return this.fields((this.sends + this.flagPhase) % 2 === 1);
  }

  private fields(broadcast: boolean): ExchangeFields {
    const secs = secondsSince(this.exchangeStart, this.deps.now());
    return { xid: this.currentXid, secs, broadcast: broadcast || this.config.alwaysBroadcast };
  }

  private send(action: SendAction): void {
    this.out.push(action);
    this.lastFlag = action.msg.flags !== 0;
    this.sends += 1;
    const type = action.msg.options.get(Opt.MESSAGE_TYPE)?.[0];
    if (type === MessageType.REQUEST) this.requestSentAt = this.deps.now();
    if (type === MessageType.DISCOVER) this.discoverSecs = action.msg.secs;
  }

  private sendAndRetransmit(action: SendAction): void {
    this.send(action);
    const now = this.deps.now();
    this.arm(nextRetransmitAt(now, this.sends - 1, this.deps.random(), this.config.resendMaxMs, this.budgetEndsAt()));
  }

  private reject(rejection: check.Rejection): void {
    const action: MachineAction = { type: rejection.rejected, reason: rejection.reason };
    if (rejection.label !== undefined && action.type === 'ignored') action.label = rejection.label;
    this.out.push(action);
  }
}
