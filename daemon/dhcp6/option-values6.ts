/**
 * Encoders and decoders of the option values a client sends or reads: DUID (RFC 8415 §11),
 * IA_NA with nested IA Address and Status Code (§21.4, §21.6, §21.13), ORO, Elapsed Time,
 * Preference, Server Unicast, DNS servers (RFC 3646). Decoders throw MalformedPacketError;
 * encoders throw RangeError on values they cannot represent.
 */
import { MalformedPacketError } from '../../shared/errors';
import { ByteReader } from '../wire/byte-reader';
import { ByteWriter } from '../wire/byte-writer';
import { walkOptions6, writeOptions6 } from './options6';
import { Opt6, type Duid, type IaAddress, type IaNa, type RawOption6, type StatusCode6 } from './types';

/** RFC 8415 §11.1: at most 128 octets after the 2-octet type. */
export const MAX_DUID_LEN = 130;
const MAX_STATUS_TEXT = 255;
const DUID_TYPE = { llt: 1, en: 2, ll: 3, uuid: 4 } as const;

function fail(reason: string): never {
  throw new MalformedPacketError(reason);
}

export function option6(code: number, data: Buffer = Buffer.alloc(0)): RawOption6 {
  return { code, data };
}

// ---- DUID ----------------------------------------------------------------------------------

export function decodeDuid(value: Buffer): Duid {
  if (value.length < 3 || value.length > MAX_DUID_LEN) fail(`DUID of ${value.length} bytes (3..${MAX_DUID_LEN})`);
  const r = new ByteReader(value, 'DUID');
  const type = r.u16();
  switch (type) {
    case DUID_TYPE.llt: {
      if (value.length < 9) fail('DUID-LLT shorter than 9 bytes');
      const hwType = r.u16();
      const time = r.u32();
      return { type: 'llt', hwType, time, linkLayer: Buffer.from(r.bytes(r.remaining)) };
    }
    case DUID_TYPE.en: {
      if (value.length < 7) fail('DUID-EN shorter than 7 bytes');
      const enterprise = r.u32();
      return { type: 'en', enterprise, identifier: Buffer.from(r.bytes(r.remaining)) };
    }
    case DUID_TYPE.ll: {
      if (value.length < 5) fail('DUID-LL shorter than 5 bytes');
      const hwType = r.u16();
      return { type: 'll', hwType, linkLayer: Buffer.from(r.bytes(r.remaining)) };
    }
    case DUID_TYPE.uuid:
      if (value.length !== 18) fail(`DUID-UUID of ${value.length} bytes, expected 18`);
      return { type: 'uuid', uuid: Buffer.from(r.bytes(16)) };
    default:
      return { type: 'other', code: type, data: Buffer.from(r.bytes(r.remaining)) };
  }
}

export function encodeDuid(duid: Duid): Buffer {
  const w = new ByteWriter(32);
  switch (duid.type) {
    case 'llt': w.u16(DUID_TYPE.llt).u16(duid.hwType).u32(duid.time).bytes(duid.linkLayer); break;
    case 'en': w.u16(DUID_TYPE.en).u32(duid.enterprise).bytes(duid.identifier); break;
    case 'll': w.u16(DUID_TYPE.ll).u16(duid.hwType).bytes(duid.linkLayer); break;
    case 'uuid':
      if (duid.uuid.length !== 16) throw new RangeError(`UUID of ${duid.uuid.length} bytes`);
      w.u16(DUID_TYPE.uuid).bytes(duid.uuid);
      break;
    case 'other':
      if (Object.values(DUID_TYPE).includes(duid.code as 1)) throw new RangeError(`DUID type ${duid.code} has its own form`);
      w.u16(duid.code).bytes(duid.data);
      break;
  }
  const out = w.toBuffer();
  try {
    decodeDuid(out);
  } catch (err) {
    throw new RangeError(`cannot encode this DUID: ${(err as Error).message}`);
  }
  return out;
}

// ---- Status Code ---------------------------------------------------------------------------

/** Printable ASCII only: anything else (control, DEL, UTF-8 bytes) becomes '?'. */
function printable(value: Buffer): string {
  let s = '';
  for (const b of value.subarray(0, MAX_STATUS_TEXT)) s += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '?';
  return s;
}

export function decodeStatus(value: Buffer): StatusCode6 {
  if (value.length < 2) fail(`status code of ${value.length} bytes`);
  return { code: value.readUInt16BE(0), message: printable(value.subarray(2)) };
}

export function encodeStatus(status: StatusCode6): Buffer {
  const w = new ByteWriter(2 + status.message.length);
  return w.u16(status.code).bytes(Buffer.from(status.message, 'utf8')).toBuffer();
}

/** At most one Status Code among `options` (RFC 8415 §21.13 allows one per level). */
function statusAmong(options: RawOption6[], where: string): StatusCode6 | undefined {
  const found = options.filter((o) => o.code === Opt6.STATUS_CODE);
  if (found.length > 1) fail(`${where}: ${found.length} status codes`);
  return found[0] === undefined ? undefined : decodeStatus(found[0].data);
}

// ---- IA_NA / IA Address --------------------------------------------------------------------

export function decodeIaAddress(value: Buffer): IaAddress {
  if (value.length < 24) fail(`IA Address of ${value.length} bytes, the minimum is 24`);
  const r = new ByteReader(value, 'IA Address');
  const address = r.ip6();
  const preferredLifetime = r.u32();
  const validLifetime = r.u32();
  const status = statusAmong(walkOptions6(value, 24, value.length, 'IA Address options'), 'IA Address');
  const out: IaAddress = { address, preferredLifetime, validLifetime };
  if (status !== undefined) out.status = status;
  return out;
}

export function encodeIaAddress(a: IaAddress): Buffer {
  const w = new ByteWriter(28);
  w.ip6(a.address).u32(a.preferredLifetime).u32(a.validLifetime);
  if (a.status !== undefined) writeOptions6(w, [option6(Opt6.STATUS_CODE, encodeStatus(a.status))]);
  return w.toBuffer();
}

/** Options other than IA Address and Status Code inside an IA_NA are skipped, as §21.4 lets us. */
export function decodeIaNa(value: Buffer): IaNa {
  if (value.length < 12) fail(`IA_NA of ${value.length} bytes, the minimum is 12`);
  const r = new ByteReader(value, 'IA_NA');
  const iaid = r.u32();
  const t1 = r.u32();
  const t2 = r.u32();
  const nested = walkOptions6(value, 12, value.length, `IA_NA ${iaid} options`);
  const addresses = nested.filter((o) => o.code === Opt6.IAADDR).map((o) => decodeIaAddress(o.data));
  const status = statusAmong(nested, `IA_NA ${iaid}`);
  const out: IaNa = { iaid, t1, t2, addresses };
  if (status !== undefined) out.status = status;
  return out;
}

export function encodeIaNa(ia: IaNa): Buffer {
  const w = new ByteWriter(64);
  w.u32(ia.iaid).u32(ia.t1).u32(ia.t2);
  const nested = ia.addresses.map((a) => option6(Opt6.IAADDR, encodeIaAddress(a)));
  if (ia.status !== undefined) nested.push(option6(Opt6.STATUS_CODE, encodeStatus(ia.status)));
  writeOptions6(w, nested);
  return w.toBuffer();
}

// ---- small options -------------------------------------------------------------------------

export function encodeOro(codes: readonly number[]): Buffer {
  const w = new ByteWriter(codes.length * 2);
  for (const c of codes) w.u16(c);
  return w.toBuffer();
}

export function decodeOro(value: Buffer): number[] {
  if (value.length % 2 !== 0) fail(`ORO of odd length ${value.length}`);
  const out: number[] = [];
  for (let i = 0; i < value.length; i += 2) out.push(value.readUInt16BE(i));
  return out;
}

/** Elapsed Time is in hundredths of a second, 0xffff meaning "longer" (§21.9). */
export function encodeElapsed(centiseconds: number): Buffer {
  const w = new ByteWriter(2);
  return w.u16(Math.min(0xffff, Math.max(0, Math.floor(centiseconds)))).toBuffer();
}

export function decodeElapsed(value: Buffer): number {
  if (value.length !== 2) fail(`elapsed time of ${value.length} bytes, expected 2`);
  return value.readUInt16BE(0);
}

export function decodePreference(value: Buffer): number {
  if (value.length !== 1) fail(`preference of ${value.length} bytes, expected 1`);
  return value[0]!;
}

export function decodeUnicast(value: Buffer): string {
  if (value.length !== 16) fail(`server unicast of ${value.length} bytes, expected 16`);
  return new ByteReader(value, 'server unicast').ip6();
}

export function decodeEmpty(value: Buffer, what: string): true {
  if (value.length !== 0) fail(`${what} of ${value.length} bytes, expected none`);
  return true;
}

export function decodeAddressList6(value: Buffer): string[] {
  if (value.length === 0 || value.length % 16 !== 0) fail(`length ${value.length} is not a non-zero multiple of 16`);
  const r = new ByteReader(value, 'address list');
  const out: string[] = [];
  while (r.remaining > 0) out.push(r.ip6());
  return out;
}

export function encodeAddressList6(addresses: readonly string[]): Buffer {
  const w = new ByteWriter(addresses.length * 16);
  for (const a of addresses) w.ip6(a);
  return w.toBuffer();
}
