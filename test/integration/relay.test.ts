/**
 * Unicast through the pod's routing, behind a DHCP relay that is not the pod's gateway:
 *
 *   pod (macvlan on the lab bridge, 198.18.0.x/24, default via .254)
 *    ├─ relay: the lab's server namespace, srv0 198.18.0.1, dnsmasq --dhcp-relay, no forwarding
 *    └─ gateway namespace: eth1 198.18.0.254 ── up0 198.18.2.1 ─┐
 *                                                              server namespace: srv0
 *                                                              198.18.2.10, dnsmasq
 *
 * DORA goes through the relay, so every ACK the pod sees comes from the relay's MAC. The
 * renewal at T1 and the RELEASE are unicast to 198.18.2.10: sent to the relay's MAC (the old
 * path) they are dropped there; through the pod's routing they go via the gateway and the
 * server answers. Evidence: the server's own log and lease database.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../helpers/lab';
import { leases, stateFiles } from '../helpers/daemon-rpc';
import { Topology } from '../helpers/main-plugins';
import { requireRootTools, startProcess, waitFor } from '../helpers/sh';
import type { StoredAttachment } from '../../daemon/lease-store';

const GATEWAY = '198.18.0.254';
const SERVER = '198.18.2.10';
/** dnsmasq ignores a T1 of 2 s or less; T2 far enough out that only RENEWING can answer */
const T1 = 3;
const T2 = 100;

describe('renewal and RELEASE through a relay that is not the gateway @root', function () {
  this.timeout(120_000);
  let lab: Lab;
  let gw: string;
  let srv: string;
  let serverLog: string;
  let serverLeases: string;

  const serverLines = (re: RegExp) => fs.readFileSync(serverLog, 'utf8').split('\n').filter((l) => re.test(l));
  const serverLease = (ip: string) =>
    fs.existsSync(serverLeases)
      ? fs.readFileSync(serverLeases, 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === ip)
      : undefined;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/macvlan']);
    lab = await Lab.create('wirr');
    gw = await lab.addPod(`cdt-${lab.id}-gw`);
    srv = await lab.addPod(`cdt-${lab.id}-dsrv`);
    // the gateway: a port of the pod segment and a link to the server's segment, forwarding
    await lab.plugVeth(gw);
    await lab.inNs(gw, 'ip', 'addr', 'add', `${GATEWAY}/24`, 'dev', 'eth1');
    await lab.inNs(gw, 'ip', 'link', 'set', 'eth1', 'up');
    await lab.inNs(gw, 'ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'srv0', 'netns', srv);
    await lab.inNs(gw, 'ip', 'addr', 'add', '198.18.2.1/24', 'dev', 'up0');
    await lab.inNs(gw, 'ip', 'link', 'set', 'up0', 'up');
    await lab.inNs(gw, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    await lab.inNs(srv, 'ip', 'addr', 'add', `${SERVER}/24`, 'dev', 'srv0');
    await lab.inNs(srv, 'ip', 'link', 'set', 'srv0', 'up');
    await lab.inNs(srv, 'ip', 'route', 'add', 'default', 'via', '198.18.2.1');
    // the relay is a host on the pod segment that reaches the server through the gateway, and
    // does not forward anything itself
    await lab.inNs(lab.serverNs, 'ip', 'route', 'add', 'default', 'via', GATEWAY);
    await lab.inNs(lab.serverNs, 'sysctl', '-qw', 'net.ipv4.ip_forward=0');

    serverLog = path.join(lab.dir, 'server-dnsmasq.log');
    serverLeases = path.join(lab.dir, 'server-dnsmasq.leases');
    const dnsmasq = ['--keep-in-foreground', '--no-ping', '--port=0', '--conf-file=/dev/null', '--user=root', '--log-dhcp', '--log-facility=-'];
    lab.track(startProcess('ip', ['netns', 'exec', srv, 'dnsmasq', ...dnsmasq, '--interface=srv0', '--bind-interfaces', '--dhcp-authoritative',
      '--dhcp-range=198.18.0.100,198.18.0.200,255.255.255.0,2m', `--dhcp-option=option:router,${GATEWAY}`,
      `--dhcp-option=option:T1,${T1}`, `--dhcp-option=option:T2,${T2}`,
      `--dhcp-leasefile=${serverLeases}`, `--pid-file=${path.join(lab.dir, 'server-dnsmasq.pid')}`], serverLog));
    lab.track(startProcess('ip', ['netns', 'exec', lab.serverNs, 'dnsmasq', ...dnsmasq, '--interface=srv0', `--dhcp-relay=${lab.serverIp},${SERVER}`,
      `--pid-file=${path.join(lab.dir, 'relay-dnsmasq.pid')}`], path.join(lab.dir, 'relay-dnsmasq.log')));
    for (const ns of [srv, lab.serverNs]) {
      await waitFor(`dnsmasq in ${ns} to listen`, async () => (await lab.inNs(ns, 'ss', '-ulnH', 'sport = :67')).includes(':67') || undefined);
    }
    await lab.startDaemon();
  });
  after(async () => {
    await lab?.cleanup();
  });

  it('renews at T1 and RELEASEs on DEL through the gateway, and the server answers both', async () => {
    const topo = new Topology(lab, 'macvlan');
    const config = await topo.config();
    const pod = await lab.addPod();
    const add = await lab.cni({ plugin: 'macvlan', command: 'ADD', pod, config });
    assert.equal(add.code, 0, `${add.stdout} ${add.stderr}`);
    const held = (await leases(lab))[0];
    const address = held?.address as string;
    assert.match(address, /^198\.18\.0\.(1\d\d|200)$/);
    assert.equal(held?.serverId, SERVER);
    // the ACKs came from the relay's MAC: the next hop the old unicast path would have used
    const file = stateFiles(lab)[0] as string;
    const stored = JSON.parse(fs.readFileSync(path.join(lab.stateDir, file), 'utf8')) as StoredAttachment;
    const relayMac = JSON.parse(await lab.inNs(lab.serverNs, 'ip', '-j', 'link', 'show', 'srv0'))[0].address as string;
    assert.equal(stored.lease?.serverMac, relayMac);
    const expiryAtBind = Number(serverLease(address)?.[0]);

    // T1 = 3 s: a unicast REQUEST with ciaddr set reaches the server directly (not relayed)
    await waitFor('the server to extend the lease at T1', () => (Number(serverLease(address)?.[0]) > expiryAtBind ? true : undefined), 40_000, 200);
    const direct = new RegExp(`DHCPACK\\(srv0\\) ${address.replace(/\./g, '\\.')} `);
    assert.ok(serverLines(direct).length >= 2, 'an ACK at bind and one at renewal');
    await waitFor('the daemon to see the renewal ACK', () => (/RENEWING -> BOUND/.test(lab.daemonLog()) ? true : undefined), 10_000);
    assert.doesNotMatch(lab.daemonLog(), /REBINDING/);
    // our UDP socket on :68 holds the port, so the unicast ACK draws no ICMP port-unreachable
    const snmp = await lab.inNs(pod, 'cat', '/proc/net/snmp');
    const [names, values] = snmp.split('\n').filter((l) => l.startsWith('Icmp:')).map((l) => l.split(/\s+/));
    assert.equal(values?.[names?.indexOf('OutDestUnreachs') ?? -1], '0', snmp);

    // macvlan calls IPAM DEL before it deletes the link: the RELEASE leaves through the gateway
    await topo.del(pod, config);
    await waitFor('the server to drop the released lease', () => (serverLease(address) === undefined ? true : undefined), 10_000, 100);
    assert.equal(serverLines(new RegExp(`DHCPRELEASE\\(srv0\\) ${address.replace(/\./g, '\\.')} `)).length, 1);
  });
});
