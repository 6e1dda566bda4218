/**
 * The DHCPv6 message model (RFC 8415) shared by the codec (daemon/dhcp6), the client state
 * machine (daemon/client6) and the packet edge. Pure data, no behaviour. Addresses are RFC 5952
 * canonical strings; DUIDs and other opaque values are Buffers.
 */

export const MessageType6 = {
  SOLICIT: 1,
  ADVERTISE: 2,
  REQUEST: 3,
  CONFIRM: 4,
  RENEW: 5,
  REBIND: 6,
  REPLY: 7,
  RELEASE: 8,
  DECLINE: 9,
  RECONFIGURE: 10,
  INFORMATION_REQUEST: 11,
  RELAY_FORW: 12,
  RELAY_REPL: 13,
} as const;
export type MessageType6Value = (typeof MessageType6)[keyof typeof MessageType6];

/** Option codes used by name in the code base (RFC 8415 §21, RFC 3646). */
export const Opt6 = {
  CLIENTID: 1,
  SERVERID: 2,
  IA_NA: 3,
  IA_TA: 4,
  IAADDR: 5,
  ORO: 6,
  PREFERENCE: 7,
  ELAPSED_TIME: 8,
  RELAY_MSG: 9,
  AUTH: 11,
  UNICAST: 12,
  STATUS_CODE: 13,
  RAPID_COMMIT: 14,
  USER_CLASS: 15,
  VENDOR_CLASS: 16,
  VENDOR_OPTS: 17,
  INTERFACE_ID: 18,
  RECONF_MSG: 19,
  RECONF_ACCEPT: 20,
  DNS_SERVERS: 23,
  DOMAIN_LIST: 24,
  IA_PD: 25,
  IAPREFIX: 26,
  SOL_MAX_RT: 82,
  INF_MAX_RT: 83,
} as const;

/** RFC 8415 §21.13 status codes. */
export const Status6 = {
  SUCCESS: 0,
  UNSPEC_FAIL: 1,
  NO_ADDRS_AVAIL: 2,
  NO_BINDING: 3,
  NOT_ON_LINK: 4,
  USE_MULTICAST: 5,
  NO_PREFIX_AVAIL: 6,
} as const;

/** UDP ports (RFC 8415 §7.2) and the All_DHCP_Relay_Agents_and_Servers group (§7.1). */
export const CLIENT_PORT6 = 546;
export const SERVER_PORT6 = 547;
export const ALL_DHCP_SERVERS = 'ff02::1:2';

/** 0xffffffff in a lifetime or T1/T2 means infinity (RFC 8415 §7.7). */
export const INFINITY6 = 0xffffffff;

/** One option as it is on the wire: its code and its value (a copy, never a view). */
export interface RawOption6 {
  code: number;
  data: Buffer;
}

/** A client or server message (every type but RELAY-FORW and RELAY-REPL). */
export interface Dhcp6Message {
  kind: 'message';
  type: number;
  /** 24 bits */
  xid: number;
  options: RawOption6[];
}

/** RELAY-FORW / RELAY-REPL: recognised and decoded, never acted on by a client. */
export interface Dhcp6RelayMessage {
  kind: 'relay';
  type: number;
  hopCount: number;
  linkAddress: string;
  peerAddress: string;
  options: RawOption6[];
}

export type Dhcp6Packet = Dhcp6Message | Dhcp6RelayMessage;

export type Duid =
  | { type: 'llt'; hwType: number; time: number; linkLayer: Buffer }
  | { type: 'en'; enterprise: number; identifier: Buffer }
  | { type: 'll'; hwType: number; linkLayer: Buffer }
  | { type: 'uuid'; uuid: Buffer }
  /** a DUID type this code does not interpret; still a valid opaque identifier */
  | { type: 'other'; code: number; data: Buffer };

export interface StatusCode6 {
  code: number;
  /** printable ASCII, '?' for anything else, clipped */
  message: string;
}

export interface IaAddress {
  address: string;
  /** seconds; INFINITY6 = infinite */
  preferredLifetime: number;
  validLifetime: number;
  status?: StatusCode6;
}

export interface IaNa {
  iaid: number;
  /** seconds as sent (0 = the client chooses, INFINITY6 = infinite) */
  t1: number;
  t2: number;
  addresses: IaAddress[];
  status?: StatusCode6;
}

/**
 * What a server message tells a client, decoded and validated option by option. A field is
 * undefined when the option was absent; options that were present but invalid (or duplicated
 * where the RFC allows one) are listed in `rejected` and left undefined.
 */
export interface Reply6 {
  type: number;
  xid: number;
  /** the raw DUID bytes, for comparing with ours */
  clientId?: Buffer;
  /** the raw DUID bytes, echoed in REQUEST/RENEW/RELEASE/DECLINE */
  serverId?: Buffer;
  preference?: number;
  /** the message-level status code */
  status?: StatusCode6;
  iaNa: IaNa[];
  /** option 12: the server lets us unicast to this address */
  serverUnicast?: string;
  rapidCommit: boolean;
  reconfigureAccept: boolean;
  dnsServers?: string[];
  domainSearch?: string[];
  rejected: Array<{ option: number; reason: string }>;
}
