/**
 * Address conflict detection for one candidate address (RFC 5227 2.1), shortened for a
 * CNI ADD that is waiting: `count` probes `intervalMs` apart, then one more interval of
 * listening. Pure: the edge sends the probes it is told to, feeds every ARP packet it sees
 * and fires the timer; the clock is an input.
 *
 * A conflict is, from any MAC but ours: an ARP packet (request or reply) whose sender IP is
 * the address (someone uses it), or a probe (sender 0.0.0.0) for the same address (someone
 * else is about to take it).
 */
import type { ArpPacket } from './arp-packet';

export interface ProbeTiming {
  /** probes to send, >= 1 */
  count: number;
  /** between probes, and how long to listen after the last one */
  intervalMs: number;
}

export type ProbeStep =
  | { type: 'send-probe'; next: number }
  | { type: 'wait'; until: number }
  | { type: 'clear' }
  | { type: 'conflict'; mac: Buffer; reason: string };

export class AddressProbe {
  private sent = 0;
  private nextAt = 0;
  private verdict: ProbeStep | undefined;

  constructor(
    readonly address: string,
    private readonly ownMac: Buffer,
    private readonly timing: ProbeTiming,
  ) {}

  get done(): boolean {
    return this.verdict !== undefined;
  }

  /** The first probe goes out at once. */
  start(now: number): ProbeStep {
    return this.onTimer(now);
  }

  /** What to do at `now`: send a probe (and call again at `next`), wait, or the verdict. */
  onTimer(now: number): ProbeStep {
    if (this.verdict) return this.verdict;
    if (now < this.nextAt) return { type: 'wait', until: this.nextAt };
    if (this.sent < this.timing.count) {
      this.sent += 1;
      this.nextAt = now + this.timing.intervalMs;
      return { type: 'send-probe', next: this.nextAt };
    }
    this.verdict = { type: 'clear' };
    return this.verdict;
  }

  /** A received ARP packet; returns the conflict verdict when it is one, else undefined. */
  onArp(p: ArpPacket): ProbeStep | undefined {
    if (this.verdict) return undefined;
    if (p.senderMac.equals(this.ownMac)) return undefined;
    let reason: string | undefined;
    if (p.senderIp === this.address) reason = p.op === 2 ? 'ARP reply' : 'ARP request';
    else if (p.senderIp === '0.0.0.0' && p.op === 1 && p.targetIp === this.address) reason = 'ARP probe for the same address';
    if (reason === undefined) return undefined;
    this.verdict = { type: 'conflict', mac: Buffer.from(p.senderMac), reason };
    return this.verdict;
  }
}
