/**
 * The kubernetes store through @kubernetes/client-node against the contract-test API server
 * (test/helpers/k8s-contract-server.ts): the shared store contract, the objects it writes as
 * Whereabouts' tools read them, Whereabouts' own objects read back, the namespace rules,
 * compensation, orphan reservations, and a bounded failure when nothing answers.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Watch } from '@kubernetes/client-node';
import { connect } from '../../daemon/whereabouts/kubernetes-client';
import { KubernetesStore } from '../../daemon/whereabouts/kubernetes-store';
import { listLivePods, NETWORK_STATUS } from '../../daemon/whereabouts/k8s-pods';
import { StoreUnavailableError } from '../../daemon/whereabouts/store';
import { K8sContractServer } from '../helpers/k8s-contract-server';
import { storeContract } from '../helpers/whereabouts-store-contract';
import { alloc, allocate, POOL_A, release, reservation, soon } from '../helpers/whereabouts-records';
import { freePort } from '../helpers/etcd-cluster';
import { loadYaml } from '../helpers/k8s-manifests';
import { twoNodesIntoExactRange } from '../helpers/whereabouts-batch-scenario';

describe('whereabouts kubernetes store (contract-test API server)', function () {
  this.timeout(120_000);
  let server: K8sContractServer;
  let dir: string;
  let kubeconfig: string;
  let store: KubernetesStore;
  before(async () => {
    server = await K8sContractServer.start({ token: 'sekret' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k8s-store-'));
    kubeconfig = server.writeKubeconfig(path.join(dir, 'kubeconfig'));
    store = new KubernetesStore({ kubeconfig });
  });
  after(async () => {
    await store?.close();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  storeContract({ store: () => store, another: () => new KubernetesStore({ kubeconfig }) });

  it('smoke: writes Whereabouts-shaped objects in kube-system', async () => {
    const a = alloc(5, 'smoke');
    assert.equal(await store.commit(allocate(POOL_A, a), soon()), true);
    const pool = server.object('ippools', 'kube-system', '198.18.0.0-24');
    assert.deepEqual((pool as { spec: unknown }).spec, { range: '198.18.0.0/24', allocations: { '5': { id: 'cid-smoke', podref: 'default/pod-smoke', ifname: 'eth0' } } });
    assert.ok(server.object('overlappingrangeipreservations', 'kube-system', '198.18.0.5'));
  });

  it("the namespace is the kubeconfig context's, else kube-system; in-cluster, the service account's", async () => {
    const other = new KubernetesStore({ kubeconfig: server.writeKubeconfig(path.join(dir, 'kc-ns'), 'whereabouts') });
    const pool = { networkName: 'nsnet', range: '198.18.0.0/24' };
    assert.equal(await other.commit(allocate(pool, alloc(3, 'ns')), soon()), true);
    assert.ok(server.object('ippools', 'whereabouts', 'nsnet-198.18.0.0-24'));
    assert.equal(server.object('ippools', 'kube-system', 'nsnet-198.18.0.0-24'), undefined);
    // in a pod: KUBERNETES_SERVICE_HOST/PORT and the service account's files
    const sa = path.join(dir, 'sa');
    const saDir = path.join(sa, 'var', 'run', 'secrets', 'kubernetes.io', 'serviceaccount');
    fs.mkdirSync(saDir, { recursive: true });
    fs.writeFileSync(path.join(saDir, 'token'), 'sekret');
    fs.copyFileSync(server.certs.ca, path.join(saDir, 'ca.crt'));
    fs.writeFileSync(path.join(saDir, 'namespace'), 'cni-system');
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = String(server.port);
    try {
      const inCluster = new KubernetesStore({ serviceAccountRoot: sa });
      assert.equal(await inCluster.commit(allocate(pool, alloc(4, 'sa')), soon()), true);
      assert.ok(server.object('ippools', 'cni-system', 'nsnet-198.18.0.0-24'));
    } finally {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    assert.throws(() => new KubernetesStore({}), (err: Error) => err instanceof StoreUnavailableError && /KUBERNETES_SERVICE_HOST/.test(err.message));
  });

  it("reads Whereabouts' own objects, and a DEL of its allocation removes its reservation too", async () => {
    const ns = 'kube-system';
    server.put('ippools', {
      apiVersion: 'whereabouts.cni.cncf.io/v1alpha1',
      kind: 'IPPool',
      metadata: { name: 'legacy-198.18.0.0-24', namespace: ns },
      spec: { range: '198.18.0.0/24', allocations: { '2': { id: 'wa-container', podref: 'default/old', ifname: 'net1' } } },
    });
    server.put('overlappingrangeipreservations', {
      apiVersion: 'whereabouts.cni.cncf.io/v1alpha1',
      kind: 'OverlappingRangeIPReservation',
      metadata: { name: 'legacy-198.18.0.2', namespace: ns },
      spec: { containerid: 'wa-container', podref: 'default/old', ifname: 'net1' },
    });
    const pool = { networkName: 'legacy', range: '198.18.0.0/24' };
    const [snap] = await store.read([pool], soon());
    const theirs = { offset: '2', address: '198.18.0.2', containerId: 'wa-container', podRef: 'default/old', ifname: 'net1', node: '', createdAt: 0 };
    assert.deepEqual(snap?.allocations, [theirs]);
    assert.deepEqual(await store.readReservations('legacy', soon()), [reservation(pool, theirs)]);
    assert.equal(await store.commit(release(pool, theirs), soon()), true);
    assert.deepEqual((server.object('ippools', ns, 'legacy-198.18.0.0-24') as { spec: unknown }).spec, { range: '198.18.0.0/24', allocations: {} });
    assert.equal(server.object('overlappingrangeipreservations', ns, 'legacy-198.18.0.2'), undefined);
  });

  it('a commit whose second pool refuses undoes the first pool and its reservations', async () => {
    const v4 = { networkName: 'dual', range: '198.18.0.0/24' };
    const v4b = { networkName: 'dual', range: '198.18.1.0/24' };
    const taken = { ...alloc(1, 'taken'), address: '198.18.1.1' };
    assert.equal(await store.commit(allocate(v4b, taken), soon()), true);
    const a = alloc(8, 'dual');
    const b = { ...alloc(1, 'dual'), address: '198.18.1.1' };
    // the reservation of b's address is held: everything of this commit must go
    assert.equal(await store.commit([...allocate(v4, a), { op: 'create', pool: v4b, allocation: { ...b, offset: '2', address: '198.18.1.2' } }, { op: 'reserve', reservation: reservation(v4b, b) }], soon()), false);
    assert.deepEqual((await store.read([v4], soon()))[0]?.allocations, []);
    assert.deepEqual((await store.read([v4b], soon()))[0]?.allocations, [taken]);
    assert.deepEqual((await store.readReservations('dual', soon())).map((r) => r.address), ['198.18.1.1']);
  });

  it('an orphan reservation (a crash between the steps) is reaped once older than the grace, a young one is kept', async () => {
    const reaper = new KubernetesStore({ kubeconfig, orphanGraceMs: 1000 });
    const put = (address: string) =>
      server.put('overlappingrangeipreservations', {
        apiVersion: 'whereabouts.cni.cncf.io/v1alpha1',
        kind: 'OverlappingRangeIPReservation',
        metadata: { name: `orphans-${address}`, namespace: 'kube-system' },
        spec: { containerid: `c-${address}`, podref: 'default/gone', ifname: 'net1' },
      });
    put('198.18.0.1');
    // a held one of the same age stays
    const pool = { networkName: 'orphans', range: '198.18.0.0/24' };
    const held = alloc(2, 'held');
    assert.equal(await reaper.commit(allocate(pool, held), soon()), true);
    await new Promise((r) => setTimeout(r, 3000));
    put('198.18.0.3');
    const seen = await reaper.readReservations('orphans', soon());
    assert.deepEqual(seen.map((r) => r.address).sort(), ['198.18.0.2', '198.18.0.3']);
    assert.equal(server.object('overlappingrangeipreservations', 'kube-system', 'orphans-198.18.0.1'), undefined);
    // and the address can be taken again
    assert.equal(await reaper.commit(allocate(pool, alloc(1, 'new')), soon()), true);
  });

  it('a patch whose answer was lost is found applied: true, once', async () => {
    let drop = 1;
    const lossy = await K8sContractServer.start({ dropAnswer: (r) => r.method === 'PATCH' && drop-- > 0 });
    try {
      const s = new KubernetesStore({ kubeconfig: lossy.writeKubeconfig(path.join(dir, 'kc-lossy')) });
      assert.equal(await s.commit(allocate(POOL_A, alloc(1, 'first')), soon()), true);
      const b = alloc(2, 'second');
      assert.equal(await s.commit(allocate(POOL_A, b), soon()), true);
      assert.equal(drop, -1, 'the answer was dropped');
      assert.deepEqual((await s.read([POOL_A], soon()))[0]?.allocations.map((x) => x.offset), ['1', '2']);
    } finally {
      await lossy.close();
    }
  });

  it('nothing listening: StoreUnavailableError naming the server, within the deadline; a wrong token at once', async () => {
    const port = await freePort();
    const kc = path.join(dir, 'kc-dead');
    fs.writeFileSync(kc, fs.readFileSync(kubeconfig, 'utf8').replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`));
    const dead = new KubernetesStore({ kubeconfig: kc });
    for (const call of [() => dead.commit(allocate(POOL_A, alloc(1, 'x')), { deadline: Date.now() + 2000 }), () => dead.health({ deadline: Date.now() + 2000 }), () => dead.read([POOL_A], { deadline: Date.now() + 2000 })]) {
      const t0 = Date.now();
      await assert.rejects(call(), (err: Error) => {
        assert.ok(err instanceof StoreUnavailableError, String(err));
        assert.ok(err.message.includes(`127.0.0.1:${port}`), err.message);
        return true;
      });
      assert.ok(Date.now() - t0 < 2000 + 1500, `took ${Date.now() - t0} ms`);
    }
    const kcBad = path.join(dir, 'kc-bad');
    fs.writeFileSync(kcBad, fs.readFileSync(kubeconfig, 'utf8').replace('"sekret"', '"wrong"'));
    await assert.rejects(new KubernetesStore({ kubeconfig: kcBad }).health(soon()), (err: Error) => err instanceof StoreUnavailableError && /401/.test(err.message));
  });

  it('a re-created sandbox keeps its address: the allocation and the reservation change holder in one commit', async () => {
    const pool = { networkName: 'resandbox', range: '198.18.0.0/24' };
    const old = alloc(6, 'sandbox-1');
    assert.equal(await store.commit(allocate(pool, old), soon()), true);
    const now = { ...old, containerId: 'cid-sandbox-2', createdAt: old.createdAt + 1 };
    const swap = [
      { op: 'delete' as const, pool, allocation: old },
      { op: 'create' as const, pool, allocation: now },
      { op: 'unreserve' as const, reservation: reservation(pool, old) },
      { op: 'reserve' as const, reservation: reservation(pool, now) },
    ];
    assert.equal(await store.commit(swap, soon()), true);
    assert.deepEqual((await store.read([pool], soon()))[0]?.allocations, [now]);
    assert.deepEqual(await store.readReservations('resandbox', soon()), [reservation(pool, now)]);
    // the same swap again finds the old holder gone: refused, nothing changes
    assert.equal(await store.commit(swap, soon()), false);
    assert.deepEqual(await store.readReservations('resandbox', soon()), [reservation(pool, now)]);
  });

  it('200 concurrent ADDs from two nodes into exactly 200 addresses (batches, repeats, re-created sandboxes): one address per pod, none twice', async () => {
    const b = new KubernetesStore({ kubeconfig });
    await twoNodesIntoExactRange(store, b, 200, { network_name: 'k8batch', datastore: 'kubernetes', kubernetes: { kubeconfig } });
  });

  it('the Role in deploy/whereabouts/rbac.yaml grants exactly the verbs the store used here (least privilege)', () => {
    const verb: Record<string, string> = { GET: 'get', LIST: 'list', WATCH: 'watch', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
    const used = new Map<string, Set<string>>();
    for (const key of server.counts.keys()) {
      const [method, plural] = key.split(' ') as [string, string];
      if (plural === 'pods') continue;
      if (!used.has(plural)) used.set(plural, new Set());
      used.get(plural)!.add(verb[method]!);
    }
    const role = loadYaml(path.join(__dirname, '..', '..', 'deploy', 'whereabouts', 'rbac.yaml')).find((d) => d.kind === 'Role') as { rules: Array<{ resources: string[]; verbs: string[] }> };
    const granted = new Map(role.rules.map((r) => [r.resources[0]!, new Set(r.verbs)]));
    assert.deepEqual(
      [...used.entries()].map(([k, v]) => [k, [...v].sort()]).sort(),
      [...granted.entries()].map(([k, v]) => [k, [...v].sort()]).sort(),
    );
  });

  it('the server watches as client-node expects: ADDED, MODIFIED, DELETED of a pool', async () => {
    const own = await K8sContractServer.start();
    after(() => own.close());
    const ownKc = own.writeKubeconfig(path.join(dir, 'kc-watch'));
    const store = new KubernetesStore({ kubeconfig: ownKc });
    const conn = connect(ownKc);
    const events: string[] = [];
    const done = new Promise<void>((resolve) => {
      void new Watch(conn.kc).watch(
        '/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system/ippools',
        {},
        (type: string, obj: { metadata: { name: string } }) => {
          if (obj.metadata.name === 'watched-198.18.0.0-24') events.push(type);
          if (type === 'DELETED' && obj.metadata.name === 'watched-198.18.0.0-24') resolve();
        },
        () => undefined,
      );
    });
    const pool = { networkName: 'watched', range: '198.18.0.0/24' };
    const a = alloc(1, 'w');
    assert.equal(await store.commit(allocate(pool, a), soon()), true);
    assert.equal(await store.commit(release(pool, a), soon()), true);
    const api = conn.kc.makeApiClient(conn.k8s.CustomObjectsApi);
    await api.deleteNamespacedCustomObject({ group: 'whereabouts.cni.cncf.io', version: 'v1alpha1', namespace: 'kube-system', plural: 'ippools', name: 'watched-198.18.0.0-24' });
    await done;
    assert.deepEqual(events, ['ADDED', 'MODIFIED', 'DELETED']);
  });

  it('listLivePods: every pod or one node\'s, with uid, creation time, phase and parsed network-status', async () => {
    const status = [
      { name: 'cbr0', interface: 'eth0', ips: ['10.0.0.5'], default: true },
      { name: 'default/blue', interface: 'net1', ips: ['198.18.0.5', '2001:db8::5'], mac: '02:00:00:00:00:05' },
    ];
    server.setPod({ metadata: { namespace: 'default', name: 'web-0', annotations: { [NETWORK_STATUS]: JSON.stringify(status) } }, spec: { nodeName: 'node-a' }, status: { phase: 'Running' } });
    server.setPod({ metadata: { namespace: 'default', name: 'web-1' }, spec: { nodeName: 'node-b' }, status: { phase: 'Pending' } });
    server.setPod({ metadata: { namespace: 'other', name: 'job', deletionTimestamp: '2026-01-01T00:00:00Z', annotations: { [NETWORK_STATUS]: 'not json' } }, spec: { nodeName: 'node-a' }, status: { phase: 'Running' } });
    const all = await listLivePods({ kubeconfig }, soon());
    assert.deepEqual(all.map((p) => p.podRef), ['default/web-0', 'default/web-1', 'other/job']);
    const web0 = all[0]!;
    assert.match(web0.uid, /^[0-9a-f-]{36}$/);
    assert.ok(web0.createdAt > 0);
    assert.equal(web0.phase, 'Running');
    assert.deepEqual(web0.networkStatus, [
      { name: 'cbr0', interface: 'eth0', ips: ['10.0.0.5'] },
      { name: 'default/blue', interface: 'net1', ips: ['198.18.0.5', '2001:db8::5'] },
    ]);
    assert.equal(all[1]!.networkStatus, undefined, 'not written yet');
    assert.equal(all[2]!.networkStatus, undefined, 'unreadable');
    assert.equal(all[2]!.deletionTimestamp, Date.parse('2026-01-01T00:00:00Z'));
    assert.deepEqual((await listLivePods({ kubeconfig }, { nodeName: 'node-a', deadline: Date.now() + 10_000 })).map((p) => p.podRef), ['default/web-0', 'other/job']);
    assert.deepEqual((await listLivePods({ kubeconfig }, { namespace: 'other', deadline: Date.now() + 10_000 })).map((p) => p.podRef), ['other/job']);
    // a re-created pod under the same name is another uid
    server.deletePod('default', 'web-0');
    server.setPod({ metadata: { namespace: 'default', name: 'web-0' }, spec: { nodeName: 'node-a' }, status: { phase: 'Pending' } });
    const again = (await listLivePods({ kubeconfig }, soon())).find((p) => p.podRef === 'default/web-0')!;
    assert.notEqual(again.uid, web0.uid);
  });
});
