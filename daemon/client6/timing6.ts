/**
 * Time arithmetic of the DHCPv6 client: the RFC 8415 §15 retransmission schedule with the §7.6
 * parameters, lifetime and T1/T2 sanitizing (§21.4, §21.6), Elapsed Time. Pure functions; all
 * instants are ms since epoch, all lifetimes seconds as on the wire.
 */
import { INFINITY6 } from '../dhcp6/types';

export interface RetransmitParams {
  /** initial retransmission time, ms */
  irt: number;
  /** cap of one interval, ms; 0 = none */
  mrt: number;
  /** transmissions in all before the exchange fails; 0 = no limit */
  mrc: number;
}

/** RFC 8415 §7.6. MRD, where the RFC has one, is set per exchange (T2, valid lifetime, -timeout). */
export const PARAMS = {
  SOLICIT: { irt: 1_000, mrt: 3_600_000, mrc: 0 },
  REQUEST: { irt: 1_000, mrt: 30_000, mrc: 10 },
  RENEW: { irt: 10_000, mrt: 600_000, mrc: 0 },
  REBIND: { irt: 10_000, mrt: 600_000, mrc: 0 },
  RELEASE: { irt: 1_000, mrt: 0, mrc: 4 },
  DECLINE: { irt: 1_000, mrt: 0, mrc: 4 },
} as const satisfies Record<string, RetransmitParams>;
export type Exchange6 = keyof typeof PARAMS;

/** SOL_MAX_DELAY: the first SOLICIT after a mass event waits up to this long (§18.2.1). */
export const SOL_MAX_DELAY_MS = 1_000;

/**
 * The longest finite lifetime we honour: every timer then lies at most 2^31-1 ms after the
 * lease began, the longest delay setTimeout accepts. A shorter lifetime than granted only makes
 * us renew earlier.
 */
export const MAX_LIFETIME6 = Math.floor(0x7fffffff / 1000);

/** RAND of §15 from r ∈ [0,1): uniform in [-0.1, +0.1). */
function rand(r: number): number {
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5;
  return unit * 0.2 - 0.1;
}

/** The first RT of an exchange (§15); the first SOLICIT's must exceed IRT, so its RAND is positive. */
export function firstTimeout(p: RetransmitParams, r: number, firstSolicit = false): number {
  if (firstSolicit) return Math.max(p.irt + 1, Math.round(p.irt + (0.1 - (rand(r) + 0.1) / 2) * p.irt));
  return Math.max(1, Math.round(p.irt + rand(r) * p.irt));
}

/** The RT after `prev` (§15): doubled ± 10 %, or MRT ± 10 % once it would exceed MRT. */
export function nextTimeout(p: RetransmitParams, prev: number, r: number): number {
  let rt = 2 * prev + rand(r) * prev;
  if (p.mrt > 0 && rt > p.mrt) rt = p.mrt + rand(r) * p.mrt;
  return Math.max(1, Math.round(rt));
}

/** Elapsed Time (§21.9): hundredths of a second since the exchange's first transmission, capped. */
export function elapsedCentiseconds(exchangeStart: number, now: number): number {
  return Math.min(0xffff, Math.max(0, Math.floor((now - exchangeStart) / 10)));
}

export interface Lifetimes6 {
  /** seconds; INFINITY6 = infinite. Always 1 <= t1 <= t2 <= valid and preferred <= valid. */
  preferred: number;
  valid: number;
  t1: number;
  t2: number;
}

const inf = (s: number): number => (s === INFINITY6 ? Infinity : s);
const back = (s: number): number => (s === Infinity ? INFINITY6 : s);

/**
 * The times one leased address runs on, from its IA_NA's T1/T2 and the IA Address lifetimes,
 * or undefined when the address must not be used (valid 0, or preferred > valid: §21.6).
 * T1 or T2 of 0 means "the client chooses": 0.5 and 0.8 of the preferred lifetime (§21.4). The
 * result is clamped so that T1 <= T2 <= valid; finite values to whole seconds in
 * [1, MAX_LIFETIME6], so a broken server cannot make us renew in a tight loop.
 */
export function sanitizeLifetimes6(t1Given: number, t2Given: number, preferredGiven: number, validGiven: number): Lifetimes6 | undefined {
  if (![t1Given, t2Given, preferredGiven, validGiven].every((v) => Number.isInteger(v) && v >= 0 && v <= INFINITY6)) return undefined;
  if (validGiven === 0 || preferredGiven > validGiven) return undefined;
  const clamp = (s: number): number => (s === Infinity ? s : Math.min(MAX_LIFETIME6, Math.max(1, Math.floor(s))));
  const valid = clamp(inf(validGiven));
  const preferred = Math.min(valid, clamp(inf(preferredGiven === 0 ? validGiven : preferredGiven)));
  let t2 = t2Given === 0 ? clamp(preferred * 0.8) : clamp(inf(t2Given));
  let t1 = t1Given === 0 ? clamp(preferred * 0.5) : clamp(inf(t1Given));
  t2 = Math.min(t2, valid);
  t1 = Math.min(t1, t2);
  return { preferred: back(preferred), valid: back(valid), t1: back(t1), t2: back(t2) };
}

export interface Deadlines6 {
  t1At: number;
  t2At: number;
  expiresAt: number;
}

/** Absolute T1, T2 and expiry (Infinity where infinite). */
export function deadlines6(boundAt: number, l: Pick<Lifetimes6, 't1' | 't2' | 'valid'>): Deadlines6 {
  const at = (s: number): number => (s === INFINITY6 ? Infinity : boundAt + s * 1000);
  return { t1At: at(l.t1), t2At: at(l.t2), expiresAt: at(l.valid) };
}
