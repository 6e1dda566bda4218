/**
 * The Whereabouts store on Kubernetes: Whereabouts' own IPPool and
 * OverlappingRangeIPReservation custom resources (names: k8s-names.ts, shapes: k8s-wire.ts),
 * through @kubernetes/client-node (kubernetes-client.ts). No Lease: every write is
 * conditional on what was read (a JSON Patch whose first op tests metadata.resourceVersion,
 * a create that fails on an existing name, a delete with a resourceVersion precondition).
 *
 * The API server makes one object at a time atomic, and an allocation and its reservation
 * are two objects, so commit() orders its writes (docs/whereabouts-kubernetes.md has the
 * argument):
 *   1. reservations are created (and those to remove are checked) first: a reservation
 *      without its allocation only keeps an address unused, never hands it out twice;
 *   2. each pool is patched: the per-offset conditions are checked on a fresh read, and a
 *      patch refused because someone else changed the pool (409/422) is re-read and re-tried;
 *   3. reservations are deleted last, once no pool holds their address any more.
 * A condition that fails undoes what this commit did (in reverse) and answers false. What a
 * crash leaves between the steps is a reservation without its allocation: readReservations()
 * deletes such an orphan once it is older than ORPHAN_GRACE_MS (with a resourceVersion
 * precondition), and a commit never patches a pool more than RESERVE_HOLD_MS after it created
 * the reservations, so an orphan that is reaped is never one a live commit still relies on.
 */
import type * as K8s from '@kubernetes/client-node';
import { parseAddr, parseNetwork } from './ip-math';
import { connect, httpStatus, requestOptions, statusMessage, type K8sConnection } from './kubernetes-client';
import { listLivePods, type LivePod } from './k8s-pods';
import { GROUP, POOLS, RESERVATIONS, VERSION, poolName, poolOfObject, reservationName } from './k8s-names';
import {
  decodeAllocations,
  metaKey,
  metaValue,
  newPool,
  newReservation,
  offsetOf,
  reservationAddress,
  reservationHolder,
  reservationPool,
  wireAllocation,
  type IPPoolObject,
  type ReservationObject,
} from './k8s-wire';
import {
  StoreUnavailableError,
  type AllocationRecord,
  type PoolRef,
  type PoolSnapshot,
  type ReservationRecord,
  type StoreDeadline,
  type StoreWrite,
  type WhereaboutsStore,
} from './store';

export interface KubernetesStoreConfig {
  /** `kubernetes.kubeconfig`; absent: the pod's service account */
  kubeconfig?: string;
  /** tests shorten it; see the file comment */
  orphanGraceMs?: number;
  /** prefix of /var/run/secrets/kubernetes.io/serviceaccount (tests) */
  serviceAccountRoot?: string;
}

/** no single HTTP request waits longer than this, whatever the caller's deadline */
export const MAX_CALL_MS = 10_000;
/** a reservation older than this whose allocation no pool holds is an orphan of a crash */
export const ORPHAN_GRACE_MS = 5 * 60_000;
/** a commit gives up (and undoes) rather than patch a pool this long after it reserved */
export const RESERVE_HOLD_MS = 60_000;
/** reservations verified to have their allocation are not re-verified for this long */
const VERIFIED_MS = 60_000;
/** metadata.annotations may hold 256 KiB in all; leave room for everything else */
const ANNOTATION_BUDGET = 240 * 1024;

/** requests one commit has in flight at most (reservations are one object each) */
const PARALLEL = 16;

/** runs `fn` over `items`, `n` at a time; the first rejection rejects (after the others settle) */
async function inParallel<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

/** an answer the caller handles (404, 409, 422); anything else is StoreUnavailableError */
class ApiAnswer extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const ptr = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const sameHolder = (a: { containerId: string; ifname: string }, b: { containerId: string; ifname: string }) =>
  a.containerId === b.containerId && a.ifname === b.ifname;

interface PoolOps {
  pool: PoolRef;
  name: string;
  creates: Map<string, AllocationRecord>;
  deletes: Map<string, AllocationRecord>;
}

interface ResvOps {
  name: string;
  reserve?: ReservationRecord;
  unreserve?: ReservationRecord;
}

/** JSON Patch operations (RFC 6902) */
type PatchOp = { op: 'test' | 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

export class KubernetesStore implements WhereaboutsStore {
  readonly endpoint: string;
  private readonly conn: K8sConnection;
  private readonly api: K8s.CustomObjectsApi;
  private readonly grace: number;
  private readonly verified = new Map<string, { rv: string; until: number }>();

  constructor(cfg: KubernetesStoreConfig) {
    const where = `kubernetes ${cfg.kubeconfig ?? '(in-cluster service account)'}`;
    try {
      this.conn = connect(cfg.kubeconfig, cfg.serviceAccountRoot);
    } catch (err) {
      throw new StoreUnavailableError(where, `cannot load the credentials: ${(err as Error).message}`);
    }
    this.endpoint = this.conn.endpoint;
    this.api = this.conn.kc.makeApiClient(this.conn.k8s.CustomObjectsApi);
    this.grace = cfg.orphanGraceMs ?? ORPHAN_GRACE_MS;
  }

  get namespace(): string {
    return this.conn.namespace;
  }

  /** every pod of the cluster, with the store's credentials: the reconciler's liveness (reconcile/k8s-liveness.ts) */
  listPods(opts: StoreDeadline): Promise<LivePod[]> {
    return listLivePods(this.conn, opts);
  }

  /**
   * One HTTP request, retried with backoff on no answer, 429 and 5xx until the deadline;
   * 404/409/422 come back as ApiAnswer for the caller, anything else (401, 403, 400) fails now.
   */
  private async req<T>(what: string, deadline: number, fn: (o: K8s.ConfigurationOptions) => Promise<T>, contentType?: string): Promise<T> {
    let last = 'no answer';
    for (let n = 0; ; n++) {
      const left = deadline - Date.now();
      if (left <= 0) throw new StoreUnavailableError(this.endpoint, `${what}: no answer by the deadline (last: ${last})`);
      try {
        return await fn(requestOptions(this.conn, Math.min(left, MAX_CALL_MS), contentType));
      } catch (err) {
        const status = httpStatus(err);
        if (status === 404 || status === 409 || status === 422) throw new ApiAnswer(status, statusMessage(err));
        last = status === undefined ? (err as Error).message : `HTTP ${status}: ${statusMessage(err)}`;
        if (status !== undefined && status !== 429 && status < 500) throw new StoreUnavailableError(this.endpoint, `${what}: ${last}`);
        const pause = Math.min(500, 25 << Math.min(n, 5)) * (0.5 + Math.random() / 2);
        if (Date.now() + pause >= deadline) throw new StoreUnavailableError(this.endpoint, `${what}: ${last}`);
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  private obj(plural: string): { group: string; version: string; namespace: string; plural: string };
  private obj(plural: string, name: string): { group: string; version: string; namespace: string; plural: string; name: string };
  private obj(plural: string, name?: string) {
    return { group: GROUP, version: VERSION, namespace: this.conn.namespace, plural, ...(name === undefined ? {} : { name }) };
  }

  private async getPool(name: string, deadline: number): Promise<IPPoolObject | undefined> {
    try {
      return (await this.req(`get IPPool ${name}`, deadline, (o) => this.api.getNamespacedCustomObject(this.obj(POOLS, name), o))) as IPPoolObject;
    } catch (err) {
      if (err instanceof ApiAnswer && err.status === 404) return undefined;
      throw this.unexpected(err, `get IPPool ${name}`);
    }
  }

  private async getReservation(name: string, deadline: number): Promise<ReservationObject | undefined> {
    try {
      return (await this.req(`get reservation ${name}`, deadline, (o) => this.api.getNamespacedCustomObject(this.obj(RESERVATIONS, name), o))) as ReservationObject;
    } catch (err) {
      if (err instanceof ApiAnswer && err.status === 404) return undefined;
      throw this.unexpected(err, `get reservation ${name}`);
    }
  }

  private async list<T>(plural: string, deadline: number): Promise<T[]> {
    const items: T[] = [];
    let cont: string | undefined;
    do {
      const page = (await this.req(`list ${plural}`, deadline, (o) =>
        this.api.listNamespacedCustomObject({ ...this.obj(plural), limit: 500, ...(cont ? { _continue: cont } : {}) }, o),
      )) as { items?: T[]; metadata?: { continue?: string } };
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return items;
  }

  private unexpected(err: unknown, what: string): Error {
    if (err instanceof StoreUnavailableError) return err;
    if (err instanceof ApiAnswer) return new StoreUnavailableError(this.endpoint, `${what}: HTTP ${err.status}: ${err.message}`);
    return err instanceof Error ? err : new Error(String(err));
  }

  read(pools: PoolRef[], opts: StoreDeadline): Promise<PoolSnapshot[]> {
    return Promise.all(
      pools.map(async (pool) => {
        const obj = await this.getPool(poolName(pool), opts.deadline);
        if (!obj) return { pool, allocations: [], revision: '' };
        return { pool, allocations: decodeAllocations(obj, pool), revision: obj.metadata.resourceVersion ?? '' };
      }),
    );
  }

  async listPools(opts: StoreDeadline): Promise<PoolRef[]> {
    const objs = await this.list<IPPoolObject>(POOLS, opts.deadline);
    return objs.flatMap((o) => {
      const range = o.spec?.range;
      if (typeof range !== 'string') return [];
      try {
        parseNetwork(range);
      } catch {
        return [];
      }
      const ref = poolOfObject(o.metadata.name, range);
      return ref ? [ref] : [];
    });
  }

  /** every pool object of one network_name that contains `address` */
  private static holds(pools: Array<{ ref: PoolRef; obj: IPPoolObject }>, networkName: string, address: string, holder: { containerId: string; podRef: string; ifname: string }): PoolRef | undefined {
    for (const { ref, obj } of pools) {
      if (ref.networkName !== networkName) continue;
      let offset: string;
      try {
        const { network, size } = parseNetwork(ref.range);
        const a = parseAddr(address);
        if (a.family !== network.family || a.value < network.value || a.value >= network.value + size) continue;
        offset = offsetOf(ref.range, address);
      } catch {
        continue;
      }
      const held = obj.spec?.allocations?.[offset];
      if (!held) continue;
      // Whereabouts' newer reservations carry no container id: match the pod then
      const match = holder.containerId !== '' ? held.id === holder.containerId : held.podref === holder.podRef;
      if (match && (holder.ifname === '' || (held.ifname ?? '') === '' || held.ifname === holder.ifname)) return ref;
    }
    return undefined;
  }

  async readReservations(networkName: string, opts: StoreDeadline): Promise<ReservationRecord[]> {
    const objs = await this.list<ReservationObject>(RESERVATIONS, opts.deadline);
    const now = Date.now();
    const mine = objs.flatMap((obj) => {
      const address = reservationAddress(obj.metadata.name, networkName);
      if (address === undefined || reservationName(networkName, address) !== obj.metadata.name) return [];
      return [{ obj, address, holder: reservationHolder(obj), pool: reservationPool(obj) }];
    });
    const old = (o: ReservationObject) => this.isOld(o, now);
    const unverified = mine.filter((m) => {
      const v = this.verified.get(m.obj.metadata.name);
      const ok = v !== undefined && v.rv === m.obj.metadata.resourceVersion && v.until > now;
      return !ok && (m.pool === undefined || old(m.obj));
    });
    let pools: Array<{ ref: PoolRef; obj: IPPoolObject }> = [];
    if (unverified.length > 0) {
      const objs2 = await this.list<IPPoolObject>(POOLS, opts.deadline);
      pools = objs2.flatMap((obj) => {
        const ref = typeof obj.spec?.range === 'string' ? poolOfObject(obj.metadata.name, obj.spec.range) : undefined;
        return ref ? [{ ref, obj }] : [];
      });
    }
    const out: ReservationRecord[] = [];
    for (const m of mine) {
      let pool = m.pool;
      if (unverified.includes(m)) {
        const holder = KubernetesStore.holds(pools, networkName, m.address, m.holder);
        if (holder) {
          pool ??= holder;
          this.verified.set(m.obj.metadata.name, { rv: m.obj.metadata.resourceVersion ?? '', until: now + VERIFIED_MS });
        } else if (old(m.obj)) {
          // a crash left it behind: its address is held by no pool
          await this.deleteIf(m.obj, opts.deadline);
          continue;
        }
      }
      out.push({ networkName, address: m.address, ...m.holder, pool: pool ?? { networkName, range: '' } });
    }
    return out;
  }

  /** older than the grace: creationTimestamp has whole seconds, so it is taken as the end of its second */
  private isOld(o: ReservationObject, now: number): boolean {
    const t = Date.parse(o.metadata.creationTimestamp ?? '');
    return !Number.isNaN(t) && now - (t + 1000) > this.grace;
  }

  /** delete an object only at the resourceVersion we saw; true when it is gone */
  private async deleteIf(obj: ReservationObject, deadline: number): Promise<boolean> {
    const name = obj.metadata.name;
    try {
      await this.req(`delete reservation ${name}`, deadline, (o) =>
        this.api.deleteNamespacedCustomObject({ ...this.obj(RESERVATIONS, name), body: { preconditions: { resourceVersion: obj.metadata.resourceVersion, uid: obj.metadata.uid } } }, o),
      );
      return true;
    } catch (err) {
      if (err instanceof ApiAnswer && err.status === 404) return true;
      if (err instanceof ApiAnswer && err.status === 409) return false;
      throw this.unexpected(err, `delete reservation ${name}`);
    }
  }

  async commit(writes: StoreWrite[], opts: StoreDeadline): Promise<boolean> {
    if (writes.length === 0) return true;
    const pools = new Map<string, PoolOps>();
    const resvs = new Map<string, ResvOps>();
    for (const w of writes) {
      if (w.op === 'create' || w.op === 'delete') {
        const name = poolName(w.pool);
        const p = pools.get(name) ?? { pool: w.pool, name, creates: new Map(), deletes: new Map() };
        pools.set(name, p);
        const into = w.op === 'create' ? p.creates : p.deletes;
        if (into.has(w.allocation.offset)) throw new Error(`one commit names offset ${w.allocation.offset} of ${name} twice`);
        into.set(w.allocation.offset, w.allocation);
      } else {
        const name = reservationName(w.reservation.networkName, w.reservation.address);
        const r = resvs.get(name) ?? { name };
        resvs.set(name, r);
        if (r[w.op]) throw new Error(`one commit names reservation ${name} twice`);
        r[w.op] = w.reservation;
      }
    }
    const undo: Array<() => Promise<void>> = [];
    /** undoes this commit's writes, newest first, each once; the first failure is rethrown after trying all */
    const rollback = async (): Promise<void> => {
      let first: unknown;
      // pools first (they were written last), then the reservations, those in parallel
      const steps = undo.splice(0).reverse();
      await inParallel(steps, PARALLEL, async (u) => {
        try {
          await u();
        } catch (err) {
          first ??= err;
        }
      });
      if (first !== undefined) throw first;
    };
    const fail = async (): Promise<false> => {
      await rollback();
      return false;
    };
    try {
      // 1. reservations: create (or replace), and check the ones step 3 deletes; stopping at
      // the first refusal
      const toDelete: ReservationObject[] = [];
      const reservedAt = Date.now();
      let refused = false;
      const one = async (r: ResvOps): Promise<void> => {
        if (refused) return;
        let ok: boolean;
        if (r.unreserve && !r.reserve) {
          const cur = await this.getReservation(r.name, opts.deadline);
          ok = cur !== undefined && sameHolder(reservationHolder(cur), r.unreserve);
          if (ok) toDelete.push(cur!);
        } else if (r.unreserve) ok = await this.replaceReservation(r.name, r.unreserve, r.reserve!, opts.deadline, undo);
        else ok = await this.createReservation(r.name, r.reserve!, opts.deadline, undo);
        if (!ok) refused = true;
      };
      // the first name alone: two daemons that planned the same addresses meet there, and the
      // one that loses has written nothing yet (no undo, no livelock of parallel half-writes)
      const ordered = [...resvs.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (ordered.length > 0) await one(ordered[0]!);
      await inParallel(ordered.slice(1), PARALLEL, one);
      if (refused) return await fail();
      // 2. pools
      for (const p of pools.values()) {
        if (resvs.size > 0 && Date.now() - reservedAt > RESERVE_HOLD_MS) return await fail();
        if (!(await this.patchPool(p, opts.deadline, undo))) return await fail();
      }
      // 3. reservations no pool holds any more
      for (const cur of toDelete) await this.deleteReservation(cur, opts.deadline);
      return true;
    } catch (err) {
      // unreachable mid-commit: undo what we can; what stays is a crash's leftover (see above)
      await rollback().catch(() => undefined);
      throw this.unexpected(err, 'commit');
    }
  }

  /** undo runs a little past the caller's deadline at most, never unbounded */
  private static undoDeadline(deadline: number): number {
    return Math.max(deadline, Date.now() + 1000);
  }

  private async createReservation(name: string, r: ReservationRecord, deadline: number, undo: Array<() => Promise<void>>): Promise<boolean> {
    const body = newReservation(name, this.conn.namespace, r);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const made = (await this.req(`create reservation ${name}`, deadline, (o) => this.api.createNamespacedCustomObject({ ...this.obj(RESERVATIONS), body }, o))) as ReservationObject;
        undo.push(async () => {
          await this.deleteIf(made, KubernetesStore.undoDeadline(deadline));
        });
        return true;
      } catch (err) {
        if (!(err instanceof ApiAnswer && err.status === 409)) throw this.unexpected(err, `create reservation ${name}`);
      }
      const cur = await this.getReservation(name, deadline);
      if (!cur) continue;
      // our own create whose answer was lost (the request was retried): it is ours
      if (sameHolder(reservationHolder(cur), r) && reservationHolder(cur).podRef === r.podRef) return true;
      // a crash's orphan may be reaped and the name taken once more
      const stale = this.isOld(cur, Date.now());
      if (!stale) return false;
      const pools = (await this.list<IPPoolObject>(POOLS, deadline)).flatMap((obj) => {
        const ref = typeof obj.spec?.range === 'string' ? poolOfObject(obj.metadata.name, obj.spec.range) : undefined;
        return ref ? [{ ref, obj }] : [];
      });
      if (KubernetesStore.holds(pools, r.networkName, r.address, reservationHolder(cur))) return false;
      if (!(await this.deleteIf(cur, deadline))) return false;
    }
    return false;
  }

  /** a re-created sandbox keeps its address: the reservation changes holder in one update */
  private async replaceReservation(name: string, from: ReservationRecord, to: ReservationRecord, deadline: number, undo: Array<() => Promise<void>>): Promise<boolean> {
    for (;;) {
      const cur = await this.getReservation(name, deadline);
      if (!cur || !sameHolder(reservationHolder(cur), from)) return false;
      const body = { ...newReservation(name, this.conn.namespace, to), metadata: { ...newReservation(name, this.conn.namespace, to).metadata, resourceVersion: cur.metadata.resourceVersion } };
      try {
        const made = (await this.req(`replace reservation ${name}`, deadline, (o) => this.api.replaceNamespacedCustomObject({ ...this.obj(RESERVATIONS, name), body }, o))) as ReservationObject;
        undo.push(async () => {
          const back = { ...cur, metadata: { ...cur.metadata, resourceVersion: made.metadata.resourceVersion } };
          await this.req(`restore reservation ${name}`, KubernetesStore.undoDeadline(deadline), (o) => this.api.replaceNamespacedCustomObject({ ...this.obj(RESERVATIONS, name), body: back }, o)).catch(() => undefined);
        });
        return true;
      } catch (err) {
        if (!(err instanceof ApiAnswer && err.status === 409)) throw this.unexpected(err, `replace reservation ${name}`);
      }
    }
  }

  private async deleteReservation(cur: ReservationObject, deadline: number): Promise<void> {
    let obj: ReservationObject | undefined = cur;
    const holder = reservationHolder(cur);
    while (obj && sameHolder(reservationHolder(obj), holder)) {
      if (await this.deleteIf(obj, deadline)) return;
      obj = await this.getReservation(cur.metadata.name, deadline);
    }
  }

  /**
   * Checks one pool's conditions on a fresh read and writes them with a JSON Patch that first
   * tests the resourceVersion read; a pool that changed meanwhile is read and checked again.
   */
  private async patchPool(p: PoolOps, deadline: number, undo: Array<() => Promise<void>>): Promise<boolean> {
    for (let round = 0; ; round++) {
      const obj = await this.getPool(p.name, deadline);
      const held = obj?.spec?.allocations ?? {};
      const notes = obj?.metadata.annotations ?? {};
      const mineAlready = (a: AllocationRecord) => {
        const h = held[a.offset];
        return h !== undefined && h.id === a.containerId && h.podref === a.podRef && (h.ifname ?? '') === a.ifname && notes[metaKey(a.offset)] === metaValue(a);
      };
      // refused once: maybe because our own patch landed and its answer was lost (the request
      // was retried); then every write is there already, exactly
      const applied = [...p.creates.values()].every(mineAlready) && [...p.deletes.keys()].every((o) => p.creates.has(o) || held[o] === undefined);
      if (round > 0 && applied) {
        undo.push(() => this.unpatchPool(p, deadline));
        return true;
      }
      for (const [offset, a] of p.deletes) {
        const h = held[offset];
        if (!h || h.id !== a.containerId || (h.ifname ?? '') !== a.ifname) return false;
      }
      for (const offset of p.creates.keys()) if (held[offset] !== undefined && !p.deletes.has(offset)) return false;
      try {
        if (!obj) {
          const body = newPool(p.name, this.conn.namespace, p.pool.range);
          body.metadata.annotations = {};
          for (const [offset, a] of p.creates) {
            body.spec.allocations[offset] = wireAllocation(a);
            body.metadata.annotations[metaKey(offset)] = metaValue(a);
          }
          await this.req(`create IPPool ${p.name}`, deadline, (o) => this.api.createNamespacedCustomObject({ ...this.obj(POOLS), body }, o));
        } else {
          const ops = this.poolPatch(obj, p);
          await this.req(`patch IPPool ${p.name}`, deadline, (o) => this.api.patchNamespacedCustomObject({ ...this.obj(POOLS, p.name), body: ops }, o), 'application/json-patch+json');
        }
        undo.push(() => this.unpatchPool(p, deadline));
        return true;
      } catch (err) {
        if (err instanceof ApiAnswer && (err.status === 409 || err.status === 422)) continue;
        throw this.unexpected(err, `write IPPool ${p.name}`);
      }
    }
  }

  private poolPatch(obj: IPPoolObject, p: PoolOps): PatchOp[] {
    const held = obj.spec?.allocations ?? {};
    const notes = obj.metadata.annotations;
    const ops: PatchOp[] = [{ op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion }];
    if (!obj.spec?.allocations) ops.push({ op: 'add', path: '/spec/allocations', value: {} });
    if (!notes) ops.push({ op: 'add', path: '/metadata/annotations', value: {} });
    let size = 0;
    for (const [k, v] of Object.entries(notes ?? {})) size += k.length + v.length;
    for (const [offset, a] of p.deletes) {
      ops.push({ op: 'test', path: `/spec/allocations/${offset}/id`, value: a.containerId });
      ops.push({ op: 'remove', path: `/spec/allocations/${offset}` });
      if (notes?.[metaKey(offset)] !== undefined && !p.creates.has(offset)) {
        ops.push({ op: 'remove', path: `/metadata/annotations/${ptr(metaKey(offset))}` });
        size -= metaKey(offset).length + notes[metaKey(offset)]!.length;
      }
    }
    // notes Whereabouts left stale (it freed the offset) go as we pass
    for (const k of Object.keys(notes ?? {})) {
      const offset = k.startsWith(metaKey('')) ? k.slice(metaKey('').length) : undefined;
      if (offset !== undefined && held[offset] === undefined && !p.creates.has(offset)) {
        ops.push({ op: 'remove', path: `/metadata/annotations/${ptr(k)}` });
        size -= k.length + notes![k]!.length;
      }
    }
    for (const [offset, a] of p.creates) {
      ops.push({ op: 'add', path: `/spec/allocations/${offset}`, value: wireAllocation(a) });
      const k = metaKey(offset);
      ops.push({ op: 'add', path: `/metadata/annotations/${ptr(k)}`, value: metaValue(a) });
      size += k.length + metaValue(a).length - (notes?.[k]?.length ?? 0) - (notes?.[k] !== undefined ? k.length : 0);
    }
    if (size > ANNOTATION_BUDGET) {
      throw new StoreUnavailableError(this.endpoint, `IPPool ${p.name}: its allocation annotations would exceed ${ANNOTATION_BUDGET} bytes (about ${Object.keys(held).length} allocations); split the range`);
    }
    return ops;
  }

  /** undo one pool's writes: remove what we created if still ours, restore what we deleted if still free */
  private async unpatchPool(p: PoolOps, deadline: number): Promise<void> {
    const until = KubernetesStore.undoDeadline(deadline);
    for (let n = 0; n < 20; n++) {
      const obj = await this.getPool(p.name, until);
      if (!obj) return;
      const held = obj.spec?.allocations ?? {};
      const back: PoolOps = { pool: p.pool, name: p.name, creates: new Map(), deletes: new Map() };
      for (const [offset, a] of p.creates) if (held[offset]?.id === a.containerId) back.deletes.set(offset, a);
      for (const [offset, a] of p.deletes) if (held[offset] === undefined || back.deletes.has(offset)) back.creates.set(offset, a);
      if (back.creates.size === 0 && back.deletes.size === 0) return;
      try {
        await this.req(`undo IPPool ${p.name}`, until, (o) => this.api.patchNamespacedCustomObject({ ...this.obj(POOLS, p.name), body: this.poolPatch(obj, back) }, o), 'application/json-patch+json');
        return;
      } catch (err) {
        if (!(err instanceof ApiAnswer && (err.status === 409 || err.status === 422))) throw this.unexpected(err, `undo IPPool ${p.name}`);
      }
    }
  }

  async health(opts: StoreDeadline): Promise<void> {
    try {
      await this.req('health', opts.deadline, (o) => this.api.listNamespacedCustomObject({ ...this.obj(POOLS), limit: 1 }, o));
    } catch (err) {
      throw this.unexpected(err, 'health');
    }
  }

  close(): Promise<void> {
    for (const a of this.conn.agents.values()) a.destroy();
    this.conn.agents.clear();
    return Promise.resolve();
  }
}

/** what the daemon calls for `datastore: kubernetes`; one store per kubeconfig */
export function openKubernetesStore(cfg: KubernetesStoreConfig): WhereaboutsStore {
  return new KubernetesStore(cfg);
}
