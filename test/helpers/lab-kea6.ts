/**
 * Kea v6 in a Lab's server namespace (srv0 on the lab bridge): what startKea6 (v6-lab.ts) needs
 * of a namespace, for the lab's, with 2001:db8:5::1/64 on srv0 and its link-local valid before
 * Kea starts. Also a squatter: a namespace on the lab bridge that holds IPv6 addresses without
 * DAD, as a statically configured host inside the server's range would.
 */
import { labServerNetns } from './v6-pods';
import type { Lab } from './lab';
import { waitFor } from './sh';
import { SERVER_ADDR6, startKea6, type Kea6Options, type V6Server } from './v6-lab';
import type { TestNetns } from './netns';

/** srv0 gets SERVER_ADDR6 (no DAD), then Kea v6 starts once its link-local is valid. */
export async function startLabKea6(lab: Lab, opts: Kea6Options): Promise<{ srv: TestNetns; kea: V6Server }> {
  const srv = labServerNetns(lab);
  srv.sysctl('net.ipv6.conf.srv0.accept_dad', 0);
  if (!srv.ip('-6', 'addr', 'show', 'dev', 'srv0').includes(SERVER_ADDR6)) srv.ip('addr', 'add', `${SERVER_ADDR6}/64`, 'dev', 'srv0', 'nodad');
  await waitFor('srv0 link-local', () => {
    const a = srv.ip('-6', 'addr', 'show', 'dev', 'srv0');
    return /scope link/.test(a) && !/tentative/.test(a) ? true : undefined;
  }, 15_000);
  return { srv, kea: await startKea6(srv, opts) };
}

/** A namespace on the lab bridge whose eth1 holds `addresses` (/64, nodad) and answers NS for them. */
export async function addSquatter6(lab: Lab, addresses: string[]): Promise<string> {
  const ns = await lab.addPod();
  await lab.plugVeth(ns);
  await lab.inNs(ns, 'sysctl', '-qw', 'net.ipv6.conf.eth1.accept_dad=0');
  for (const a of addresses) await lab.inNs(ns, 'ip', 'addr', 'add', `${a}/64`, 'dev', 'eth1', 'nodad');
  await lab.inNs(ns, 'ip', 'link', 'set', 'eth1', 'up');
  return ns;
}
