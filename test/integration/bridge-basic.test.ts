import { strict as assert } from 'node:assert';
import { Lab } from '../helpers/lab';
import { requireRootTools } from '../helpers/sh';

describe('bridge plugin + our dhcp IPAM against dnsmasq @root', function () {
  this.timeout(120_000);
  let lab: Lab;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge']);
    lab = await Lab.create('brb');
    await lab.startDnsmasq();
    await lab.startDaemon();
  });
  after(async () => {
    await lab?.cleanup();
  });

  it('ADD through bridge returns a lease with gateway, default route and DNS, and the pod has the address', async () => {
    const pod = await lab.addPod();
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: lab.bridgeConfig('1.0.0') });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${lab.daemonLog().slice(-3000)}`);
    const res = r.json as { ips: Array<{ address: string; gateway: string }> };
    const ip = res.ips[0];
    assert.ok(ip);
    assert.match(ip.address, /^198\.18\.0\.\d+\/24$/);
    assert.equal(ip.gateway, '198.18.0.1');
    // bridge 1.1.1 replaces the IPAM's dns with the network config's own "dns" key, so ask our
    // IPAM directly: a second ADD for the same attachment returns the held lease, with DNS
    const again = await lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: lab.bridgeConfig('1.0.0') });
    assert.equal(again.code, 0, again.stdout);
    const direct = again.json as { ips: Array<{ address: string }>; routes: unknown[]; dns: { nameservers: string[]; domain: string } };
    assert.equal(direct.ips[0]?.address, ip.address);
    assert.deepEqual(direct.routes, [{ dst: '0.0.0.0/0', gw: '198.18.0.1' }]);
    assert.deepEqual(direct.dns, { nameservers: ['198.18.0.53'], domain: 'lab.example' });
    assert.equal((lab.daemonLog().match(/SELECTING -> REQUESTING/g) ?? []).length, 1, 'the second ADD must not run DORA again');
    assert.ok((await lab.podAddr(pod)).includes(ip.address));
    const leases = lab.dnsmasqLeases();
    assert.equal(leases.length, 1);
    assert.equal(`${leases[0]?.ip}/24`, ip.address);
  });
});
