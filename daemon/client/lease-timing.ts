/**
 * Time arithmetic of the DHCP client: lease/T1/T2 sanitizing, the retransmission schedule
 * and the RENEWING/REBINDING retry times. Pure functions; all instants are ms since epoch,
 * all lease durations are seconds as in the wire format.
 */
import type { LeaseRecord } from './machine-types';

/** Option 51 value meaning "never expires" (RFC 2132 9.2). */
export const INFINITE_LEASE = 0xffffffff;

/**
 * The longest finite lease we honour. Every timer of a lease then lies at most 2^31-1 ms after
 * its start, which is the longest delay Node's setTimeout accepts; a shorter lease than the
 * server granted is safe, because it only makes us renew earlier.
 */
export const MAX_LEASE_SECONDS = Math.floor(0x7fffffff / 1000);

/**
 * A lease of 0, or an ACK without option 51 (which RFC 2131 forbids), is taken as this long.
 */
export const DEFAULT_LEASE_SECONDS = 60;
/**
 * Below this many seconds whole-second T1 < T2 < lease is impossible (or degenerate), so T1
 * and T2 become fractions of the lease instead. The lease itself is never lengthened: holding
 * an address past the server's expiry would let it hand the address to someone else while the
 * pod still uses it; a short lease only makes us renew more often.
 */
export const MIN_LEASE_SECONDS = 4;

/** RFC 2131 4.4.5: RENEWING/REBINDING retries wait half the remaining time, at least 60 s. */
export const MIN_RENEW_RETRY_MS = 60_000;

/**
 * The first retransmission interval; it doubles up to MAX_BACKOFF_MS (RFC 2131 4.1). RFC 2131
 * gives 4 s as its example "in a 10Mb/sec Ethernet internetwork"; on a pod's link a round trip
 * takes well under a millisecond and a CNI ADD waits behind the exchange with a 10 s -timeout, so
 * we start at 2 s: a lost DISCOVER or REQUEST costs 2 s, not 4, and three DISCOVERs fit in the
 * ADD's 10 s instead of two. The reference also retries after 2 s ±1 (its resendFastDelay).
 */
export const FIRST_BACKOFF_MS = 2_000;
export const MAX_BACKOFF_MS = 64_000;
/** ±1 s of random fuzz on each interval (RFC 2131 4.1). */
export const BACKOFF_FUZZ_MS = 1_000;
/** Floor of any retransmission interval, so a tiny -resendmax cannot make the machine spin. */
export const MIN_INTERVAL_MS = 1_000;

export interface LeaseTimes {
  /** seconds; INFINITE_LEASE for an infinite lease, then t1 and t2 are INFINITE_LEASE too */
  leaseTime: number;
  t1: number;
  t2: number;
}

function wholeSeconds(value: number | undefined): number | undefined {
  if (value === undefined || !Number.isFinite(value)) return undefined;
  return Math.floor(value);
}

/**
 * The times a lease runs on, from the server's options 51, 58 and 59. The result always holds
 * 0 < t1 < t2 < leaseTime <= the granted lease (or all three infinite). Bad T1/T2 fall back to
 * the RFC defaults, ½ and ⅞ of the lease, as sd-dhcp-client does; whole seconds unless the
 * lease is shorter than MIN_LEASE_SECONDS.
 */
export function sanitizeLeaseTimes(leaseTime?: number, t1?: number, t2?: number): LeaseTimes {
  if (leaseTime === INFINITE_LEASE) {
    return { leaseTime: INFINITE_LEASE, t1: INFINITE_LEASE, t2: INFINITE_LEASE };
  }
  const given = wholeSeconds(leaseTime);
  const lease = Math.min(MAX_LEASE_SECONDS, given === undefined || given <= 0 ? DEFAULT_LEASE_SECONDS : given);
  const short = lease < MIN_LEASE_SECONDS;
  const defaultT1 = short ? lease / 2 : Math.floor(lease / 2);
  const defaultT2 = short ? (lease * 7) / 8 : Math.floor((lease * 7) / 8);

  let rebind = (short ? t2 : wholeSeconds(t2)) ?? 0;
  if (!Number.isFinite(rebind) || rebind <= 0 || rebind >= lease) rebind = defaultT2;
  let renew = (short ? t1 : wholeSeconds(t1)) ?? 0;
  if (!Number.isFinite(renew) || renew <= 0 || renew >= rebind) renew = defaultT1;
  if (renew >= rebind) {
    renew = defaultT1;
    rebind = defaultT2;
  }
  return { leaseTime: lease, t1: renew, t2: rebind };
}

export function isInfinite(lease: Pick<LeaseRecord, 'leaseTime'>): boolean {
  return lease.leaseTime === INFINITE_LEASE;
}

export interface LeaseDeadlines {
  t1At: number;
  t2At: number;
  expiresAt: number;
}

/** Absolute T1, T2 and expiry of a finite lease; undefined for an infinite one. */
export function leaseDeadlines(lease: LeaseRecord): LeaseDeadlines | undefined {
  if (isInfinite(lease)) return undefined;
  return {
    t1At: lease.boundAt + lease.t1 * 1000,
    t2At: lease.boundAt + lease.t2 * 1000,
    expiresAt: lease.boundAt + lease.leaseTime * 1000,
  };
}

/**
 * The wait before retransmission number `attempt` (0 = after the first send): 2, 4, 8, 16,
 * 32, 64, 64, ... s, each ±1 s from `random` ∈ [0,1), capped at `resendMaxMs`.
 */
export function retransmitDelayMs(attempt: number, random: number, resendMaxMs: number): number {
  const doublings = Math.min(Math.max(0, Math.floor(attempt)), 5);
  const base = Math.min(FIRST_BACKOFF_MS * 2 ** doublings, MAX_BACKOFF_MS);
  const unit = Number.isFinite(random) ? Math.min(Math.max(random, 0), 1) : 0.5;
  const fuzzed = base + Math.round((unit * 2 - 1) * BACKOFF_FUZZ_MS);
  return Math.max(MIN_INTERVAL_MS, Math.min(fuzzed, resendMaxMs));
}

/**
 * When to retransmit within an exchange whose budget runs out at `budgetEndsAt`: never later
 * than that, so the exchange restarts on time.
 */
export function nextRetransmitAt(
  now: number,
  attempt: number,
  random: number,
  resendMaxMs: number,
  budgetEndsAt: number,
): number {
  return Math.min(now + retransmitDelayMs(attempt, random, resendMaxMs), Math.max(now + 1, budgetEndsAt));
}

/**
 * RENEWING/REBINDING retry instant: half the time left until `deadline` (T2 or expiry), at
 * least 60 s, but never past the deadline itself (RFC 2131 4.4.5).
 */
export function renewRetryAt(now: number, deadline: number): number {
  const half = Math.floor((deadline - now) / 2);
  return Math.min(deadline, now + Math.max(MIN_RENEW_RETRY_MS, half));
}

/** The `secs` field: whole seconds since the exchange began, never 0 (some servers drop 0). */
export function secondsSince(exchangeStart: number, now: number): number {
  const elapsed = Math.floor((now - exchangeStart) / 1000);
  return Math.min(0xffff, Math.max(1, elapsed));
}

/**
 * The delay before DISCOVERing again after the `naks`-th NAK since we were last bound: none
 * for the first, then 1 s doubling up to -resendmax, so a server that NAKs everything is not
 * hammered (sd-dhcp-client does the same).
 */
export function nakRestartDelayMs(naks: number, resendMaxMs: number): number {
  if (naks <= 1) return 0;
  const delay = MIN_INTERVAL_MS * 2 ** Math.min(naks - 2, 16);
  return Math.min(delay, Math.max(MIN_INTERVAL_MS, resendMaxMs));
}
