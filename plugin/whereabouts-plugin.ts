/**
 * The CNI verbs of `whereabouts`: read and validate the config here (code 7 without a daemon
 * round trip), then one RPC to the node's daemon, which owns the store. Like the reference
 * plugins, every verb first checks the network name and cniVersion.
 */
import { CheckFailedError, CniCode, CniError, DaemonUnavailableError, IncompatibleVersionError, InvalidConfigError } from '../shared/errors';
import type { CniEnv } from '../shared/cni-env';
import type { VerbHandler } from '../shared/cni-skel';
import { addressesOf, renderResult, type IpamResult } from '../shared/cni-result';
import { compareVersions, requireAtLeast } from '../shared/cni-version';
import { parseValidAttachments } from '../shared/dhcp-config';
import { cidrContains, parseCIDR, parseIP } from '../shared/go-ip';
import type { JsonObject } from '../shared/go-json-fields';
import { readNetworkHeader, type NetworkHeader } from '../shared/network-header';
import { call, DaemonUnreachableError } from '../shared/rpc-client';
import { ipamSection, parseWhereaboutsIpam, type WhereaboutsIpam } from '../shared/whereabouts-config';
import { mergeFlatFile } from '../shared/whereabouts-flat-file';
import { WB_DAEMON, WbMethod, type WbAllocatedIp, type WbAttachmentParams } from '../shared/whereabouts-protocol';

/** longer than the daemon's own 10 s verb deadline, so its answer (code 11 naming the store) arrives first */
const CALL_TIMEOUT_MS = 30_000;
/** how long DEL waits for a daemon that is restarting before it fails with code 11 */
const DEL_DAEMON_WAIT_MS = 3000;

interface Loaded {
  header: NetworkHeader;
  /** the ipam section with the flat file merged in: what the daemon is sent */
  ipam: JsonObject;
  cfg: WhereaboutsIpam;
}

function load(raw: JsonObject): Loaded {
  const header = readNetworkHeader(raw);
  const { ipam } = mergeFlatFile(ipamSection(raw));
  return { header, ipam, cfg: parseWhereaboutsIpam(ipam) };
}

function podRef(env: CniEnv): string {
  const ns = env.args.get('K8S_POD_NAMESPACE') ?? '';
  const name = env.args.get('K8S_POD_NAME') ?? '';
  return ns !== '' || name !== '' ? `${ns}/${name}` : '';
}

function params(env: CniEnv, l: Loaded): WbAttachmentParams {
  return { network: l.header.name, ipam: l.ipam, containerId: env.containerId, ifname: env.ifname, podRef: podRef(env), netns: env.netns };
}

function rpc<T>(l: Loaded, method: string, p: object, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
  return call<T>(l.cfg.socketPath, method, p, { ...WB_DAEMON, timeoutMs });
}

/** The gateway goes on the address whose network holds it (a v4 gateway never lands on a v6 address). */
export function toResult(ips: WbAllocatedIp[], cfg: WhereaboutsIpam): IpamResult {
  const gw = cfg.gateway === undefined ? null : parseIP(cfg.gateway);
  return {
    ips: ips.map((ip) => {
      const cidr = `${ip.address}/${ip.prefix}`;
      const c = parseCIDR(cidr);
      return gw && c && cidrContains(c, gw) ? { address: cidr, gateway: cfg.gateway as string } : { address: cidr };
    }),
    routes: cfg.routes,
    dns: cfg.dns,
  };
}

const add: VerbHandler = async (env, _stdin, raw) => {
  const l = load(raw);
  const ips = await rpc<WbAllocatedIp[]>(l, WbMethod.Add, params(env, l));
  return { output: renderResult(toResult(ips, l.cfg), l.header.cniVersion) };
};

const del: VerbHandler = async (env, _stdin, raw) => {
  const l = load(raw);
  const giveUpAt = Date.now() + DEL_DAEMON_WAIT_MS;
  for (;;) {
    try {
      await rpc(l, WbMethod.Del, params(env, l));
      return {};
    } catch (err) {
      // an address DEL did not free stays taken: fail (the runtime retries DEL) rather than pretend
      if (!(err instanceof DaemonUnreachableError) || Date.now() >= giveUpAt) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
};

const check: VerbHandler = async (env, _stdin, raw) => {
  const l = load(raw);
  if (compareVersions(l.header.cniVersion, '0.4.0') < 0) throw new IncompatibleVersionError('config version does not allow CHECK');
  if (raw.prevResult === undefined) throw new InvalidConfigError('CHECK needs prevResult in the config');
  const expected = addressesOf(raw.prevResult);
  if (expected.length === 0) throw new CheckFailedError('prevResult holds no IP address to check');
  await rpc(l, WbMethod.Check, { ...params(env, l), expected });
  return {};
};

const status: VerbHandler = async (_env, _stdin, raw) => {
  const l = load(raw);
  requireAtLeast(l.header.cniVersion, '1.1.0', 'STATUS');
  try {
    await rpc(l, WbMethod.Status, { ipam: l.ipam }, 10_000);
  } catch (err) {
    if (err instanceof CniError && err.code === CniCode.TryAgainLater) throw new DaemonUnavailableError(err.message, err.details);
    throw err;
  }
  return {};
};

const gc: VerbHandler = async (_env, _stdin, raw) => {
  const l = load(raw);
  requireAtLeast(l.header.cniVersion, '1.1.0', 'GC');
  const validAttachments = parseValidAttachments(raw);
  if (!validAttachments) throw new InvalidConfigError('GC needs "cni.dev/valid-attachments" in the config');
  await rpc(l, WbMethod.Gc, { network: l.header.name, ipam: l.ipam, validAttachments });
  return {};
};

export const whereaboutsHandlers = { ADD: add, DEL: del, CHECK: check, STATUS: status, GC: gc };
