/**
 * The three duplicate-address races of Whereabouts' reconciler on the kubernetes store: one
 * real daemon (datastore kubernetes) on the contract-test API server, each ADD and DEL through
 * the real shim, each run through the CLI, its pods in the server's pod set. Each race is
 * forced at its exact instant by the server's request hook: while the run's pod LIST is in
 * flight (after the pools were read), or at the run's re-read of a pool before freeing.
 *
 * 1. a pod whose network-status is not written yet keeps its address;
 * 2. a pod created between reading the pools and listing the pods keeps its address, also on
 *    the offset a dead pod's late DEL freed meanwhile (the free re-reads and compares);
 * 3. a StatefulSet pod re-created under its name (new uid) keeps its address, taken over by
 *    its idempotent ADD while the run judges the earlier pod's record; an earlier pod's
 *    distinct record is freed only when provably older than the pod of that name.
 * And a dead pod's address is freed and handed out again.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubernetesStore } from '../../daemon/whereabouts/kubernetes-store';
import type { PoolRef } from '../../daemon/whereabouts/store';
import type { WbReconcileSummary } from '../../shared/whereabouts-protocol';
import { K8sContractServer } from '../helpers/k8s-contract-server';
import { REPO } from '../helpers/lab';
import { runPlugin } from '../helpers/run-plugin';
import { run } from '../helpers/sh';
import { startWbNode, stopWbNode, type WbNode } from '../helpers/whereabouts-etcd-nodes';
import { WB_SHIM } from '../helpers/whereabouts-lab';
import { soon } from '../helpers/whereabouts-records';

const CLI = path.join(REPO, 'dist', 'bin', 'cni-dhcp');
const RANGE = '198.18.64.0/24';
const NS = 'kl';
const HOUR = 3_600_000;

describe('whereabouts reconciler races on the kubernetes store (contract-test API server, one daemon)', function () {
  this.timeout(300_000);
  let server: K8sContractServer;
  let root: string;
  let kubeconfig: string;
  let node: WbNode;
  let store: KubernetesStore;
  /** runs while the daemon's pod LIST is held (once) */
  let duringPodList: (() => Promise<void>) | undefined;
  /** runs at the first pool request after the pod LIST (the run's re-read before freeing), once */
  let beforeFrees: (() => Promise<void>) | undefined;
  let podsListed = false;
  let seq = 0;

  before(async function () {
    if (!fs.existsSync(WB_SHIM)) this.skip();
    server = await K8sContractServer.start({
      onRequest: async (r) => {
        if (r.method === 'GET' && /^\/api\/v1\/pods(\?|$)/.test(r.path) && !r.path.includes('watch=')) {
          podsListed = true;
          const h = duringPodList;
          duringPodList = undefined;
          await h?.();
          return;
        }
        if (podsListed && r.path.includes('/ippools')) {
          podsListed = false;
          const h = beforeFrees;
          beforeFrees = undefined;
          await h?.();
        }
      },
    });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-rck-'));
    kubeconfig = server.writeKubeconfig(path.join(root, 'kubeconfig'));
    node = await startWbNode(root, 'kl-node-a', ['--reconcile-grace', '0']);
    store = new KubernetesStore({ kubeconfig });
  });
  after(async () => {
    await store?.close();
    if (node) await stopWbNode(node);
    await server?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });
  afterEach(() => {
    duringPodList = undefined;
    beforeFrees = undefined;
  });

  /** a network_name of its own per test, so tests share the server without sharing a pool */
  function net(range = RANGE) {
    const networkName = `kl-rc-${seq++}`;
    const pool: PoolRef = { networkName, range };
    const conf = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'klnet',
      type: 'macvlan',
      ipam: { type: 'whereabouts', range, network_name: networkName, datastore: 'kubernetes', kubernetes: { kubeconfig }, daemonSocketPath: node.socketPath, configuration_path: path.join(root, 'none.conf') },
    });
    async function cni(command: 'ADD' | 'DEL', containerId: string, pod: string): Promise<string> {
      const env = { PATH: '/usr/bin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'net1', CNI_PATH: '/usr/lib/cni', CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NS};K8S_POD_NAME=${pod}` };
      const r = await runPlugin([process.execPath, WB_SHIM], env, conf);
      assert.equal(r.code, 0, `${command} ${containerId}: ${r.stdout}${r.stderr}`);
      if (command === 'DEL') return '';
      return (JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips[0]!.address.split('/')[0]!;
    }
    return {
      pool,
      add: (containerId: string, pod: string) => cni('ADD', containerId, pod),
      del: (containerId: string, pod: string) => cni('DEL', containerId, pod),
      async holders(): Promise<Map<string, string>> {
        const [snap] = await store.read([pool], soon());
        return new Map(snap!.allocations.map((a) => [a.address, a.containerId]));
      },
      /** the record of `address` as a node would have made it `ms` earlier (a delete and a create, compared) */
      async backdate(address: string, ms: number): Promise<void> {
        const [snap] = await store.read([pool], soon());
        const old = snap!.allocations.find((a) => a.address === address)!;
        assert.ok(await store.commit([{ op: 'delete', pool, allocation: old }, { op: 'create', pool, allocation: { ...old, createdAt: old.createdAt - ms } }], soon()));
      },
    };
  }
  /** a pod in the server's pod set; `ips`: Multus' network-status for net1, none when undefined */
  function pod(name: string, ips?: string[], extra: { creationTimestamp?: string } = {}): string {
    const annotations: Record<string, string> = ips === undefined ? {} : { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: `${NS}/klnet`, interface: 'net1', ips }]) };
    const p = server.setPod({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: NS, name, annotations, ...extra }, spec: { nodeName: 'kl-node-a' }, status: { phase: 'Running' } });
    return String((p.metadata as { uid: string }).uid);
  }
  async function reconcile(): Promise<WbReconcileSummary> {
    const r = await run(CLI, ['whereabouts', 'reconcile', '--socket', node.socketPath, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout) as WbReconcileSummary;
  }
  /** the run's counts for this test's pool only (the other tests' pools are examined too) */
  const mine = (s: WbReconcileSummary, n: { pool: PoolRef }) => s.freedAllocations.filter((f) => f.networkName === n.pool.networkName);

  it('race 1: a pod whose network-status is not written yet keeps its address; once written, it is alive by it', async () => {
    const n = net();
    pod('early');
    const addr = await n.add('kl-c-early', 'early');
    const s = await reconcile();
    assert.deepEqual(mine(s, n), [], JSON.stringify(s));
    assert.ok((s.reasons['keep:unknown'] ?? 0) >= 1, JSON.stringify(s));
    pod('early', [addr]);
    const t = await reconcile();
    assert.deepEqual(mine(t, n), []);
    assert.ok((t.reasons['keep:alive-container'] ?? 0) >= 1, JSON.stringify(t));
    assert.equal((await n.holders()).get(addr), 'kl-c-early');
  });

  for (const seam of ['pod list', 'before frees'] as const) {
    it(`race 2 (${seam}): a pod created after the pools were read, on the offset a dead pod's late DEL freed, keeps it`, async () => {
      const n = net();
      pod('dead');
      const addr = await n.add('kl-c-dead', 'dead');
      server.deletePod(NS, 'dead');
      let got = '';
      const hook = async () => {
        await n.del('kl-c-dead', 'dead');
        pod('newcomer');
        got = await n.add('kl-c-new', 'newcomer');
      };
      if (seam === 'pod list') duringPodList = hook;
      else beforeFrees = hook;
      const s = await reconcile();
      assert.equal(got, addr, 'the newcomer took the very offset the run judged');
      assert.deepEqual(mine(s, n), [], JSON.stringify(s));
      assert.ok((s.reasons['keep:changed'] ?? 0) >= 1, JSON.stringify(s));
      assert.equal((await n.holders()).get(addr), 'kl-c-new');
      const next = await reconcile();
      assert.deepEqual(mine(next, n), [], JSON.stringify(next));
      assert.equal((await n.holders()).get(addr), 'kl-c-new');
    });
  }

  it('race 3: a StatefulSet pod re-created under its name keeps its address, taken over while the run judges the earlier pod\'s record', async () => {
    const n = net();
    const oldUid = pod('db-0', undefined);
    const addr = await n.add('kl-c-sts-old', 'db-0');
    pod('db-0', [addr]);
    // the earlier pod's record is an hour old; the pod is deleted and re-created under its name (a new uid), no network-status yet
    await n.backdate(addr, HOUR);
    server.deletePod(NS, 'db-0');
    const newUid = pod('db-0');
    assert.notEqual(newUid, oldUid);
    let got = '';
    beforeFrees = async () => {
      got = await n.add('kl-c-sts-new', 'db-0');
    };
    const s = await reconcile();
    assert.equal(got, addr, 'idempotent per pod + ifname');
    assert.deepEqual(mine(s, n), [], JSON.stringify(s));
    assert.ok((s.reasons['keep:changed'] ?? 0) >= 1, JSON.stringify(s));
    assert.equal((await n.holders()).get(addr), 'kl-c-sts-new');
    // the new pod's own record, its network-status not written yet: kept
    const next = await reconcile();
    assert.deepEqual(mine(next, n), [], JSON.stringify(next));
    assert.equal((await n.holders()).get(addr), 'kl-c-sts-new');
  });

  it('race 3, distinct records: an earlier pod\'s record in another pool is freed only when provably older than the pod of its name', async () => {
    const a = net();
    // another range too: a network-status names addresses, not pools, so the same address in both would keep the old record
    const b = net('198.18.65.0/24');
    pod('web-0');
    const oldAddr = await a.add('kl-c-web-old', 'web-0');
    server.deletePod(NS, 'web-0');
    // re-created: its ADD now comes from a config with another network_name (another pool)
    pod('web-0');
    const newAddr = await b.add('kl-c-web-new', 'web-0');
    pod('web-0', [newAddr]);
    // made seconds before the pod of its name: not provably an earlier pod's, kept
    const s = await reconcile();
    assert.deepEqual([...mine(s, a), ...mine(s, b)], [], JSON.stringify(s));
    assert.equal((await a.holders()).get(oldAddr), 'kl-c-web-old');
    // an hour older than the pod of its name: an earlier pod's, freed; the living pod's kept
    await a.backdate(oldAddr, HOUR);
    const t = await reconcile();
    assert.deepEqual(mine(t, a).map((f) => [f.address, f.containerId, f.evidence.split(' ')[0]]), [[oldAddr, 'kl-c-web-old', 'earlier-pod']], JSON.stringify(t));
    assert.deepEqual(mine(t, b), []);
    assert.equal((await b.holders()).get(newAddr), 'kl-c-web-new');
  });

  it('a dead pod (gone from the pod set) loses its address, which is handed out again; a finished pod too', async () => {
    const n = net();
    pod('gone');
    const addr = await n.add('kl-c-gone', 'gone');
    pod('done');
    const addr2 = await n.add('kl-c-done', 'done');
    server.deletePod(NS, 'gone');
    server.setPod({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: NS, name: 'done' }, spec: { nodeName: 'kl-node-a' }, status: { phase: 'Succeeded' } });
    const s = await reconcile();
    assert.deepEqual(
      mine(s, n).map((f) => [f.address, f.evidence.split(' ')[0]]).sort(),
      [[addr, 'pod-gone'], [addr2, 'pod-terminated']].sort(),
      JSON.stringify(s),
    );
    assert.equal((await n.holders()).size, 0);
    pod('next');
    assert.equal(await n.add('kl-c-next', 'next'), addr);
  });
});
