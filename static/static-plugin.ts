/**
 * The verbs of `static`. Like the reference, every verb first checks the network name and
 * cniVersion (libcni's skel does this for any plugin); only ADD and CHECK read `ipam`.
 * Static allocates nothing, so DEL and GC have nothing to release and STATUS nothing to wait for.
 */
import { IncompatibleVersionError } from '../shared/errors';
import { compareVersions, requireAtLeast } from '../shared/cni-version';
import type { VerbHandler } from '../shared/cni-skel';
import { loadStaticConfig } from './static-config';
import { readNetworkHeader } from '../shared/network-header';
import { renderStaticResult } from './static-result';
import { checkStatic } from './static-check';

const add: VerbHandler = async (env, _stdin, raw) => {
  const header = readNetworkHeader(raw);
  const cfg = loadStaticConfig(raw, env.rawArgs, header);
  return { output: renderStaticResult(cfg, header.cniVersion) };
};

const check: VerbHandler = async (env, _stdin, raw) => {
  const header = readNetworkHeader(raw);
  if (compareVersions(header.cniVersion, '0.4.0') < 0) throw new IncompatibleVersionError('config version does not allow CHECK');
  const cfg = loadStaticConfig(raw, env.rawArgs, header);
  checkStatic(cfg, raw, header.cniVersion, env.ifname);
  return {};
};

const del: VerbHandler = async (_env, _stdin, raw) => {
  readNetworkHeader(raw);
  return {};
};

const status: VerbHandler = async (_env, _stdin, raw) => {
  requireAtLeast(readNetworkHeader(raw).cniVersion, '1.1.0', 'STATUS');
  return {};
};

const gc: VerbHandler = async (_env, _stdin, raw) => {
  requireAtLeast(readNetworkHeader(raw).cniVersion, '1.1.0', 'GC');
  return {};
};

export const staticHandlers = { ADD: add, CHECK: check, DEL: del, STATUS: status, GC: gc };

export { staticRunOptions } from './static-options';
