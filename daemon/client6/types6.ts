/**
 * The contract of the pure DHCPv6 client state machine (lease6-machine.ts). Events go in,
 * actions come out; the clock and randomness are injected, as in the DHCPv4 machine.
 */
import type { Dhcp6Message, Reply6 } from '../dhcp6/types';

export type Lease6State =
  | 'INIT'
  /** SOLICIT sent (or about to be: the first-SOLICIT delay); collecting ADVERTISEs */
  | 'SOLICITING'
  | 'REQUESTING'
  | 'BOUND'
  | 'RENEWING'
  | 'REBINDING'
  /** our address failed DAD in the pod: DECLINE out, waiting for the REPLY */
  | 'DECLINING'
  | 'RELEASING'
  | 'RELEASED'
  /** acquisition gave up (the -timeout deadline passed) or stop; terminal */
  | 'STOPPED';

export interface Machine6Config {
  /** our DUID, stored with the lease (identity6.ts derives it) */
  duid: Buffer;
  iaid: number;
  /** Option Request Option codes; 23 and 24 by default */
  oro: number[];
  /** include Rapid Commit in SOLICIT (dnsmasq honours it unasked, Kea when configured) */
  rapidCommit: boolean;
  /**
   * How long a 'start' acquisition may take (the daemon's -timeout), ms: no transmission is
   * scheduled past it, and when it passes the machine reports 'gave-up' and stops. Undefined:
   * retransmit for ever (the RFC's MRD 0).
   */
  acquireTimeoutMs?: number;
  /** upper bound of the random delay before the first SOLICIT of a 'start', ms (RFC: 1000) */
  solicitDelayMs: number;
}

/** What is persisted and what a restarted daemon resumes from. JSON-safe (hex strings). */
export interface Lease6Record {
  address: string;
  iaid: number;
  /** our DUID, hex */
  duid: string;
  /** the server's DUID, hex; echoed in RENEW, RELEASE, DECLINE */
  serverId: string;
  /** option 12: RENEW/RELEASE may go unicast to this address */
  serverUnicast?: string;
  /** the Ethernet source of the server's REPLY, for a unicast frame */
  serverMac?: string;
  /** ms since epoch when the REPLY arrived */
  boundAt: number;
  /** seconds, sanitized: 1 <= t1 <= t2 <= valid, preferred <= valid; 0xffffffff = infinite */
  preferredLifetime: number;
  validLifetime: number;
  t1: number;
  t2: number;
  dnsServers?: string[];
  domainSearch?: string[];
  /**
   * the address the pod carried before this one, when the driver moved the pod (an expiry or
   * NotOnLink, then another address); set by the driver (client6/bind-plan6.ts), not the machine
   */
  changedFrom?: ChangedFrom6;
}

export interface ChangedFrom6 {
  address: string;
  prefixLength: number;
  /** ms since epoch */
  at: number;
}

export type Machine6Event =
  | { type: 'start' }
  /** resume a stored lease after a restart: BOUND, RENEWING, REBINDING or a new SOLICIT by the clock */
  | { type: 'resume'; lease: Lease6Record }
  /** a decoded, parsed server message; srcMac is the Ethernet source */
  | { type: 'packet'; reply: Reply6; srcMac?: Buffer }
  | { type: 'timer' }
  /**
   * `address` is in use by another host: the daemon's DAD probe found it (daemon/nd), or the
   * pod's kernel marked it dadfailed. `acquiring`: the ADD that asked for the lease still waits
   * (the probe runs before it is answered), so the new SOLICIT keeps that ADD's deadline.
   */
  | { type: 'dad-failed'; address: string; acquiring?: boolean }
  /** DEL: RELEASE if bound */
  | { type: 'release' }
  | { type: 'stop' };

export type Machine6Action =
  /** send `msg` to `dst` (ff02::1:2, or the server's unicast address); dstMac when known */
  | { type: 'send'; msg: Dhcp6Message; dst: string; dstMac?: Buffer }
  | { type: 'arm'; at: number }
  | { type: 'disarm' }
  | { type: 'bound'; lease: Lease6Record; renewed: boolean }
  /** the held lease ran out or the server told us it is not on this link: the address is lost */
  | { type: 'expired'; lease: Lease6Record; reason: string }
  /** the address failed DAD and was declined; a new SOLICIT follows */
  | { type: 'declined'; lease: Lease6Record }
  /** the ADD deadline passed without a lease */
  | { type: 'gave-up'; reason: string }
  | { type: 'transition'; from: Lease6State; to: Lease6State; reason: string; xid: number }
  /** a message was ignored (wrong xid or client id, no usable address, ...); counted as dropped */
  | { type: 'ignored'; reason: string };
