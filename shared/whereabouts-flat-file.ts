/**
 * Whereabouts' flat file (GetFlatIPAM in its pkg/config): the first of `configuration_path`
 * and the standard locations that exists is read as an ipam object and merged *under* the
 * network's ipam section: a key the section sets wins, a key it leaves out (or null or "")
 * comes from the file, and objects merge key by key (mergo.Merge does the same on Go's zero
 * values; an explicit false or 0 in the section is kept here, where mergo would let the file
 * override it).
 */
import { readFileSync } from 'node:fs';
import { InvalidConfigError } from './errors';
import { goField, isObject, optString, type JsonObject } from './go-json-fields';

export const FLAT_FILE_PATHS = [
  '/etc/kubernetes/cni/net.d/whereabouts.d/whereabouts.conf',
  '/etc/cni/net.d/whereabouts.d/whereabouts.conf',
  '/host/etc/cni/net.d/whereabouts.d/whereabouts.conf',
];

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

/** `base` with every key it leaves empty filled from `under` (keys compared case-insensitively, as Go does). */
export function mergeUnder(base: JsonObject, under: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(under)) {
    const existingKey = Object.keys(out).find((k) => k.toLowerCase() === key.toLowerCase());
    const existing = existingKey === undefined ? undefined : out[existingKey];
    if (isEmpty(existing)) {
      if (existingKey !== undefined) delete out[existingKey];
      out[key] = value;
    } else if (isObject(existing) && isObject(value)) {
      out[existingKey as string] = mergeUnder(existing, value);
    }
  }
  return out;
}

/** Returns the merged ipam section and the file used ('' when none exists). */
export function mergeFlatFile(ipam: JsonObject, paths: string[] = FLAT_FILE_PATHS): { ipam: JsonObject; file: string } {
  const own = optString(goField(ipam, 'configuration_path'), 'ipam.configuration_path');
  for (const file of own ? [own, ...paths] : paths) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new InvalidConfigError(`cannot read the whereabouts flat file ${file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new InvalidConfigError(`the whereabouts flat file ${file} is not JSON: ${(err as Error).message}`);
    }
    if (!isObject(parsed)) throw new InvalidConfigError(`the whereabouts flat file ${file} must hold a JSON object`);
    return { ipam: mergeUnder(ipam, parsed), file };
  }
  return { ipam, file: '' };
}
