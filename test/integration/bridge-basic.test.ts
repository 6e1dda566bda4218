import { strict as assert } from 'node:assert';
import { Lab } from '../helpers/lab';
import { requireRootTools } from '../helpers/sh';
import { spawnerIn, startCapture, useNetnsCleanup, type CapturedFrame } from '../helpers/netns';
import { decodeMessage } from '../../daemon/dhcp4/message-codec';
import { BootOp, MessageType, Opt, type DhcpMessage } from '../../daemon/dhcp4/types';

const DHCP_FILTER = ['udp', 'port', '67', 'or', 'udp', 'port', '68'];

/** The BOOTP messages in captured IPv4/UDP frames (no checksum check: the kernel may leave it to offload). */
function bootp(frames: CapturedFrame[]): Array<{ dstMac: string; msg: DhcpMessage }> {
  return frames
    .filter((f) => f.ethertype === 0x0800)
    .map((f) => ({ dstMac: f.dstMac, msg: decodeMessage(f.payload.subarray((f.payload[0]! & 0x0f) * 4 + 8)) }));
}

const chaddrOf = (m: DhcpMessage) => [...m.chaddr.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
const typeOf = (m: DhcpMessage) => m.options.get(Opt.MESSAGE_TYPE)?.[0];

describe('bridge plugin + our dhcp IPAM against dnsmasq @root', function () {
  this.timeout(120_000);
  useNetnsCleanup();
  let lab: Lab;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge', '/usr/bin/tcpdump']);
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

  it('on a veth the server answers the pod MAC alone: DISCOVER without the broadcast flag, no OFFER or ACK flooded to a bystander pod', async () => {
    const bystander = await lab.addPod();
    const b = await lab.cni({ plugin: 'bridge', command: 'ADD', pod: bystander, config: lab.bridgeConfig('1.0.0') });
    assert.equal(b.code, 0, b.stdout);
    const atServer = await startCapture(spawnerIn(lab.serverNs), 'srv0', DHCP_FILTER);
    const atBystander = await startCapture(spawnerIn(bystander), 'eth1', DHCP_FILTER);
    const pod = await lab.addPod();
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: lab.bridgeConfig('1.0.0') });
    assert.equal(r.code, 0, `${r.stdout}\n${lab.daemonLog().slice(-3000)}`);
    const mac = (r.json as { interfaces: Array<{ mac: string; sandbox?: string }> }).interfaces.find((i) => i.sandbox)?.mac;
    assert.ok(mac, r.stdout);
    const server = bootp(await atServer.stop()).filter((p) => chaddrOf(p.msg) === mac);
    const seen = bootp(await atBystander.stop()).filter((p) => chaddrOf(p.msg) === mac);
    const show = (ps: typeof server) => ps.map((p) => `${typeOf(p.msg)} flags=${p.msg.flags} to ${p.dstMac}`).join('; ');

    const requests = server.filter((p) => p.msg.op === BootOp.REQUEST);
    const replies = server.filter((p) => p.msg.op === BootOp.REPLY);
    const why = `${show(server)}\n${lab.daemonLog().slice(-3000)}`;
    // a lost first DISCOVER is repeated unchanged after 100 ms, so there may be two
    assert.deepEqual([...new Set(requests.map((p) => typeOf(p.msg)))], [MessageType.DISCOVER, MessageType.REQUEST], why);
    assert.ok(requests.every((p) => p.msg.flags === 0), `no request sets the broadcast flag: ${why}`);
    assert.deepEqual([...new Set(replies.map((p) => typeOf(p.msg)))], [MessageType.OFFER, MessageType.ACK], why);
    assert.ok(replies.every((p) => p.dstMac === mac), `every answer goes to ${mac}: ${why}`);
    // the bystander's port gets the pod's broadcasts (so its capture works), and none of the answers
    assert.ok(seen.some((p) => typeOf(p.msg) === MessageType.DISCOVER), show(seen));
    assert.deepEqual(seen.filter((p) => p.msg.op === BootOp.REPLY), [], show(seen));
  });
});

describe('a bridge port that does not forward yet @root', function () {
  this.timeout(60_000);
  useNetnsCleanup();
  let lab: Lab;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/sbin/bridge', '/usr/bin/tcpdump']);
    lab = await Lab.create('brq');
    await lab.startDnsmasq();
    await lab.startDaemon();
  });
  after(async () => {
    await lab?.cleanup();
  });

  // The kernel's link watcher sets the pod end running and the bridge end forwarding one after the
  // other; a DISCOVER sent in between is dropped by the bridge. A port held in learning stands in for it.
  it('the first DISCOVER waits until it forwards, so no DISCOVER is dropped and none retransmitted', async () => {
    const pod = await lab.addPod();
    const host = await lab.plugVeth(pod);
    await lab.inNs(pod, 'ip', 'link', 'set', 'eth1', 'up');
    const forward = await lab.holdPort(host);
    const mac = (JSON.parse(await lab.inNs(pod, 'ip', '-j', 'link', 'show', 'dev', 'eth1')) as Array<{ address: string }>)[0]?.address;
    // at the bridge end, before the bridge sees the frame: what the pod sent, dropped or not
    const atPort = await startCapture(spawnerIn(lab.nodeNs), host, DHCP_FILTER);
    const add = lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: lab.bridgeConfig('1.0.0') });
    await new Promise((r) => setTimeout(r, 500));
    await forward();
    const r = await add;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const sent = bootp((await atPort.stop()).filter((f) => f.srcMac === mac));
    const discovers = sent.filter((p) => typeOf(p.msg) === MessageType.DISCOVER);
    assert.equal(discovers.length, 1, `${discovers.length} DISCOVERs left the pod: one sent while the port did not forward is lost`);
    assert.equal(discovers[0]?.msg.flags, 0, 'the first send of a veth pod goes without the broadcast flag');
    assert.equal(sent.filter((p) => typeOf(p.msg) === MessageType.REQUEST).length, 1);
  });
});

