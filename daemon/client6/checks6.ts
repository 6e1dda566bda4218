/**
 * Validation of server messages (RFC 8415 §16.10, §16.3, §18.2.10) and what each one means for
 * the machine. Pure: a Reply6 (already decoded option by option) goes in, an outcome comes out.
 */
import { isLeasable6 } from '../dhcp6/addr6';
import { Status6, type IaAddress, type IaNa, type Reply6, type StatusCode6 } from '../dhcp6/types';
import { sanitizeLifetimes6 } from './timing6';
import type { Lease6Record, Machine6Config } from './types6';

export type StatusOutcome = 'use-multicast' | 'not-on-link' | 'no-binding' | 'no-addrs';

export type Outcome6 =
  | { kind: 'lease'; lease: Lease6Record; preference: number }
  | { kind: 'status'; status: StatusOutcome; detail: string }
  | { kind: 'ignore'; reason: string };

const hex = (b: Buffer): string => b.toString('hex');

function describe(s: StatusCode6): string {
  return s.message === '' ? `status ${s.code}` : `status ${s.code} (${s.message})`;
}

/** §16.10 and §16.3: the transaction, our Client ID, a Server ID. */
export function checkHeader(reply: Reply6, xid: number, config: Machine6Config): string | undefined {
  if (reply.xid !== xid) return `xid ${reply.xid.toString(16)} is not ours (${xid.toString(16)})`;
  if (reply.clientId === undefined) return 'no Client ID';
  if (!reply.clientId.equals(config.duid)) return 'Client ID is not ours';
  if (reply.serverId === undefined) return 'no Server ID';
  return undefined;
}

function fromStatus(s: StatusCode6 | undefined): StatusOutcome | 'failed' | undefined {
  switch (s?.code) {
    case undefined:
    case Status6.SUCCESS: return undefined;
    case Status6.USE_MULTICAST: return 'use-multicast';
    case Status6.NOT_ON_LINK: return 'not-on-link';
    case Status6.NO_BINDING: return 'no-binding';
    case Status6.NO_ADDRS_AVAIL: return 'no-addrs';
    default: return 'failed';
  }
}

/** Our IA_NA, unless §21.4 says to discard it (T1 > T2 with both set). */
function ourIa(reply: Reply6, iaid: number): IaNa | string {
  const ia = reply.iaNa.find((x) => x.iaid === iaid);
  if (ia === undefined) return `no IA_NA for IAID ${iaid}`;
  if (ia.t1 > 0 && ia.t2 > 0 && ia.t1 > ia.t2) return `IA_NA with T1 ${ia.t1} > T2 ${ia.t2} discarded`;
  return ia;
}

/** The first address we may use: leasable, valid > 0, preferred <= valid, no failure status. */
function usable(ia: IaNa): { address: IaAddress; times: NonNullable<ReturnType<typeof sanitizeLifetimes6>> } | undefined {
  for (const a of ia.addresses) {
    if (!isLeasable6(a.address) || fromStatus(a.status) !== undefined) continue;
    const times = sanitizeLifetimes6(ia.t1, ia.t2, a.preferredLifetime, a.validLifetime);
    if (times !== undefined) return { address: a, times };
  }
  return undefined;
}

/**
 * What an ADVERTISE or REPLY (already past checkHeader) offers. A message-level status wins
 * over the IA's; UnspecFail and unknown codes are ignored, so retransmission carries on.
 */
export function evaluate(reply: Reply6, config: Machine6Config, now: number, srcMac: Buffer | undefined): Outcome6 {
  const server = reply.serverId!;
  const top = fromStatus(reply.status);
  if (top === 'failed') return { kind: 'ignore', reason: `server ${hex(server)}: ${describe(reply.status!)}` };
  if (top !== undefined) return { kind: 'status', status: top, detail: describe(reply.status!) };
  const ia = ourIa(reply, config.iaid);
  if (typeof ia === 'string') return { kind: 'ignore', reason: ia };
  const iaStatus = fromStatus(ia.status);
  if (iaStatus === 'failed') return { kind: 'ignore', reason: `IA_NA ${describe(ia.status!)}` };
  if (iaStatus !== undefined) return { kind: 'status', status: iaStatus, detail: `IA_NA ${describe(ia.status!)}` };
  const got = usable(ia);
  if (got === undefined) return { kind: 'status', status: 'no-addrs', detail: 'no usable address in IA_NA' };
  const lease: Lease6Record = {
    address: got.address.address,
    iaid: config.iaid,
    duid: hex(config.duid),
    serverId: hex(server),
    boundAt: now,
    preferredLifetime: got.times.preferred,
    validLifetime: got.times.valid,
    t1: got.times.t1,
    t2: got.times.t2,
  };
  if (reply.serverUnicast !== undefined) lease.serverUnicast = reply.serverUnicast;
  if (srcMac !== undefined && srcMac.length === 6) lease.serverMac = [...srcMac].map((b) => b.toString(16).padStart(2, '0')).join(':');
  if (reply.dnsServers !== undefined) lease.dnsServers = reply.dnsServers;
  if (reply.domainSearch !== undefined) lease.domainSearch = reply.domainSearch;
  return { kind: 'lease', lease, preference: reply.preference ?? 0 };
}

const HEX = /^(?:[0-9a-f]{2})+$/;

/** A stored lease as read back from disk, or undefined if any field is unusable. */
export function checkStoredLease6(l: Lease6Record, config: Machine6Config): Lease6Record | undefined {
  if (typeof l !== 'object' || l === null) return undefined;
  if (!isLeasable6(l.address) || l.iaid !== config.iaid || l.duid !== hex(config.duid)) return undefined;
  if (typeof l.serverId !== 'string' || !HEX.test(l.serverId) || !Number.isFinite(l.boundAt)) return undefined;
  if (l.serverUnicast !== undefined && !isLeasable6(l.serverUnicast)) return undefined;
  const times = sanitizeLifetimes6(l.t1, l.t2, l.preferredLifetime, l.validLifetime);
  if (times === undefined || times.t1 !== l.t1 || times.t2 !== l.t2 || times.valid !== l.validLifetime) return undefined;
  return l;
}
