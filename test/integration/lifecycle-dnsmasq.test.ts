/**
 * dnsmasq's minimum lease is 2 minutes (T1 = 60 s), so its two lifecycle cases share one wait:
 * lab A restarts the daemon with kill -9 and must see its leases renewed; lab B's server loses
 * its database and now hands out another range, so it NAKs the renewal.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { Lab } from '../helpers/lab';
import { leases, stateFiles } from '../helpers/daemon-rpc';
import { requireRootTools, waitFor } from '../helpers/sh';
import type { LeaseView } from '../../shared/rpc-protocol';

describe('lease lifecycle against dnsmasq with 2-minute leases @root', function () {
  this.timeout(150_000);
  let restart: Lab;
  let nak: Lab;
  let restartBefore: LeaseView[] = [];
  let dnsmasqExpiryBefore = new Map<string, number>();
  let nakBefore: LeaseView | undefined;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge']);
    restart = await Lab.create('rsdm');
    nak = await Lab.create('nakd');
    await Promise.all([restart.startDnsmasq({ leaseTime: '2m' }), nak.startDnsmasq({ leaseTime: '2m' })]);
    await Promise.all([restart.startDaemon(), nak.startDaemon()]);
    await Promise.all([restart.attachBridgePods(3), nak.attachBridgePods(1)]);
    restartBefore = await leases(restart);
    dnsmasqExpiryBefore = new Map(restart.dnsmasqLeases().map((l) => [l.ip, l.expiry]));
    nakBefore = (await leases(nak))[0];
    // lab A: kill -9 and start again; lab B: the server forgets everything and changes its range
    await restart.stopDaemon('SIGKILL');
    await restart.startDaemon();
    await nak.stopServer();
    fs.rmSync(nak.leaseFile, { force: true });
    await nak.startDnsmasq({ leaseTime: '2m', rangeStart: '198.18.0.200', rangeEnd: '198.18.0.250' });
  });
  after(async () => {
    await restart?.cleanup();
    await nak?.cleanup();
  });

  it('after kill -9 and a restart, dnsmasq sees every lease renewed at T1 with the same address', async () => {
    assert.equal(stateFiles(restart).length, 3);
    await waitFor('renewals on the server', () => {
      const now = restart.dnsmasqLeases();
      return now.length === 3 && now.every((l) => l.expiry > (dnsmasqExpiryBefore.get(l.ip) ?? Infinity)) ? true : undefined;
    }, 80_000, 500);
    const after = new Map((await leases(restart)).map((l) => [l.containerId, l]));
    for (const l of restartBefore) {
      assert.equal(after.get(l.containerId)?.address, l.address);
      assert.equal(after.get(l.containerId)?.state, 'BOUND');
    }
    assert.match(restart.daemonLog(), /BOUND -> RENEWING/);
  });

  it('a NAK on renewal goes back to INIT, gets a new address from the new range, and is logged as a warning', async () => {
    const l1 = await waitFor('a new lease after the NAK', async () => {
      const l = (await leases(nak))[0];
      return l?.state === 'BOUND' && l.address !== nakBefore?.address ? l : undefined;
    }, 80_000, 500);
    assert.match(l1.address as string, /^198\.18\.0\.(2[0-4]\d|250)$/);
    assert.match(nak.daemonLog(), /warn "DHCPNAK from our server: lease lost, starting over"/);
    assert.match(nak.daemonLog(), /RENEWING -> (INIT|SELECTING)/);
  });
});
