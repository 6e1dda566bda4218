/**
 * The DHCPv6 client state machine for one IA_NA (RFC 8415 §18). Pure, like the DHCPv4 machine:
 * events go in through handle(), actions come out; clock and randomness are injected, and the
 * machine owns one timer, which the edge arms and fires on its behalf. Every exchange keeps one
 * transaction id across its retransmissions (§15) and gets a new one when the next begins.
 */
import { describeMessageType6 } from '../dhcp6/message-type6';
import { ALL_DHCP_SERVERS, MessageType6, type Dhcp6Message, type Reply6 } from '../dhcp6/types';
import { checkHeader, checkStoredLease6, evaluate, type Outcome6 } from './checks6';
import * as build from './messages6';
import type { Destination6 } from './messages6';
import { OneTimerMachine } from '../client/one-timer-machine';
import {
  PARAMS, SOL_MAX_DELAY_MS, deadlines6, elapsedCentiseconds, firstTimeout, nextTimeout, type Exchange6,
} from './timing6';
import type { Lease6Record, Lease6State, Machine6Action, Machine6Config, Machine6Event } from './types6';

export interface Machine6Deps {
  /** ms since epoch */
  now: () => number;
  randomU32: () => number;
  /** uniform in [0,1) */
  random: () => number;
}

/** After a restart, exchanges already due go out spread over up to this long (as in v4). */
export const RESUME_SPREAD6_MS = 5_000;

interface Exchange {
  kind: Exchange6;
  build: (f: build.Exchange6Fields) => Dhcp6Message;
  /** the lease a RENEW/REBIND/RELEASE/DECLINE is about (for its unicast destination) */
  about?: Lease6Record;
  /** time of the first transmission; undefined while the first is still delayed */
  start?: number;
  sent: number;
  rt: number;
  /** the exchange fails at this instant (MRD); Infinity for none */
  endsAt: number;
}

interface Advertised {
  lease: Lease6Record;
  preference: number;
}

export class Lease6Machine extends OneTimerMachine<Lease6State, Machine6Action> {
  private held: Lease6Record | undefined;
  private begun = false;
  private ex: Exchange | undefined;
  /** the ADD deadline while a 'start' acquisition runs */
  private acquireBy: number | undefined;
  /** the deadline the 'start' acquisition had, for a DECLINE the ADD still waits on */
  private startDeadline: number | undefined;
  private advertised: Advertised[] = [];
  /** the server answered UseMulticast: no more unicast to it */
  private unicastRefused = false;
  private heldServer: string | undefined;

  constructor(
    private readonly config: Machine6Config,
    private readonly deps: Machine6Deps,
  ) {
    super('INIT');
  }

  get lease(): Lease6Record | undefined { return this.held; }

  handle(event: Machine6Event): Machine6Action[] {
    this.out = [];
    if (this.current === 'RELEASED' || this.current === 'STOPPED') {
      this.ignore(`${event.type} after ${this.current}`);
      return this.out;
    }
    if ((event.type === 'start' || event.type === 'resume') && this.begun) {
      this.ignore(`${event.type}: already started`);
      return this.out;
    }
    switch (event.type) {
      case 'start': this.onStart(); break;
      case 'resume': this.onResume(event.lease); break;
      case 'packet': this.onPacket(event.reply, event.srcMac); break;
      case 'timer': this.onTimer(); break;
      case 'dad-failed': this.onDadFailed(event.address, event.acquiring === true); break;
      case 'release': this.onRelease(); break;
      case 'stop': this.finish('STOPPED', 'stopped'); break;
    }
    return this.out;
  }

  // ---- entering states -------------------------------------------------------------------

  private onStart(): void {
    this.begun = true;
    const now = this.deps.now();
    if (this.config.acquireTimeoutMs !== undefined) this.acquireBy = now + Math.max(1, this.config.acquireTimeoutMs);
    this.startDeadline = this.acquireBy;
    this.solicit('start', Math.floor(this.deps.random() * Math.max(0, this.config.solicitDelayMs)));
  }

  private onResume(stored: Lease6Record): void {
    this.begun = true;
    const lease = checkStoredLease6(stored, this.config);
    if (lease === undefined) return this.solicit('resume: stored lease unusable', this.massDelay());
    const now = this.deps.now();
    const d = deadlines6(lease.boundAt, { t1: lease.t1, t2: lease.t2, valid: lease.validLifetime });
    if (now >= d.expiresAt) {
      this.out.push({ type: 'expired', lease, reason: 'expired while the daemon was down' });
      return this.solicit('resume: lease expired', this.massDelay());
    }
    this.held = lease;
    // A restarted daemon resumes every lease at once; exchanges already due are spread out.
    const limit = now < d.t2At ? d.t2At : d.expiresAt;
    const spread = 1 + Math.floor(this.deps.random() * Math.min(RESUME_SPREAD6_MS, (limit - now) / 2));
    this.enterByPhase('resume', spread);
  }

  /** A random delay of up to SOL_MAX_DELAY: many SOLICITs at once after a restart (§18.2.1). */
  private massDelay(): number {
    return 1 + Math.floor(this.deps.random() * SOL_MAX_DELAY_MS);
  }

  private solicit(reason: string, delayMs = 0): void {
    this.advertised = [];
    const endsAt = this.acquireBy ?? Infinity;
    this.begin('SOLICIT', (f) => build.solicit(this.config, f), endsAt);
    this.transition('SOLICITING', reason);
    this.kick(delayMs);
  }

  private request(reason: string, serverId: string, address: string): void {
    const endsAt = this.held !== undefined ? this.expiresAt(this.held) : (this.acquireBy ?? Infinity);
    this.begin('REQUEST', (f) => build.request(this.config, f, serverId, address), endsAt);
    this.transition('REQUESTING', reason);
    this.kick(0);
  }

  /** BOUND, RENEWING, REBINDING or expiry for the held lease, from the clock. */
  private enterByPhase(reason: string, delayMs = 0): void {
    const lease = this.held;
    if (lease === undefined) return this.solicit(`${reason}: no lease`);
    const now = this.deps.now();
    const d = deadlines6(lease.boundAt, { t1: lease.t1, t2: lease.t2, valid: lease.validLifetime });
    if (now >= d.expiresAt) {
      this.held = undefined;
      this.out.push({ type: 'expired', lease, reason: 'valid lifetime over' });
      return this.solicit(`${reason}: lease expired`);
    }
    if (now >= d.t2At) {
      this.begin('REBIND', (f) => build.rebind(this.config, f, lease), d.expiresAt, lease);
      this.transition('REBINDING', `${reason}: T2 reached`);
      return this.kick(delayMs);
    }
    if (now >= d.t1At) {
      this.begin('RENEW', (f) => build.renew(this.config, f, lease), d.t2At, lease);
      this.transition('RENEWING', `${reason}: T1 reached`);
      return this.kick(delayMs);
    }
    this.ex = undefined;
    this.transition('BOUND', reason);
    if (d.t1At === Infinity) this.disarm();
    else this.arm(d.t1At);
  }

  private finish(to: 'RELEASED' | 'STOPPED', reason: string): void {
    this.held = undefined;
    this.ex = undefined;
    this.transition(to, reason);
    this.disarm();
  }

  // ---- events ------------------------------------------------------------------------------

  private onTimer(): void {
    const now = this.deps.now();
    if (!this.takeTimer(now)) return;
    const ex = this.ex;
    if (ex === undefined) return this.enterByPhase('timer');
    if (this.acquireBy !== undefined && now >= this.acquireBy && (this.current === 'SOLICITING' || this.current === 'REQUESTING' || this.current === 'DECLINING')) {
      return this.giveUp();
    }
    if (ex.sent === 0) return this.transmit();
    const exhausted = PARAMS[ex.kind].mrc > 0 && ex.sent >= PARAMS[ex.kind].mrc;
    if (now >= ex.endsAt || exhausted) return this.exchangeFailed(ex);
    if (this.current === 'SOLICITING' && this.advertised.length > 0) return this.selectAdvertised('first RT over');
    this.transmit();
  }

  private exchangeFailed(ex: Exchange): void {
    switch (ex.kind) {
      case 'SOLICIT': return this.giveUp();
      case 'REQUEST': return this.held !== undefined ? this.enterByPhase('no answer to REQUEST') : this.solicit('no answer to REQUEST');
      case 'RENEW':
      case 'REBIND': return this.enterByPhase(`no answer to ${ex.kind}`);
      case 'RELEASE': return this.finish('RELEASED', 'no answer to RELEASE');
      case 'DECLINE': return this.solicit('no answer to DECLINE', this.massDelay());
    }
  }

  private giveUp(): void {
    this.out.push({ type: 'gave-up', reason: `no lease within ${this.config.acquireTimeoutMs} ms` });
    this.finish('STOPPED', 'acquisition deadline passed');
  }

  private onPacket(reply: Reply6, srcMac: Buffer | undefined): void {
    // A late timer (a busy loop, a suspended host) can leave the held lease past its end; no
    // answer may extend what is already over.
    if (this.held !== undefined && this.deps.now() >= this.expiresAt(this.held)) {
      this.ignore(`${describeMessageType6(reply.type)} after the lease ended`);
      return this.enterByPhase('valid lifetime over');
    }
    const ex = this.ex;
    if (ex === undefined || ex.sent === 0) return this.ignore(`${describeMessageType6(reply.type)} in ${this.current}, nothing sent`);
    const bad = checkHeader(reply, this.currentXid, this.config);
    if (bad !== undefined) return this.ignore(bad);
    if (reply.type === MessageType6.ADVERTISE) {
      if (this.current !== 'SOLICITING') return this.ignore(`ADVERTISE in ${this.current}`);
      return this.onAdvertise(evaluate(reply, this.config, this.deps.now(), srcMac));
    }
    if (reply.type !== MessageType6.REPLY) return this.ignore(`${describeMessageType6(reply.type)} ignored`);
    if (this.current === 'RELEASING') return this.finish('RELEASED', 'RELEASE answered');
    if (this.current === 'DECLINING') return this.solicit('DECLINE answered', this.massDelay());
    if (this.current === 'SOLICITING' && !(this.config.rapidCommit && reply.rapidCommit)) {
      return this.ignore('REPLY to SOLICIT without Rapid Commit');
    }
    this.onReply(evaluate(reply, this.config, this.deps.now(), srcMac), reply.serverId!);
  }

  private onAdvertise(o: Outcome6): void {
    if (o.kind === 'ignore') return this.ignore(`ADVERTISE: ${o.reason}`);
    if (o.kind === 'status') return this.ignore(`ADVERTISE ignored: ${o.detail}`);
    this.advertised.push({ lease: o.lease, preference: o.preference });
    // §18.2.1: preference 255 is taken at once; after the first RT, the first ADVERTISE is.
    if (o.preference === 255 || (this.ex?.sent ?? 0) > 1) this.selectAdvertised(`preference ${o.preference}`);
  }

  private selectAdvertised(reason: string): void {
    let best: Advertised | undefined;
    for (const a of this.advertised) if (best === undefined || a.preference > best.preference) best = a;
    this.advertised = [];
    if (best === undefined) return;
    this.request(`ADVERTISE of ${best.lease.address} from ${best.lease.serverId} (${reason})`, best.lease.serverId, best.lease.address);
  }

  private onReply(o: Outcome6, serverId: Buffer): void {
    if (o.kind === 'lease') return this.bind(o.lease);
    if (o.kind === 'ignore') return this.ignore(`REPLY: ${o.reason}`);
    // A Rapid Commit REPLY with a status is an ADVERTISE without addresses (§18.2.10): acting
    // on it would re-SOLICIT at the speed of the network.
    if (this.current === 'SOLICITING') return this.ignore(`Rapid Commit REPLY ignored: ${o.detail}`);
    switch (o.status) {
      case 'use-multicast':
        if (this.destination().dst === ALL_DHCP_SERVERS) return this.ignore('UseMulticast to a multicast message');
        this.unicastRefused = true;
        this.ignore(`REPLY: ${o.detail}; resending by multicast`);
        return this.transmit();
      case 'not-on-link':
        return this.lose(`REPLY: ${o.detail}: not on link`);
      case 'no-binding':
        if (this.held !== undefined && (this.current === 'RENEWING' || this.current === 'REBINDING')) {
          return this.request(`REPLY: ${o.detail}: no binding`, serverId.toString('hex'), this.held.address);
        }
        return this.lose(`REPLY: ${o.detail}: no binding`);
      case 'no-addrs':
        if (this.current === 'RENEWING' || this.current === 'REBINDING') return this.ignore(`REPLY: ${o.detail}; keeping the lease until it expires`);
        return this.lose(`REPLY: ${o.detail}`);
    }
  }

  /**
   * The held lease (if any) is gone: report it and solicit again, after a random delay, so a
   * server that refuses every REQUEST cannot drive a SOLICIT/REQUEST loop at network speed.
   */
  private lose(reason: string): void {
    const lease = this.held;
    this.held = undefined;
    if (lease !== undefined) this.out.push({ type: 'expired', lease, reason });
    this.solicit(reason, this.massDelay());
  }

  private bind(lease: Lease6Record): void {
    const renewed = this.held !== undefined;
    this.held = lease;
    this.ex = undefined;
    this.advertised = [];
    this.acquireBy = undefined;
    if (lease.serverId !== this.heldServer) this.unicastRefused = false;
    this.heldServer = lease.serverId;
    this.transition('BOUND', `REPLY with ${lease.address} from ${lease.serverId}`);
    this.out.push({ type: 'bound', lease, renewed });
    const d = deadlines6(lease.boundAt, { t1: lease.t1, t2: lease.t2, valid: lease.validLifetime });
    if (d.t1At === Infinity) this.disarm();
    else this.arm(d.t1At);
  }

  private onDadFailed(address: string, acquiring: boolean): void {
    const lease = this.held;
    if (lease === undefined || lease.address !== address) return this.ignore(`dad-failed for ${address}, not our address`);
    this.held = undefined;
    // the ADD still waits (the probe runs before it is answered): its deadline bounds the rest
    if (acquiring && this.startDeadline !== undefined) this.acquireBy = this.startDeadline;
    this.out.push({ type: 'declined', lease });
    this.begin('DECLINE', (f) => build.decline(this.config, f, lease), Infinity, lease);
    this.transition('DECLINING', `${address} failed DAD`);
    this.kick(0);
  }

  private onRelease(): void {
    const lease = this.held;
    if (lease === undefined) return this.finish('RELEASED', `release in ${this.current}, nothing to release`);
    this.held = undefined;
    this.begin('RELEASE', (f) => build.release(this.config, f, lease), Infinity, lease);
    this.transition('RELEASING', 'released');
    this.kick(0);
  }

  // ---- exchanges ---------------------------------------------------------------------------

  private begin(kind: Exchange6, fn: Exchange['build'], endsAt: number, about?: Lease6Record): void {
    this.currentXid = this.newXid();
    this.ex = { kind, build: fn, sent: 0, rt: 0, endsAt };
    if (about !== undefined) this.ex.about = about;
  }

  /** The first transmission now, or after `delayMs`. */
  private kick(delayMs: number): void {
    if (delayMs > 0) this.arm(this.deps.now() + delayMs);
    else this.transmit();
  }

  private destination(): Destination6 {
    const ex = this.ex;
    return ex === undefined ? build.destination('SOLICIT', undefined, true) : build.destination(ex.kind, ex.about, this.unicastRefused);
  }

  private transmit(): void {
    const ex = this.ex;
    if (ex === undefined) return;
    const now = this.deps.now();
    ex.start ??= now;
    const msg = ex.build({ xid: this.currentXid, elapsed: elapsedCentiseconds(ex.start, now) });
    this.out.push({ type: 'send', msg, ...this.destination() });
    ex.sent += 1;
    const p = PARAMS[ex.kind];
    ex.rt = ex.sent === 1 ? firstTimeout(p, this.deps.random(), ex.kind === 'SOLICIT') : nextTimeout(p, ex.rt, this.deps.random());
    const cap = Math.min(ex.endsAt, this.acquireBy ?? Infinity);
    this.arm(Math.max(now + 1, Math.min(now + ex.rt, cap)));
  }

  private expiresAt(l: Lease6Record): number {
    return deadlines6(l.boundAt, { t1: l.t1, t2: l.t2, valid: l.validLifetime }).expiresAt;
  }

  private newXid(): number {
    const xid = this.deps.randomU32() & 0xffffff;
    return xid === this.currentXid ? (xid + 1) & 0xffffff : xid;
  }
}

