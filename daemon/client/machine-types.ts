/**
 * The contract of the pure DHCP client state machine (daemon/client/lease-machine.ts).
 * Events go in, actions come out; the clock (`now`, ms since epoch) and randomness are
 * injected, so the machine does no I/O and is tested with a fake clock.
 */
import type { DhcpMessage, ReplyParams } from '../dhcp4/types';
import type { AddressChangePolicy } from '../../shared/dhcp-config';

export type LeaseState =
  | 'INIT'
  | 'SELECTING'
  | 'REQUESTING'
  | 'INIT_REBOOT'
  | 'REBOOTING'
  | 'BOUND'
  | 'RENEWING'
  | 'REBINDING'
  /** the lease ran out; we keep asking for the same address (option 50) in the background */
  | 'EXPIRED'
  | 'RELEASED'
  /** acquisition gave up (ADD deadline passed) or stop() was called; terminal */
  | 'STOPPED'
  /**
   * the server gave another address than the pod's and we were told not to move the pod
   * (onAddressChange "release"), or moving it failed: the new lease was released, the pod
   * keeps an address no server vouches for; only DEL (or a new ADD) leaves this state
   */
  | 'LOST';

export type AcquireBroadcast = 'always' | 'alternate';

export interface MachineConfig {
  /** option 61 value, already including the type byte */
  clientId: Buffer;
  /** the interface MAC, 6 bytes */
  chaddr: Buffer;
  /** extra options to send in DISCOVER/REQUEST (the ipam "provide" list), code → value */
  provide: Map<number, Buffer>;
  /** parameter request list (option 55), already merged with the config's "request" list */
  paramRequestList: number[];
  /** the -broadcast flag: ask the server to broadcast replies even after BOUND */
  alwaysBroadcast: boolean;
  /**
   * The BOOTP broadcast flag on DISCOVER and the REQUESTs before BOUND (default "always").
   * "always" where a frame unicast to the pod's MAC cannot reach it before the address is set
   * (ipvlan: the slaves share the master's MAC and are told apart by IP address). "alternate"
   * elsewhere: the first send of a phase asks for a unicast reply and each retransmission
   * flips the flag, so a server's answers are not flooded to every port of a bridge, and a
   * path that only carries broadcasts still answers within one retransmission.
   */
  acquireBroadcast?: AcquireBroadcast;
  /** cap of one retransmission interval, ms (-resendmax, default 62 s) */
  resendMaxMs: number;
  /** budget for one exchange's retransmissions before it restarts with a new xid, ms (-resendtimeout, 208 s) */
  resendTimeoutMs: number;
  /** max DHCP message size we accept (option 57): the link MTU less the IP and UDP headers */
  maxMessageSize: number;
  /** default "move" */
  onAddressChange?: AddressChangePolicy;
  /** ask the edge to ARP-probe a newly acknowledged address (never a renewal) before binding it */
  probeAddress?: boolean;
}

/** What is persisted and what a restarted daemon resumes from. */
export interface LeaseRecord {
  address: string;
  prefixLength: number;
  serverId: string;
  /** MAC the server's ACK came from; the unicast renewal goes there */
  serverMac?: string;
  /** ms since epoch when the REQUEST that the ACK answers was sent (RFC 2131 4.4.1: the start of the lease) */
  boundAt: number;
  /** seconds as granted, already sanitized: 0 < t1 < t2 < leaseTime; 0xffffffff = infinite */
  leaseTime: number;
  t1: number;
  t2: number;
  params: ReplyParams;
  /** the last time the server gave this attachment another address than the pod had */
  changedFrom?: { address: string; prefixLength: number; at: number };
  /** set on the pod's lease once the attachment is LOST (persisted, so a restart stays LOST) */
  lost?: { at: number; offered: string; reason: string };
}

export type MachineEvent =
  /** start acquiring: INIT → SELECTING (DISCOVER); `requestedIp` adds option 50 */
  | { type: 'start'; requestedIp?: string }
  /** resume a stored lease after a restart; the machine picks BOUND/RENEWING/REBINDING/INIT_REBOOT from `now` */
  | { type: 'resume'; lease: LeaseRecord }
  /** a decoded reply that passed the edge's frame checks; srcMac is the Ethernet source */
  | { type: 'packet'; msg: DhcpMessage; params: ReplyParams; srcMac?: Buffer }
  /** the single timer armed by the last 'arm' action fired */
  | { type: 'timer' }
  /** DEL: send RELEASE if bound, then stop */
  | { type: 'release' }
  /** stop without sending anything (vanished interface, daemon shutdown) */
  | { type: 'stop' }
  /**
   * the edge could not move the pod to the address just bound: RELEASE it and go LOST,
   * remembering `podLease`, the lease whose address the pod still carries
   */
  | { type: 'abandon'; podLease: LeaseRecord; reason: string }
  /** the verdict of the ARP probe the 'probe' action asked for; a conflict is DECLINEd */
  | { type: 'probe-result'; address: string; conflict: boolean };

export type MachineAction =
  /**
   * Send a message. srcIp is the IP source (0.0.0.0 before BOUND, the leased address after);
   * dstIp 255.255.255.255 for broadcast; dstMac undefined means Ethernet broadcast.
   */
  | { type: 'send'; msg: DhcpMessage; srcIp: string; dstIp: string; dstMac?: Buffer }
  /** (re)arm the machine's single timer at absolute time `at` (ms); replaces any earlier one */
  | { type: 'arm'; at: number }
  | { type: 'disarm' }
  /**
   * a lease was obtained or renewed; the edge persists it and answers a pending ADD. With
   * `changedFrom` the pod still carries that lease's address: the edge moves it to `lease`.
   */
  | { type: 'bound'; lease: LeaseRecord; renewed: boolean; changedFrom?: LeaseRecord }
  /** the attachment is LOST (see LeaseState); `podLease` (with `lost` set) is what to persist */
  | { type: 'lost'; podLease: LeaseRecord; offered?: LeaseRecord; reason: string }
  /** the lease expired without renewal; the address must be considered lost (never touch the link) */
  | { type: 'expired'; lease: LeaseRecord }
  /** our server NAKed us; the machine already went back to INIT */
  | { type: 'nak'; serverId: string; message?: string }
  /** state changed */
  | { type: 'transition'; from: LeaseState; to: LeaseState; reason: string; xid: number }
  /** a reply was ignored (wrong xid, other server, bad fields); counted as dropped, under `label` when given */
  | { type: 'ignored'; reason: string; label?: 'ack-wrong-address' }
  /** a reply was unusable (ACK without mask or server id); ADD should fail with this reason */
  | { type: 'bad-reply'; reason: string }
  /**
   * ARP-probe `address` (just ACKed in REQUESTING or REBOOTING) and answer with 'probe-result';
   * the machine holds the lease, with no timer armed, until then
   */
  | { type: 'probe'; address: string };
