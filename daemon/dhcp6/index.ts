/** The pure DHCPv6 codec: messages, option values, reply decoding, IPv6/UDP framing. No I/O. */
export * from './types';
export { decodeMessage6, encodeMessage6, isRelayType, MAX_MESSAGE6 } from './message6-codec';
export { walkOptions6, writeOptions6, MAX_OPTIONS6 } from './options6';
export * from './option-values6';
export { parseReply6, REPLY6_OPTIONS } from './reply6';
export { encodeIp6Udp, decodeIp6Udp, udp6Checksum, IP6_HEADER_LEN, type Ip6UdpPacket, type Ip6UdpSpec } from './ip6-udp';
export * from './addr6';
export { describeMessageType6 } from './message-type6';
