import { strict as assert } from 'node:assert';
import { Lab } from '../helpers/lab';
import { requireRootTools, waitFor } from '../helpers/sh';

const PODS = Number(process.env.CDT_CONCURRENT_PODS ?? 50);

describe(`${PODS} pods attached concurrently by the bridge plugin @root`, function () {
  this.timeout(300_000);
  let lab: Lab;
  const pods: string[] = [];

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge']);
    lab = await Lab.create('conc');
    await lab.startDnsmasq();
    await lab.startDaemon();
    for (let i = 0; i < PODS; i++) pods.push(await lab.addPod());
  });
  after(async () => {
    await lab?.cleanup();
  });

  it(`${PODS} concurrent ADDs give ${PODS} distinct leases, each held by dnsmasq for the right client id`, async () => {
    const results = await Promise.all(pods.map((pod) => lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: lab.bridgeConfig() })));
    const addrs = results.map((r, i) => {
      assert.equal(r.code, 0, `pod ${i}: ${r.stdout} ${r.stderr}`);
      return (r.json as { ips: Array<{ address: string }> }).ips[0]?.address.split('/')[0];
    });
    assert.equal(new Set(addrs).size, PODS);
    const leases = await waitFor('dnsmasq lease file', () => {
      const l = lab.dnsmasqLeases();
      return l.length === PODS ? l : undefined;
    });
    assert.deepEqual(new Set(leases.map((l) => l.ip)), new Set(addrs));
    // option 61 as the reference sends it: type 0 + containerID/netName/ifName
    const expectedId = Buffer.concat([Buffer.from([0]), Buffer.from(`${pods[0]}/lab-${lab.id}/eth1`)]);
    const hexId = [...expectedId].map((b) => b.toString(16).padStart(2, '0')).join(':');
    assert.ok(leases.some((l) => l.clientId === hexId), `no lease with client id ${hexId}`);
  });

  it('CHECK with the prevResult of a held lease succeeds', async () => {
    const r = await lab.cni({ plugin: 'dhcp', command: 'CHECK', pod: pods[0], config: { ...lab.bridgeConfig(), prevResult: await currentResult(pods[0] as string) } });
    assert.equal(r.code, 0, r.stdout);
  });

  it('DEL while the interface still exists releases every lease on the server; bridge DEL then succeeds', async () => {
    const dels = await Promise.all(pods.map((pod) => lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: lab.bridgeConfig() })));
    dels.forEach((r, i) => assert.equal(r.code, 0, `pod ${i}: ${r.stdout} ${r.stderr}`));
    await waitFor('dnsmasq to drop every lease', () => (lab.dnsmasqLeases().length === 0 ? true : undefined), 10_000);
    const bridgeDels = await Promise.all(pods.map((pod) => lab.cni({ plugin: 'bridge', command: 'DEL', pod, config: lab.bridgeConfig() })));
    bridgeDels.forEach((r, i) => assert.equal(r.code, 0, `pod ${i}: ${r.stdout} ${r.stderr}`));
  });

  async function currentResult(pod: string): Promise<Record<string, unknown>> {
    const r = await lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: lab.bridgeConfig() });
    assert.equal(r.code, 0, r.stdout);
    return r.json as Record<string, unknown>;
  }
});
