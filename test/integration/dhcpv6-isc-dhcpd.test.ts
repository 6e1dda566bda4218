/**
 * DHCPv6 against ISC dhcpd 4.4 (`dhcpd -6`) through the real bridge plugin calling
 * dist/cni/dhcp: a dual-stack pod (dhcpd -4 and dhcpd -6 side by side on the lab segment), the
 * IA_NA lease in dhcpd's lease file under our DUID, and RELEASE on DEL recorded there.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../helpers/lab';
import { leases } from '../helpers/daemon-rpc';
import { startIscDhcpd } from '../helpers/servers';
import { requireRootTools, startProcess, waitFor } from '../helpers/sh';

const PREFIX = '2001:db8:d6c::';

/** The last state dhcpd recorded for `address` in its v6 lease journal ("active", "released", ...). */
function bindingState(leaseFile: string, address: string): string | undefined {
  const text = fs.existsSync(leaseFile) ? fs.readFileSync(leaseFile, 'utf8') : '';
  let state: string | undefined;
  for (const m of text.matchAll(/iaaddr ([0-9a-f:]+) \{([^}]*)\}/g)) {
    if (m[1] === address) state = /binding state (\w+);/.exec(m[2]!)?.[1];
  }
  return state;
}

describe('DHCPv6 against ISC dhcpd -6 through bridge @root', function () {
  this.timeout(180_000);
  let lab: Lab;
  let leaseFile6: string;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dhcpd', '/usr/lib/cni/bridge']);
    lab = await Lab.create('d6is');
    await startIscDhcpd(lab);
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
  });
  after(async () => {
    await lab?.cleanup();
  });

  it('a dual-stack pod gets both leases; DEL releases the IA_NA in dhcpd', async () => {
    const pod = await lab.addPod();
    // ISC dhcpd does not do Rapid Commit unless configured: the full SOLICIT/ADVERTISE/REQUEST/REPLY
    const config = lab.bridgeConfig('1.0.0', { ipFamilies: ['ipv4', 'ipv6'] });
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config });
    assert.equal(r.code, 0, `${r.stdout} ${r.stderr}\n${lab.daemonLog().slice(-2500)}`);
    const ips = (r.json as { ips: Array<{ address: string }> }).ips;
    assert.equal(ips.length, 2, JSON.stringify(ips));
    const addr6 = ips[1]!.address.split('/')[0]!;
    assert.ok(addr6.startsWith(PREFIX), addr6);
    await waitFor('dhcpd to record the IA_NA', () => (bindingState(leaseFile6, addr6) === 'active' ? true : undefined), 10_000);
    const view = (await leases(lab)).find((l) => l.containerId === pod)!;
    assert.deepEqual(view.ipv6?.dnsServers, [`${PREFIX}53`]);
    assert.ok(fs.readFileSync(leaseFile6, 'utf8').includes('ia-na'), 'an ia-na binding');

    const del = await lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: { cniVersion: '1.0.0', name: config.name, ipam: config.ipam } });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    await waitFor('dhcpd to record the RELEASE', () => (bindingState(leaseFile6, addr6) === 'released' ? true : undefined), 15_000);
  });
});
