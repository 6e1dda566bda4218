/**
 * After an IPv6 lease expires, the driver solicits again; when the server then hands out another
 * address, the pod is moved to it, as IPv4 does (pod-address.ts): through the real bridge plugin
 * against Kea v6 with lifetimes of seconds. Kea is stopped so nothing renews the lease, and once
 * the daemon reports it lost, a Kea with another pool comes back.
 */
import { strict as assert } from 'node:assert';
import { Lab } from '../helpers/lab';
import { leases } from '../helpers/daemon-rpc';
import { PREFIX6, startKea6, type Kea6Options } from '../helpers/v6-lab';
import { startLabKea6 } from '../helpers/lab-kea6';
import { cleanupNetns, stopProcess, type TestNetns } from '../helpers/netns';
import { requireRootTools, run, waitFor } from '../helpers/sh';
import { REPO } from '../helpers/lab';
import * as path from 'node:path';

const CLI = path.join(REPO, 'dist', 'bin', 'cni-dhcp');
import type { Lease6View } from '../../shared/rpc-protocol';

describe('DHCPv6: the pod moves to the new address after an expiry (Kea v6, bridge) @root', function () {
  this.timeout(240_000);
  let lab: Lab;
  let srv: TestNetns;
  const KEA: Kea6Options = { preferred: 3, valid: 6, renew: 1, rebind: 2 };

  before(async function () {
    requireRootTools(this, ['/usr/sbin/kea-dhcp6', '/usr/lib/cni/bridge']);
    lab = await Lab.create('c6dm');
    await lab.startDaemon(['-timeout', '15s']);
  });
  after(async () => {
    await lab?.cleanup();
    await cleanupNetns();
  });

  const v6Of = async (pod: string): Promise<Lease6View> => (await leases(lab)).find((l) => l.containerId === pod)!.ipv6!;
  const globals = async (pod: string) => (await run('ip', ['-n', pod, '-6', '-o', 'addr', 'show', 'dev', 'eth1', 'scope', 'global'])).stdout;

  it('replaces the expired address on the pod\'s interface, keeps the prefix length, and the view and `cni-dhcp leases` show the change', async () => {
    const first = await startLabKea6(lab, { ...KEA, pool: `${PREFIX6}100-${PREFIX6}1ff` });
    srv = first.srv;
    const pod = await lab.addPod();
    const config = lab.bridgeConfig('1.0.0', { ipFamilies: ['ipv6'], ipv6PrefixLength: 64 });
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config });
    assert.equal(r.code, 0, `${r.stdout} ${r.stderr}\n${lab.daemonLog().slice(-2000)}`);
    const old = (r.json as { ips: Array<{ address: string }> }).ips[0]!.address;
    assert.ok(old.startsWith(`${PREFIX6}1`) && old.endsWith('/64'), old);
    assert.match(await globals(pod), new RegExp(`inet6 ${old}`));

    // nothing answers the RENEW and REBIND: the lease runs out
    await stopProcess(first.kea.proc);
    await waitFor('the lease to expire', () => (/DHCPv6 lease lost/.test(lab.daemonLog()) ? true : undefined), 60_000, 200);
    // a server whose pool no longer holds the old address
    await startKea6(srv, { ...KEA, valid: 600, preferred: 300, renew: 150, rebind: 240, pool: `${PREFIX6}200-${PREFIX6}2ff` });
    const moved = await waitFor('the pod to move', async () => {
      const v = await v6Of(pod);
      // changedFrom is written once the move is done (the new address is probed first)
      return v.state === 'BOUND' && v.address?.startsWith(`${PREFIX6}2`) && v.changedFrom !== undefined ? v : undefined;
    }, 90_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}\n${lab.daemonLog().slice(-4000)}`);
    });
    const now = await globals(pod);
    assert.match(now, new RegExp(`inet6 ${moved.address}/64 `), now);
    assert.doesNotMatch(now, new RegExp(`inet6 ${old} `), 'the old address is gone from the pod');
    assert.equal(moved.changedFrom, old);
    assert.ok(moved.changedAt !== undefined && moved.changedAt >= moved.boundAt! - 5_000);
    assert.match(lab.daemonLog(), /the server gave another address; the pod was moved to it.*family=ipv6/);

    const cli = await run(CLI, ['--socket', lab.socketPath, 'leases', '--container', pod]);
    assert.equal(cli.code, 0, cli.stderr);
    const row = cli.stdout.split('\n').find((l) => l.includes('ipv6') && l.includes(moved.address!));
    assert.ok(row, cli.stdout);
    assert.match(row, new RegExp(`from ${old.replace(/\//g, '\\/')} `));
  });
});
