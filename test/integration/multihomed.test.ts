/**
 * The pod already has eth0 with an address and the default route, and rp_filter=1: the case
 * where a UDP socket with SO_BINDTODEVICE fails (wrong source address, OFFER dropped). Our
 * frames must leave only through eth1, with IP source 0.0.0.0.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { Lab } from '../helpers/lab';
import { requireRootTools, run, sh, startProcess, stopProcess, waitFor } from '../helpers/sh';
import * as fs from 'node:fs';

describe('multi-homed pod with rp_filter=1 @root', function () {
  this.timeout(60_000);
  let lab: Lab;
  let other: string;
  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge', '/usr/bin/tcpdump']);
    lab = await Lab.create('mhom');
    other = await lab.addPod(`cdt-${lab.id}-eth0peer`);
    await lab.startDnsmasq();
    await lab.startDaemon();
  });
  after(async () => {
    await lab?.cleanup();
  });

  it('gets its lease on eth1; DISCOVER leaves eth1 only, from 0.0.0.0', async () => {
    const pod = await lab.addPod();
    await sh('ip', 'link', 'add', 'eth0', 'netns', pod, 'type', 'veth', 'peer', 'name', 'peer0', 'netns', other);
    await sh('ip', '-n', pod, 'addr', 'add', '198.19.0.2/24', 'dev', 'eth0');
    await sh('ip', '-n', pod, 'link', 'set', 'eth0', 'up');
    await sh('ip', '-n', other, 'addr', 'add', '198.19.0.1/24', 'dev', 'peer0');
    await sh('ip', '-n', other, 'link', 'set', 'peer0', 'up');
    await sh('ip', '-n', pod, 'route', 'add', 'default', 'via', '198.19.0.1');
    for (const k of ['all', 'default']) await sh('ip', 'netns', 'exec', pod, 'sysctl', '-qw', `net.ipv4.conf.${k}.rp_filter=1`);

    const srvCap = path.join(lab.dir, 'srv.pcap.txt');
    const otherCap = path.join(lab.dir, 'other.pcap.txt');
    const tdSrv = startProcess('ip', ['netns', 'exec', lab.serverNs, 'tcpdump', '-i', 'srv0', '-n', '-l', 'udp port 67 or udp port 68'], srvCap);
    const tdOther = startProcess('ip', ['netns', 'exec', other, 'tcpdump', '-i', 'peer0', '-n', '-l', 'udp port 67 or udp port 68'], otherCap);
    lab.track(tdSrv);
    lab.track(tdOther);
    await waitFor('tcpdump to start', () => (/listening on/.test(fs.readFileSync(srvCap, 'utf8') + '') && /listening on/.test(fs.readFileSync(otherCap, 'utf8')) ? true : undefined));

    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: lab.bridgeConfig() });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const addr = (r.json as { ips: Array<{ address: string }> }).ips[0]?.address as string;
    assert.ok((await lab.podAddr(pod)).includes(addr));
    await waitFor('the capture to show the exchange', () => (/0\.0\.0\.0\.68 > 255\.255\.255\.255\.67/.test(fs.readFileSync(srvCap, 'utf8')) ? true : undefined));
    await stopProcess(tdSrv);
    await stopProcess(tdOther);
    const seenOnServer = fs.readFileSync(srvCap, 'utf8');
    assert.doesNotMatch(seenOnServer, /198\.19\.0\.2\.68 >/, 'never the address of another interface');
    const seenOnEth0 = fs.readFileSync(otherCap, 'utf8');
    assert.doesNotMatch(seenOnEth0, /\.67: BOOTP|\.68 >/, 'nothing left through eth0');
    assert.equal((await run('ip', ['netns', 'exec', pod, 'sysctl', '-n', 'net.ipv4.conf.all.rp_filter'])).stdout.trim(), '1');
  });
});
