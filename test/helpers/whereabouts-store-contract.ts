/**
 * The store contract every Whereabouts store passes, as mocha tests: conditional create wins
 * once among racers with their own clients, a delete compares the holder, an allocation and its
 * reservation land together or not at all. A store's own test file calls this with how to
 * open clients; what only one store can do (etcd's one-revision read, TLS, the Kubernetes
 * wire format) stays in that store's file.
 */
import assert from 'node:assert/strict';
import type { PoolRef, WhereaboutsStore } from '../../daemon/whereabouts/store';
import { alloc, allocate, release, reservation, soon } from './whereabouts-records';

export interface ContractSubject {
  /** the store the assertions read through (opened before the tests run) */
  store(): WhereaboutsStore;
  /** another client of the same store, as another daemon would have */
  another(): WhereaboutsStore;
}

export function storeContract(subject: ContractSubject): void {
  let seq = 0;
  /** a fresh network_name per test, so tests share the store without sharing keys */
  const fresh = (): PoolRef => ({ networkName: `c${process.pid}-${seq++}`, range: '198.18.0.0/24' });

  it('contract: writes an allocation and its reservation and reads them back', async () => {
    const store = subject.store();
    const pool = fresh();
    const a = alloc(10, 'one');
    assert.equal(await store.commit(allocate(pool, a), soon()), true);
    const [snap] = await store.read([pool], soon());
    assert.deepEqual(snap?.allocations, [a]);
    assert.notEqual(snap!.revision, '');
    assert.deepEqual(await store.readReservations(pool.networkName, soon()), [reservation(pool, a)]);
    // the same range under another network_name is another address space
    const [other] = await store.read([{ ...pool, networkName: `${pool.networkName}x` }], soon());
    assert.deepEqual(other?.allocations, []);
    assert.ok((await store.listPools(soon())).some((p) => p.networkName === pool.networkName && p.range === pool.range));
  });

  it('contract: 16 racers creating one offset, each with its own client: exactly one wins, and it is the one stored', async () => {
    const store = subject.store();
    const pool = fresh();
    for (let round = 0; round < 3; round++) {
      const racers = Array.from({ length: 16 }, (_, i) => alloc(round, `r${round}-${i}`));
      const clients = racers.map(() => subject.another());
      const answers = await Promise.all(racers.map((a, i) => clients[i]!.commit(allocate(pool, a), soon(30_000))));
      await Promise.all(clients.map((c) => c.close()));
      const winners = answers.flatMap((ok, i) => (ok ? [racers[i]!] : []));
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
      const [snap] = await store.read([pool], soon());
      assert.deepEqual(snap?.allocations.filter((x) => x.offset === String(round)), winners);
      const resv = (await store.readReservations(pool.networkName, soon())).filter((r) => r.address === winners[0]!.address);
      assert.deepEqual(resv, [reservation(pool, winners[0]!)]);
    }
  });

  it('contract: a delete compares the holder: a stale DEL never frees a re-allocation', async () => {
    const store = subject.store();
    const pool = fresh();
    const first = alloc(7, 'first');
    assert.equal(await store.commit(allocate(pool, first), soon()), true);
    assert.equal(await store.commit(release(pool, alloc(7, 'other')), soon()), false);
    assert.equal(await store.commit(release(pool, first), soon()), true);
    const second = alloc(7, 'second');
    assert.equal(await store.commit(allocate(pool, second), soon()), true);
    assert.equal(await store.commit(release(pool, first), soon()), false);
    const [snap] = await store.read([pool], soon());
    assert.deepEqual(snap?.allocations, [second]);
    assert.deepEqual(await store.readReservations(pool.networkName, soon()), [reservation(pool, second)]);
  });

  it('contract: allocation and reservation: both or neither', async () => {
    const store = subject.store();
    const pool = fresh();
    const other = { networkName: pool.networkName, range: '198.18.0.0/16' };
    const holder = alloc(9, 'holder');
    assert.equal(await store.commit(allocate(other, holder), soon()), true);
    const loser = alloc(9, 'loser');
    assert.equal(await store.commit(allocate(pool, loser), soon()), false);
    const [snap] = await store.read([pool], soon());
    assert.deepEqual(snap?.allocations, [], 'the allocation was written without its reservation');
    const taker = alloc(20, 'taker');
    assert.equal(await store.commit([{ op: 'create', pool, allocation: taker }], soon()), true);
    const late = alloc(20, 'late');
    assert.equal(await store.commit(allocate(pool, late), soon()), false);
    const resv = await store.readReservations(pool.networkName, soon());
    assert.deepEqual(resv.map((r) => r.address).sort(), ['198.18.0.9']);
    assert.equal(await store.commit(release(pool, taker), soon()), false);
    assert.deepEqual((await store.read([pool], soon()))[0]?.allocations, [taker]);
  });
}
