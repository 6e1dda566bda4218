/**
 * Reading a parsed JSON config the way Go's encoding/json fills a struct: keys match field
 * names case-insensitively ("IPAM" fills `ipam`), the last matching key wins, and null leaves
 * the field empty. A value of the wrong type is an invalid config (code 7) naming its key.
 */
import { InvalidConfigError } from './errors';

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value Go would decode into field `name`; undefined when absent or null. */
export function goField(obj: JsonObject, name: string): unknown {
  const want = name.toLowerCase();
  let found: unknown;
  for (const [key, value] of Object.entries(obj)) {
    if (key.toLowerCase() === want) found = value;
  }
  return found === null ? undefined : found;
}

function typeName(v: unknown): string {
  return Array.isArray(v) ? 'array' : typeof v;
}

export function optObject(v: unknown, path: string): JsonObject | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw new InvalidConfigError(`${path} must be an object, got ${typeName(v)}`);
  return v;
}

export function optArray(v: unknown, path: string): unknown[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new InvalidConfigError(`${path} must be an array, got ${typeName(v)}`);
  return v;
}

export function optString(v: unknown, path: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new InvalidConfigError(`${path} must be a string, got ${typeName(v)}`);
  return v;
}

/** A []string field; a null element decodes to "" as in Go. */
export function optStringArray(v: unknown, path: string): string[] | undefined {
  const arr = optArray(v, path);
  return arr?.map((item, i) => optString(item === null ? undefined : item, `${path}[${i}]`) ?? '');
}

export function optInteger(v: unknown, path: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new InvalidConfigError(`${path} must be an integer, got ${JSON.stringify(v)}`);
  }
  return v;
}
