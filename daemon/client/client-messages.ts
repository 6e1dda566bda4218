/**
 * Which fields and options each client message carries in each state, and where it is sent
 * (the counterpart of sd-dhcp-client's dhcp-client-send.c). Pure; the state machine decides
 * when, this file decides what.
 *
 * | message              | ciaddr  | opt 50      | opt 54    | to                       |
 * |----------------------|---------|-------------|-----------|--------------------------|
 * | DISCOVER             | 0       | if wanted   | no        | broadcast                |
 * | REQUEST (SELECTING)  | 0       | offered     | selected  | broadcast                |
 * | REQUEST (INIT-REBOOT)| 0       | old address | no        | broadcast                |
 * | REQUEST (RENEWING)   | address | no          | no        | unicast to the server    |
 * | REQUEST (REBINDING)  | address | no          | no        | broadcast                |
 * | RELEASE              | address | no          | server    | unicast to the server    |
 * | DECLINE              | 0       | the address | server    | broadcast                |
 */
import { ipToBuffer, isValidIPv4, macFromString } from '../dhcp4/addr';
import { BootOp, MessageType, Opt, type DhcpMessage } from '../dhcp4/types';
import { CLIENT_OWNED_OPTIONS } from '../../shared/dhcp-options';
import type { LeaseRecord, MachineAction, MachineConfig } from './machine-types';

export type SendAction = Extract<MachineAction, { type: 'send' }>;

export const ZERO_IP = '0.0.0.0';
export const BROADCAST_IP = '255.255.255.255';
export const BROADCAST_FLAG = 0x8000;

/** The per-exchange values every DISCOVER/REQUEST carries. */
export interface ExchangeFields {
  xid: number;
  /** seconds since the exchange began, already >= 1 */
  secs: number;
  /** set the BOOTP broadcast flag */
  broadcast: boolean;
}

/** An address a client may hold: a unicast IPv4 address, not 0/8, loopback, multicast or broadcast. */
export function isUsableAddress(ip: string | undefined): ip is string {
  if (ip === undefined || !isValidIPv4(ip)) return false;
  const first = ipToBuffer(ip)[0] ?? 0;
  return first !== 0 && first !== 127 && first < 224;
}

/** The 4 bytes of an address option, or undefined when there is no valid address to send. */
function addressOption(ip: string | undefined): Buffer | undefined {
  return ip !== undefined && isValidIPv4(ip) ? ipToBuffer(ip) : undefined;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(Math.min(0xffff, Math.max(576, Math.floor(n))));
  return b;
}

function baseMessage(config: MachineConfig, xid: number, secs: number, flags: number, ciaddr: string): DhcpMessage {
  return {
    op: BootOp.REQUEST,
    htype: 1,
    hlen: config.chaddr.length,
    hops: 0,
    xid: xid >>> 0,
    secs,
    flags,
    ciaddr,
    yiaddr: ZERO_IP,
    siaddr: ZERO_IP,
    giaddr: ZERO_IP,
    chaddr: Buffer.from(config.chaddr),
    sname: '',
    file: '',
    options: new Map(),
  };
}

/**
 * Options shared by DISCOVER and every REQUEST: type, 50 and 54 when given, client id, max
 * size, the same parameter request list each time, then the configured extras.
 */
function acquisitionOptions(
  config: MachineConfig,
  type: number,
  requestedIp: string | undefined,
  serverId: string | undefined,
): Map<number, Buffer> {
  const options = new Map<number, Buffer>();
  options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
  const requested = addressOption(requestedIp);
  if (requested !== undefined) options.set(Opt.REQUESTED_IP, requested);
  const server = addressOption(serverId);
  if (server !== undefined) options.set(Opt.SERVER_ID, server);
  options.set(Opt.CLIENT_ID, Buffer.from(config.clientId));
  options.set(Opt.MAX_MESSAGE_SIZE, u16(config.maxMessageSize));
  if (config.paramRequestList.length > 0) {
    options.set(Opt.PARAMETER_REQUEST_LIST, Buffer.from(config.paramRequestList.map((c) => c & 0xff)));
  }
  for (const [code, value] of config.provide) {
    if (!CLIENT_OWNED_OPTIONS.has(code)) options.set(code, Buffer.from(value));
  }
  return options;
}

function flagsFor(ex: ExchangeFields): number {
  return ex.broadcast ? BROADCAST_FLAG : 0;
}

function broadcastSend(msg: DhcpMessage, srcIp: string): SendAction {
  return { type: 'send', msg, srcIp, dstIp: BROADCAST_IP };
}

/** DHCPDISCOVER, optionally asking for `requestedIp` (option 50). */
export function buildDiscover(config: MachineConfig, ex: ExchangeFields, requestedIp?: string): SendAction {
  const msg = baseMessage(config, ex.xid, ex.secs, flagsFor(ex), ZERO_IP);
  msg.options = acquisitionOptions(config, MessageType.DISCOVER, requestedIp, undefined);
  return broadcastSend(msg, ZERO_IP);
}

/** DHCPREQUEST in REQUESTING: accept the offer of `serverId`. */
export function buildSelectingRequest(
  config: MachineConfig,
  ex: ExchangeFields,
  offered: string,
  serverId: string,
): SendAction {
  const msg = baseMessage(config, ex.xid, ex.secs, flagsFor(ex), ZERO_IP);
  msg.options = acquisitionOptions(config, MessageType.REQUEST, offered, serverId);
  return broadcastSend(msg, ZERO_IP);
}

/** DHCPREQUEST in INIT-REBOOT: verify a remembered address with whichever server answers. */
export function buildRebootRequest(config: MachineConfig, ex: ExchangeFields, address: string): SendAction {
  const msg = baseMessage(config, ex.xid, ex.secs, flagsFor(ex), ZERO_IP);
  msg.options = acquisitionOptions(config, MessageType.REQUEST, address, undefined);
  return broadcastSend(msg, ZERO_IP);
}

/** DHCPREQUEST in RENEWING: unicast to the server that granted the lease, via its MAC if known. */
export function buildRenewRequest(config: MachineConfig, ex: ExchangeFields, lease: LeaseRecord): SendAction {
  const msg = baseMessage(config, ex.xid, ex.secs, flagsFor(ex), lease.address);
  msg.options = acquisitionOptions(config, MessageType.REQUEST, undefined, undefined);
  const dstMac = macFromString(lease.serverMac);
  const send: SendAction = { type: 'send', msg, srcIp: lease.address, dstIp: lease.serverId };
  if (dstMac !== undefined) send.dstMac = dstMac;
  return send;
}

/** DHCPREQUEST in REBINDING: broadcast to any server, still from the leased address. */
export function buildRebindRequest(config: MachineConfig, ex: ExchangeFields, lease: LeaseRecord): SendAction {
  const msg = baseMessage(config, ex.xid, ex.secs, flagsFor(ex), lease.address);
  msg.options = acquisitionOptions(config, MessageType.REQUEST, undefined, undefined);
  return broadcastSend(msg, lease.address);
}

/**
 * DHCPRELEASE: unicast from the leased address (a 0.0.0.0 source makes dnsmasq drop it, the
 * reference's #1278). RFC 2131 table 5: secs 0, no parameter list.
 */
export function buildRelease(config: MachineConfig, xid: number, lease: LeaseRecord): SendAction {
  const msg = baseMessage(config, xid, 0, 0, lease.address);
  msg.options.set(Opt.MESSAGE_TYPE, Buffer.from([MessageType.RELEASE]));
  const server = addressOption(lease.serverId);
  if (server !== undefined) msg.options.set(Opt.SERVER_ID, server);
  msg.options.set(Opt.CLIENT_ID, Buffer.from(config.clientId));
  const dstMac = macFromString(lease.serverMac);
  const send: SendAction = { type: 'send', msg, srcIp: lease.address, dstIp: lease.serverId };
  if (dstMac !== undefined) send.dstMac = dstMac;
  return send;
}

/**
 * DHCPDECLINE: the ACKed address is in use by another host (ARP probe). RFC 2131 4.4.1 and
 * table 5: ciaddr 0, option 50 = the address, option 54 = the server, secs 0; broadcast from
 * 0.0.0.0, since we hold no address.
 */
export function buildDecline(config: MachineConfig, xid: number, lease: LeaseRecord): SendAction {
  const msg = baseMessage(config, xid, 0, 0, ZERO_IP);
  msg.options.set(Opt.MESSAGE_TYPE, Buffer.from([MessageType.DECLINE]));
  const address = addressOption(lease.address);
  if (address !== undefined) msg.options.set(Opt.REQUESTED_IP, address);
  const server = addressOption(lease.serverId);
  if (server !== undefined) msg.options.set(Opt.SERVER_ID, server);
  msg.options.set(Opt.CLIENT_ID, Buffer.from(config.clientId));
  return broadcastSend(msg, ZERO_IP);
}
