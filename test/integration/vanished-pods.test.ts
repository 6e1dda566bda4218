import { strict as assert } from 'node:assert';
import { Lab } from '../helpers/lab';
import { anonKb, fdCount, leases, stateFiles } from '../helpers/daemon-rpc';
import { requireRootTools, waitFor } from '../helpers/sh';

const PODS = 100;

describe(`${PODS} pods whose namespaces are deleted without DEL @root`, function () {
  this.timeout(300_000);
  let lab: Lab;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge']);
    lab = await Lab.create('vani');
    await lab.startDnsmasq();
    await lab.startDaemon(['-timeout', '30s']);
  });
  after(async () => {
    await lab?.cleanup();
  });

  async function cycle(): Promise<void> {
    const pods: string[] = [];
    for (let i = 0; i < PODS; i++) pods.push(await lab.addPod());
    const rs = await Promise.all(pods.map((pod) => lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: lab.bridgeConfig() })));
    rs.forEach((r, i) => assert.equal(r.code, 0, `pod ${i}: ${r.stdout}`));
    assert.equal((await leases(lab)).length, PODS);
    await waitFor('dnsmasq to hold every lease', () => (lab.dnsmasqLeases().length === PODS ? true : undefined));
    for (const pod of pods) await lab.deletePod(pod);
    // noticed by the namespace sweep (every 5 s), released through the socket that still pins the namespace
    await waitFor('the daemon to drop every vanished lease', async () => ((await leases(lab)).length === 0 ? true : undefined), 20_000, 200);
    await waitFor('RELEASEs to reach dnsmasq', () => (lab.dnsmasqLeases().length === 0 ? true : undefined), 10_000, 100);
    assert.deepEqual(stateFiles(lab), []);
    assert.match(lab.daemonLog(), /namespace vanished without DEL/);
  }

  it('are noticed, released on the server, and leave no lease, file, fd or memory behind', async () => {
    const pid = lab.daemon?.pid as number;
    const fd0 = fdCount(pid);
    await cycle();
    await waitFor('sockets closed in the background', () => (fdCount(pid) <= fd0 ? true : undefined), 10_000, 100);
    const rss1 = anonKb(pid);
    await cycle();
    // the fd count must come back to where it started (packet sockets close off the loop)
    await waitFor(`the daemon's fd count to return to ${fd0} (no fd left behind)`, () => (fdCount(pid) <= fd0 ? true : undefined), 10_000, 100);
    const rss2 = anonKb(pid);
    // a second identical cycle must not grow the heap by more than noise
    assert.ok(rss2 - rss1 < 16 * 1024, `anonymous memory grew from ${rss1} kB to ${rss2} kB over a second cycle of ${PODS} pods`);
  });
});

describe('DEL racing an ADD never leaves an orphaned lease @root', function () {
  this.timeout(120_000);
  let lab: Lab;
  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge']);
    lab = await Lab.create('race');
    await lab.startDnsmasq();
    await lab.startDaemon(['-timeout', '3s']);
  });
  after(async () => {
    await lab?.cleanup();
  });

  it('DEL issued while ADD is still running waits for it, then releases: nothing on the server, nothing on disk', async () => {
    const pods = await Promise.all([0, 1, 2, 3, 4].map(() => lab.addPod()));
    await Promise.all(
      pods.map(async (pod) => {
        const add = lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: lab.bridgeConfig() });
        // DEL lands while the daemon is in the middle of this ADD's exchange
        await waitFor('the ADD to reach the daemon', () => (new RegExp(`-> SELECTING" containerId=${pod} `).test(lab.daemonLog()) ? true : undefined), 10_000, 2);
        const del = lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: lab.bridgeConfig() });
        const [a, d] = await Promise.all([add, del]);
        assert.equal(d.code, 0, d.stdout);
        assert.ok(a.code === 0 || a.json?.code === 11, a.stdout);
      }),
    );
    assert.deepEqual(await leases(lab), []);
    assert.deepEqual(stateFiles(lab), []);
    await waitFor('no lease left on the server', () => (lab.dnsmasqLeases().length === 0 ? true : undefined), 5000);
  });

  it('DEL during an ADD that cannot get an answer: ADD fails with code 11, DEL succeeds, nothing is left', async () => {
    await lab.stopServer();
    const pod = await lab.addPod();
    const t0 = Date.now();
    const add = lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: lab.bridgeConfig() });
    await new Promise((r) => setTimeout(r, 200));
    const del = await lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: lab.bridgeConfig() });
    const a = await add;
    assert.equal(del.code, 0);
    assert.equal(a.json?.code, 11, a.stdout);
    assert.match(String(a.json?.msg), /no DHCP lease for eth1 within 3 s/);
    assert.ok(Date.now() - t0 < 8000, 'ADD gave up within -timeout');
    assert.deepEqual(await leases(lab), []);
    assert.deepEqual(stateFiles(lab), []);
  });
});
