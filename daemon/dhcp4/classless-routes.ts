/**
 * Option 121, classless static routes (RFC 3442): each entry is a width byte 0..32, then
 * ceil(width/8) significant destination octets, then a 4-byte router.
 */
import { MalformedPacketError } from '../../shared/errors';
import { maskBitsFromPrefix, uint32ToIp } from './addr';
import { ByteReader } from '../wire/byte-reader';
import { ByteWriter } from '../wire/byte-writer';
import type { Route } from './types';

/**
 * More entries than this rejects the whole option. TunnelVision (CVE-2024-3661) used option 121
 * to steer traffic around a VPN; a cap cannot stop that (two /1 routes are enough) and our routes
 * only ever land in the pod's own namespace, whose DHCP server the pod already trusts. The cap
 * bounds the work and the route table size a hostile server can cause, and a list that long is
 * far beyond any real deployment; truncating it instead would install a silently partial set.
 */
export const MAX_CLASSLESS_ROUTES = 64;

/** Decodes option 121. Any malformed or truncated entry rejects the whole option. */
export function parseClasslessRoutes(value: Buffer): Route[] {
  if (value.length === 0) throw new MalformedPacketError('empty classless route option');
  const r = new ByteReader(value, 'option 121');
  const routes: Route[] = [];
  while (r.remaining > 0) {
    if (routes.length === MAX_CLASSLESS_ROUTES) {
      throw new MalformedPacketError(`more than ${MAX_CLASSLESS_ROUTES} classless routes`);
    }
    const width = r.u8();
    if (width > 32) throw new MalformedPacketError(`route prefix length ${width} exceeds 32`);
    const significant = r.bytes(Math.ceil(width / 8));
    const dstBytes = Buffer.alloc(4);
    significant.copy(dstBytes);
    // Bits past the prefix must be zero (RFC 3442 §2); we clear them rather than reject.
    const dst = (dstBytes.readUInt32BE(0) & maskBitsFromPrefix(width)) >>> 0;
    const gw = r.ip();
    routes.push({ dst: `${uint32ToIp(dst)}/${width}`, gw });
  }
  return routes;
}

/** Encodes option 121 (for test servers and fixtures). Throws RangeError on a bad route. */
export function encodeClasslessRoutes(routes: Route[]): Buffer {
  const w = new ByteWriter(routes.length * 9);
  for (const route of routes) {
    const m = /^(.+)\/(\d{1,2})$/.exec(route.dst);
    const width = m ? Number(m[2]) : NaN;
    if (!m || !(width <= 32)) throw new RangeError(`invalid route destination ${route.dst}`);
    const dst = new ByteWriter(4).ip(m[1] as string).toBuffer();
    w.u8(width).bytes(dst.subarray(0, Math.ceil(width / 8))).ip(route.gw);
  }
  return w.toBuffer();
}
