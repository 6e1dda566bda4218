/**
 * The daemon's own DAD probe for a leased IPv6 address (docs/dhcpv6.md, "DECLINE"), through the
 * real bridge plugin against Kea v6: a host on the pod segment already holds 2001:db8:5::100 and
 * ::102 (configured without DAD), Kea's pool is ::100-::102. The first pod is offered ::100,
 * finds it in use, DECLINEs it (Kea marks it declined) and is answered with ::101; with
 * "arpProbe": false the second pod takes squatted ::102 with no DECLINE; when the only free
 * address is squatted, the ADD fails at -timeout with an error naming DHCPv6 and the address.
 */
import { strict as assert } from 'node:assert';
import { Lab } from '../helpers/lab';
import { leases } from '../helpers/daemon-rpc';
import { PREFIX6, type V6Server } from '../helpers/v6-lab';
import { addSquatter6, startLabKea6 } from '../helpers/lab-kea6';
import { cleanupNetns } from '../helpers/netns';
import { requireRootTools, run, waitFor } from '../helpers/sh';

const SQUATTED = `${PREFIX6}100`;
const FREE = `${PREFIX6}101`;
const SQUATTED_TOO = `${PREFIX6}102`;
const METRICS_PORT = 9566;

async function declines6(lab: Lab): Promise<number> {
  const r = await run('ip', ['netns', 'exec', lab.nodeNs, process.execPath, '-e', `fetch('http://127.0.0.1:${METRICS_PORT}/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))`]);
  const m = /^cni_dhcp_declines_total\{family="ipv6"\} (\d+)$/m.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

describe('DHCPv6: DAD probe of the leased address, DECLINE on a conflict (Kea v6, bridge) @root', function () {
  this.timeout(240_000);
  let lab: Lab;
  let kea: V6Server;
  const config = () => lab.bridgeConfig('1.0.0', { ipFamilies: ['ipv6'], ipv6PrefixLength: 64 });
  const declineLines = () => kea.log().split('\n').filter((l) => /DHCP6_DECLINE_LEASE/.test(l));

  before(async function () {
    requireRootTools(this, ['/usr/sbin/kea-dhcp6', '/usr/lib/cni/bridge']);
    lab = await Lab.create('c6dd');
    await addSquatter6(lab, [SQUATTED, SQUATTED_TOO]);
    ({ kea } = await startLabKea6(lab, { preferred: 300, valid: 600, renew: 150, rebind: 240, pool: `${SQUATTED}-${SQUATTED_TOO}` }));
    await lab.startDaemon(['-timeout', '8s', '--metrics-address', `127.0.0.1:${METRICS_PORT}`]);
  });
  after(async () => {
    await lab?.cleanup();
    await cleanupNetns();
  });

  it('declines the address another host holds and is answered with another one', async () => {
    const pod = await lab.addPod();
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: config() });
    assert.equal(r.code, 0, `${r.stdout} ${r.stderr}\n${lab.daemonLog().slice(-3000)}`);
    const ips = (r.json as { ips: Array<{ address: string }> }).ips.map((i) => i.address);
    assert.deepEqual(ips, [`${FREE}/64`]);
    const onPod = await lab.inNs(pod, 'ip', '-6', '-o', 'addr', 'show', 'dev', 'eth1', 'scope', 'global');
    assert.match(onPod, new RegExp(`inet6 ${FREE}/64`));
    assert.doesNotMatch(onPod, new RegExp(`${SQUATTED}/`));
    await waitFor('Kea to log the DECLINE', () => (declineLines().length > 0 ? true : undefined), 10_000);
    assert.equal(declineLines().length, 1);
    assert.match(declineLines()[0]!, new RegExp(`address ${SQUATTED} `), 'Kea declined the squatted address');
    assert.match(lab.daemonLog(), /leased IPv6 address is in use by another host.*Neighbour Advertisement/);
    assert.equal(await declines6(lab), 1);
    const held = (await leases(lab)).find((l) => l.containerId === pod)?.ipv6;
    assert.equal(held?.address, FREE);
    assert.equal(held?.state, 'BOUND');
  });

  it('with "arpProbe": false the squatted address is taken unprobed: no DECLINE', async () => {
    const pod = await lab.addPod();
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: lab.bridgeConfig('1.0.0', { ipFamilies: ['ipv6'], ipv6PrefixLength: 64, arpProbe: false }) });
    assert.equal(r.code, 0, `${r.stdout} ${r.stderr}\n${lab.daemonLog().slice(-3000)}`);
    assert.deepEqual((r.json as { ips: Array<{ address: string }> }).ips.map((i) => i.address), [`${SQUATTED_TOO}/64`]);
    assert.equal(declineLines().length, 1, 'still only the first DECLINE');
    assert.equal(await declines6(lab), 1);
    // give it back, so the next pod is offered it (probed this time)
    const del = await lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: { cniVersion: '1.0.0', name: config().name, ipam: config().ipam } });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    await waitFor('Kea to see the RELEASE', () => (/DHCP6_RELEASE/.test(kea.log()) ? true : undefined), 15_000);
  });

  it('when every address the server has left is in use, the ADD fails at -timeout naming ipv6 and the declined address', async () => {
    const pod = await lab.addPod();
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: config() });
    assert.notEqual(r.code, 0, `${r.stdout}\n${lab.daemonLog().slice(-3000)}`);
    const err = JSON.parse(r.stdout) as { code: number; msg: string; details?: string };
    assert.equal(err.code, 11, r.stdout);
    // the daemon's deadline or the machine's (the same instant) answers first: either way the
    // error names the family and what was declined
    const text = `${err.msg} | ${err.details ?? ''}`;
    assert.match(text, /DHCPv6|ipv6/, text);
    assert.match(text, new RegExp(`${SQUATTED_TOO}.*(in use|declined)`), text);
    await waitFor('Kea to log the second DECLINE', () => (declineLines().length === 2 ? true : undefined), 10_000);
    assert.match(declineLines()[1]!, new RegExp(SQUATTED_TOO));
    assert.equal(await declines6(lab), 2);
  });
});
