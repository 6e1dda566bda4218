/** The CNI verbs of `dhcp`: each is one RPC to the daemon. */
import { CheckFailedError, CniCode, CniError, DaemonUnavailableError, InvalidConfigError } from '../shared/errors';
import type { CniEnv } from '../shared/cni-env';
import type { VerbHandler } from '../shared/cni-skel';
import { renderResult, addressesOf } from '../shared/cni-result';
import { requireAtLeast } from '../shared/cni-version';
import { parseDhcpConfig, resolveProvide } from '../shared/dhcp-config';
import { leaseToResult } from '../shared/dhcp-result';
import { call, DaemonUnreachableError } from '../shared/rpc-client';
import {
  Method,
  type AddParams,
  type CheckParams,
  type DelParams,
  type GcParams,
  type GcResult,
  type LeaseView,
  type StatusResult,
} from '../shared/rpc-protocol';

/** how long DEL waits for an unreachable daemon (a restart) before it gives up, successfully */
const DEL_DAEMON_WAIT_MS = 3000;

function attachment(env: CniEnv, netName: string) {
  return { containerId: env.containerId, netName, ifname: env.ifname };
}

const add: VerbHandler = async (env, _stdin, raw) => {
  const cfg = parseDhcpConfig(raw);
  const params: AddParams = {
    ...attachment(env, cfg.name),
    netns: env.netns,
    provide: resolveProvide(cfg.provide, env.args),
    requestList: cfg.requestList,
    onAddressChange: cfg.onAddressChange,
    arpProbe: cfg.arpProbe,
  };
  // only when asked: an IPv4-only ADD is the same request as before ipFamilies existed
  if (cfg.ipFamilies.includes('ipv6')) {
    params.ipFamilies = cfg.ipFamilies;
    params.ipv6PrefixLength = cfg.ipv6PrefixLength;
  }
  const podName = env.args.get('K8S_POD_NAME');
  const podNamespace = env.args.get('K8S_POD_NAMESPACE');
  if (podName) params.podName = podName;
  if (podNamespace) params.podNamespace = podNamespace;
  const lease = await call<LeaseView>(cfg.socketPath, Method.Add, params);
  const result = leaseToResult(lease, { priority: cfg.priority, omitGateway: cfg.omitGateway });
  return { output: renderResult(result, cfg.cniVersion) };
};

const del: VerbHandler = async (env, _stdin, raw) => {
  const cfg = parseDhcpConfig(raw);
  const params: DelParams = { ...attachment(env, cfg.name) };
  if (env.netns) params.netns = env.netns;
  // A daemon that is restarting is back within a second or two: wait for it rather than skip
  // the release. One that stays away is not worth wedging the runtime's teardown for (DEL is
  // best effort, spec 1.1): a restarted daemon drops the leases whose namespace is gone.
  const giveUpAt = Date.now() + DEL_DAEMON_WAIT_MS;
  for (;;) {
    try {
      await call(cfg.socketPath, Method.Del, params);
      return {};
    } catch (err) {
      if (!(err instanceof DaemonUnreachableError)) throw err;
      if (Date.now() >= giveUpAt) {
        process.stderr.write(`dhcp: DEL: ${err.message}; nothing released\n`);
        return {};
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
};

const check: VerbHandler = async (env, _stdin, raw) => {
  const cfg = parseDhcpConfig(raw);
  if (cfg.prevResult === undefined) throw new InvalidConfigError('CHECK needs prevResult in the config');
  const expected = addressesOf(cfg.prevResult);
  if (expected.length === 0) throw new CheckFailedError('prevResult holds no IP address to check');
  const params: CheckParams = { ...attachment(env, cfg.name), netns: env.netns, expectedAddresses: expected };
  await call(cfg.socketPath, Method.Check, params);
  return {};
};

const status: VerbHandler = async (_env, _stdin, raw) => {
  const cfg = parseDhcpConfig(raw);
  requireAtLeast(cfg.cniVersion, '1.1.0', 'STATUS');
  try {
    await call<StatusResult>(cfg.socketPath, Method.Status, {}, { timeoutMs: 10_000 });
  } catch (err) {
    if (err instanceof CniError && err.code === CniCode.TryAgainLater) {
      throw new DaemonUnavailableError(err.message, err.details);
    }
    throw err;
  }
  return {};
};

const gc: VerbHandler = async (_env, _stdin, raw) => {
  const cfg = parseDhcpConfig(raw);
  requireAtLeast(cfg.cniVersion, '1.1.0', 'GC');
  if (!cfg.validAttachments) throw new InvalidConfigError('GC needs "cni.dev/valid-attachments" in the config');
  const params: GcParams = { netName: cfg.name, validAttachments: cfg.validAttachments };
  await call<GcResult>(cfg.socketPath, Method.Gc, params);
  return {};
};

export const dhcpHandlers = { ADD: add, DEL: del, CHECK: check, STATUS: status, GC: gc };
