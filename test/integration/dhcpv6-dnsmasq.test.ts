/**
 * DHCPv6 through the real bridge and macvlan plugins, calling dist/cni/dhcp as a runtime does,
 * against one dnsmasq that serves DHCPv4, DHCPv6 (a /64 range) and router advertisements on the
 * lab segment: dual-stack and IPv6-only pods, RELEASE on DEL seen by the server, CHECK, kill -9 of
 * the daemon and resume, and an ADD that cannot get its IPv6 lease releasing the IPv4 one.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../helpers/lab';
import { leases, stateFiles } from '../helpers/daemon-rpc';
import { bridgedVeth } from '../helpers/main-plugins';
import { requireRootTools, sh, waitFor } from '../helpers/sh';
import { spawnerIn, startCapture } from '../helpers/netns';
import type { LeaseView } from '../../shared/rpc-protocol';

const PREFIX = '2001:db8:d6::';
const DNS6 = `${PREFIX}53`;

interface Ip { address: string; gateway?: string }

describe('DHCPv6 against dnsmasq with RAs, through bridge and macvlan @root', function () {
  this.timeout(240_000);
  let lab: Lab;
  let master: string;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge', '/usr/lib/cni/macvlan', '/usr/sbin/bridge', '/usr/bin/tcpdump']);
    lab = await Lab.create('d6dm');
    // the server needs an address in the range's /64; skip its DAD so dnsmasq can bind at once
    await lab.inNs(lab.serverNs, 'sysctl', '-qw', 'net.ipv6.conf.srv0.accept_dad=0');
    await lab.inNs(lab.serverNs, 'ip', 'addr', 'add', `${PREFIX}1/64`, 'dev', 'srv0', 'nodad');
    await lab.startDnsmasq({
      extra: [
        `--dhcp-range=${PREFIX}100,${PREFIX}1ff,64,2m`, '--enable-ra',
        `--dhcp-option=option6:dns-server,[${DNS6}]`, '--dhcp-option=option6:domain-search,v6.lab.example',
      ],
    });
    await lab.startDaemon(['-timeout', '15s']);
    master = await bridgedVeth(lab, `mv${lab.id}`.slice(0, 14));
  });
  after(async () => {
    await lab?.cleanup();
  });

  const ipam = (families: string[], extra: Record<string, unknown> = {}) => ({ ipFamilies: families, ...extra });
  const bridgeCfg = (families: string[], extra: Record<string, unknown> = {}) => lab.bridgeConfig('1.0.0', ipam(families, extra));
  const macvlanCfg = (families: string[]) => ({ cniVersion: '1.0.0', name: `lab-${lab.id}`, type: 'macvlan', master, mode: 'bridge', ipam: lab.ipamConfig(ipam(families)) });
  const v6Leases = () => lab.dnsmasqLeases().filter((l) => l.ip.includes(':'));
  const pod6 = async (pod: string) => sh('ip', '-n', pod, '-6', '-o', 'addr', 'show', 'dev', 'eth1', 'scope', 'global');

  async function addOk(plugin: string, pod: string, config: Record<string, unknown>): Promise<{ ips: Ip[]; dns?: { nameservers?: string[]; search?: string[] } }> {
    const r = await lab.cni({ plugin, command: 'ADD', pod, config });
    assert.equal(r.code, 0, `${plugin} ADD: ${r.stdout} ${r.stderr}\n${lab.daemonLog().slice(-3000)}`);
    return r.json as unknown as { ips: Ip[] };
  }

  for (const plugin of ['bridge', 'macvlan'] as const) {
    it(`${plugin}: a dual-stack pod gets one address per family, DNS from both, and DEL releases both`, async () => {
      const pod = await lab.addPod();
      const config = plugin === 'bridge' ? bridgeCfg(['ipv4', 'ipv6']) : macvlanCfg(['ipv4', 'ipv6']);
      const res = await addOk(plugin, pod, config);
      assert.equal(res.ips.length, 2, JSON.stringify(res));
      assert.match(res.ips[0]!.address, /^198\.18\.0\.\d+\/24$/);
      const v6 = res.ips[1]!.address;
      assert.ok(v6.startsWith(PREFIX) && v6.endsWith('/128'), v6);
      assert.equal(res.ips[1]!.gateway, undefined, 'DHCPv6 carries no router');
      assert.ok((await pod6(pod)).includes(v6.split('/')[0]!), 'the main plugin put the IPv6 address on the pod');
      const addr6 = v6.split('/')[0]!;
      await waitFor('dnsmasq to record the IPv6 lease', () => (v6Leases().some((l) => l.ip === addr6) ? true : undefined), 10_000);
      const view = (await leases(lab)).find((l) => l.containerId === pod) as LeaseView;
      assert.deepEqual(view.families, ['ipv4', 'ipv6']);
      assert.equal(view.ipv6?.state, 'BOUND');
      assert.equal(view.ipv6?.address, addr6);
      // the main plugins report their own netconf's dns, not IPAM's: the daemon's view shows option 23/24
      assert.deepEqual(view.ipv6?.dnsServers, [DNS6]);
      assert.deepEqual(view.ipv6?.domainSearch, ['v6.lab.example']);
      const file = stateFiles(lab).map((f) => JSON.parse(fs.readFileSync(path.join(lab.stateDir, f), 'utf8'))).find((e) => e.containerId === pod);
      assert.equal(file.lease6.address, addr6, 'the file holds the IPv6 lease');
      assert.match(file.lease6.duid, /^0004/, 'DUID-UUID');
      assert.equal(typeof file.lease6.iaid, 'number');

      // CHECK of the IPAM part, as the main plugin runs it: both addresses must be held
      const ipamCheck = { cniVersion: '1.0.0', name: config.name, ipam: config.ipam, prevResult: { cniVersion: '1.0.0', ips: res.ips } };
      const check = await lab.cni({ plugin: 'dhcp', command: 'CHECK', pod, config: ipamCheck });
      assert.equal(check.code, 0, `CHECK: ${check.stdout} ${check.stderr}`);
      const only4 = await lab.cni({ plugin: 'dhcp', command: 'CHECK', pod, config: { ...ipamCheck, prevResult: { cniVersion: '1.0.0', ips: [res.ips[0]] } } });
      assert.equal((only4.json as { code?: number } | undefined)?.code, 102, `CHECK without the IPv6 address must fail: ${only4.stdout}`);

      // IPAM DEL as the main plugin runs it, then the main plugin's own DEL (bridge 1.1.1 deletes
      // the pod's link before it calls IPAM DEL, which leaves no interface to send a RELEASE from)
      const ipamDel = await lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: { cniVersion: '1.0.0', name: config.name, ipam: config.ipam } });
      assert.equal(ipamDel.code, 0, ipamDel.stdout + ipamDel.stderr);
      const del = await lab.cni({ plugin, command: 'DEL', pod, config });
      assert.equal(del.code, 0, del.stdout + del.stderr);
      await waitFor('dnsmasq to see the DHCPv6 RELEASE', () => (!v6Leases().some((l) => l.ip === addr6) ? true : undefined), 15_000);
      assert.equal((await leases(lab)).filter((l) => l.containerId === pod).length, 0);
    });
  }

  it('bridge: an IPv6-only pod, reported with ipv6PrefixLength', async () => {
    const pod = await lab.addPod();
    const res = await addOk('bridge', pod, bridgeCfg(['ipv6'], { ipv6PrefixLength: 64 }));
    assert.equal(res.ips.length, 1, JSON.stringify(res));
    assert.ok(res.ips[0]!.address.startsWith(PREFIX) && res.ips[0]!.address.endsWith('/64'), res.ips[0]!.address);
    const view = (await leases(lab)).find((l) => l.containerId === pod) as LeaseView;
    assert.equal(view.address, undefined, 'no IPv4 lease');
    assert.equal(view.state, 'BOUND');
    const status = JSON.parse(await sh('ip', 'netns', 'exec', lab.nodeNs, process.execPath, path.join(__dirname, '..', '..', 'dist', 'bin', 'cni-dhcp'), '--socket', lab.socketPath, 'status', '--json'));
    assert.ok(status.leasesByFamily.ipv6.BOUND >= 1, JSON.stringify(status));
    const del = await lab.cni({ plugin: 'bridge', command: 'DEL', pod, config: bridgeCfg(['ipv6'], { ipv6PrefixLength: 64 }) });
    assert.equal(del.code, 0, del.stdout + del.stderr);
  });

  it('kill -9 of the daemon: a restarted daemon resumes both leases and DEL still releases both', async () => {
    const pod = await lab.addPod();
    const config = bridgeCfg(['ipv4', 'ipv6']);
    const res = await addOk('bridge', pod, config);
    const addr6 = res.ips[1]!.address.split('/')[0]!;
    await lab.stopDaemon('SIGKILL');
    fs.writeFileSync(path.join(lab.dir, 'daemon-before-kill.log'), lab.daemonLog());
    await lab.startDaemon(['-timeout', '15s']);
    const view = (await leases(lab)).find((l) => l.containerId === pod) as LeaseView;
    assert.ok(view, 'resumed');
    assert.equal(view.address, res.ips[0]!.address.split('/')[0]);
    assert.equal(view.ipv6?.address, addr6);
    assert.ok(['BOUND', 'RENEWING'].includes(view.ipv6!.state), view.ipv6!.state);
    const del = await lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: { cniVersion: '1.0.0', name: config.name, ipam: config.ipam } });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    await waitFor('dnsmasq to drop the IPv6 lease', () => (!v6Leases().some((l) => l.ip === addr6) ? true : undefined), 15_000);
  });

  it('a link with no DHCPv6 server: an IPv6 ADD fails with code 11 naming DHCPv6 and leaves no lease and no file', async () => {
    // a veth whose peer stays in the node namespace, on no segment: nobody answers
    const pod = await lab.addPod();
    const lone = `d6l${lab.id}`.slice(0, 14);
    await sh('ip', 'link', 'add', lone, 'netns', lab.nodeNs, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', pod);
    await lab.inNs(lab.nodeNs, 'ip', 'link', 'set', lone, 'up');
    const r = await lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: { cniVersion: '1.0.0', name: `lab-${lab.id}`, ipam: lab.ipamConfig(ipam(['ipv6'])) } });
    // the dhcp shim called directly: its result is IPAM's own, DNS included
    assert.notEqual(r.code, 0, r.stdout);
    const err = r.json as { code: number; msg: string };
    assert.equal(err.code, 11, r.stdout);
    assert.match(err.msg, /DHCPv6/);
    assert.equal((await leases(lab)).filter((l) => l.containerId === pod).length, 0, 'nothing held');
    assert.ok(!stateFiles(lab).some((f) => fs.readFileSync(path.join(lab.stateDir, f), 'utf8').includes(pod)), 'no file');
  });

  // As for DHCPv4 (bridge-basic): the kernel sets the pod end running and the bridge end
  // forwarding one after the other; a port held in learning stands in for the moment in between.
  it('a bridge port that does not forward yet: the first SOLICIT waits for it, none is dropped or retransmitted', async () => {
    const pod = await lab.addPod();
    const host = await lab.plugVeth(pod);
    // up before the ADD (so the port can be blocked after the kernel has made it forward), DAD off as the daemon would set it
    await lab.inNs(pod, 'sysctl', '-qw', 'net.ipv6.conf.eth1.accept_dad=0');
    await lab.inNs(pod, 'ip', 'link', 'set', 'eth1', 'up');
    const forward = await lab.holdPort(host);
    const mac = (JSON.parse(await lab.inNs(pod, 'ip', '-j', 'link', 'show', 'dev', 'eth1')) as Array<{ address: string }>)[0]?.address;
    // at the bridge end, before the bridge sees the frame: what the pod sent, dropped or not
    const atPort = await startCapture(spawnerIn(lab.nodeNs), host, ['udp', 'port', '547']);
    const add = lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: { cniVersion: '1.0.0', name: `lab-${lab.id}`, ipam: lab.ipamConfig(ipam(['ipv6'])) } });
    await new Promise((r) => setTimeout(r, 500));
    await forward();
    const r = await add;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // IPv6 header (40) + UDP header (8), then the DHCPv6 msg-type: 1 is SOLICIT
    const solicits = (await atPort.stop()).filter((f) => f.srcMac === mac && f.ethertype === 0x86dd && f.payload[48] === 1);
    assert.equal(solicits.length, 1, `${solicits.length} SOLICITs left the pod: one sent while the port did not forward is lost`);
  });
});
