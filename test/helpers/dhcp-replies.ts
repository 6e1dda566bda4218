/**
 * Builders of server replies as the packet edge hands them to the state machine: a decoded
 * DhcpMessage plus its ReplyParams. Independent of the codec, so the machine's tests do not
 * depend on it; the options map is filled from the params so both views agree.
 */
import { BootOp, MessageType, Opt, type DhcpMessage, type ReplyParams } from '../../daemon/dhcp4/types';
import type { MachineEvent } from '../../daemon/client/machine-types';

export type PacketEvent = Extract<MachineEvent, { type: 'packet' }>;

export const CLIENT_MAC = Buffer.from([0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
export const SERVER_MAC = Buffer.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
export const SERVER_ID = '198.18.0.1';
export const OTHER_SERVER_ID = '198.18.0.2';
export const OFFERED_IP = '198.18.0.57';

export interface ReplySpec {
  xid: number;
  yiaddr?: string;
  chaddr?: Buffer;
  op?: number;
  /** overrides of the default params; set a key to undefined to leave that option out */
  params?: Partial<ReplyParams>;
  /** Ethernet source; null for none */
  srcMac?: Buffer | null;
}

function ip4(ip: string): Buffer {
  return Buffer.from(ip.split('.').map((p) => Number(p) & 0xff));
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function optionsFrom(p: ReplyParams): Map<number, Buffer> {
  const options = new Map<number, Buffer>();
  if (p.messageType !== undefined) options.set(Opt.MESSAGE_TYPE, Buffer.from([p.messageType]));
  if (p.serverId !== undefined) options.set(Opt.SERVER_ID, ip4(p.serverId));
  if (p.subnetMask !== undefined) options.set(Opt.SUBNET_MASK, ip4(p.subnetMask));
  if (p.routers !== undefined) options.set(Opt.ROUTERS, Buffer.concat(p.routers.map(ip4)));
  if (p.leaseTime !== undefined) options.set(Opt.LEASE_TIME, u32(p.leaseTime));
  if (p.renewalTime !== undefined) options.set(Opt.RENEWAL_TIME, u32(p.renewalTime));
  if (p.rebindingTime !== undefined) options.set(Opt.REBINDING_TIME, u32(p.rebindingTime));
  if (p.message !== undefined) options.set(Opt.MESSAGE, Buffer.from(p.message));
  return options;
}

export function makeReply(messageType: number, defaults: Partial<ReplyParams>, spec: ReplySpec): PacketEvent {
  const params: ReplyParams = { messageType, rejected: [], ...defaults, ...spec.params };
  const msg: DhcpMessage = {
    op: spec.op ?? BootOp.REPLY,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: spec.xid,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: spec.yiaddr ?? (messageType === MessageType.NAK ? '0.0.0.0' : OFFERED_IP),
    siaddr: SERVER_ID,
    giaddr: '0.0.0.0',
    chaddr: Buffer.from(spec.chaddr ?? CLIENT_MAC),
    sname: '',
    file: '',
    options: optionsFrom(params),
  };
  const event: PacketEvent = { type: 'packet', msg, params };
  if (spec.srcMac !== null) event.srcMac = spec.srcMac ?? SERVER_MAC;
  return event;
}

const LEASE_DEFAULTS: Partial<ReplyParams> = {
  serverId: SERVER_ID,
  subnetMask: '255.255.255.0',
  prefixLength: 24,
  routers: ['198.18.0.1'],
  leaseTime: 3600,
};

export function makeOffer(spec: ReplySpec): PacketEvent {
  return makeReply(MessageType.OFFER, LEASE_DEFAULTS, spec);
}

export function makeAck(spec: ReplySpec): PacketEvent {
  return makeReply(MessageType.ACK, LEASE_DEFAULTS, spec);
}

export function makeNak(spec: ReplySpec): PacketEvent {
  return makeReply(MessageType.NAK, { serverId: SERVER_ID, message: 'wrong network' }, spec);
}
