/**
 * Validation of RPC params: the socket is root-only, but every field is still checked,
 * because the daemon setns()es into paths that callers send it.
 */
import { validateIfname } from '../shared/cni-env';
import { ADDRESS_CHANGE_POLICIES, type AddressChangePolicy } from '../shared/dhcp-config';
import { parseArpProbe, parseIpFamilies, parseIpv6PrefixLength } from '../shared/dhcp-config';
import { LEASES_PAGE_MAX, type AddParams, type AttachmentRef, type CheckParams, type DelParams, type GcParams, type LeasesParams, type ReleaseParams } from '../shared/rpc-protocol';

export class InvalidParams extends Error {
  static override readonly name = 'InvalidParams';
}

type Obj = Record<string, unknown>;
const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function obj(v: unknown): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InvalidParams('params must be an object');
  return v as Obj;
}

function str(o: Obj, k: string, opts: { optional?: boolean; max?: number; re?: RegExp } = {}): string | undefined {
  const v = o[k];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'string' || v === '') throw new InvalidParams(`${k} must be a non-empty string`);
  if (Buffer.byteLength(v) > (opts.max ?? 4096)) throw new InvalidParams(`${k} is too long`);
  if (v.includes('\0')) throw new InvalidParams(`${k} contains NUL`);
  if (opts.re && !opts.re.test(v)) throw new InvalidParams(`${k} has invalid characters`);
  return v;
}

function ifname(o: Obj, k = 'ifname'): string {
  const v = str(o, k, { max: 15 }) as string;
  const bad = validateIfname(v);
  if (bad) throw new InvalidParams(`${k} ${bad}`);
  return v;
}

function netnsPath(o: Obj, k: string, optional = false): string | undefined {
  const v = str(o, k, { optional, max: 4096 });
  if (v !== undefined && !v.startsWith('/')) throw new InvalidParams(`${k} must be an absolute path`);
  return v;
}

function ref(o: Obj): AttachmentRef {
  return {
    containerId: str(o, 'containerId', { max: 1024, re: ID_RE }) as string,
    netName: str(o, 'netName', { max: 1024, re: ID_RE }) as string,
    ifname: ifname(o),
  };
}

function codes(v: unknown, k: string): number[] {
  if (!Array.isArray(v) || v.length > 255) throw new InvalidParams(`${k} must be an array of at most 255 option codes`);
  for (const c of v) if (!Number.isInteger(c) || c < 1 || c > 254) throw new InvalidParams(`${k} holds an invalid option code`);
  return v as number[];
}

export function addParams(p: unknown): AddParams {
  const o = obj(p);
  const provide = o.provide ?? [];
  if (!Array.isArray(provide) || provide.length > 64) throw new InvalidParams('provide must be an array of at most 64 options');
  const out: AddParams = {
    ...ref(o),
    netns: netnsPath(o, 'netns') as string,
    requestList: codes(o.requestList ?? [], 'requestList'),
    provide: provide.map((e) => {
      const eo = obj(e);
      if (!Number.isInteger(eo.code) || (eo.code as number) < 1 || (eo.code as number) > 254) throw new InvalidParams('provide.code is invalid');
      return { code: eo.code as number, value: str(eo, 'value', { max: 255 }) as string };
    }),
  };
  if (o.arpProbe !== undefined) {
    try {
      out.arpProbe = parseArpProbe(o.arpProbe, 'arpProbe');
    } catch (err) {
      throw new InvalidParams((err as Error).message);
    }
  }
  const podName = str(o, 'podName', { optional: true, max: 253 });
  const podNamespace = str(o, 'podNamespace', { optional: true, max: 253 });
  if (podName) out.podName = podName;
  if (podNamespace) out.podNamespace = podNamespace;
  if (o.onAddressChange !== undefined) {
    if (!ADDRESS_CHANGE_POLICIES.includes(o.onAddressChange as AddressChangePolicy)) throw new InvalidParams('onAddressChange must be "move" or "release"');
    out.onAddressChange = o.onAddressChange as AddressChangePolicy;
  }
  try {
    if (o.ipFamilies !== undefined) out.ipFamilies = parseIpFamilies(o.ipFamilies, 'ipFamilies');
    if (o.ipv6PrefixLength !== undefined) out.ipv6PrefixLength = parseIpv6PrefixLength(o.ipv6PrefixLength, 'ipv6PrefixLength');
  } catch (err) {
    throw new InvalidParams((err as Error).message);
  }
  return out;
}

export function delParams(p: unknown): DelParams {
  const o = obj(p);
  const out: DelParams = ref(o);
  const netns = netnsPath(o, 'netns', true);
  if (netns) out.netns = netns;
  return out;
}

export function checkParams(p: unknown): CheckParams {
  const o = obj(p);
  const exp = o.expectedAddresses;
  if (!Array.isArray(exp) || exp.length > 64 || !exp.every((e) => typeof e === 'string' && e.length < 64)) {
    throw new InvalidParams('expectedAddresses must be an array of CIDR strings');
  }
  return { ...ref(o), netns: netnsPath(o, 'netns') as string, expectedAddresses: exp as string[] };
}

export function gcParams(p: unknown): GcParams {
  const o = obj(p);
  const va = o.validAttachments;
  if (!Array.isArray(va) || va.length > 100_000) throw new InvalidParams('validAttachments must be an array');
  return {
    netName: str(o, 'netName', { max: 1024, re: ID_RE }) as string,
    validAttachments: va.map((e) => {
      const eo = obj(e);
      return { containerId: str(eo, 'containerId', { max: 1024 }) as string, ifname: str(eo, 'ifname', { max: 64 }) as string };
    }),
  };
}

export function leasesParams(p: unknown): LeasesParams {
  const o = p === undefined ? {} : obj(p);
  const out: LeasesParams = {};
  const c = str(o, 'containerId', { optional: true, max: 1024 });
  const s = str(o, 'state', { optional: true, max: 32 });
  if (c) out.containerId = c;
  if (s) out.state = s;
  return { ...out, ...pageWindow(o, LEASES_PAGE_MAX) };
}

/** `offset` (≥ 0) and `limit` (1..max) of a paged listing; each absent when not sent. */
export function pageWindow(o: Obj, max: number): { offset?: number; limit?: number } {
  const out: { offset?: number; limit?: number } = {};
  const offset = int(o, 'offset', 0, Number.MAX_SAFE_INTEGER);
  const limit = int(o, 'limit', 1, max);
  if (offset !== undefined) out.offset = offset;
  if (limit !== undefined) out.limit = limit;
  return out;
}

function int(o: Obj, k: string, min: number, max: number): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) throw new InvalidParams(`${k} must be an integer in ${min}..${max}`);
  return v as number;
}

export function releaseParams(p: unknown): ReleaseParams {
  const o = obj(p);
  const out: ReleaseParams = { containerId: str(o, 'containerId', { max: 1024 }) as string };
  if (o.ifname !== undefined) out.ifname = ifname(o);
  return out;
}
