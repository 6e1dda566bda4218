/** `cni-dhcp whereabouts pools`: which store to ask for, and the table it prints. Pure but for reading the config file. */
import * as fs from 'node:fs';
import { InvalidConfigError } from '../shared/errors';
import { isObject, type JsonObject } from '../shared/go-json-fields';
import { mergeFlatFile } from '../shared/whereabouts-flat-file';
import type { WbPoolView } from '../shared/whereabouts-protocol';

/** the whereabouts ipam section of a .conf or .conflist (the first plugin that has one), flat file merged in as the shim does */
export function poolsFromConf(file: string): JsonObject {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InvalidConfigError(`${file}: ${(err as Error).message}`);
  }
  const plugins = isObject(raw) && Array.isArray(raw.plugins) ? raw.plugins : [raw];
  for (const p of plugins) {
    if (isObject(p) && isObject(p.ipam) && p.ipam.type === 'whereabouts') return mergeFlatFile(p.ipam).ipam;
  }
  throw new InvalidConfigError(`${file}: no plugin with ipam type "whereabouts"`);
}

export const POOL_HEADER = ['STORE', 'NETWORK_NAME', 'RANGE', 'ADDRESS', 'POD', 'CONTAINER', 'IFNAME', 'NODE', 'SINCE'];

/** one row per allocation; a pool without any gets one row of dashes, so every pool shows */
export function poolRows(pools: WbPoolView[]): string[][] {
  return pools.flatMap((p) => {
    const base = [p.store, p.networkName || '-', p.range];
    if (p.allocations.length === 0) return [[...base, '-', '-', '-', '-', '-', '-']];
    return p.allocations.map((a) => [
      ...base,
      a.address,
      a.podRef || '-',
      a.containerId.slice(0, 16),
      a.ifname || '-',
      a.node || '-',
      a.createdAt > 0 ? new Date(a.createdAt).toISOString().replace(/\.\d+Z$/, 'Z') : '-',
    ]);
  });
}
