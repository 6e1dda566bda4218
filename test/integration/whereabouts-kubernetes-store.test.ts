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
import { KubernetesStore } from '../../daemon/whereabouts/kubernetes-store';
import { K8sContractServer } from '../helpers/k8s-contract-server';
import { storeContract } from '../helpers/whereabouts-store-contract';
import { alloc, allocate, POOL_A, soon } from '../helpers/whereabouts-records';

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
});
