/**
 * One reconciler run over some stores (I/O edge of decide.ts). Per store, in this order:
 *
 * 1. list its pools and read them (the revision is taken here, FIRST);
 * 2. ask the liveness source (AFTER): a pod that got an address after step 1 is not in the
 *    snapshot at all, and one that got it before has its sandbox in place by step 2;
 * 3. decide (pure);
 * 4. for the allocations to free, up to FREE_CHUNK at a time: re-read their pool, and free those whose
 *    record is still exactly the one judged (same container, ifname and creation time), with the store's
 *    compare-delete of container id + ifname (and its reservation in the same commit), so a
 *    DEL + re-allocation of the offset in between, or the record moving to a re-created
 *    sandbox, makes the free fail instead of clobbering it ('changed').
 */
import type { WbFreedView, WbReconcileSummary } from '../../../shared/whereabouts-protocol';
import type { Logger } from '../../log';
import { MAX_FREES_PER_COMMIT, planRelease } from '../add-plan';
import type { AllocationRecord, PoolRef, PoolSnapshot, WhereaboutsStore } from '../store';
import { decide, type Decision } from './decide';
import type { LivenessSource } from './live-set';

export interface ReconcileTarget {
  store: WhereaboutsStore;
  source: LivenessSource;
}

export interface RunOptions {
  node: string;
  graceMs: number;
  now: () => number;
  log: Logger;
  /** per store; default 60 s */
  deadlineMs?: number;
  /** test seams: after the pools were read, and before the frees */
  afterPoolsRead?: () => Promise<void>;
  beforeFrees?: () => Promise<void>;
}

export type FreedView = WbFreedView;
export type RunSummary = WbReconcileSummary;

const samePool = (a: PoolRef, b: PoolRef) => a.networkName === b.networkName && a.range === b.range;
const sameRecord = (a: AllocationRecord, b: AllocationRecord) =>
  a.offset === b.offset && a.containerId === b.containerId && a.ifname === b.ifname && a.createdAt === b.createdAt && a.node === b.node && a.podRef === b.podRef;

export async function reconcileOnce(targets: ReconcileTarget[], opts: RunOptions, trigger: string): Promise<RunSummary> {
  const s: RunSummary = { trigger, startedAt: opts.now(), finishedAt: 0, stores: targets.length, examined: 0, kept: 0, freed: 0, reasons: {}, freedAllocations: [], errors: [] };
  const count = (key: string) => (s.reasons[key] = (s.reasons[key] ?? 0) + 1);
  for (const t of targets) {
    try {
      await reconcileStore(t, opts, s, count);
    } catch (err) {
      s.errors.push(`${t.store.endpoint}: ${(err as Error).message}`);
      opts.log.error('reconciler: store not reconciled', { store: t.store.endpoint, err: (err as Error).message });
    }
  }
  s.finishedAt = opts.now();
  return s;
}

async function reconcileStore(t: ReconcileTarget, opts: RunOptions, s: RunSummary, count: (key: string) => void): Promise<void> {
  const deadline = opts.now() + (opts.deadlineMs ?? 60_000);
  const pools = await t.store.listPools({ deadline });
  const snapshots = await t.store.read(pools, { deadline });
  await opts.afterPoolsRead?.();
  const live = await t.source.snapshot(
    snapshots.flatMap((p) => p.allocations),
    { deadline },
  );
  const decisions = decide(snapshots, live, { node: opts.node, now: opts.now(), graceMs: opts.graceMs });
  s.examined += decisions.length;
  const frees: Array<Extract<Decision, { action: 'free' }>> = [];
  for (const d of decisions) {
    if (d.action === 'free') frees.push(d);
    else {
      s.kept++;
      count(`keep:${d.reason}`);
      opts.log.debug('reconciler: keep', { address: d.allocation.address, containerId: d.allocation.containerId, ifname: d.allocation.ifname, reason: d.reason, evidence: d.evidence });
    }
  }
  if (frees.length > 0) await opts.beforeFrees?.();
  const byPool = new Map<string, Array<Extract<Decision, { action: 'free' }>>>();
  for (const d of frees) {
    const k = `${d.pool.networkName}\0${d.pool.range}`;
    byPool.set(k, [...(byPool.get(k) ?? []), d]);
  }
  for (const ds of byPool.values()) {
    const freed = await freeMany(t.store, ds[0]!.pool, ds.map((d) => d.allocation), deadline);
    for (const d of ds) {
      if (!freed.has(d.allocation.offset)) {
        s.kept++;
        count('keep:changed');
        opts.log.info('reconciler: not freed, the record changed since it was read', { address: d.allocation.address, containerId: d.allocation.containerId, ifname: d.allocation.ifname });
        continue;
      }
      s.freed++;
      count(`free:${d.reason}`);
      const view: FreedView = { store: t.store.endpoint, networkName: d.pool.networkName, range: d.pool.range, address: d.allocation.address, containerId: d.allocation.containerId, podRef: d.allocation.podRef, ifname: d.allocation.ifname, evidence: d.evidence };
      if (s.freedAllocations.length < 100) s.freedAllocations.push(view);
      opts.log.info('reconciler: freed', { ...view });
    }
  }
}

/** frees per commit (see MAX_FREES_PER_COMMIT: within etcd's 128 operations per transaction) */
export const FREE_CHUNK = MAX_FREES_PER_COMMIT;

/**
 * Frees those of `allocs` (one pool) whose record is still exactly the one judged: a re-read of
 * the pool before each chunk, then one all-or-nothing commit of the chunk (the store compares
 * each holder again); a chunk whose commit fails is freed one by one (freeOne). Returns the
 * offsets freed.
 */
async function freeMany(store: WhereaboutsStore, pool: PoolRef, allocs: AllocationRecord[], deadline: number): Promise<Set<string>> {
  const freed = new Set<string>();
  for (let i = 0; i < allocs.length; i += FREE_CHUNK) {
    const chunk = allocs.slice(i, i + FREE_CHUNK);
    const [snap] = await store.read([pool], { deadline });
    const held = new Map(snap!.allocations.map((a) => [a.offset, a]));
    const still = chunk.filter((a) => {
      const now = held.get(a.offset);
      return now !== undefined && sameRecord(now, a);
    });
    if (still.length === 0) continue;
    const reservations = (await store.readReservations(pool.networkName, { deadline })).filter((r) => samePool(r.pool, pool));
    const { writes } = planRelease([{ pool, allocations: still, revision: snap!.revision }], reservations, () => true);
    if (await store.commit(writes, { deadline })) {
      for (const a of still) freed.add(a.offset);
      continue;
    }
    for (const a of still) if (await freeOne(store, pool, a, deadline)) freed.add(a.offset);
  }
  return freed;
}

/**
 * Frees `a` only if its pool still holds exactly this record; the commit compares its holder
 * again. False when the record changed (or the store refused the compare).
 */
export async function freeOne(store: WhereaboutsStore, pool: PoolRef, a: AllocationRecord, deadline: number): Promise<boolean> {
  const [snap] = await store.read([pool], { deadline });
  const now = snap?.allocations.find((x) => x.offset === a.offset);
  if (!now || !sameRecord(now, a)) return false;
  const reservations = (await store.readReservations(pool.networkName, { deadline })).filter((r) => samePool(r.pool, pool));
  const one: PoolSnapshot = { pool, allocations: [now], revision: snap!.revision };
  const { writes } = planRelease([one], reservations, () => true);
  return store.commit(writes, { deadline });
}
