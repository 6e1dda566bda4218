/**
 * Two nodes (two WhereaboutsServices, each with its own store client) racing on one store:
 * N concurrent ADDs into a range of exactly N addresses, every 10th pod also ADDed on the other
 * node and once more from a re-created sandbox (same pod, new container id). Every ADD must
 * succeed, each pod must get one address for all its ADDs, no address twice, the whole range
 * handed out; then freed scattered addresses go to new pods lowest first, and a full range is
 * code 103. Run against the file store (unit) and the real etcd cluster (integration).
 */
import { strict as assert } from 'node:assert';
import { CniError } from '../../shared/errors';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { WhereaboutsService, type Attachment } from '../../daemon/whereabouts/ipam-service';
import type { StoreWrite, WhereaboutsStore } from '../../daemon/whereabouts/store';
import { silentLogger } from '../../daemon/log';

const pod = (i: number, over: Partial<Attachment> = {}): Attachment => ({ containerId: `c${i}`, podRef: `ns/p${i}`, ifname: 'net1', network: 'netA', ...over });

/** the real store, counting successful commits by how many new allocations each carried */
function counted(store: WhereaboutsStore): { store: WhereaboutsStore; commits: number[] } {
  const commits: number[] = [];
  const wrapped: WhereaboutsStore = {
    endpoint: store.endpoint,
    ...(store.onePerAttachment ? { onePerAttachment: true } : {}),
    read: (p, o) => store.read(p, o),
    readReservations: (n, o) => store.readReservations(n, o),
    listPools: (o) => store.listPools(o),
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

/** `n` ≤ 500: the range is 198.18.8.10 and the n − 1 addresses after it, in 198.18.8.0/22 */
export async function twoNodesIntoExactRange(storeA: WhereaboutsStore, storeB: WhereaboutsStore, n: number, extra: Record<string, unknown>): Promise<void> {
  const addr = (i: number) => `198.18.${8 + Math.floor((10 + i) / 256)}.${(10 + i) % 256}`;
  const pool = { networkName: String(extra.network_name ?? ''), range: '198.18.8.0/22' };
  const cfg = parseWhereaboutsIpam({ type: 'whereabouts', range: pool.range, range_start: addr(0), range_end: addr(n - 1), ...extra });
  const a = counted(storeA);
  const b = counted(storeB);
  const na = new WhereaboutsService({ storeFor: () => a.store, node: 'node-a', log: silentLogger });
  const nb = new WhereaboutsService({ storeFor: () => b.store, node: 'node-b', log: silentLogger });
  const calls: Array<{ i: number; p: Promise<string> }> = [];
  for (let i = 0; i < n; i++) {
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
  assert.equal(new Set(held).size, n, 'no address handed out twice');
  assert.deepEqual([...held].sort(), Array.from({ length: n }, (_, i) => addr(i)).sort());
  const snap = (await storeA.read([pool], { deadline: Date.now() + 10_000 }))[0]!;
  assert.equal(snap.allocations.length, n);
  assert.equal(new Set(snap.allocations.map((x) => x.address)).size, n);
  for (const x of snap.allocations) assert.equal(x.address, byPod.get(Number(x.podRef.slice(4)))!.values().next().value, `the store holds what ADD answered for ${x.podRef}`);
  const all = [...a.commits, ...b.commits];
  assert.ok(Math.max(...all) > 1, `ADDs were batched: commits carried ${all.join(',')} new allocations`);
  assert.ok(na.conflicts + nb.conflicts > 0, 'the two nodes raced for the same addresses and some batches lost');

  // free 20 scattered addresses; 20 new pods on both nodes get exactly those; then the range is full
  const freed = Array.from({ length: 20 }, (_, k) => Math.floor((k * (n - 1)) / 19));
  for (const i of freed) {
    const holder = snap.allocations.find((x) => x.podRef === `ns/p${i}`)!;
    assert.equal(await na.del(cfg, pod(i, { containerId: holder.containerId })), 1);
  }
  const again = await Promise.all(freed.map((_, k) => (k % 2 ? na : nb).add(cfg, pod(100_000 + k)).then((r) => r[0]!.address)));
  assert.deepEqual([...again].sort(), freed.map((i) => byPod.get(i)!.values().next().value as string).sort());
  await assert.rejects(na.add(cfg, pod(200_000)), (err: unknown) => err instanceof CniError && err.code === 103);
}
