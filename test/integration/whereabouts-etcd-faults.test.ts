/**
 * The etcd store under faults, on a real 3-member etcd 3.4 cluster, checked from the history
 * of what every commit answered (not only from the final state): the leader SIGKILLed in the
 * middle of a burst of lowest-free allocations by 8 clients, quorum lost, and one member cut
 * off from the others in its own network namespace.
 */
import assert from 'node:assert/strict';
import { EtcdStore } from '../../daemon/whereabouts/etcd-store';
import { StoreUnavailableError, type PoolRef } from '../../daemon/whereabouts/store';
import { ETCD, EtcdCluster } from '../helpers/etcd-cluster';
import { useNetnsCleanup } from '../helpers/netns';
import { requireRootTools } from '../helpers/sh';
import { allocateOne, historyProblems, type CommitEvent } from '../helpers/whereabouts-lowest-free';
import { alloc, allocate, soon } from '../helpers/whereabouts-records';

const IP = '/usr/sbin/ip';

async function finalProblems(store: EtcdStore, pool: PoolRef, history: CommitEvent[]): Promise<string[]> {
  const [snap] = await store.read([pool], soon(30_000));
  const resv = await store.readReservations(pool.networkName, soon(30_000));
  return historyProblems(history, snap!.allocations, resv);
}

/** rejects with StoreUnavailableError naming `endpoint`, no later than `slackMs` after the deadline */
async function failsClearly(p: (deadline: { deadline: number }) => Promise<unknown>, endpoint: string, budgetMs: number): Promise<void> {
  const t0 = Date.now();
  await assert.rejects(p({ deadline: t0 + budgetMs }), (err: Error) => {
    assert.ok(err instanceof StoreUnavailableError, String(err));
    assert.ok(err.message.includes(endpoint), err.message);
    return true;
  });
  const took = Date.now() - t0;
  assert.ok(took < budgetMs + 1500, `failed after ${took} ms, deadline ${budgetMs} ms`);
}

describe('whereabouts etcd store: faults on a 3-member cluster @root', function () {
  this.timeout(240_000);

  describe('leader and quorum', function () {
    let cluster: EtcdCluster;
    before(async function () {
      requireRootTools(this, [ETCD]);
      cluster = await EtcdCluster.start();
    });
    after(async () => cluster?.close());

    it('leader SIGKILLed mid-burst of 8 lowest-free allocators: 0 duplicates, nothing lost or half-written, no false answer', async () => {
      const pool: PoolRef = { networkName: 'leader', range: '198.18.0.0/24' };
      const history: CommitEvent[] = [];
      const clients = Array.from({ length: 8 }, () => new EtcdStore({ endpoints: cluster.endpoints() }));
      const perClient = 15;
      let done = 0;
      let killedAt = 0;
      const killer = (async () => {
        while (done < 30) await new Promise((r) => setTimeout(r, 10));
        killedAt = Date.now();
        await cluster.killLeader();
      })();
      const results = await Promise.all(
        clients.map(async (c, i) => {
          const out = [];
          for (let k = 0; k < perClient; k++) {
            out.push(await allocateOne(c, pool, `c${i}-${k}`, { size: 256, deadlineMs: 60_000, history }));
            done++;
          }
          return out;
        }),
      );
      await killer;
      const flat = results.flat();
      assert.deepEqual(flat.filter((r) => !r.ok), [], 'an allocation did not complete after the leader came back');
      assert.ok(history.some((e) => e.answer === true && e.at > killedAt), 'no commit succeeded after the kill');
      assert.deepEqual(await finalProblems(clients[0]!, pool, history), []);
      const [snap] = await clients[0]!.read([pool], soon());
      // every pod holds exactly one address (a timed-out commit that landed was found again by identity)
      assert.equal(snap!.allocations.length, 8 * perClient);
      await cluster.restart(cluster.members.findIndex((_, i) => !cluster.running(i)));
      await Promise.all(clients.map((c) => c.close()));
    });

    it('quorum lost: commit, read and health fail within the deadline naming the endpoints; nothing is written', async () => {
      await cluster.waitHealthy();
      const pool: PoolRef = { networkName: 'quorum', range: '198.18.0.0/24' };
      const leader = await cluster.leader();
      const keep = (leader + 1) % 3;
      const store = new EtcdStore({ endpoints: cluster.endpoints() });
      await cluster.loseQuorum(keep);
      const endpoint = cluster.member(keep).clientUrl;
      const a = alloc(1, 'no-quorum');
      await failsClearly((d) => store.commit(allocate(pool, a), d), endpoint, 3000);
      await failsClearly((d) => store.read([pool], d), endpoint, 3000);
      await failsClearly((d) => store.health(d), endpoint, 3000);
      for (const i of [0, 1, 2]) if (i !== keep) await cluster.restart(i);
      await cluster.waitHealthy();
      const [snap] = await store.read([pool], soon(30_000));
      assert.deepEqual(snap!.allocations, [], 'the commit that failed was written after all');
      assert.deepEqual(await store.readReservations(pool.networkName, soon()), []);
      assert.equal(await store.commit(allocate(pool, alloc(1, 'after')), soon(30_000)), true);
      await store.close();
    });
  });

  describe('one member partitioned', function () {
    useNetnsCleanup();
    let cluster: EtcdCluster;
    before(async function () {
      requireRootTools(this, [ETCD, IP]);
      cluster = await EtcdCluster.start({ isolated: true });
    });
    after(async () => cluster?.close());

    for (const which of ['the leader', 'a follower'] as const) {
      it(`${which} cut off: clients of the majority keep allocating; a client of the cut-off member fails clearly; what it asked lands whole or not at all`, async () => {
        await cluster.waitHealthy();
        const pool: PoolRef = { networkName: `part-${which === 'the leader' ? 'l' : 'f'}`, range: '198.18.0.0/24' };
        const leader = await cluster.leader();
        const cut = which === 'the leader' ? leader : (leader + 1) % 3;
        const rest = [0, 1, 2].filter((i) => i !== cut);
        const majority = new EtcdStore({ endpoints: cluster.endpoints(rest) });
        const lonely = new EtcdStore({ endpoints: cluster.endpoints([cut]) });
        const history: CommitEvent[] = [];
        cluster.partition(cut);
        try {
          const lonelyRecord = alloc(200, 'lonely');
          await failsClearly((d) => lonely.commit(allocate(pool, lonelyRecord), d), cluster.member(cut).clientUrl, 4000);
          await failsClearly((d) => lonely.read([pool], d), cluster.member(cut).clientUrl, 4000);
          history.push({ record: lonelyRecord, answer: 'unavailable', at: Date.now() });
          const got = [];
          for (let k = 0; k < 20; k++) got.push(await allocateOne(majority, pool, `m${k}`, { size: 200, deadlineMs: 30_000, history }));
          assert.deepEqual(got.filter((r) => !r.ok), []);
        } finally {
          cluster.heal(cut);
        }
        await cluster.waitHealthy();
        assert.deepEqual(await finalProblems(majority, pool, history), []);
        const [snap] = await majority.read([pool], soon());
        assert.equal(snap!.allocations.filter((a) => a.containerId.startsWith('cid-m')).length, 20);
        // The lonely commit failed, but it is "maybe written", not "not written": a follower
        // forwards the proposal to the leader over a TCP stream, which retransmits it once the
        // link is back (seen here). historyProblems() checked it is whole if it landed.
        // healed, the cut-off member serves again
        assert.equal(await lonely.commit(allocate(pool, alloc(201, 'healed')), soon(30_000)), true);
        await majority.close();
        await lonely.close();
      });
    }
  });
});
