/**
 * @root The three duplicate-address races of Whereabouts' reconciler, made to happen at the
 * exact instant, on the real file store and on a real 3-member etcd: the reconciler's run
 * (reconcile/run.ts) with the real node liveness source over real network namespaces, and
 * the real IPAM service allocating in the middle of the run through the run's test seams.
 *
 * 1. a pod whose liveness is not recorded yet: younger than the grace period, or unknown;
 * 2. a pod created between reading the pools and reading the living, taking the very offset
 *    of a dead pod that was DELeted meanwhile: the free re-reads and compares, and fails;
 * 3. a StatefulSet pod re-created under its name while the run judges its old sandbox dead:
 *    the record moved to the new container id, so the free of the old one fails.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openEtcdStore } from '../../daemon/whereabouts/etcd-store';
import { FileStore } from '../../daemon/whereabouts/file-store';
import { WhereaboutsService } from '../../daemon/whereabouts/ipam-service';
import { silentLogger } from '../../daemon/log';
import { NodeLiveness } from '../../daemon/whereabouts/reconcile/node-liveness';
import { NodeRecords } from '../../daemon/whereabouts/reconcile/node-records';
import { reconcileOnce, type RunOptions } from '../../daemon/whereabouts/reconcile/run';
import type { WhereaboutsStore } from '../../daemon/whereabouts/store';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { ETCD, EtcdCluster } from '../helpers/etcd-cluster';
import { cleanupNetns, createNetns, type TestNetns } from '../helpers/netns';
import { requireRootTools, run } from '../helpers/sh';
import { soon } from '../helpers/whereabouts-records';

const GRACE = 5 * 60_000;

for (const kind of ['file', 'etcd'] as const) {
  describe(`whereabouts reconciler races on the ${kind} store @root`, function () {
    this.timeout(180_000);
    let cluster: EtcdCluster | undefined;
    let dir: string;
    let store: WhereaboutsStore;
    let seq = 0;

    before(async function () {
      requireRootTools(this, ['/usr/sbin/ip', ...(kind === 'etcd' ? [ETCD] : [])]);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `cdt-rcr-${kind}-`));
      if (kind === 'etcd') {
        cluster = await EtcdCluster.start();
        store = openEtcdStore({ endpoints: cluster.endpoints() });
      } else {
        const f = new FileStore(path.join(dir, 'store'));
        f.open();
        store = f;
      }
    });
    after(async () => {
      await store?.close();
      await cluster?.close();
      await cleanupNetns();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** one node of its own per test, and its own network_name, so tests share the store without sharing allocations */
    function node() {
      const n = seq++;
      const name = `rc-${kind}-${n}`;
      const ipam = parseWhereaboutsIpam({ type: 'whereabouts', range: '198.18.63.0/24', network_name: name });
      const service = new WhereaboutsService({ storeFor: () => store, node: name, log: silentLogger });
      const records = new NodeRecords(fs.mkdtempSync(path.join(dir, 'rec-')), silentLogger);
      const source = new NodeLiveness(records);
      const pool = { networkName: name, range: '198.18.63.0/24' };
      return {
        name,
        pool,
        records,
        /** an ADD as the daemon handles it: allocate, then record the namespace (unless `unrecorded`) */
        async add(netns: TestNetns, containerId: string, podRef: string, unrecorded = false): Promise<string> {
          const who = { containerId, podRef, ifname: 'net1', network: name };
          const [ip] = await service.add(ipam, who);
          if (!unrecorded) records.added({ containerId, ifname: 'net1', netns: netns.path, network: name }, Date.now());
          return ip!.address;
        },
        del: (containerId: string) => service.del(ipam, { containerId, podRef: '', ifname: 'net1', network: name }),
        run: (graceMs: number, seams: Pick<RunOptions, 'afterPoolsRead' | 'beforeFrees'> = {}) =>
          reconcileOnce([{ store, source }], { node: name, graceMs, now: Date.now, log: silentLogger, ...seams }, 'test'),
        async holders(): Promise<Map<string, string>> {
          const [snap] = await store.read([pool], soon());
          return new Map(snap!.allocations.map((x) => [x.address, x.containerId]));
        },
      };
    }
    const kill = async (ns: TestNetns) => assert.equal((await run('ip', ['netns', 'del', ns.name])).code, 0);

    it('race 1: a pod whose liveness is not recorded yet keeps its address: young within the grace, unknown after it', async () => {
      const n = node();
      const pod = createNetns('rcr');
      const addr = await n.add(pod, 'c-early', 'ns/early', true);
      await kill(pod);
      const young = await n.run(GRACE);
      assert.deepEqual([young.freed, young.reasons['keep:young']], [0, 1], JSON.stringify(young));
      const unknown = await n.run(0);
      assert.deepEqual([unknown.freed, unknown.reasons['keep:unknown']], [0, 1], JSON.stringify(unknown));
      // and a recorded pod whose namespace exists is alive, however old
      const other = createNetns('rcr');
      await n.add(other, 'c-other', 'ns/other');
      const s = await n.run(0);
      assert.equal(s.reasons['keep:alive-container'], 1, JSON.stringify(s));
      assert.equal((await n.holders()).get(addr), 'c-early');
    });

    for (const seam of ['afterPoolsRead', 'beforeFrees'] as const) {
      it(`race 2 (${seam}): a pod created after the pools were read, on the offset a dead pod's late DEL freed, keeps it`, async () => {
        const n = node();
        const dead = createNetns('rcr');
        const addr = await n.add(dead, 'c-dead', 'ns/dead');
        await kill(dead);
        const newcomer = createNetns('rcr');
        let got = '';
        const s = await n.run(0, {
          [seam]: async () => {
            assert.equal(await n.del('c-dead'), 1);
            got = await n.add(newcomer, 'c-new', 'ns/new');
          },
        });
        assert.equal(got, addr, 'the newcomer took the very offset the run judged');
        assert.equal(s.examined - (s.reasons['keep:other-node'] ?? 0), 1, 'the newcomer was not in the snapshot');
        assert.deepEqual([s.freed, s.reasons['keep:changed']], [0, 1], JSON.stringify(s));
        assert.equal((await n.holders()).get(addr), 'c-new');
        const next = await n.run(0);
        assert.deepEqual([next.freed, next.reasons['keep:alive-container']], [0, 1]);
      });
    }

    it('race 2, same container id: a DEL and a new ADD of the very attachment between the judgement and the free is not clobbered', async () => {
      const n = node();
      const dead = createNetns('rcr');
      const addr = await n.add(dead, 'c-again', 'ns/again');
      await kill(dead);
      const revived = createNetns('rcr');
      const s = await n.run(0, {
        beforeFrees: async () => {
          assert.equal(await n.del('c-again'), 1);
          await new Promise((r) => setTimeout(r, 5)); // a later createdAt, to the millisecond
          assert.equal(await n.add(revived, 'c-again', 'ns/again'), addr);
        },
      });
      // the store's compare (container id + ifname) would pass: the run's re-read sees a different record
      assert.deepEqual([s.freed, s.reasons['keep:changed']], [0, 1], JSON.stringify(s));
      assert.equal((await n.holders()).get(addr), 'c-again');
    });

    it('race 3: a StatefulSet pod re-created under its name while the run judges the old sandbox keeps its address', async () => {
      const n = node();
      const oldNs = createNetns('rcr');
      const addr = await n.add(oldNs, 'c-sts-old', 'db/db-0');
      await kill(oldNs);
      const newNs = createNetns('rcr');
      const s = await n.run(0, {
        beforeFrees: async () => {
          assert.equal(await n.add(newNs, 'c-sts-new', 'db/db-0'), addr, 'idempotent per pod + ifname');
        },
      });
      assert.deepEqual([s.freed, s.reasons['keep:changed']], [0, 1], JSON.stringify(s));
      assert.equal((await n.holders()).get(addr), 'c-sts-new');
      const next = await n.run(0);
      assert.deepEqual([next.freed, next.reasons['keep:alive-container']], [0, 1], JSON.stringify(next));
    });

    it('the runtime\'s GC list: listed keeps a pod whose namespace is gone; a newer list that leaves it out frees it', async () => {
      const n = node();
      const pod = createNetns('rcr');
      const addr = await n.add(pod, 'c-gc', 'ns/gc');
      await kill(pod);
      // the namespace pin is gone, but the runtime still lists the attachment (e.g. a pin the daemon's mount lost)
      n.records.gcArrived(n.name, [{ containerId: 'c-gc', ifname: 'net1' }], Date.now());
      const kept = await n.run(0);
      assert.deepEqual([kept.freed, kept.reasons['keep:alive-container']], [0, 1], JSON.stringify(kept));
      // and without a namespace record at all: a GC list newer than the allocation that leaves it out is evidence enough
      const m = node();
      const addr2 = await m.add(createNetns('rcr'), 'c-unpinned', 'ns/unpinned', true);
      m.records.gcArrived(m.name, [], Date.now() + 1);
      const freed = await m.run(0);
      assert.deepEqual(freed.freedAllocations.map((f) => [f.address, f.evidence.split(' ')[0]]), [[addr2, 'not-in-gc-list']]);
      n.records.gcArrived(n.name, [], Date.now() + 1);
      assert.equal((await n.run(0)).freed, 1);
      assert.equal((await n.holders()).get(addr), undefined);
    });

    it('a dead pod past the grace is freed and its address reused', async () => {
      const n = node();
      const dead = createNetns('rcr');
      const addr = await n.add(dead, 'c-gone', 'ns/gone');
      await kill(dead);
      const s = await n.run(0);
      assert.equal(s.freed, 1, JSON.stringify(s));
      assert.match(s.freedAllocations[0]!.evidence, /netns-gone/);
      assert.equal(await n.add(createNetns('rcr'), 'c-next', 'ns/next'), addr);
    });
  });
}
