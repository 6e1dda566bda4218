/** Validation of the whereabouts RPC params; the ipam section itself is parsed by whereabouts-config.ts. */
import { validateIfname } from '../../shared/cni-env';
import { isObject, type JsonObject } from '../../shared/go-json-fields';
import { WB_PAGE_MAX, type WbAttachmentParams, type WbCheckParams, type WbGcParams, type WbPageParams, type WbPoolsParams, type WbStatusParams } from '../../shared/whereabouts-protocol';
import { InvalidParams, pageWindow } from '../rpc-validate';

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function obj(v: unknown, what = 'params'): JsonObject {
  if (!isObject(v)) throw new InvalidParams(`${what} must be an object`);
  return v;
}

function str(o: JsonObject, k: string, opts: { re?: RegExp; max?: number; empty?: boolean } = {}): string {
  const v = o[k];
  if (typeof v !== 'string' || (v === '' && !opts.empty)) throw new InvalidParams(`${k} must be a${opts.empty ? '' : ' non-empty'} string`);
  if (Buffer.byteLength(v) > (opts.max ?? 1024) || v.includes('\0')) throw new InvalidParams(`${k} is too long or holds NUL`);
  if (v !== '' && opts.re && !opts.re.test(v)) throw new InvalidParams(`${k} has invalid characters`);
  return v;
}

export function attachmentParams(p: unknown): WbAttachmentParams {
  const o = obj(p);
  const ifname = str(o, 'ifname', { max: 15 });
  const bad = validateIfname(ifname);
  if (bad) throw new InvalidParams(`ifname ${bad}`);
  return {
    network: str(o, 'network', { re: ID_RE }),
    ipam: obj(o.ipam, 'ipam'),
    containerId: str(o, 'containerId', { re: ID_RE }),
    ifname,
    podRef: str(o, 'podRef', { max: 507, empty: true }),
    ...(o.netns === undefined ? {} : { netns: str(o, 'netns', { max: 4096, empty: true }) }),
  };
}

export function checkParams(p: unknown): WbCheckParams {
  const o = obj(p);
  const expected = o.expected;
  if (!Array.isArray(expected) || expected.length > 64 || !expected.every((e) => typeof e === 'string' && e.length < 64)) {
    throw new InvalidParams('expected must be an array of CIDR strings');
  }
  return { ...attachmentParams(p), expected: expected as string[] };
}

export function gcParams(p: unknown): WbGcParams {
  const o = obj(p);
  const va = o.validAttachments;
  if (!Array.isArray(va) || va.length > 100_000) throw new InvalidParams('validAttachments must be an array');
  return {
    network: str(o, 'network', { re: ID_RE }),
    ipam: obj(o.ipam, 'ipam'),
    validAttachments: va.map((e) => {
      const eo = obj(e, 'validAttachments[]');
      return { containerId: str(eo, 'containerId'), ifname: str(eo, 'ifname', { max: 64 }) };
    }),
  };
}

export function statusParams(p: unknown): WbStatusParams {
  return { ipam: obj(obj(p).ipam, 'ipam') };
}

export function poolsParams(p: unknown): WbPoolsParams {
  const o = p === undefined || p === null ? {} : obj(p);
  return { ...(o.ipam === undefined ? {} : { ipam: obj(o.ipam, 'ipam') }), ...pageWindow(o, WB_PAGE_MAX) };
}

export function pageParams(p: unknown): WbPageParams {
  return pageWindow(p === undefined || p === null ? {} : obj(p), WB_PAGE_MAX);
}
