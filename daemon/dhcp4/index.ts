/** The pure DHCPv4 codec: message and option encoding, reply validation, IP/UDP framing. */
export * from './types';
export { decodeMessage, encodeMessage, MAGIC_COOKIE, MIN_MESSAGE_SIZE } from './message-codec';
export { parseReplyParams, REPLY_PARAM_OPTIONS } from './reply-params';
export { encodeIpUdp, decodeIpUdp, type IpUdpPacket, type IpUdpSpec } from './ip-udp';
export { internetChecksum } from '../wire/checksum';
export {
  ipToBuffer,
  bufferToIp,
  isValidIPv4,
  prefixFromMask,
  maskFromPrefix,
  ipToUint32,
  uint32ToIp,
  macToString,
  macFromString,
} from './addr';
export { describeMessageType } from './message-type';
export { parseClasslessRoutes, encodeClasslessRoutes, MAX_CLASSLESS_ROUTES } from './classless-routes';
export { parseStaticRoutes } from './static-routes';
export { parseDnsNameText, parseDomainSearch, MAX_SEARCH_NAMES } from '../wire/dns-name';
