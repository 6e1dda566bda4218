/**
 * @root whereabouts end to end on the file store: the reference bridge and macvlan plugins
 * exec dist/cni/whereabouts as a runtime has them do, which forwards to our daemon in the
 * node namespace.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { REPO } from '../helpers/lab';
import { run } from '../helpers/sh';
import { ipsOf, podArgs, useWhereaboutsLab, type WhereaboutsLab } from '../helpers/whereabouts-lab';

describe('whereabouts through bridge and macvlan (file store) @root', function () {
  this.timeout(300_000);
  let lab: WhereaboutsLab;

  const labOf = useWhereaboutsLab();
  beforeEach(() => {
    lab = labOf();
  });

  it('dual stack: one IPv4 and one IPv6 address in one result, both on the pod interface', async () => {
    const pod = lab.pod();
    const config = lab.bridgeConfig('wac-dual', { range: '198.18.30.0/24', gateway: '198.18.30.254', ipRanges: [{ range: '2001:db8:30::/64' }] });
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config, args: podArgs('dual') });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(ipsOf(r), ['198.18.30.1/24', '2001:db8:30::1/64']);
    const addrs = pod.ip('-o', 'addr', 'show', 'dev', 'eth1');
    assert.match(addrs, /inet 198\.18\.30\.1\/24/);
    assert.match(addrs, /inet6 2001:db8:30::1\/64/);
    const check = await lab.cni({ plugin: 'bridge', command: 'CHECK', pod, config: { ...config, prevResult: r.json }, args: podArgs('dual') });
    assert.equal(check.code, 0, `CHECK: ${check.stdout}${check.stderr}`);
    const wrong = { ...config, prevResult: { ...r.json, ips: [{ address: '198.18.30.77/24' }, { address: '2001:db8:30::1/64' }] } };
    const bad = await lab.cni({ plugin: 'whereabouts', command: 'CHECK', pod, config: wrong, args: podArgs('dual') });
    assert.equal(JSON.parse(bad.stdout).code, 102, bad.stdout);
    const d = await lab.cni({ plugin: 'bridge', command: 'DEL', pod, config, args: podArgs('dual') });
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.equal((await lab.allocations()).filter((a) => a.containerId === pod.name).length, 0);
  });

  it('overlapping ranges without network_name: two networks never share an address', async () => {
    const a = lab.pod();
    const b = lab.pod();
    const ra = await lab.cni({ plugin: 'bridge', command: 'ADD', pod: a, config: lab.bridgeConfig('wac-ova', { range: '198.18.31.0/24' }), args: podArgs('ova') });
    const rb = await lab.cni({ plugin: 'macvlan', command: 'ADD', pod: b, config: lab.macvlanConfig('wac-ovb', { range: '198.18.31.0/28' }), args: podArgs('ovb') });
    assert.equal(ra.code + rb.code, 0, ra.stdout + rb.stdout);
    assert.deepEqual([ipsOf(ra), ipsOf(rb)], [['198.18.31.1/24'], ['198.18.31.2/28']]);
  });

  it('network_name gives each group its own address space; the same network_name shares one', async () => {
    const [p1, p2, p3] = [lab.pod(), lab.pod(), lab.pod()];
    const red = { range: '198.18.32.0/24', network_name: 'red' };
    const blue = { range: '198.18.32.0/24', network_name: 'blue' };
    const r1 = await lab.cni({ plugin: 'bridge', command: 'ADD', pod: p1, config: lab.bridgeConfig('wac-red1', red), args: podArgs('r1') });
    const r2 = await lab.cni({ plugin: 'macvlan', command: 'ADD', pod: p2, config: lab.macvlanConfig('wac-blue', blue), args: podArgs('b1') });
    const r3 = await lab.cni({ plugin: 'macvlan', command: 'ADD', pod: p3, config: lab.macvlanConfig('wac-red2', red), args: podArgs('r2') });
    assert.deepEqual([ipsOf(r1), ipsOf(r2), ipsOf(r3)], [['198.18.32.1/24'], ['198.18.32.1/24'], ['198.18.32.2/24']]);
    // the operator's listing shows the two address spaces
    const cli = await run(process.execPath, [path.join(REPO, 'dist', 'bin', 'cni-dhcp'), 'whereabouts', 'allocations', '--socket', lab.socketPath, '--range', '198.18.32.0/24']);
    assert.equal(cli.code, 0, cli.stderr);
    const lines = cli.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^NETWORK_NAME\s+RANGE\s+ADDRESS\s+POD/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4).join(' ')).sort(), [
      'blue 198.18.32.0/24 198.18.32.1 default/b1',
      'red 198.18.32.0/24 198.18.32.1 default/r1',
      'red 198.18.32.0/24 198.18.32.2 default/r2',
    ]);
  });

  it('ADD is idempotent on pod + ifname: a re-created sandbox keeps its address', async () => {
    const config = lab.bridgeConfig('wac-idem', { range: '198.18.33.0/24' });
    const first = await lab.cni({ plugin: 'whereabouts', command: 'ADD', containerId: 'idem-1', ifname: 'net1', args: podArgs('idem'), config });
    const again = await lab.cni({ plugin: 'whereabouts', command: 'ADD', containerId: 'idem-1', ifname: 'net1', args: podArgs('idem'), config });
    const recreated = await lab.cni({ plugin: 'whereabouts', command: 'ADD', containerId: 'idem-2', ifname: 'net1', args: podArgs('idem'), config });
    assert.equal(first.code, 0, first.stdout);
    assert.deepEqual([ipsOf(again), ipsOf(recreated)], [ipsOf(first), ipsOf(first)]);
    const rows = (await lab.allocations()).filter((a) => a.podRef === 'default/idem');
    assert.deepEqual(rows.map((a) => a.containerId), ['idem-2']);
  });

  it('100 concurrent ADDs through bridge into exactly 100 addresses: all succeed, all distinct; the 101st fails with 103; DEL frees them all', async () => {
    const range = { range: '198.18.34.0/24', range_start: '198.18.34.10', range_end: '198.18.34.109' };
    const config = lab.bridgeConfig('wac-burst', range);
    const pods = Array.from({ length: 100 }, () => lab.pod());
    const adds = await Promise.all(pods.map((pod, i) => lab.cni({ plugin: 'bridge', command: 'ADD', pod, config, args: podArgs(`burst-${i}`) })));
    adds.forEach((r, i) => assert.equal(r.code, 0, `ADD ${i}: ${r.stdout}${r.stderr}`));
    const addrs = adds.map((r) => ipsOf(r)[0]);
    assert.equal(new Set(addrs).size, 100, 'distinct addresses');
    const extra = lab.pod();
    const over = await lab.cni({ plugin: 'bridge', command: 'ADD', pod: extra, config, args: podArgs('burst-100') });
    assert.notEqual(over.code, 0);
    const err = JSON.parse(over.stdout) as { code: number; msg: string };
    assert.equal(err.code, 103, over.stdout);
    assert.match(err.msg, /198\.18\.34\.0\/24.*100 usable addresses/);
    const dels = await Promise.all(pods.map((pod, i) => lab.cni({ plugin: 'bridge', command: 'DEL', pod, config, args: podArgs(`burst-${i}`) })));
    dels.forEach((r, i) => assert.equal(r.code, 0, `DEL ${i}: ${r.stdout}${r.stderr}`));
    assert.equal((await lab.allocations()).filter((a) => a.range === '198.18.34.0/24').length, 0);
  });

  it('GC releases every allocation of the network not in cni.dev/valid-attachments', async () => {
    const config = lab.bridgeConfig('wac-gc', { range: '198.18.35.0/24' });
    for (const id of ['gc-1', 'gc-2', 'gc-3']) {
      const r = await lab.cni({ plugin: 'whereabouts', command: 'ADD', containerId: id, ifname: 'net1', args: podArgs(id), config });
      assert.equal(r.code, 0, r.stdout);
    }
    const gc = await lab.cni({ plugin: 'whereabouts', command: 'GC', config: { ...lab.v11(config), 'cni.dev/valid-attachments': [{ containerID: 'gc-2', ifname: 'net1' }] } });
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual((await lab.allocations()).filter((a) => a.range === '198.18.35.0/24').map((a) => a.containerId), ['gc-2']);
  });

  it('bad input: stdin that is not JSON is 6, a bad range is 7 naming it, CHECK below 0.4.0 is 1', async () => {
    const junk = await lab.cni({ plugin: 'whereabouts', command: 'ADD', containerId: 'bad', ifname: 'net1', config: '{nope' });
    assert.equal(JSON.parse(junk.stdout).code, 6);
    const badRange = await lab.cni({ plugin: 'whereabouts', command: 'ADD', containerId: 'bad', ifname: 'net1', config: lab.bridgeConfig('wac-bad', { range: '198.18.36.0/33' }) });
    const e = JSON.parse(badRange.stdout) as { code: number; msg: string };
    assert.equal(e.code, 7);
    assert.match(e.msg, /ipam\.range "198\.18\.36\.0\/33"/);
    const old = await lab.cni({ plugin: 'whereabouts', command: 'CHECK', containerId: 'bad', ifname: 'net1', pod: lab.pod(), config: { ...lab.bridgeConfig('wac-bad', { range: '198.18.36.0/24' }, '0.3.1'), prevResult: {} } });
    assert.equal(JSON.parse(old.stdout).code, 1);
  });

  it('STATUS succeeds with the daemon up; with it down STATUS is 50 and ADD is 11, each naming the socket', async () => {
    const config = lab.v11(lab.bridgeConfig('wac-status', { range: '198.18.37.0/24' }));
    assert.equal((await lab.cni({ plugin: 'whereabouts', command: 'STATUS', config })).code, 0);
    await lab.stopDaemon();
    try {
      const st = await lab.cni({ plugin: 'whereabouts', command: 'STATUS', config });
      const s = JSON.parse(st.stdout) as { code: number; msg: string };
      assert.equal(s.code, 50);
      assert.ok(s.msg.includes(lab.socketPath), s.msg);
      const add = await lab.cni({ plugin: 'whereabouts', command: 'ADD', containerId: 'down', ifname: 'net1', config });
      const a = JSON.parse(add.stdout) as { code: number; msg: string };
      assert.equal(a.code, 11);
      assert.ok(a.msg.includes(lab.socketPath), a.msg);
    } finally {
      await lab.startDaemon();
    }
  });
});
