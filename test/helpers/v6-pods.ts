/**
 * What the DHCPv6 integration tests share on a `Lab`: the lab's server namespace as a
 * `TestNetns` (for startKea6), a macvlan network config, the global addresses a pod really holds
 * on its interface, and Kea's v6 lease table.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { Lab } from './lab';
import type { TestNetns } from './netns';
import { sh } from './sh';

/** The lab's server namespace in the shape the v6-lab helpers (startKea6) take. */
export function labServerNetns(lab: Lab): TestNetns {
  const exec = (cmd: string, args: string[] = []) => execFileSync('ip', ['netns', 'exec', lab.serverNs, cmd, ...args], { encoding: 'utf8' });
  return {
    name: lab.serverNs,
    path: lab.podPath(lab.serverNs),
    ip: (...args: string[]) => execFileSync('ip', ['-n', lab.serverNs, ...args], { encoding: 'utf8' }),
    exec,
    spawn: (cmd: string, args: string[] = [], opts = {}): ChildProcess => {
      const p = spawn('ip', ['netns', 'exec', lab.serverNs, cmd, ...args], opts);
      lab.track(p);
      return p;
    },
    sysctl: (key: string, value: string | number) => void exec('sysctl', ['-qw', `${key}=${value}`]),
    mac: () => '',
  };
}

/** A macvlan (bridge mode) network on `master` with our dhcp IPAM. */
export function macvlanConfig(lab: Lab, master: string, ipamExtra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.0.0', name: `lab-${lab.id}`, type: 'macvlan', master, mode: 'bridge', ipam: lab.ipamConfig(ipamExtra) };
}

/** The global-scope addresses (`addr/prefix`, both families) on `ifname` inside the pod's namespace. */
export async function podGlobalAddrs(pod: string, ifname = 'eth1'): Promise<string[]> {
  const out = JSON.parse(await sh('ip', '-n', pod, '-j', 'addr', 'show', 'dev', ifname, 'scope', 'global')) as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
  return (out[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

export interface Kea6Lease {
  address: string;
  /** hex, no separators (as our lease file writes DUIDs) */
  duid: string;
  iaid: number;
  validLifetime: number;
  /** seconds since epoch */
  expire: number;
  state: number;
}

/**
 * Kea's memfile v6 lease table as it stands: the CSV is a journal (every change appends a row,
 * the last row of an address wins); a released lease is written with valid lifetime 0, so it
 * is absent here.
 */
export function kea6Leases(file: string): Kea6Lease[] {
  if (!fs.existsSync(file)) return [];
  const [head, ...rows] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const cols = (head ?? '').split(',');
  const at = (c: string[], name: string) => c[cols.indexOf(name)] ?? '';
  const byAddr = new Map<string, Kea6Lease>();
  for (const r of rows) {
    const c = r.split(',');
    byAddr.set(at(c, 'address'), {
      address: at(c, 'address'),
      duid: at(c, 'duid').replace(/:/g, '').toLowerCase(),
      iaid: Number(at(c, 'iaid')),
      validLifetime: Number(at(c, 'valid_lifetime')),
      expire: Number(at(c, 'expire')),
      state: Number(at(c, 'state')),
    });
  }
  return [...byAddr.values()].filter((l) => l.validLifetime > 0 && l.state === 0);
}
