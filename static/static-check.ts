/**
 * CHECK: the configured addresses against prevResult, as the reference's cmdCheck does it.
 * An address whose IP is in prevResult must carry the configured gateway, if one is set;
 * prefix lengths are not compared.
 *
 * Differences on purpose: a configured address missing from prevResult fails too (the
 * reference lets it pass, which would make CHECK of an address-less result always succeed),
 * and a missing or unparsable prevResult is code 7, an invalid network config, not 999.
 */
import { InvalidConfigError, UnclassifiedError } from '../shared/errors';
import { ipEqual, ipString, parseCIDR, parseIP, type GoIp } from '../shared/go-ip';
import { goQuote } from './go-quote';
import { goField, isObject, optArray, type JsonObject } from '../shared/go-json-fields';
import type { StaticConfig } from './static-config';

/** The result versions libcni's result types accept for a given config version. */
function resultFamily(configVersion: string): readonly string[] {
  if (configVersion === '0.1.0' || configVersion === '0.2.0') return ['0.1.0', '0.2.0'];
  if (configVersion.startsWith('0.')) return ['0.3.0', '0.3.1', '0.4.0'];
  return ['1.0.0', '1.1.0'];
}

function unparsable(reason: string): InvalidConfigError {
  return new InvalidConfigError(`could not parse prevResult: ${reason}`);
}

/**
 * libcni's ParsePrevResult writes the config's version under the exact key "CNIVersion" when
 * that key is missing or "", re-marshals (keys sorted) and decodes case-insensitively, so a
 * "cniVersion" the prevResult carries itself still wins.
 */
function prevResultVersion(prev: JsonObject, configVersion: string): string {
  const m: JsonObject = { ...prev };
  if (m.CNIVersion === undefined || m.CNIVersion === '') m.CNIVersion = configVersion;
  let version = '';
  for (const key of Object.keys(m).sort()) {
    if (key.toLowerCase() !== 'cniversion' || m[key] === null) continue;
    const v = m[key];
    if (typeof v !== 'string') throw unparsable(`"cniVersion" must be a string`);
    version = v;
  }
  return version;
}

interface PrevIp {
  ip?: GoIp;
  gateway?: GoIp;
}

function decodeCidr(v: unknown): GoIp | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw unparsable(`an address must be a string, got ${JSON.stringify(v)}`);
  const c = parseCIDR(v);
  if (!c) throw unparsable(`invalid CIDR address: ${v}`);
  return c.ip;
}

function decodeIp(v: unknown): GoIp | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw unparsable(`an IP must be a string, got ${JSON.stringify(v)}`);
  const ip = parseIP(v);
  if (!ip) throw unparsable(`invalid IP address: ${v}`);
  return ip;
}

function entries(prev: JsonObject, key: string): JsonObject[] {
  const list = optArray(goField(prev, key), `prevResult.${key}`) ?? [];
  return list.map((item, i) => {
    if (item !== null && !isObject(item)) throw unparsable(`${key}[${i}] must be an object`);
    return item ?? {};
  });
}

/** The IPs of a 0.3.0+ prevResult, after the same decoding the reference does. */
function decodePrevResult(prev: JsonObject, configVersion: string): PrevIp[] {
  const version = prevResultVersion(prev, configVersion);
  const family = resultFamily(configVersion);
  if (!family.includes(version)) {
    throw unparsable(`result type supports [${family.join(' ')}] but unmarshalled CNIVersion is ${goQuote(version)}`);
  }
  for (const route of entries(prev, 'routes')) {
    decodeCidr(goField(route, 'dst'));
    decodeIp(goField(route, 'gw'));
  }
  return entries(prev, 'ips').map((e) => {
    const out: PrevIp = {};
    const ip = decodeCidr(goField(e, 'address'));
    const gateway = decodeIp(goField(e, 'gateway'));
    if (ip) out.ip = ip;
    if (gateway) out.gateway = gateway;
    return out;
  });
}

export function checkStatic(cfg: StaticConfig, raw: JsonObject, configVersion: string, ifname: string): void {
  const prev = goField(raw, 'prevResult');
  if (prev === undefined) throw new InvalidConfigError('Required prevResult missing');
  if (!isObject(prev)) throw unparsable('prevResult must be an object');
  const prevIps = decodePrevResult(prev, configVersion);
  for (const want of cfg.addresses) {
    const found = prevIps.find((p) => p.ip && ipEqual(p.ip, want.cidr.ip));
    if (!found?.ip) {
      throw new UnclassifiedError(`static: address ${ipString(want.cidr.ip)} is not in prevResult on interface ${ifname}`);
    }
    if (want.gateway && !(found.gateway && ipEqual(found.gateway, want.gateway))) {
      throw new UnclassifiedError(`static: Failed to match addr ${ipString(found.ip)} on interface ${ifname}`);
    }
  }
}
