/**
 * Batched ADDs on a real 3-member etcd 3.4 cluster (127.0.0.1): two services, each with its
 * own etcd client (two nodes), 400 concurrent ADDs into exactly 400 addresses, with repeats
 * and re-created sandboxes (a replace of the same key in one transaction). Batches here are
 * larger than one etcd transaction takes (128 operations), so they are split as well.
 */
import { openEtcdStore } from '../../daemon/whereabouts/etcd-store';
import type { WhereaboutsStore } from '../../daemon/whereabouts/store';
import { ETCD, EtcdCluster } from '../helpers/etcd-cluster';
import { requireRootTools } from '../helpers/sh';
import { twoNodesIntoExactRange } from '../helpers/whereabouts-batch-scenario';

describe('whereabouts ADD batching on a 3-member etcd cluster @root', function () {
  this.timeout(300_000);
  let cluster: EtcdCluster;
  let a: WhereaboutsStore;
  let b: WhereaboutsStore;

  before(async function () {
    requireRootTools(this, [ETCD]);
    cluster = await EtcdCluster.start({ prefix: 'waf' });
    a = openEtcdStore({ endpoints: cluster.endpoints() });
    b = openEtcdStore({ endpoints: cluster.endpoints() });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await cluster?.close();
  });

  it('400 concurrent ADDs from two nodes into exactly 400 addresses: all succeed, one address per pod, none twice; freed addresses go lowest first', async () => {
    await twoNodesIntoExactRange(a, b, 400, { network_name: 'wafbatch', datastore: 'etcd', etcd_host: cluster.endpoints().join(',') });
  });
});
