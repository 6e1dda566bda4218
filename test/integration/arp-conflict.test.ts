/**
 * RFC 5227 conflict detection against a real dnsmasq (`--no-ping`, so it does not detect the
 * squatter itself): dnsmasq reserves 198.18.0.77 for the pod's client id, a namespace on the
 * pod segment already uses that address, and the daemon must DECLINE it and bind another
 * from the pool. Then the same with the probe off (198.18.0.78, squatted too), which takes it.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultClientId } from '../../daemon/attachment';
import { Lab } from '../helpers/lab';
import { leases } from '../helpers/daemon-rpc';
import { requireRootTools, run, waitFor } from '../helpers/sh';

const SQUATTED = '198.18.0.77';
/** dnsmasq refuses one reserved address for two hosts: the probe-off pod gets its own */
const SQUATTED_TOO = '198.18.0.78';
const METRICS_PORT = 9561;

function dnsmasqHostFor(lab: Lab, pod: string, address: string): string {
  const id = defaultClientId({ containerId: pod, netName: `lab-${lab.id}`, ifname: 'eth1' });
  return `--dhcp-host=id:${[...id].map((b) => b.toString(16).padStart(2, '0')).join(':')},${address}`;
}

async function metric(lab: Lab, name: string): Promise<number> {
  const r = await run('ip', ['netns', 'exec', lab.nodeNs, process.execPath, '-e', `fetch('http://127.0.0.1:${METRICS_PORT}/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))`]);
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r.stdout);
  if (!m) throw new Error(`no ${name} in /metrics: ${r.stdout.slice(0, 500)} ${r.stderr}`);
  return Number(m[1]);
}

describe('ARP conflict detection before ADD answers (RFC 5227) @root', function () {
  this.timeout(120_000);
  let lab: Lab;
  const probed = 'wir-probed';
  const unprobed = 'wir-unprobed';

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge']);
    lab = await Lab.create('wira');
    // the squatter: a host on the pod segment that already uses the reserved address
    const squatter = await lab.addPod();
    await lab.plugVeth(squatter);
    await lab.inNs(squatter, 'ip', 'addr', 'add', `${SQUATTED}/24`, 'dev', 'eth1');
    await lab.inNs(squatter, 'ip', 'addr', 'add', `${SQUATTED_TOO}/24`, 'dev', 'eth1');
    await lab.inNs(squatter, 'ip', 'link', 'set', 'eth1', 'up');
    await lab.startDnsmasq({ extra: [dnsmasqHostFor(lab, probed, SQUATTED), dnsmasqHostFor(lab, unprobed, SQUATTED_TOO)] });
    await lab.startDaemon(['--metrics-address', `127.0.0.1:${METRICS_PORT}`]);
  });
  after(async () => {
    await lab?.cleanup();
  });

  it('declines the address another host answers ARP for, binds another, and counts it', async () => {
    const pod = await lab.addPod();
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, containerId: probed, config: lab.bridgeConfig() });
    assert.equal(r.code, 0, `${r.stdout} ${r.stderr}`);
    const ips = (r.json?.ips as Array<{ address: string }>).map((i) => i.address);
    assert.equal(ips.length, 1);
    assert.notEqual(ips[0], `${SQUATTED}/24`);
    assert.match(ips[0] as string, /^198\.18\.0\.\d+\/24$/);
    assert.match(await lab.podAddr(pod), new RegExp(`inet ${(ips[0] as string).replace(/\./g, '\\.')} `));
    const log = fs.readFileSync(path.join(lab.dir, 'dnsmasq.log'), 'utf8');
    assert.match(log, new RegExp(`DHCPDECLINE\\(srv0\\) ${SQUATTED.replace(/\./g, '\\.')} `), 'dnsmasq logged our DECLINE');
    assert.match(log, /disabling DHCP static address 198\.18\.0\.77/);
    assert.match(lab.daemonLog(), /offered address is in use by another host: DHCPDECLINE/);
    assert.equal(await metric(lab, 'cni_dhcp_declines_total\\{family="ipv4"\\}'), 1);
    const held = (await leases(lab)).find((l) => l.containerId === probed);
    assert.equal(`${held?.address}/${held?.prefixLength}`, ips[0]);
    assert.equal(held?.state, 'BOUND');
  });

  it('with "arpProbe": false the squatted address is taken unprobed', async () => {
    const pod = await lab.addPod();
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, containerId: unprobed, config: lab.bridgeConfig('1.0.0', { arpProbe: false }) });
    assert.equal(r.code, 0, `${r.stdout} ${r.stderr}`);
    assert.deepEqual((r.json?.ips as Array<{ address: string }>).map((i) => i.address), [`${SQUATTED_TOO}/24`]);
    assert.equal(await metric(lab, 'cni_dhcp_declines_total\\{family="ipv4"\\}'), 1);
  });

  it('a bad arpProbe value is refused with code 7 naming the key and the value', async () => {
    const pod = await lab.addPod();
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: lab.bridgeConfig('1.0.0', { arpProbe: { count: 0 } }) });
    assert.notEqual(r.code, 0);
    const err = JSON.parse(r.stdout) as { code: number; msg: string };
    assert.equal(err.code, 7);
    assert.match(err.msg, /ipam\.arpProbe\.count must be an integer from 1 to 10, got 0/);
    await waitFor('nothing held for the refused ADD', async () => ((await leases(lab)).length === 2 ? true : undefined));
  });
});
