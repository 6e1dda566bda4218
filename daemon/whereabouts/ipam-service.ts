/**
 * The whereabouts verbs over a WhereaboutsStore. Every verb reads, decides (add-plan.ts) and
 * commits one all-or-nothing set of conditional writes; a commit that loses a race (another
 * node took the address first) re-reads and tries again until the verb's deadline. On this
 * node, verbs touching the same pools run one after another (KeyedQueue, keys taken in sorted
 * order so two multi-pool ADDs never wait on each other), so only other nodes can race us;
 * the ADDs that pile up behind a busy pool go together, one read and one commit for all.
 */
import { CheckFailedError, DaemonUnavailableError, TryAgainLaterError } from '../../shared/errors';
import type { WhereaboutsIpam } from '../../shared/whereabouts-config';
import { KeyedQueue } from '../keyed-queue';
import type { Logger } from '../log';
import { planRange, type Claimant } from './allocator';
import { planAddBatch } from './add-batch';
import { planRelease, type PlannedIp } from './add-plan';
import { StoreUnavailableError, type AllocationRecord, type PoolRef, type WhereaboutsStore } from './store';

/** ADD, DEL, CHECK and GC answer within this (code 11 when the store does not) */
export const VERB_DEADLINE_MS = 10_000;
/** STATUS answers within this (code 50 when the store does not) */
export const STATUS_DEADLINE_MS = 5_000;

export interface Attachment extends Claimant {
  /** the CNI network name (config `name`) */
  network: string;
}

export interface ServiceOptions {
  storeFor: (ipam: WhereaboutsIpam) => WhereaboutsStore;
  node: string;
  log: Logger;
  now?: () => number;
  verbDeadlineMs?: number;
}

export interface AllocatedIp {
  address: string;
  prefix: number;
  range: string;
}

function poolsOf(ipam: WhereaboutsIpam): PoolRef[] {
  return ipam.ranges.map((r) => ({ networkName: ipam.networkName, range: r.range }));
}

export class WhereaboutsService {
  private readonly queue = new KeyedQueue();
  /** ADDs waiting for their pools' queue, by store + ipam config: the next batch */
  private readonly openBatches = new Map<string, PendingAdd[]>();
  private readonly now: () => number;
  private readonly deadlineMs: number;
  /** commits that lost a race and were retried (bench and metrics) */
  conflicts = 0;
  /** ADDs dropped because their plugin hung up while they waited */
  dropped = 0;

  constructor(private readonly opts: ServiceOptions) {
    this.now = opts.now ?? Date.now;
    this.deadlineMs = opts.verbDeadlineMs ?? VERB_DEADLINE_MS;
  }

  /**
   * ADDs for one ipam config that arrive while its pools' queue is busy wait together and are
   * allocated in one read + one commit (add-batch.ts); `gone` true (the plugin hung up) drops
   * an ADD before anything is allocated for it.
   */
  add(ipam: WhereaboutsIpam, who: Attachment, gone: () => boolean = () => false): Promise<AllocatedIp[]> {
    const store = this.opts.storeFor(ipam);
    const key = `${store.endpoint}\0${JSON.stringify(ipam)}`;
    return new Promise<AllocatedIp[]>((resolve, reject) => {
      const entry: PendingAdd = { who, gone, resolve, reject };
      const open = this.openBatches.get(key);
      if (open) return void open.push(entry);
      const batch = [entry];
      this.openBatches.set(key, batch);
      void this.queued(store, poolsOf(ipam), async () => {
        this.openBatches.delete(key);
        await this.runBatch(store, ipam, batch);
      });
    });
  }

  private async runBatch(store: WhereaboutsStore, ipam: WhereaboutsIpam, batch: PendingAdd[]): Promise<void> {
    const plans = ipam.ranges.map((r) => planRange(r, ipam.gateway));
    const pools = poolsOf(ipam);
    let todo = batch;
    let deadline = this.now() + this.deadlineMs;
    const fail = (members: PendingAdd[], err: unknown) => members.forEach((m) => m.reject(err));
    for (let tries = 1; todo.length > 0; ) {
      todo = todo.filter((m) => {
        if (!m.gone()) return true;
        this.dropped++;
        m.reject(new TryAgainLaterError('ADD: the plugin hung up before an address was allocated'));
        return false;
      });
      if (todo.length === 0) return;
      let round: ReturnType<typeof planAddBatch>;
      try {
        const snapshots = await store.read(pools, { deadline });
        const reservations = ipam.overlappingRanges ? await store.readReservations(ipam.networkName, { deadline }) : [];
        const now = this.now();
        const ctx = todo.map((m) => ({ who: m.who, network: m.who.network, node: this.opts.node, now, overlapping: ipam.overlappingRanges }));
        round = planAddBatch(plans, snapshots, reservations, ctx);
        if (round.writes.length > 0 && !(await store.commit(round.writes, { deadline }))) round = { ...round, writes: [], taken: new Map(), later: todo.map((_, i) => i) };
        else tries = 0;
      } catch (err) {
        return fail(todo, storeError(err, 'ADD'));
      }
      for (const [i, err] of round.failed) todo[i]!.reject(err);
      for (const [i, ips] of round.taken) todo[i]!.resolve(ips.map((ip: PlannedIp) => ({ address: ip.address, prefix: ip.prefix, range: ip.pool.range })));
      todo = round.later.filter((i) => !round.failed.has(i)).map((i) => todo[i]!);
      if (tries === 0) {
        // progress: the members left start their own verb deadline now
        deadline = this.now() + this.deadlineMs;
        tries = 1;
        continue;
      }
      this.conflicts++;
      if (this.now() >= deadline) {
        return fail(todo, new TryAgainLaterError(`ADD: the store at ${store.endpoint} kept refusing our writes (${tries} conflicting attempts in ${this.deadlineMs / 1000} s)`));
      }
      await pause(tries++);
    }
  }

  /** Releases what container id + ifname holds in the config's pools; nothing held is success. */
  async del(ipam: WhereaboutsIpam, who: Attachment): Promise<number> {
    return this.release(ipam, 'DEL', (a) => a.containerId === who.containerId && a.ifname === who.ifname);
  }

  /** CNI 1.1 GC: every allocation this network made in its pools that no valid attachment holds. */
  async gc(ipam: WhereaboutsIpam, network: string, valid: Array<{ containerId: string; ifname: string }>): Promise<number> {
    const keep = new Set(valid.map((v) => `${v.containerId}\0${v.ifname}`));
    return this.release(ipam, 'GC', (a) => a.network === network && !keep.has(`${a.containerId}\0${a.ifname}`));
  }

  /** CHECK: every range holds an allocation for this container + ifname, and prevResult lists it. */
  async check(ipam: WhereaboutsIpam, who: Attachment, expected: string[]): Promise<void> {
    const store = this.opts.storeFor(ipam);
    const snaps = await this.guard('CHECK', () => store.read(poolsOf(ipam), { deadline: this.now() + this.deadlineMs }));
    const want = new Set(expected.map((cidr) => cidr.split('/')[0]));
    for (const snap of snaps) {
      const held = snap.allocations.find((a) => a.containerId === who.containerId && a.ifname === who.ifname);
      if (!held) throw new CheckFailedError(`no allocation in range ${snap.pool.range} for container ${who.containerId} ifname ${who.ifname}`);
      if (!want.has(held.address)) {
        throw new CheckFailedError(`range ${snap.pool.range}: the store holds ${held.address} for container ${who.containerId} ifname ${who.ifname}, prevResult has ${expected.join(', ') || 'no address'}`);
      }
    }
  }

  async status(ipam: WhereaboutsIpam): Promise<void> {
    const store = this.opts.storeFor(ipam);
    try {
      await store.health({ deadline: this.now() + STATUS_DEADLINE_MS });
    } catch (err) {
      throw new DaemonUnavailableError(`the whereabouts store is unreachable: ${(err as Error).message}`);
    }
  }

  private async release(ipam: WhereaboutsIpam, verb: string, pick: (a: AllocationRecord) => boolean): Promise<number> {
    return this.serialised(ipam, verb, async (store, pools, deadline) => {
      const snapshots = await store.read(pools, { deadline });
      const names = [...new Set(pools.map((p) => p.networkName))];
      const reservations = (await Promise.all(names.map((n) => store.readReservations(n, { deadline })))).flat();
      const { writes, released } = planRelease(snapshots, reservations, pick);
      if (writes.length > 0 && !(await store.commit(writes, { deadline }))) return undefined;
      for (const a of released) this.opts.log.info(`${verb}: released`, { address: a.address, containerId: a.containerId, ifname: a.ifname });
      return released.length;
    });
  }

  /**
   * Runs `attempt` under the pools' queue keys until it returns a value; undefined means its
   * commit lost a race: re-read and try again, with a short random pause, until the deadline.
   */
  private serialised<T>(
    ipam: WhereaboutsIpam,
    verb: string,
    attempt: (store: WhereaboutsStore, pools: PoolRef[], deadline: number) => Promise<T | undefined>,
  ): Promise<T> {
    const store = this.opts.storeFor(ipam);
    const pools = poolsOf(ipam);
    return this.queued(store, pools, async (): Promise<T> => {
      const deadline = this.now() + this.deadlineMs;
      for (let tries = 1; ; tries++) {
        const result = await this.guard(verb, () => attempt(store, pools, deadline));
        if (result !== undefined) return result;
        this.conflicts++;
        if (this.now() >= deadline) {
          throw new TryAgainLaterError(`${verb}: the store at ${store.endpoint} kept refusing our writes (${tries} conflicting attempts in ${this.deadlineMs / 1000} s)`);
        }
        await pause(tries);
      }
    });
  }

  /** `run` once every earlier verb on these pools has finished here (keys in sorted order). */
  private queued<T>(store: WhereaboutsStore, pools: PoolRef[], run: () => Promise<T>): Promise<T> {
    const keys = [...new Set(pools.map((p) => `${store.endpoint}\0${p.networkName}\0${p.range}`))].sort();
    const nested = keys.reduceRight<() => Promise<T>>((inner, key) => () => this.queue.run(key, inner), run);
    return nested();
  }

  /** A store that cannot be reached is code 11 naming its endpoint. */
  private async guard<T>(verb: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw storeError(err, verb);
    }
  }
}

function storeError(err: unknown, verb: string): unknown {
  if (err instanceof StoreUnavailableError) {
    return new TryAgainLaterError(`${verb}: whereabouts store unavailable: ${err.message}`, `endpoint ${err.endpoint}; the runtime may retry`);
  }
  return err;
}

/** a short random pause before re-reading after a lost race, longer as the losses add up */
function pause(tries: number): Promise<void> {
  return new Promise((r) => setTimeout(r, 2 + Math.random() * 20 * Math.min(tries, 10)));
}

interface PendingAdd {
  who: Attachment;
  gone: () => boolean;
  resolve: (ips: AllocatedIp[]) => void;
  reject: (err: unknown) => void;
}
