/**
 * A batch of ADDs that loses races to another node (file store, with a rival writing between
 * our read and our commit): the batch's one all-or-nothing commit loses, then each member
 * commits on its own (the store says it keeps one address per pod + ifname, as etcd's does)
 * and only the member whose address the rival took is planned again; an
 * ADD that loses until its deadline is code 11 saying so; failures are counted by reason.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CniError } from '../../shared/errors';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { FileStore } from '../../daemon/whereabouts/file-store';
import { WhereaboutsService, type Attachment } from '../../daemon/whereabouts/ipam-service';
import type { StoreWrite, WhereaboutsStore } from '../../daemon/whereabouts/store';
import { silentLogger } from '../../daemon/log';

const pod = (i: number): Attachment => ({ containerId: `c${i}`, podRef: `ns/p${i}`, ifname: 'net1', network: 'netA' });
const soon = () => ({ deadline: Date.now() + 5000 });

async function failure(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CniError, String(err));
    return err;
  }
  throw new Error('expected a CNI error');
}

describe('whereabouts ADD batches losing races to another node', () => {
  let dir: string;
  let file: FileStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-races-'));
    file = new FileStore(dir);
    file.open();
  });
  afterEach(async () => {
    await file.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** the file store, with `before(n, writes)` run before the n-th commit (from 1) goes in */
  function wrapped(before: (n: number, writes: StoreWrite[]) => Promise<void>): { store: WhereaboutsStore; reads: () => number; commits: StoreWrite[][] } {
    let reads = 0;
    let n = 0;
    const commits: StoreWrite[][] = [];
    const store: WhereaboutsStore = {
      endpoint: file.endpoint,
      // as the etcd store does; no pod here is ADDed twice, so the file store's lack of a pod index does not matter
      onePerAttachment: true,
      read: (p, o) => (reads++, file.read(p, o)),
      readReservations: (net, o) => file.readReservations(net, o),
      listPools: (o) => file.listPools(o),
      commit: async (w, o) => {
        await before(++n, w);
        commits.push(w);
        return file.commit(w, o);
      },
      health: (o) => file.health(o),
      close: () => Promise.resolve(),
    };
    return { store, reads: () => reads, commits };
  }

  const rivalTakes = async (offset: number) => {
    const pool = { networkName: '', range: '198.18.20.0/24' };
    const allocation = { offset: String(offset), address: `198.18.20.${offset}`, containerId: `rival${offset}`, podRef: `ns/rival${offset}`, ifname: 'net1', node: 'rival', createdAt: 0 };
    const reservation = { networkName: '', address: allocation.address, containerId: allocation.containerId, podRef: allocation.podRef, ifname: 'net1', pool };
    assert.equal(await file.commit([{ op: 'create', pool, allocation }, { op: 'reserve', reservation }], soon()), true);
  };

  it('after a lost batch commit, members commit one by one: only the one whose address was taken is planned again', async () => {
    const cfg = parseWhereaboutsIpam({ type: 'whereabouts', range: '198.18.20.0/24' });
    // commit 1 is the first ADD alone; 2 is the batch of ten (the rival took .2 first);
    // 3 is the first member's own commit in the next round (the rival took .3 first)
    const w = wrapped(async (n) => {
      if (n === 2) await rivalTakes(2);
      if (n === 3) await rivalTakes(3);
    });
    const svc = new WhereaboutsService({ storeFor: () => w.store, node: 'me', log: silentLogger });
    assert.deepEqual((await svc.add(cfg, pod(0))).map((i) => i.address), ['198.18.20.1']);
    const got = await Promise.all(Array.from({ length: 10 }, (_, i) => svc.add(cfg, pod(i + 1)).then((r) => r[0]!.address)));
    assert.deepEqual(got, [13, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((o) => `198.18.20.${o}`), 'nine keep their second-round picks, the loser takes the next free');
    assert.equal(w.reads(), 4, 'one read for the first ADD, three for the batch of ten');
    assert.equal(w.commits[1]!.length, 20, 'the batch went first as one commit of ten allocations and reservations');
    assert.ok(w.commits.slice(2).every((c) => c.length === 2), 'after the loss each member committed on its own');
    assert.equal(svc.conflicts, 2);
    const held = (await file.read([{ networkName: '', range: cfg.ranges[0]!.range }], soon()))[0]!.allocations;
    assert.equal(held.length, 13);
    assert.equal(new Set(held.map((a) => a.address)).size, 13);
  });

  it('an ADD that keeps losing until its deadline is code 11 naming the losses, the pool and the store; failures are counted by reason', async () => {
    const cfg = parseWhereaboutsIpam({ type: 'whereabouts', range: '198.18.21.0/30', network_name: 'blue' });
    const pool = { networkName: 'blue', range: '198.18.21.0/30' };
    let offset = '';
    const always = wrapped(async (_, writes) => {
      // another node moves to exactly the address we are about to take, every time
      const mine = writes.find((x) => x.op === 'create');
      if (mine?.op !== 'create') return;
      const held = (await file.read([pool], soon()))[0]!.allocations.find((a) => a.node === 'rival');
      if (held) assert.equal(await file.commit([{ op: 'delete', pool, allocation: held }], soon()), true);
      offset = mine.allocation.offset;
      const allocation = { ...mine.allocation, containerId: 'rival', podRef: 'ns/rival', node: 'rival' };
      assert.equal(await file.commit([{ op: 'create', pool, allocation }], soon()), true);
    });
    const svc = new WhereaboutsService({ storeFor: () => always.store, node: 'me', log: silentLogger, verbDeadlineMs: 300 });
    const cfgNoOverlap = parseWhereaboutsIpam({ type: 'whereabouts', range: '198.18.21.0/30', network_name: 'blue', enable_overlapping_ranges: false });
    const err = await failure(svc.add(cfgNoOverlap, pod(1)));
    assert.equal(err.code, 11);
    assert.match(err.message, /^ADD: lost \d+ commits in a row to other nodes allocating from 198\.18\.21\.0\/30 \(network_name blue\) at file:.*; the 0\.3 s deadline passed$/);
    assert.doesNotMatch(err.message, /deadline had passed before/);
    assert.equal(svc.addFailures.lost_races, 1);

    // another pod takes the other usable address of the /30: the range is full
    const plain = new WhereaboutsService({ storeFor: () => file, node: 'me', log: silentLogger });
    const other = offset === '1' ? 2 : 1;
    const allocation = { offset: String(other), address: `198.18.21.${other}`, containerId: 'r', podRef: 'ns/r', ifname: 'net1', node: 'elsewhere', createdAt: 0 };
    assert.equal(await file.commit([{ op: 'create', pool, allocation }], soon()), true);
    assert.equal((await failure(plain.add(cfg, pod(2)))).code, 103);
    assert.deepEqual(plain.addFailures, { exhausted: 1, store_unavailable: 0, lost_races: 0, plugin_gone: 0, other: 0 });
    await file.close();
    assert.equal((await failure(plain.add(cfg, pod(3)))).code, 11);
    assert.equal(plain.addFailures.store_unavailable, 1);
    file.open();
  });
});
