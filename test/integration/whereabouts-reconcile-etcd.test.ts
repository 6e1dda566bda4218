/**
 * @root The reconciler on etcd with two real daemons (two "nodes") sharing a real 3-member
 * etcd cluster; pods attached by the reference bridge plugin calling our shim. Each node
 * frees only its own dead pods' addresses; a restarted daemon still reconciles the etcd store
 * it allocated from; a StatefulSet pod re-created on the other node keeps its address; the
 * node-gone case is the operator's `free --node`.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEtcdStore } from '../../daemon/whereabouts/etcd-store';
import type { WhereaboutsStore } from '../../daemon/whereabouts/store';
import type { WbReconcileSummary } from '../../shared/whereabouts-protocol';
import { ETCD, EtcdCluster } from '../helpers/etcd-cluster';
import { REPO } from '../helpers/lab';
import { cleanupNetns, type TestNetns } from '../helpers/netns';
import { requireRootTools, run } from '../helpers/sh';
import { startWbNode, stopWbNode, type WbNode } from '../helpers/whereabouts-etcd-nodes';
import { ipsOf, podArgs, WhereaboutsLab } from '../helpers/whereabouts-lab';
import { soon } from '../helpers/whereabouts-records';

const CLI = path.join(REPO, 'dist', 'bin', 'cni-dhcp');

describe('whereabouts reconciler on etcd, two daemons @root', function () {
  this.timeout(600_000);
  let cluster: EtcdCluster;
  let lab: WhereaboutsLab;
  let a: WbNode;
  let b: WbNode;
  let store: WhereaboutsStore;
  let root = '';
  const POOL = { networkName: 'rc-etcd', range: '198.18.62.0/24' };
  const args = ['--reconcile-grace', '0'];

  before(async function () {
    requireRootTools(this, [ETCD, '/usr/lib/cni/bridge', '/usr/sbin/ip']);
    cluster = await EtcdCluster.start();
    lab = new WhereaboutsLab({ prefix: 'rce' });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cdt-rce-nodes-'));
    a = await startWbNode(root, 'rc-node-a', args);
    b = await startWbNode(root, 'rc-node-b', args);
    store = openEtcdStore({ endpoints: cluster.endpoints() });
  });
  after(async () => {
    await store?.close();
    for (const n of [a, b]) if (n) await stopWbNode(n);
    await cluster?.close();
    await cleanupNetns();
    lab?.cleanup();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const config = (node: WbNode) =>
    lab.bridgeConfig('rc-etcd', {
      range: POOL.range,
      network_name: POOL.networkName,
      datastore: 'etcd',
      etcd_host: cluster.endpoints().map((e) => e.replace(/^http:\/\//, '')).join(','),
      daemonSocketPath: node.socketPath,
    });
  async function add(pod: TestNetns, name: string, node: WbNode, containerId?: string): Promise<string> {
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: config(node), args: podArgs(name), ...(containerId ? { containerId } : {}) });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return (ipsOf(r)[0] as string).split('/')[0] as string;
  }
  const kill = async (pod: TestNetns) => assert.equal((await run('ip', ['netns', 'del', pod.name])).code, 0);
  async function reconcile(node: WbNode): Promise<WbReconcileSummary> {
    const r = await run(CLI, ['whereabouts', 'reconcile', '--socket', node.socketPath, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout) as WbReconcileSummary;
  }
  async function held(): Promise<Map<string, { containerId: string; node: string }>> {
    const [snap] = await store.read([POOL], soon());
    return new Map(snap!.allocations.map((x) => [x.address, { containerId: x.containerId, node: x.node }]));
  }

  it('each node frees only its own dead pods; the other node\'s are kept; a restarted daemon still reconciles etcd', async () => {
    const pa = lab.pod();
    const pb = lab.pod();
    const live = lab.pod();
    const addrA = await add(pa, 'pa', a);
    const addrB = await add(pb, 'pb', b);
    const addrLive = await add(live, 'live', a);
    await kill(pa);
    await kill(pb);
    const sb = await reconcile(b);
    assert.deepEqual(sb.freedAllocations.map((f) => f.address), [addrB], JSON.stringify(sb));
    assert.equal(sb.reasons['keep:other-node'], 2);
    assert.equal((await held()).get(addrA)?.containerId, pa.name);
    // node a's daemon restarts: its records bring the etcd store back before any ADD
    await stopWbNode(a);
    a = await startWbNode(root, 'rc-node-a', args);
    const sa = await reconcile(a);
    assert.deepEqual(sa.freedAllocations.map((f) => f.address), [addrA], JSON.stringify(sa));
    assert.equal(sa.reasons['keep:alive-container'], 1);
    const h = await held();
    assert.deepEqual([...h.keys()], [addrLive]);
    const again = lab.pod();
    assert.equal(await add(again, 'again', b), addrA < addrB ? addrA : addrB, 'a freed address is handed out again');
  });

  it('race 3 on etcd: a StatefulSet pod re-created on the other node keeps its address; neither reconciler frees it', async () => {
    const old = lab.pod();
    const addr = await add(old, 'db-0', a, 'rc-sts-old');
    await kill(old);
    const fresh = lab.pod();
    assert.equal(await add(fresh, 'db-0', b, 'rc-sts-new'), addr);
    assert.deepEqual((await held()).get(addr), { containerId: 'rc-sts-new', node: 'rc-node-b' });
    for (const n of [a, b]) {
      const s = await reconcile(n);
      assert.ok(!s.freedAllocations.some((f) => f.address === addr), JSON.stringify(s));
    }
    assert.deepEqual((await held()).get(addr), { containerId: 'rc-sts-new', node: 'rc-node-b' });
  });

  it('a node gone for good: the operator frees all it held with free --node, after seeing the list', async () => {
    const p = lab.pod();
    const addr = await add(p, 'orphan', b);
    await stopWbNode(b);
    const r = await run(CLI, ['whereabouts', 'free', '--node', 'rc-node-b', '--socket', a.socketPath, '--yes']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`${addr.replace(/\./g, '\\.')}.*rc-node-b`));
    assert.match(r.stdout, new RegExp(`freed ${addr.replace(/\./g, '\\.')} `));
    assert.ok(![...(await held()).values()].some((x) => x.node === 'rc-node-b'));
    b = await startWbNode(root, 'rc-node-b', args);
  });
});
