/**
 * What libcni's skel checks before any verb runs, for every plugin: the network name, then the
 * cniVersion (absent means 0.1.0, as in libcni). Fields are read as Go's encoding/json does.
 */
import { DecodeError, InvalidConfigError } from './errors';
import { requireSupportedVersion, type CniVersion } from './cni-version';
import { goField, type JsonObject } from './go-json-fields';

export interface NetworkHeader {
  name: string;
  /** the cniVersion we answer in; an absent one means 0.1.0, as in libcni */
  cniVersion: CniVersion;
  /** the cniVersion as written, "" when absent; the reference quotes it in one message */
  rawVersion: string;
}

const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function readNetworkHeader(raw: JsonObject): NetworkHeader {
  const name = goField(raw, 'name');
  if (name !== undefined && typeof name !== 'string') {
    throw new DecodeError('error unmarshall network config: "name" must be a string');
  }
  if (!name) throw new InvalidConfigError('missing network name');
  if (!NETWORK_NAME_RE.test(name)) throw new InvalidConfigError('invalid characters found in network name', name);
  const version = goField(raw, 'cniVersion');
  if (version !== undefined && typeof version !== 'string') {
    throw new DecodeError('decoding version from network config: "cniVersion" must be a string');
  }
  const rawVersion = version ?? '';
  return { name, rawVersion, cniVersion: requireSupportedVersion(rawVersion === '' ? '0.1.0' : rawVersion) };
}

