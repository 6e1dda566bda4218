/**
 * The ADD result, through the shared renderer, with the three places where the reference's
 * Go types print something the renderer does not: `dns` is always present (a struct is never
 * "empty" to omitempty), `ips` is left out when there are none, and a 0.1.0/0.2.0 result with
 * no address at all cannot be expressed.
 */
import { InvalidConfigError } from '../shared/errors';
import { compareVersions, type CniVersion } from '../shared/cni-version';
import { renderResult, type IpamResult } from '../shared/cni-result';
import { cidrString, ipString } from '../shared/go-ip';
import type { StaticConfig } from './static-config';

export function staticResult(cfg: StaticConfig): IpamResult {
  return {
    ips: cfg.addresses.map((a) =>
      a.gateway ? { address: cidrString(a.cidr), gateway: ipString(a.gateway) } : { address: cidrString(a.cidr) },
    ),
    routes: cfg.routes,
    dns: cfg.dns,
  };
}

export function renderStaticResult(cfg: StaticConfig, version: CniVersion): Record<string, unknown> {
  const result = staticResult(cfg);
  const legacy = compareVersions(version, '0.3.0') < 0;
  if (legacy && result.ips.length === 0) {
    // the reference's words, with code 7 instead of its catch-all 999
    throw new InvalidConfigError('cannot convert: no valid IP addresses');
  }
  const out = renderResult(result, version);
  if (!legacy && result.ips.length === 0) delete out.ips;
  out.dns ??= {};
  return out;
}
