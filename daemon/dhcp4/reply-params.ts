/**
 * Option-by-option validation of a reply. Each option is decoded on its own; a bad one lands in
 * `rejected` with the reason and stays undefined, so one bad option never poisons the rest.
 * Nothing here throws: parseReplyParams runs on anything a server sends.
 */
import { MalformedPacketError } from '../../shared/errors';
import { bufferToIp, prefixFromMask } from './addr';
import { parseClasslessRoutes } from './classless-routes';
import { parseDnsNameText, parseDomainSearch } from '../wire/dns-name';
import { parseStaticRoutes } from './static-routes';
import { Opt, type ReplyParams } from './types';

const MIN_MTU = 68; // RFC 791: every IPv4 host must handle 68-byte datagrams
const MAX_MESSAGE_TEXT = 255;

type Fields = Omit<ReplyParams, 'rejected'>;
type Decoder = (value: Buffer, out: Fields) => void;

function fail(reason: string): never {
  throw new MalformedPacketError(reason);
}

/**
 * Exactly 4 bytes: busybox udhcpc (CVE-2018-20679) read 4 bytes from shorter options, leaking
 * memory into the lease; we refuse any other length.
 */
function exact4(value: Buffer): Buffer {
  if (value.length !== 4) fail(`length ${value.length}, expected exactly 4`);
  return value;
}

function addressList(value: Buffer): string[] {
  if (value.length === 0 || value.length % 4 !== 0) {
    fail(`length ${value.length} is not a non-zero multiple of 4`);
  }
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 4) out.push(bufferToIp(value, i));
  return out;
}

/** Printable ASCII only: anything else (control, DEL, non-ASCII) becomes '?'. */
function printableMessage(value: Buffer): string {
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--; // C servers often send the terminating NUL
  let s = '';
  for (const b of value.subarray(0, Math.min(end, MAX_MESSAGE_TEXT))) {
    s += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '?';
  }
  return s;
}

const DECODERS = new Map<number, Decoder>([
  [Opt.MESSAGE_TYPE, (v, o) => {
    const t = v[0];
    if (v.length !== 1 || t === undefined || t < 1 || t > 8) fail(`invalid message type ${v.toString('hex')}`);
    o.messageType = t;
  }],
  [Opt.SERVER_ID, (v, o) => { o.serverId = bufferToIp(exact4(v)); }],
  [Opt.SUBNET_MASK, (v, o) => {
    const mask = bufferToIp(exact4(v));
    const prefix = prefixFromMask(mask);
    if (prefix === undefined) fail(`mask ${mask} is not contiguous`);
    o.subnetMask = mask;
    o.prefixLength = prefix;
  }],
  [Opt.ROUTERS, (v, o) => { o.routers = addressList(v); }],
  [Opt.DNS_SERVERS, (v, o) => { o.dnsServers = addressList(v); }],
  [Opt.HOST_NAME, (v, o) => { o.hostName = parseDnsNameText(v); }],
  [Opt.DOMAIN_NAME, (v, o) => { o.domainName = parseDnsNameText(v); }],
  [Opt.DOMAIN_SEARCH, (v, o) => { o.domainSearch = parseDomainSearch(v); }],
  [Opt.INTERFACE_MTU, (v, o) => {
    if (v.length !== 2) fail(`length ${v.length}, expected exactly 2`);
    const mtu = v.readUInt16BE(0);
    if (mtu < MIN_MTU) fail(`MTU ${mtu} is below ${MIN_MTU}`);
    o.mtu = mtu;
  }],
  [Opt.BROADCAST_ADDRESS, (v, o) => { o.broadcastAddress = bufferToIp(exact4(v)); }],
  [Opt.STATIC_ROUTES, (v, o) => { o.staticRoutes = parseStaticRoutes(v); }],
  [Opt.CLASSLESS_ROUTES, (v, o) => { o.classlessRoutes = parseClasslessRoutes(v); }],
  // Any uint32 is kept as sent (0xffffffff = infinite); making 0 < T1 < T2 < lease is the
  // lease state machine's job, which knows the defaults.
  [Opt.LEASE_TIME, (v, o) => { o.leaseTime = exact4(v).readUInt32BE(0); }],
  [Opt.RENEWAL_TIME, (v, o) => { o.renewalTime = exact4(v).readUInt32BE(0); }],
  [Opt.REBINDING_TIME, (v, o) => { o.rebindingTime = exact4(v).readUInt32BE(0); }],
  [Opt.MESSAGE, (v, o) => { o.message = printableMessage(v); }],
]);

/** The option codes parseReplyParams understands; other options are ignored. */
export const REPLY_PARAM_OPTIONS: readonly number[] = [...DECODERS.keys()];

export function parseReplyParams(options: Map<number, Buffer>): ReplyParams {
  const fields: Fields = {};
  const rejected: ReplyParams['rejected'] = [];
  for (const [code, decode] of DECODERS) {
    const value = options.get(code);
    if (value === undefined) continue;
    // Decode into a scratch object so a failure halfway leaves no partial fields behind.
    const scratch: Fields = {};
    try {
      if (!Buffer.isBuffer(value)) fail('value is not a buffer');
      decode(value, scratch);
      Object.assign(fields, scratch);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      rejected.push({ option: code, reason });
    }
  }
  return { ...fields, rejected };
}
