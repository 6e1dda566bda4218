/**
 * The DHCPv4 message model shared by the codec (daemon/dhcp4), the client state machine
 * (daemon/client) and the packet edge (daemon/io). Pure data, no behaviour.
 * Addresses are dotted-quad strings; hardware addresses are Buffers.
 */

export const BootOp = { REQUEST: 1, REPLY: 2 } as const;

export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

/** Option codes used by name in the code base (RFC 2132, 3442, 3397, 3396). */
export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTERS: 3,
  DNS_SERVERS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  INTERFACE_MTU: 26,
  BROADCAST_ADDRESS: 28,
  STATIC_ROUTES: 33,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS_ID: 60,
  CLIENT_ID: 61,
  USER_CLASS: 77,
  DOMAIN_SEARCH: 119,
  CLASSLESS_ROUTES: 121,
  END: 255,
} as const;

/**
 * One BOOTP/DHCP message. `options` holds each option's value after RFC 3396 concatenation
 * and after option-overload (52) merging of sname/file, in first-seen order.
 */
export interface DhcpMessage {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The hlen-byte client hardware address (6 bytes for Ethernet). */
  chaddr: Buffer;
  /** sname and file as text when they were not used for option overload; '' otherwise. */
  sname: string;
  file: string;
  options: Map<number, Buffer>;
}

export interface Route {
  /** destination in CIDR form, e.g. "0.0.0.0/0" or "198.18.5.0/24" */
  dst: string;
  /** next hop; "0.0.0.0" means on-link (the route gets link scope) */
  gw: string;
}

/**
 * What a reply tells us, decoded and validated option by option. A field is undefined when the
 * option was absent; options that were present but invalid are listed in `rejected` (with the
 * reason) and left undefined, so one bad option never poisons the rest.
 */
export interface ReplyParams {
  messageType?: number;
  serverId?: string;
  subnetMask?: string;
  /** prefix length derived from subnetMask (contiguous masks only) */
  prefixLength?: number;
  routers?: string[];
  dnsServers?: string[];
  domainName?: string;
  domainSearch?: string[];
  hostName?: string;
  mtu?: number;
  broadcastAddress?: string;
  /** option 33, host routes (classful, as RFC 2132 defines) */
  staticRoutes?: Route[];
  /** option 121, RFC 3442 */
  classlessRoutes?: Route[];
  /** seconds; 0xffffffff = infinite */
  leaseTime?: number;
  renewalTime?: number;
  rebindingTime?: number;
  message?: string;
  rejected: Array<{ option: number; reason: string }>;
}
