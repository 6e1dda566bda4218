/**
 * Option-by-option decoding of a server message into Reply6. Each option is decoded on its own;
 * a bad one lands in `rejected` with the reason and stays undefined, so one bad option never
 * poisons the rest. Options the RFC allows once are rejected when repeated (which one would be
 * the real one is a guess). Nothing here throws: parseReply6 runs on anything a server sends.
 */
import { MalformedPacketError } from '../../shared/errors';
import { parseDomainSearch } from '../wire/dns-name';
import {
  decodeAddressList6, decodeDuid, decodeEmpty, decodeIaNa, decodePreference, decodeStatus, decodeUnicast,
} from './option-values6';
import { Opt6, type Dhcp6Message, type Reply6 } from './types';

type Fields = Omit<Reply6, 'type' | 'xid' | 'iaNa' | 'rapidCommit' | 'reconfigureAccept' | 'rejected'> & {
  rapidCommit?: boolean;
  reconfigureAccept?: boolean;
};
type Decoder = (value: Buffer, out: Fields) => void;

const SINGLETONS = new Map<number, Decoder>([
  [Opt6.CLIENTID, (v, o) => { decodeDuid(v); o.clientId = v; }],
  [Opt6.SERVERID, (v, o) => { decodeDuid(v); o.serverId = v; }],
  [Opt6.PREFERENCE, (v, o) => { o.preference = decodePreference(v); }],
  [Opt6.STATUS_CODE, (v, o) => { o.status = decodeStatus(v); }],
  [Opt6.UNICAST, (v, o) => { o.serverUnicast = decodeUnicast(v); }],
  [Opt6.RAPID_COMMIT, (v, o) => { o.rapidCommit = decodeEmpty(v, 'rapid commit'); }],
  [Opt6.RECONF_ACCEPT, (v, o) => { o.reconfigureAccept = decodeEmpty(v, 'reconfigure accept'); }],
  [Opt6.DNS_SERVERS, (v, o) => { o.dnsServers = decodeAddressList6(v); }],
  [Opt6.DOMAIN_LIST, (v, o) => { o.domainSearch = parseDomainSearch(v, { compression: false }); }],
]);

/** The option codes parseReply6 interprets; others are ignored. */
export const REPLY6_OPTIONS: readonly number[] = [...SINGLETONS.keys(), Opt6.IA_NA];

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function parseReply6(msg: Dhcp6Message): Reply6 {
  const fields: Fields = {};
  const out: Reply6 = { type: msg.type, xid: msg.xid, iaNa: [], rapidCommit: false, reconfigureAccept: false, rejected: [] };
  const counts = new Map<number, number>();
  for (const o of msg.options) counts.set(o.code, (counts.get(o.code) ?? 0) + 1);
  for (const [code, decode] of SINGLETONS) {
    const n = counts.get(code) ?? 0;
    if (n === 0) continue;
    if (n > 1) {
      out.rejected.push({ option: code, reason: `${n} instances where one is allowed` });
      continue;
    }
    const scratch: Fields = {};
    try {
      const value = msg.options.find((o) => o.code === code)!.data;
      if (!Buffer.isBuffer(value)) throw new MalformedPacketError('value is not a buffer');
      decode(value, scratch);
      Object.assign(fields, scratch);
    } catch (err) {
      out.rejected.push({ option: code, reason: reason(err) });
    }
  }
  const iaids = new Set<number>();
  for (const o of msg.options) {
    if (o.code !== Opt6.IA_NA) continue;
    try {
      const ia = decodeIaNa(o.data);
      if (iaids.has(ia.iaid)) throw new MalformedPacketError(`IA_NA ${ia.iaid} repeated`);
      iaids.add(ia.iaid);
      out.iaNa.push(ia);
    } catch (err) {
      out.rejected.push({ option: Opt6.IA_NA, reason: reason(err) });
    }
  }
  return { ...out, ...fields, rapidCommit: fields.rapidCommit ?? false, reconfigureAccept: fields.reconfigureAccept ?? false };
}
