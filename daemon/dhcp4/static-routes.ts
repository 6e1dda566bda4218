/**
 * Option 33, static routes (RFC 2132 §5.8): (destination, router) address pairs, no masks.
 *
 * Interpretation: RFC 2132 predates CIDR and means the destination's classful network. systemd
 * and dhcpcd apply the class mask and clear host bits, so 10.1.2.3 turns into 10.0.0.0/8,
 * far broader than what the server most likely meant. We use the class mask only when the
 * destination's host bits are already zero for its class (10.0.0.0 → /8, 172.16.0.0 → /16,
 * 192.168.1.0 → /24); any other destination becomes a /32 host route, the narrowest reading.
 * Destinations the RFC calls illegal (0.0.0.0) and class D/E ones are skipped entry by entry.
 */
import { MalformedPacketError } from '../../shared/errors';
import { ByteReader } from '../wire/byte-reader';
import { ipToUint32 } from './addr';
import { MAX_CLASSLESS_ROUTES } from './classless-routes';
import type { Route } from './types';

/** Shares option 121's cap, for the same reason. */
export const MAX_STATIC_ROUTES = MAX_CLASSLESS_ROUTES;

export function parseStaticRoutes(value: Buffer): Route[] {
  if (value.length === 0 || value.length % 8 !== 0) {
    throw new MalformedPacketError(`length ${value.length} is not a non-zero multiple of 8`);
  }
  if (value.length / 8 > MAX_STATIC_ROUTES) {
    throw new MalformedPacketError(`more than ${MAX_STATIC_ROUTES} static routes`);
  }
  const r = new ByteReader(value, 'option 33');
  const routes: Route[] = [];
  while (r.remaining > 0) {
    const dst = r.ip();
    const gw = r.ip();
    const prefix = classfulPrefix(dst);
    if (prefix !== undefined) routes.push({ dst: `${dst}/${prefix}`, gw });
  }
  if (routes.length === 0) throw new MalformedPacketError('no usable static route');
  return routes;
}

/** 8/16/24 when dst is a class A/B/C network address, 32 for any other A/B/C address. */
function classfulPrefix(dst: string): number | undefined {
  const n = ipToUint32(dst);
  if (n === 0) return undefined;
  const first = n >>> 24;
  const classBits = first < 128 ? 8 : first < 192 ? 16 : first < 224 ? 24 : undefined;
  if (classBits === undefined) return undefined;
  const hostMask = 0xffffffff >>> classBits;
  return (n & hostMask) === 0 ? classBits : 32;
}
