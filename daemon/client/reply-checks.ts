/**
 * Whether a reply is for us and usable in the current state (RFC 2131 4.4, sd-dhcp-client's
 * client_verify/client_handle_*). Pure verdicts; the state machine acts on them. A reply that
 * fails a check never changes state.
 */
import { MessageType, type DhcpMessage, type ReplyParams } from '../dhcp4/types';
import { macToString } from '../dhcp4/addr';
import { isUsableAddress } from './client-messages';
import { sanitizeLeaseTimes } from './lease-timing';
import type { LeaseRecord, LeaseState } from './machine-types';

/** Drop the reply; 'bad-reply' additionally tells a pending ADD why the server's answer is unusable. */
export interface Rejection {
  rejected: 'ignored' | 'bad-reply';
  reason: string;
  label?: 'ack-wrong-address';
}

const REPLIES_EXPECTED: Partial<Record<LeaseState, readonly number[]>> = {
  SELECTING: [MessageType.OFFER],
  EXPIRED: [MessageType.OFFER],
  REQUESTING: [MessageType.ACK, MessageType.NAK],
  REBOOTING: [MessageType.ACK, MessageType.NAK],
  RENEWING: [MessageType.ACK, MessageType.NAK],
  REBINDING: [MessageType.ACK, MessageType.NAK],
};

const TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'DISCOVER', 2: 'OFFER', 3: 'REQUEST', 4: 'DECLINE', 5: 'ACK', 6: 'NAK', 7: 'RELEASE', 8: 'INFORM',
};

function ignored(reason: string): Rejection {
  return { rejected: 'ignored', reason };
}

export function isRejection(value: unknown): value is Rejection {
  return typeof value === 'object' && value !== null && 'rejected' in value;
}

/** What the machine is waiting for, to judge a reply against. */
export interface ReplyContext {
  state: LeaseState;
  xid: number;
  chaddr: Buffer;
  /** the server whose OFFER we accepted (REQUESTING) */
  selectedServer?: string;
  /** the lease being extended (RENEWING, REBINDING) */
  renewal?: LeaseRecord;
  /** the address our REQUEST named: offered (REQUESTING), remembered (REBOOTING), leased (RENEWING, REBINDING) */
  requested?: string;
}

/** The message type, if the reply answers our outstanding request. */
export function checkHeader(ctx: ReplyContext, msg: DhcpMessage, params: ReplyParams): number | Rejection {
  const expected = REPLIES_EXPECTED[ctx.state];
  if (expected === undefined) return ignored(`no request outstanding in ${ctx.state}`);
  if (msg.op !== 2) return ignored('not a BOOTREPLY');
  if (msg.xid >>> 0 !== ctx.xid) return ignored('xid mismatch');
  if (!Buffer.isBuffer(msg.chaddr) || !msg.chaddr.equals(ctx.chaddr)) return ignored('chaddr is not ours');
  const type = params.messageType ?? msg.options.get(53)?.[0];
  if (type === undefined || !expected.includes(type)) {
    return ignored(`unexpected ${TYPE_NAMES[type ?? 0] ?? `message type ${String(type)}`} in ${ctx.state}`);
  }
  return type;
}

export function checkOffer(msg: DhcpMessage, params: ReplyParams): { address: string; serverId: string } | Rejection {
  if (!isUsableAddress(msg.yiaddr)) return ignored('OFFER without a usable yiaddr');
  if (!isUsableAddress(params.serverId)) return ignored('OFFER without a server identifier');
  return { address: msg.yiaddr, serverId: params.serverId };
}

/** The server we must hear from: the selected one in REQUESTING, ours in RENEWING, anyone otherwise. */
function requiredServer(ctx: ReplyContext): string | undefined {
  if (ctx.state === 'REQUESTING') return ctx.selectedServer;
  if (ctx.state === 'RENEWING') return ctx.renewal?.serverId;
  return undefined;
}

/**
 * The lease an ACK grants. On a first bind (REQUESTING, REBOOTING) it must carry a server id
 * and a subnet mask; on a renewal the lease's own values stand in for missing ones. The lease
 * starts at `requestSentAt`, when the REQUEST it answers left (RFC 2131 4.4.1), so our expiry
 * never falls after the server's.
 */
export function checkAck(
  ctx: ReplyContext,
  msg: DhcpMessage,
  params: ReplyParams,
  srcMac: Buffer | undefined,
  requestSentAt: number,
): LeaseRecord | Rejection {
  const renewal = ctx.renewal;
  const address = msg.yiaddr;
  if (!isUsableAddress(address)) return ignored('ACK without a usable yiaddr');
  const requested = ctx.requested ?? renewal?.address;
  if (requested !== undefined && address !== requested) {
    // RFC 2131 4.3.2: the server answers the address we asked for or NAKs; anything else is broken
    return { rejected: 'ignored', reason: `ACK for ${address}, not the requested ${requested}`, label: 'ack-wrong-address' };
  }
  const given = isUsableAddress(params.serverId) ? params.serverId : undefined;
  const required = requiredServer(ctx);
  if (given !== undefined && required !== undefined && given !== required) {
    return ignored(`ACK from another server (${given})`);
  }
  const serverId = given ?? renewal?.serverId;
  if (serverId === undefined) return { rejected: 'bad-reply', reason: 'ACK without a server identifier (option 54)' };
  const mask = params.prefixLength;
  const prefixLength = mask !== undefined && Number.isInteger(mask) && mask > 0 && mask <= 32 ? mask : renewal?.prefixLength;
  if (prefixLength === undefined) return { rejected: 'bad-reply', reason: 'ACK without a usable subnet mask (option 1)' };

  const lease: LeaseRecord = {
    address,
    prefixLength,
    serverId,
    boundAt: requestSentAt,
    ...sanitizeLeaseTimes(params.leaseTime, params.renewalTime, params.rebindingTime),
    params,
  };
  // Through a relay srcMac is the relay's: still the right next hop for the unicast renewal.
  const serverMac = macToString(srcMac) ?? (renewal?.serverId === serverId ? renewal.serverMac : undefined);
  if (serverMac !== undefined) lease.serverMac = serverMac;
  return lease;
}

/**
 * The server id of a NAK we must obey. RFC 2131 requires option 54 in a NAK; without it we
 * cannot tell whose it is, and a forged NAK costs us the address, so it is dropped. In
 * REBOOTING and REBINDING we asked every server on the segment, so any of them may refuse.
 */
export function checkNak(ctx: ReplyContext, params: ReplyParams): string | Rejection {
  const serverId = params.serverId;
  if (!isUsableAddress(serverId)) return ignored('NAK without a server identifier');
  const required = requiredServer(ctx);
  if (required !== undefined && serverId !== required) return ignored(`NAK from another server (${serverId})`);
  return serverId;
}

/**
 * A stored lease made safe to resume from, or undefined when it names no usable address.
 * Times are sanitized again (the file may be old or hand-edited), and a start in the future
 * (the clock stepped back) is moved to `now` so no timer lies beyond setTimeout's range.
 */
export function checkStoredLease(stored: LeaseRecord, now: number): LeaseRecord | undefined {
  const prefix = stored.prefixLength;
  const prefixOk = Number.isInteger(prefix) && prefix > 0 && prefix <= 32;
  if (!isUsableAddress(stored.address) || !isUsableAddress(stored.serverId) || !prefixOk) return undefined;
  const boundAt = Number.isFinite(stored.boundAt) ? Math.min(stored.boundAt, now) : 0;
  return { ...stored, boundAt, ...sanitizeLeaseTimes(stored.leaseTime, stored.t1, stored.t2) };
}
