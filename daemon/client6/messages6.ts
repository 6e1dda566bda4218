/**
 * The client's messages (RFC 8415 §18.2): each carries our Client ID, Elapsed Time and, where it
 * asks for configuration, the ORO; REQUEST, RENEW, RELEASE and DECLINE name the server.
 */
import { multicastMac6 } from '../dhcp6/addr6';
import {
  ALL_DHCP_SERVERS, Opt6, MessageType6, encodeElapsed, encodeIaNa, encodeOro, option6, type Dhcp6Message, type IaNa, type RawOption6,
} from '../dhcp6';
import type { Exchange6 } from './timing6';
import type { Lease6Record, Machine6Config } from './types6';

const MULTICAST_MAC = multicastMac6(ALL_DHCP_SERVERS);

export interface Destination6 {
  dst: string;
  dstMac?: Buffer;
}

/**
 * Where a message goes: RENEW, RELEASE and DECLINE unicast to the server's option 12 address
 * (to the MAC its REPLY came from, when known) unless the server refused unicast; everything
 * else to All_DHCP_Relay_Agents_and_Servers (§18.2.10, §21.12).
 */
export function destination(kind: Exchange6, about: Lease6Record | undefined, unicastRefused: boolean): Destination6 {
  const unicastable = kind === 'RENEW' || kind === 'RELEASE' || kind === 'DECLINE';
  if (unicastable && about?.serverUnicast !== undefined && !unicastRefused) {
    const mac = about.serverMac === undefined ? undefined : Buffer.from(about.serverMac.replace(/:/g, ''), 'hex');
    return mac === undefined || mac.length !== 6 ? { dst: about.serverUnicast } : { dst: about.serverUnicast, dstMac: mac };
  }
  return { dst: ALL_DHCP_SERVERS, dstMac: MULTICAST_MAC };
}

export interface Exchange6Fields {
  xid: number;
  /** centiseconds since the exchange's first transmission */
  elapsed: number;
}

function message(type: number, f: Exchange6Fields, options: RawOption6[]): Dhcp6Message {
  return { kind: 'message', type, xid: f.xid, options: [...options, option6(Opt6.ELAPSED_TIME, encodeElapsed(f.elapsed))] };
}

function ia(config: Machine6Config, address?: string): RawOption6 {
  const value: IaNa = { iaid: config.iaid, t1: 0, t2: 0, addresses: [] };
  // lifetimes 0: the client has no preference (§18.2.4, §18.2.5)
  if (address !== undefined) value.addresses.push({ address, preferredLifetime: 0, validLifetime: 0 });
  return option6(Opt6.IA_NA, encodeIaNa(value));
}

const clientId = (c: Machine6Config) => option6(Opt6.CLIENTID, c.duid);
const serverId = (hex: string | Buffer) => option6(Opt6.SERVERID, typeof hex === 'string' ? Buffer.from(hex, 'hex') : hex);
const oro = (c: Machine6Config) => option6(Opt6.ORO, encodeOro(c.oro));

export function solicit(c: Machine6Config, f: Exchange6Fields): Dhcp6Message {
  const options = [clientId(c), ia(c), oro(c)];
  if (c.rapidCommit) options.push(option6(Opt6.RAPID_COMMIT));
  return message(MessageType6.SOLICIT, f, options);
}

export function request(c: Machine6Config, f: Exchange6Fields, server: Buffer | string, address: string): Dhcp6Message {
  return message(MessageType6.REQUEST, f, [clientId(c), serverId(server), ia(c, address), oro(c)]);
}

export function renew(c: Machine6Config, f: Exchange6Fields, lease: Lease6Record): Dhcp6Message {
  return message(MessageType6.RENEW, f, [clientId(c), serverId(lease.serverId), ia(c, lease.address), oro(c)]);
}

/** REBIND goes to any server, so it names none (§18.2.5). */
export function rebind(c: Machine6Config, f: Exchange6Fields, lease: Lease6Record): Dhcp6Message {
  return message(MessageType6.REBIND, f, [clientId(c), ia(c, lease.address), oro(c)]);
}

export function release(c: Machine6Config, f: Exchange6Fields, lease: Lease6Record): Dhcp6Message {
  return message(MessageType6.RELEASE, f, [clientId(c), serverId(lease.serverId), ia(c, lease.address)]);
}

export function decline(c: Machine6Config, f: Exchange6Fields, lease: Lease6Record): Dhcp6Message {
  return message(MessageType6.DECLINE, f, [clientId(c), serverId(lease.serverId), ia(c, lease.address)]);
}
