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

const pod = (i: number, over: Partial<Attachment> = {}): Attachment => ({ containerId: `c${i}`, podRef: `ns/p${i}`, ifname: 'net1', network: 'netA', ...over });
const pool = { networkName: '', range: '198.18.8.0/22' };
// exactly 300 addresses: 198.18.8.10 .. 198.18.9.53
const cfg = parseWhereaboutsIpam({ type: 'whereabouts', range: pool.range, range_start: '198.18.8.10', range_end: '198.18.9.53' });
const rangeAddrs = Array.from({ length: 300 }, (_, i) => `198.18.${8 + Math.floor((10 + i) / 256)}.${(10 + i) % 256}`);

/** the real file store, counting commits and their size (how many ADDs each batch carried) */
function counted(store: FileStore): { store: WhereaboutsStore; commits: number[] } {
  const commits: number[] = [];
  const wrapped: WhereaboutsStore = {
    endpoint: store.endpoint,
    read: (p, o) => store.read(p, o),
    readReservations: (n, o) => store.readReservations(n, o),
    commit: async (w: StoreWrite[], o) => {
      const ok = await store.commit(w, o);
      if (ok) commits.push(w.filter((x) => x.op === 'create').length);
      return ok;
    },
    health: (o) => store.health(o),
    close: () => store.close(),
  };
  return { store: wrapped, commits };
}

describe('whereabouts ADD batching (two services, one file store)', () => {
  let dir: string;
  let file: FileStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waf-batch-'));
    file = new FileStore(dir);
    file.open();
  });
  afterEach(async () => {
    await file.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('300 concurrent ADDs from two nodes into exactly 300 addresses, with repeats: all succeed, no address twice, repeats get their own address, freed addresses go lowest first', async () => {
    const a = counted(file);
    const b = counted(file);
    const na = new WhereaboutsService({ storeFor: () => a.store, node: 'node-a', log: silentLogger });
    const nb = new WhereaboutsService({ storeFor: () => b.store, node: 'node-b', log: silentLogger });
    // every 10th pod asks twice, once on each node, and once more from a re-created sandbox
    const calls: Array<{ i: number; p: Promise<string> }> = [];
    for (let i = 0; i < 300; i++) {
      const svc = i % 2 ? na : nb;
      calls.push({ i, p: svc.add(cfg, pod(i)).then((r) => r[0]!.address) });
      if (i % 10 === 0) {
        calls.push({ i, p: (i % 2 ? nb : na).add(cfg, pod(i)).then((r) => r[0]!.address) });
        calls.push({ i, p: svc.add(cfg, pod(i, { containerId: `c${i}-new` })).then((r) => r[0]!.address) });
      }
    }
    const got = await Promise.all(calls.map((c) => c.p));
    const byPod = new Map<number, Set<string>>();
    calls.forEach((c, k) => byPod.set(c.i, (byPod.get(c.i) ?? new Set()).add(got[k]!)));
    for (const [i, s] of byPod) assert.equal(s.size, 1, `pod ${i} got one address for all its ADDs, got ${[...s].join(', ')}`);
    const held = [...byPod.values()].map((s) => [...s][0]!);
    assert.equal(new Set(held).size, 300, 'no address handed out twice');
    assert.deepEqual([...held].sort(), [...rangeAddrs].sort());
    const snap = (await file.read([pool], { deadline: Date.now() + 5000 }))[0]!;
    assert.equal(snap.allocations.length, 300);
    assert.equal(new Set(snap.allocations.map((x) => x.address)).size, 300);
    const moved = snap.allocations.filter((x) => x.containerId.endsWith('-new')).length;
    assert.ok(moved <= 30);
    assert.ok(Math.max(...a.commits, ...b.commits) > 1, `ADDs were batched: commits carried ${[...a.commits, ...b.commits].join(',')} new allocations`);
    assert.ok(na.conflicts + nb.conflicts > 0, 'the two nodes raced for the same addresses and some batches lost');

    // free 20 scattered addresses; 20 new pods on both nodes get exactly those, the full range then answers 103
    const freed = [5, 17, 42, 99, 100, 101, 150, 151, 180, 199, 200, 201, 230, 250, 260, 270, 280, 290, 298, 299];
    for (const i of freed) {
      const holder = snap.allocations.find((x) => x.podRef === `ns/p${i}`)!;
      assert.equal(await na.del(cfg, pod(i, { containerId: holder.containerId })), 1);
    }
    const again = await Promise.all(freed.map((_, k) => (k % 2 ? na : nb).add(cfg, pod(1000 + k)).then((r) => r[0]!.address)));
    const want = freed.map((i) => byPod.get(i)!.values().next().value as string);
    assert.deepEqual([...again].sort(), [...want].sort());
    await assert.rejects(na.add(cfg, pod(2000)), (err: unknown) => err instanceof CniError && err.code === 103);
  });

  it('an ADD whose plugin hung up while it waited is dropped: nothing is allocated for it', async () => {
    const svc = new WhereaboutsService({ storeFor: () => file, node: 'node-a', log: silentLogger });
    let hungUp = false;
    const first = svc.add(cfg, pod(1));
    const dropped = svc.add(cfg, pod(2), () => hungUp);
    const third = svc.add(cfg, pod(3));
    hungUp = true;
    assert.equal((await first)[0]!.address, '198.18.8.10');
    await assert.rejects(dropped, (err: unknown) => err instanceof CniError && err.code === 11);
    assert.equal((await third)[0]!.address, '198.18.8.11', 'the next pod gets the address the dropped one would have had');
    const snap = (await file.read([pool], { deadline: Date.now() + 5000 }))[0]!;
    assert.deepEqual(snap.allocations.map((x) => x.podRef).sort(), ['ns/p1', 'ns/p3']);
    assert.equal(svc.dropped, 1);
  });
});
