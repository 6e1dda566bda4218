/**
 * DHCPv6 against Kea v6 (Rapid Commit, option 12, lifetimes of seconds) through the real bridge
 * plugin calling dist/cni/dhcp: the lease renews at T1 (unicast, Kea granted option 12), and when
 * Kea stops answering the renewals the client rebinds at T2 to the Kea that comes back.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { Lab } from '../helpers/lab';
import { leases } from '../helpers/daemon-rpc';
import { PREFIX6, SERVER_ADDR6, startKea6, type Kea6Options, type V6Server } from '../helpers/v6-lab';
import { cleanupNetns, stopProcess, type TestNetns } from '../helpers/netns';
import { requireRootTools, waitFor } from '../helpers/sh';
import type { Lease6View } from '../../shared/rpc-protocol';

describe('DHCPv6 against Kea v6 through bridge @root', function () {
  this.timeout(240_000);
  let lab: Lab;
  let srv: TestNetns;
  let kea: V6Server | undefined;
  const KEA: Kea6Options = { preferred: 8, valid: 16, renew: 3, rebind: 6 };

  before(async function () {
    requireRootTools(this, ['/usr/sbin/kea-dhcp6', '/usr/lib/cni/bridge']);
    lab = await Lab.create('d6ke');
    const exec = (cmd: string, args: string[] = []) => execFileSync('ip', ['netns', 'exec', lab.serverNs, cmd, ...args], { encoding: 'utf8' });
    // what startKea6 needs of a namespace, for the lab's server namespace
    srv = {
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
    srv.sysctl('net.ipv6.conf.srv0.accept_dad', 0);
    srv.ip('addr', 'add', `${SERVER_ADDR6}/64`, 'dev', 'srv0', 'nodad');
    // Kea binds to the link-local address: it must be valid (not tentative) when Kea starts
    await waitFor('srv0 link-local', () => (/scope link/.test(srv.ip('-6', 'addr', 'show', 'dev', 'srv0')) && !/tentative/.test(srv.ip('-6', 'addr', 'show', 'dev', 'srv0')) ? true : undefined), 15_000);
    kea = await startKea6(srv, KEA);
    await lab.startDaemon(['-timeout', '15s']);
  });
  after(async () => {
    await lab?.cleanup();
    await cleanupNetns();
  });

  const v6Of = async (pod: string): Promise<Lease6View> => (await leases(lab)).find((l) => l.containerId === pod)!.ipv6!;

  it('renews at T1 (unicast, option 12); when no server answers the RENEWs, rebinds at T2, keeping the address; DEL releases it', async () => {
    const pod = await lab.addPod();
    // a /64 gives the pod an on-link route to Kea's option 12 address (Kea sends no RAs)
    const config = lab.bridgeConfig('1.0.0', { ipFamilies: ['ipv6'], ipv6PrefixLength: 64 });
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config });
    assert.equal(r.code, 0, `${r.stdout} ${r.stderr}\n${lab.daemonLog().slice(-2000)}`);
    const ips = (r.json as { ips: Array<{ address: string }> }).ips;
    assert.equal(ips.length, 1);
    assert.ok(ips[0]!.address.startsWith(PREFIX6) && ips[0]!.address.endsWith('/64'), ips[0]!.address);
    const first = await v6Of(pod);
    assert.equal(first.validLifetime, 16);

    await waitFor('a renewal', async () => ((await v6Of(pod)).boundAt! > first.boundAt! ? true : undefined), 30_000, 200);
    assert.match(lab.daemonLog(), /RENEWING -> BOUND/, 'the unicast RENEW at T1 was answered');
    assert.doesNotMatch(lab.daemonLog(), /REBINDING/);
    assert.match(kea!.log(), /DHCP6_LEASE_RENEW/);
    // (the RENEW goes unicast to Kea's option 12 address: a Kea that grants option 12 but listens
    // only on its link-local leaves it unanswered, which is how this test found that lab bug)

    // Kea stops answering renewals: the Kea that replaces it listens only on its link-local and
    // grants no option 12, so the unicast RENEWs at T1 go unanswered and the REBIND at T2
    // (multicast) is what gets the lease extended
    await stopProcess(kea!.proc);
    kea = await startKea6(srv, { ...KEA, unicast: false });
    // REBINDING lasts one round trip to the new Kea: wait for its trace in the log, not the state
    await waitFor('the REBIND answered', () => (/REBINDING -> BOUND/.test(lab.daemonLog()) ? true : undefined), 30_000, 100);
    const after = await v6Of(pod);
    assert.equal(after.address, first.address, 'the rebind kept the address');
    assert.match(lab.daemonLog(), /RENEWING -> REBINDING.*no answer to RENEW/);
    assert.match(lab.daemonLog(), /REBINDING -> BOUND/);
    // released by multicast: the lease from the new Kea has no option 12

    const del = await lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: { cniVersion: '1.0.0', name: config.name, ipam: config.ipam } });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    await waitFor('Kea to see the RELEASE', () => (/RELEASE/.test(kea!.log()) ? true : undefined), 15_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${kea!.log().slice(-3000)}\n${lab.daemonLog().slice(-3000)}`);
    });
  });
});
