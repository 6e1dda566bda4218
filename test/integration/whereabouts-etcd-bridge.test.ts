/**
 * @root whereabouts with `datastore: etcd` end to end: the reference bridge plugin execs
 * dist/cni/whereabouts as a runtime does, which forwards to one of two daemons (two "nodes")
 * sharing a real 3-member etcd 3.4 cluster. Judged from every ADD's answer and from the store.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEtcdStore } from '../../daemon/whereabouts/etcd-store';
import type { WhereaboutsStore } from '../../daemon/whereabouts/store';
import { ETCD, EtcdCluster } from '../helpers/etcd-cluster';
import { cleanupNetns, type TestNetns } from '../helpers/netns';
import { requireRootTools } from '../helpers/sh';
import { startWbNode, stopWbNode, type WbNode } from '../helpers/whereabouts-etcd-nodes';
import { ipsOf, podArgs, WhereaboutsLab } from '../helpers/whereabouts-lab';
import { soon } from '../helpers/whereabouts-records';

describe('whereabouts on etcd through the bridge plugin, two daemons @root', function () {
  this.timeout(600_000);
  let cluster: EtcdCluster;
  let lab: WhereaboutsLab;
  let nodes: WbNode[] = [];
  let store: WhereaboutsStore;
  let root = '';

  before(async function () {
    requireRootTools(this, [ETCD, '/usr/lib/cni/bridge', '/usr/sbin/ip']);
    cluster = await EtcdCluster.start();
    lab = new WhereaboutsLab();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cdt-wae-nodes-'));
    nodes = [await startWbNode(root, 'wae-node-a'), await startWbNode(root, 'wae-node-b')];
    store = openEtcdStore({ endpoints: cluster.endpoints() });
  });
  after(async () => {
    await store?.close();
    for (const n of nodes) await stopWbNode(n);
    await cluster?.close();
    await cleanupNetns();
    lab?.cleanup();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const etcdIpam = (extra: Record<string, unknown>, node: WbNode) => ({
    datastore: 'etcd',
    etcd_host: cluster.endpoints().map((e) => e.replace(/^http:\/\//, '')).join(','),
    daemonSocketPath: node.socketPath,
    ...extra,
  });

  async function bridge(command: 'ADD' | 'DEL', pod: TestNetns, name: string, range: Record<string, unknown>, node: WbNode) {
    const r = await lab.cni({ plugin: 'bridge', command, pod, config: lab.bridgeConfig(name, etcdIpam(range, node)), args: podArgs(pod.name) });
    let code: number | undefined;
    if (r.code !== 0) code = (JSON.parse(r.stdout) as { code: number }).code;
    return { ...r, code, address: ipsOf(r)[0] };
  }

  async function held(networkName: string, range: string): Promise<Map<string, string>> {
    const [snap] = await store.read([{ networkName, range }], soon());
    return new Map(snap!.allocations.map((a) => [a.address, a.containerId]));
  }

  it('pods on two nodes get the lowest free addresses of one shared range, and DEL frees them in etcd', async () => {
    const range = { range: '198.18.50.0/24', network_name: 'wae-few' };
    const pods = [lab.pod(), lab.pod(), lab.pod(), lab.pod()];
    const got = [];
    for (const [i, pod] of pods.entries()) {
      const r = await bridge('ADD', pod, 'wae-few', range, nodes[i % 2]!);
      assert.equal(r.code, undefined, r.stdout + r.stderr);
      got.push(r.address);
      assert.match(pod.ip('-o', 'addr', 'show', 'dev', 'eth1'), new RegExp(`inet ${r.address!.replace(/\./g, '\\.')}`));
    }
    assert.deepEqual(got, ['198.18.50.1/24', '198.18.50.2/24', '198.18.50.3/24', '198.18.50.4/24']);
    const stored = await held('wae-few', '198.18.50.0/24');
    assert.deepEqual([...stored.entries()].sort(), pods.map((p, i) => [`198.18.50.${i + 1}`, p.name]).sort());
    for (const [i, pod] of pods.entries()) {
      const d = await bridge('DEL', pod, 'wae-few', range, nodes[(i + 1) % 2]!);
      assert.equal(d.code, undefined, d.stdout + d.stderr);
    }
    assert.equal((await held('wae-few', '198.18.50.0/24')).size, 0);
  });

  it('100 concurrent ADDs over two nodes into exactly 100 addresses: all distinct; the 101st fails clearly; DEL frees them all', async () => {
    const range = { range: '198.18.51.0/24', range_start: '198.18.51.1', range_end: '198.18.51.100', network_name: 'wae-100' };
    const pods = Array.from({ length: 100 }, () => lab.pod());
    const answers = await Promise.all(pods.map((pod, i) => bridge('ADD', pod, 'wae-100', range, nodes[i % 2]!)));
    const failed = answers.filter((a) => a.code !== undefined);
    assert.deepEqual(failed.map((f) => f.stdout), []);
    const addrs = answers.map((a) => a.address!);
    assert.equal(new Set(addrs).size, 100);
    const stored = await held('wae-100', '198.18.51.0/24');
    assert.equal(stored.size, 100);
    for (const [i, a] of answers.entries()) assert.equal(stored.get(a.address!.split('/')[0]!), pods[i]!.name);
    const extra = await bridge('ADD', lab.pod(), 'wae-100', range, nodes[0]!);
    assert.equal(extra.code, 103, extra.stdout);
    assert.match(extra.stdout, /198\.18\.51\.0\/24.*100/);
    const dels = await Promise.all(pods.map((pod, i) => bridge('DEL', pod, 'wae-100', range, nodes[(i + 1) % 2]!)));
    assert.deepEqual(dels.filter((d) => d.code !== undefined).map((d) => d.stdout), []);
    assert.equal((await held('wae-100', '198.18.51.0/24')).size, 0);
  });

  it('the etcd leader SIGKILLed mid-burst of 40 ADDs: 0 duplicates, every failure is code 11, a retry succeeds, the store holds exactly what was answered', async () => {
    const range = { range: '198.18.52.0/24', network_name: 'wae-leader' };
    const pods = Array.from({ length: 40 }, () => lab.pod());
    let answered = 0;
    let killed: Promise<number> | undefined;
    const answers = await Promise.all(
      pods.map(async (pod, i) => {
        const r = await bridge('ADD', pod, 'wae-leader', range, nodes[i % 2]!);
        if (++answered === 10) killed = cluster.killLeader();
        return r;
      }),
    );
    const victim = await killed!;
    const failures = answers.filter((a) => a.code !== undefined);
    for (const f of failures) assert.equal(f.code, 11, `a failure that is not retryable: ${f.stdout}`);
    // the runtime retries a failed ADD; on the same pod it returns what the store holds for it
    const final = [...answers];
    for (const [i, a] of answers.entries()) {
      if (a.code === undefined) continue;
      await bridge('DEL', pods[i]!, 'wae-leader', range, nodes[i % 2]!);
      final[i] = await bridge('ADD', pods[i]!, 'wae-leader', range, nodes[i % 2]!);
      assert.equal(final[i]!.code, undefined, final[i]!.stdout);
    }
    const addrs = final.map((a) => a.address!);
    assert.equal(new Set(addrs).size, 40, `duplicates among ${addrs.join(' ')}`);
    const stored = await held('wae-leader', '198.18.52.0/24');
    assert.equal(stored.size, 40);
    for (const [i, a] of final.entries()) assert.equal(stored.get(a.address!.split('/')[0]!), pods[i]!.name);
    await cluster.restart(victim);
  });
});
