/**
 * The RFC 2131 lifecycle against a real Kea with 12 s leases (T1 6 s, T2 10 s): renewals,
 * a restart after kill -9, outages before and past expiry, INIT-REBOOT. (Kea silently drops a
 * renewal it has no lease for instead of NAKing it, so the NAK case runs against dnsmasq.)
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { Lab } from '../helpers/lab';
import { startKea, type KeaServer } from '../helpers/kea';
import { leases, stateFiles } from '../helpers/daemon-rpc';
import { requireRootTools, waitFor } from '../helpers/sh';
import type { LeaseView } from '../../shared/rpc-protocol';

const LEASE = 12;

function byContainer(ls: LeaseView[]): Map<string, LeaseView> {
  return new Map(ls.map((l) => [l.containerId, l]));
}

describe('lease lifecycle against Kea with 12 s leases @root', function () {
  this.timeout(120_000);
  let lab: Lab;
  let kea: KeaServer;

  beforeEach(async function () {
    requireRootTools(this, ['/usr/sbin/kea-dhcp4', '/usr/lib/cni/bridge']);
    lab = await Lab.create('life');
    kea = await startKea(lab, { validLifetime: LEASE, renewTimer: 6, rebindTimer: 10 });
    await lab.startDaemon();
  });
  afterEach(async () => {
    await lab?.cleanup();
  });

  it('after kill -9 and a restart with 50 leases held, all 50 are renewed on the server with the same addresses before they expire', async () => {
    const pods = await lab.attachBridgePods(50);
    const before = byContainer(await leases(lab));
    assert.equal(before.size, 50);
    const firstExpiry = Math.min(...[...before.values()].map((l) => l.expiresAt ?? 0));
    await lab.stopDaemon('SIGKILL');
    assert.equal(stateFiles(lab).length, 50, 'every lease is on disk');
    await lab.startDaemon();
    await waitFor('50 renewals after the restart', async () => {
      const now = byContainer(await leases(lab));
      const renewed = pods.filter((p) => {
        const l = now.get(p);
        return l && l.state === 'BOUND' && (l.boundAt ?? 0) > (before.get(p)?.boundAt ?? 0);
      });
      return renewed.length === 50 || undefined;
    }, 15_000, 200);
    assert.ok(Date.now() < firstExpiry, 'renewed before the first lease would have expired');
    const after = byContainer(await leases(lab));
    for (const p of pods) assert.equal(after.get(p)?.address, before.get(p)?.address, `${p} kept its address`);
    const onServer = new Set(kea.leases().filter((l) => l.expire * 1000 > firstExpiry).map((l) => l.address));
    for (const p of pods) assert.ok(onServer.has(after.get(p)?.address as string), `the server extended ${after.get(p)?.address}`);
    assert.match(lab.daemonLog(), /leases restored.*resumed=50/);
  });

  it('DEL after a restart releases the lease on the server', async () => {
    const [pod] = await lab.attachBridgePods(1);
    const address = (await leases(lab))[0]?.address;
    await lab.stopDaemon('SIGKILL');
    await lab.startDaemon();
    const r = await lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: lab.bridgeConfig() });
    assert.equal(r.code, 0, r.stdout);
    await waitFor('Kea to drop the released lease', () => (kea.leases().every((l) => l.address !== address) ? true : undefined), 5000);
    assert.deepEqual(stateFiles(lab), []);
  });

  it('server down from before T1 until before expiry: the lease is kept and the same address renewed when it returns', async () => {
    await lab.attachBridgePods(1);
    const l0 = (await leases(lab))[0] as LeaseView;
    await lab.stopServer();
    await waitFor('RENEWING without a server', async () => ((await leases(lab))[0]?.state === 'RENEWING' ? true : undefined), 10_000, 100);
    // back before expiry: the REBINDING broadcast at T2 finds it
    kea = await startKea(lab, { validLifetime: LEASE, renewTimer: 6, rebindTimer: 10 });
    const l1 = await waitFor('renewed after the outage', async () => {
      const l = (await leases(lab))[0];
      return l && l.state === 'BOUND' && (l.boundAt ?? 0) > (l0.boundAt ?? 0) ? l : undefined;
    }, 12_000, 100);
    assert.equal(l1.address, l0.address);
    assert.ok((l1.boundAt ?? 0) < (l0.expiresAt ?? 0), 'renewed before expiry');
    assert.match(lab.daemonLog(), /RENEWING -> REBINDING/);
    assert.doesNotMatch(lab.daemonLog(), /lease expired/);
  });

  it('server down past expiry: the lease is reported EXPIRED, the link is left alone, and the same address comes back', async () => {
    const [pod] = await lab.attachBridgePods(1);
    const l0 = (await leases(lab))[0] as LeaseView;
    await lab.stopServer();
    const expired = await waitFor('EXPIRED over RPC', async () => {
      const l = (await leases(lab))[0];
      return l?.expired ? l : undefined;
    }, 20_000, 100);
    assert.equal(expired.state, 'EXPIRED');
    assert.match(lab.daemonLog(), /lease expired without renewal/);
    const link = await lab.inNs(pod as string, 'ip', '-4', 'addr', 'show', 'dev', 'eth1');
    assert.match(link, /state UP/, 'the reference sets the link down; we never touch it');
    assert.ok(link.includes(`${l0.address}/`), 'the address is still configured');
    kea = await startKea(lab, { validLifetime: LEASE, renewTimer: 6, rebindTimer: 10 });
    const back = await waitFor('bound again', async () => {
      const l = (await leases(lab))[0];
      return l?.state === 'BOUND' ? l : undefined;
    }, 25_000, 200);
    assert.equal(back.address, l0.address, 'asked for (option 50) and got the same address');
  });

  it('Kea away past expiry and back without its leases (same range): the DISCOVER with option 50 gets the same address', async () => {
    // one after the other: Kea's iterative allocator gives the first pod the pool's first address
    const [first] = await lab.attachBridgePods(1);
    const firstAddress = (await leases(lab))[0]?.address;
    const [pod] = await lab.attachBridgePods(1);
    const del = await lab.cni({ plugin: 'bridge', command: 'DEL', pod: first, config: lab.bridgeConfig() });
    assert.equal(del.code, 0, del.stdout);
    const l0 = (await leases(lab))[0] as LeaseView;
    assert.equal(l0.containerId, pod);
    assert.notEqual(l0.address, firstAddress);
    // Kea (authoritative) would simply re-create a lease it lost when asked to renew it; the
    // path that needs option 50 is a server that is away until the lease has run out
    await lab.stopServer();
    fs.rmSync(kea.leaseFile, { force: true });
    await waitFor('EXPIRED', async () => ((await leases(lab))[0]?.state === 'EXPIRED' ? true : undefined), 20_000, 100);
    kea = await startKea(lab, { validLifetime: LEASE, renewTimer: 6, rebindTimer: 10 });
    const back = await waitFor('bound again after expiry', async () => {
      const l = (await leases(lab))[0];
      return l?.state === 'BOUND' && (l.boundAt ?? 0) >= (l0.expiresAt ?? Infinity) ? l : undefined;
    }, 30_000, 200);
    // unasked, Kea would now hand out the pool's first address (the first pod's, released)
    assert.equal(back.address, l0.address, 'option 50 got the same address back');
    assert.equal(back.changedFrom, undefined);
    assert.ok(kea.leases().some((l) => l.address === l0.address), 'Kea holds it again');
    assert.match(lab.daemonLog(), /lease expired without renewal/);
    assert.ok((await lab.podAddr(pod as string)).includes(` inet ${l0.address}/24 `), 'the pod was never touched');
  });

  it('restart after the lease expired: INIT-REBOOT asks for the stored address and gets it', async () => {
    await lab.attachBridgePods(1);
    const l0 = (await leases(lab))[0] as LeaseView;
    await lab.stopDaemon('SIGTERM');
    await new Promise((r) => setTimeout(r, (LEASE + 1) * 1000));
    await lab.startDaemon();
    const l1 = await waitFor('bound after INIT-REBOOT', async () => {
      const l = (await leases(lab))[0];
      return l?.state === 'BOUND' ? l : undefined;
    }, 10_000, 100);
    assert.equal(l1.address, l0.address);
    assert.match(lab.daemonLog(), /INIT_REBOOT -> REBOOTING|REBOOTING -> BOUND/);
  });
});
