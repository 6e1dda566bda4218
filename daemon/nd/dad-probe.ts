/**
 * Duplicate Address Detection of one newly leased IPv6 address (RFC 4862 §5.4), run by the
 * daemon because the pod's kernel does not (accept_dad=0, docs/dhcpv6.md). Pure: the schedule
 * is the ARP probe's (daemon/arp/probe.ts: `count` probes `intervalMs` apart, then one more
 * interval of listening); the edge sends the probes, feeds every NS/NA it reads, fires the timer.
 *
 * A conflict (§5.4.3, §5.4.4), from any MAC but ours: a Neighbour Advertisement for the address
 * (a host holds it), or a Neighbour Solicitation for it from :: (a host is doing DAD for it at
 * the same time). An NS for it from a real source is address resolution by a neighbour looking
 * for the address, not a claim, and is not a conflict.
 */
import { AddressProbe, type ProbeStep, type ProbeTiming } from '../arp/probe';
import { canonicalIp6 } from '../dhcp6/addr6';
import { ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, UNSPECIFIED6, type NdPacket } from './nd-packet';

export class DadProbe {
  readonly address: string;
  private readonly schedule: AddressProbe;
  private conflict: ProbeStep | undefined;

  constructor(address: string, private readonly ownMac: Buffer, timing: ProbeTiming) {
    this.address = canonicalIp6(address);
    this.schedule = new AddressProbe(this.address, ownMac, timing);
  }

  get done(): boolean {
    return this.conflict !== undefined || this.schedule.done;
  }

  /** The first probe goes out at once. */
  start(now: number): ProbeStep {
    return this.onTimer(now);
  }

  onTimer(now: number): ProbeStep {
    return this.conflict ?? this.schedule.onTimer(now);
  }

  /** A received NS or NA and the Ethernet source it came from; the conflict verdict, or undefined. */
  onNd(p: NdPacket, srcMac: Buffer): ProbeStep | undefined {
    if (this.done || srcMac.equals(this.ownMac) || p.target !== this.address) return undefined;
    let reason: string | undefined;
    if (p.type === ND_NEIGHBOR_ADVERT) reason = `Neighbour Advertisement from ${p.src}`;
    else if (p.type === ND_NEIGHBOR_SOLICIT && p.src === UNSPECIFIED6) reason = 'DAD probe for the same address from another host';
    if (reason === undefined) return undefined;
    this.conflict = { type: 'conflict', mac: Buffer.from(srcMac), reason };
    return this.conflict;
  }
}
