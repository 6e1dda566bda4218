/**
 * DHCPv6 against ISC dhcpd 4.4 (`dhcpd -6`) beside `dhcpd -4` on the lab segment, through the
 * real bridge and macvlan plugins calling dist/cni/dhcp: dual-stack and IPv6-only pods, the
 * addresses on the pod's interface, the IA_NA binding in dhcpd's lease file under our IAID and
 * DUID, and RELEASE on DEL recorded there.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../helpers/lab';
import { leases, stateFiles } from '../helpers/daemon-rpc';
import { bridgedVeth } from '../helpers/main-plugins';
import { dhcpdString, startIscDhcpd, type ServerUnderTest } from '../helpers/servers';
import { macvlanConfig, podGlobalAddrs } from '../helpers/v6-pods';
import { requireRootTools, startProcess, waitFor } from '../helpers/sh';
import type { Lease6Record } from '../../daemon/client6/types6';

const PREFIX = '2001:db8:d6c::';

interface Binding6 { state: string | undefined; iaid: number; duid: string }

/**
 * The last binding dhcpd recorded for `address` in its v6 lease journal: its state ("active",
 * "released", ...) and the IA it belongs to (`ia-na "<IAID, 4 bytes><DUID>"`).
 */
function binding6(leaseFile: string, address: string): Binding6 | undefined {
  const text = fs.existsSync(leaseFile) ? fs.readFileSync(leaseFile, 'utf8') : '';
  let found: Binding6 | undefined;
  for (const m of text.matchAll(/ia-na "((?:[^"\\]|\\.)*)" \{[^{}]*iaaddr ([0-9a-f:]+) \{([^}]*)\}/g)) {
    if (m[2] !== address) continue;
    const id = dhcpdString(m[1]!);
    // dhcpd writes the IAID in its host's byte order (little-endian here), not the wire's
    found = { state: /binding state (\w+);/.exec(m[3]!)?.[1], iaid: id.readUInt32LE(0), duid: id.subarray(4).toString('hex') };
  }
  return found;
}

interface Ip { address: string }

describe('DHCPv6 against ISC dhcpd -6 through bridge and macvlan @root', function () {
  this.timeout(180_000);
  let lab: Lab;
  let leaseFile6: string;
  let dhcpd4: ServerUnderTest;
  let master: string;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dhcpd', '/usr/lib/cni/bridge', '/usr/lib/cni/macvlan']);
    lab = await Lab.create('d6is');
    dhcpd4 = await startIscDhcpd(lab);
    await lab.inNs(lab.serverNs, 'sysctl', '-qw', 'net.ipv6.conf.srv0.accept_dad=0');
    await lab.inNs(lab.serverNs, 'ip', 'addr', 'add', `${PREFIX}1/64`, 'dev', 'srv0', 'nodad');
    const conf = path.join(lab.dir, 'dhcpd6.conf');
    leaseFile6 = path.join(lab.dir, 'dhcpd6.leases');
    const log = path.join(lab.dir, 'dhcpd6.log');
    fs.writeFileSync(conf, [
      'ddns-update-style none;', 'default-lease-time 120;', 'max-lease-time 120;',
      `option dhcp6.name-servers ${PREFIX}53;`,
      `subnet6 ${PREFIX}/64 { range6 ${PREFIX}100 ${PREFIX}1ff; }`, '',
    ].join('\n'));
    fs.writeFileSync(leaseFile6, '');
    const child = startProcess('ip', ['netns', 'exec', lab.serverNs, 'dhcpd', '-f', '-d', '-6', '-cf', conf, '-lf', leaseFile6, '-pf', path.join(lab.dir, 'dhcpd6.pid'), 'srv0'], log);
    lab.track(child);
    await waitFor('dhcpd -6 to start', () => {
      if (child.exitCode !== null) throw new Error(`dhcpd -6 exited ${child.exitCode}: ${fs.readFileSync(log, 'utf8').slice(-1500)}`);
      return /Server starting service/.test(fs.readFileSync(log, 'utf8')) || undefined;
    }, 15_000);
    await lab.startDaemon(['-timeout', '15s']);
    master = await bridgedVeth(lab, `mv${lab.id}`.slice(0, 14));
  });
  after(async () => {
    await lab?.cleanup();
  });

  const storedLease6 = (pod: string): Lease6Record => stateFiles(lab).map((f) => JSON.parse(fs.readFileSync(path.join(lab.stateDir, f), 'utf8'))).find((e) => e.containerId === pod).lease6;
  const dhcpd4Holds = async (address: string) => (await dhcpd4.leases()).some((l) => l.active && l.ip === address);

  const cases = [
    { plugin: 'bridge', families: ['ipv4', 'ipv6'] },
    { plugin: 'macvlan', families: ['ipv4', 'ipv6'] },
    { plugin: 'macvlan', families: ['ipv6'] },
  ] as const;
  for (const { plugin, families } of cases) {
    const dual = families.length === 2;
    it(`${plugin}: ${dual ? 'a dual-stack' : 'an IPv6-only'} pod holds its lease${dual ? 's' : ''} on its interface and in dhcpd's lease file${dual ? 's' : ''}; DEL releases ${dual ? 'both' : 'it'}`, async () => {
      const pod = await lab.addPod();
      const ipam = { ipFamilies: [...families] };
      const config = plugin === 'bridge' ? lab.bridgeConfig('1.0.0', ipam) : macvlanConfig(lab, master, ipam);
      // ISC dhcpd does not do Rapid Commit unless configured: the full SOLICIT/ADVERTISE/REQUEST/REPLY
      const r = await lab.cni({ plugin, command: 'ADD', pod, config });
      assert.equal(r.code, 0, `${r.stdout} ${r.stderr}\n${lab.daemonLog().slice(-2500)}`);
      const ips = (r.json as { ips: Ip[] }).ips;
      assert.equal(ips.length, families.length, JSON.stringify(ips));
      const addr6 = ips.at(-1)!.address.split('/')[0]!;
      assert.ok(addr6.startsWith(PREFIX), addr6);
      const addr4 = dual ? ips[0]!.address.split('/')[0]! : undefined;
      if (addr4) assert.match(addr4, /^198\.18\.0\.\d+$/);
      const held = await podGlobalAddrs(pod);
      for (const ip of ips) assert.ok(held.includes(ip.address), `${ip.address} not on the pod's eth1: ${held.join(' ')}`);

      const ours = storedLease6(pod);
      assert.equal(ours.address, addr6, 'the lease file holds the IPv6 lease');
      const b = await waitFor('dhcpd to record the IA_NA', () => (binding6(leaseFile6, addr6)?.state === 'active' ? binding6(leaseFile6, addr6) : undefined), 10_000);
      assert.equal(b.duid, ours.duid.toLowerCase(), 'the binding is under our DUID');
      assert.equal(b.iaid, ours.iaid, 'and our IAID');
      if (addr4) await waitFor('dhcpd -4 to record the IPv4 lease', async () => (await dhcpd4Holds(addr4)) || undefined, 10_000);
      const view = (await leases(lab)).find((l) => l.containerId === pod)!;
      assert.deepEqual(view.ipv6?.dnsServers, [`${PREFIX}53`]);

      if (plugin === 'bridge') {
        // bridge deletes the pod's link before IPAM DEL: the IPAM DEL a runtime's chain runs first
        const del = await lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: { cniVersion: '1.0.0', name: config.name, ipam: config.ipam } });
        assert.equal(del.code, 0, del.stdout + del.stderr);
      }
      const del = await lab.cni({ plugin, command: 'DEL', pod, config });
      assert.equal(del.code, 0, del.stdout + del.stderr);
      await waitFor('dhcpd to record the RELEASE', () => (binding6(leaseFile6, addr6)?.state === 'released' ? true : undefined), 15_000);
      if (addr4) await waitFor('dhcpd -4 to free the IPv4 lease', async () => !(await dhcpd4Holds(addr4)) || undefined, 15_000);
      assert.equal((await leases(lab)).filter((l) => l.containerId === pod).length, 0, 'the daemon holds nothing for the pod');
    });
  }
});
