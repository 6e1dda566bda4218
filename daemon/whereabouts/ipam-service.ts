/**
 * The whereabouts verbs over a WhereaboutsStore. Every verb reads, decides (add-plan.ts) and
 * commits one all-or-nothing set of conditional writes; a commit that loses a race (another
 * node took the address first) re-reads and tries again until the verb's deadline. On this
 * node, verbs touching the same pools run one after another (KeyedQueue, keys taken in sorted
 * order so two multi-pool ADDs never wait on each other), so only other nodes can race us;
 * the ADDs that pile up behind a busy pool go together, one read and one commit for all.
 */
import { CheckFailedError, DaemonUnavailableError, RangeExhaustedError, TryAgainLaterError } from '../../shared/errors';
import type { WhereaboutsIpam } from '../../shared/whereabouts-config';
import { KeyedQueue } from '../keyed-queue';
import type { Logger } from '../log';
import { planRange, type Claimant } from './allocator';
import { planAddBatch } from './add-batch';
import { MAX_FREES_PER_COMMIT, planRelease, type PlannedIp } from './add-plan';
import { StoreUnavailableError, type AllocationRecord, type PoolRef, type StoreWrite, type WhereaboutsStore } from './store';

/** ADD, DEL, CHECK and GC answer within this (code 11 when the store does not) */
export const VERB_DEADLINE_MS = 10_000;
/**
 * An ADD gives up on lost races (code 11) once it has lost at least this many commits in a
 * row and its deadline has passed: on a starved machine one slow round can outlast the
 * deadline, and that is not a race lost.
 */
export const GIVE_UP_LOSSES = 10;
/** after a lost race, the batches of that ipam config commit member by member for this long */
export const CONTENDED_MS = 2_000;
/** STATUS answers within this (code 50 when the store does not) */
export const STATUS_DEADLINE_MS = 5_000;

/**
 * Why an ADD failed: its range was full; the store did not answer; its commit kept losing to
 * other nodes until its deadline; its plugin hung up first; anything else (a bad record).
 */
export type AddFailureReason = 'exhausted' | 'store_unavailable' | 'lost_races' | 'plugin_gone' | 'other';

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
  /** when a commit of the batches by this key last lost a race */
  private readonly lastLoss = new Map<string, number>();
  private readonly now: () => number;
  private readonly deadlineMs: number;
  /** commits that lost a race and were retried (bench and metrics) */
  conflicts = 0;
  /** ADDs dropped because their plugin hung up while they waited */
  dropped = 0;
  /** failed ADDs by reason, since start (metrics) */
  readonly addFailures: Record<AddFailureReason, number> = { exhausted: 0, store_unavailable: 0, lost_races: 0, plugin_gone: 0, other: 0 };

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
        await this.runBatch(store, ipam, key, batch);
      });
    });
  }

  /**
   * Rounds of read, plan, commit until every member is answered. A batch commits as one
   * all-or-nothing write while its pools are quiet; once a commit on them has lost a race
   * (within CONTENDED_MS, here or in this batch), and if the store itself keeps one address
   * per pod + ifname (onePerAttachment), each member's writes commit on their own, all at
   * once: a member whose address another node took loses alone and is planned again on a
   * fresh read, while the rest land. A member fails with code 11 once it has lost
   * GIVE_UP_LOSSES commits in a row and its deadline (set when it is first planned, renewed
   * whenever a round lands anything) has passed; every store call has the verb deadline to
   * answer (code 11 naming the store otherwise).
   */
  private async runBatch(store: WhereaboutsStore, ipam: WhereaboutsIpam, key: string, batch: PendingAdd[]): Promise<void> {
    const plans = ipam.ranges.map((r) => planRange(r, ipam.gateway));
    const pools = poolsOf(ipam);
    let todo: Member[] = batch.map((m) => ({ ...m, losses: 0 }));
    /** consecutive rounds in which this batch lost every commit it tried */
    let dry = 0;
    const fail = (m: Member, reason: AddFailureReason, err: unknown) => {
      this.addFailures[reason]++;
      m.reject(err);
    };
    while (todo.length > 0) {
      todo = todo.filter((m) => {
        if (!m.gone()) return true;
        this.dropped++;
        fail(m, 'plugin_gone', new TryAgainLaterError('ADD: the plugin hung up before an address was allocated'));
        return false;
      });
      const now = this.now();
      const [late, live] = partition(todo, (m) => m.losses >= GIVE_UP_LOSSES && m.deadline !== undefined && now >= m.deadline);
      for (const m of late) fail(m, 'lost_races', this.lostRaces('ADD', store, ipam, m.losses));
      todo = live;
      if (todo.length === 0) return;
      for (const m of todo) m.deadline ??= now + this.deadlineMs;
      // each store call has the whole verb deadline: whether the store answers is judged per
      // call, whether we keep losing races between rounds (above)
      const call = () => ({ deadline: this.now() + this.deadlineMs });
      let round: ReturnType<typeof planAddBatch>;
      let landed: Map<number, boolean | StoreUnavailableError>;
      try {
        const snapshots = await store.read(pools, call());
        const reservations = ipam.overlappingRanges ? await store.readReservations(ipam.networkName, call()) : [];
        const at = this.now();
        const ctx = todo.map((m) => ({ who: m.who, network: m.who.network, node: this.opts.node, now: at, overlapping: ipam.overlappingRanges }));
        round = planAddBatch(plans, snapshots, reservations, ctx);
        const separately = store.onePerAttachment === true && this.now() - (this.lastLoss.get(key) ?? -Infinity) < CONTENDED_MS;
        landed = await commitGroups(store, round.groups, separately, call());
      } catch (err) {
        for (const m of todo) fail(m, err instanceof StoreUnavailableError ? 'store_unavailable' : 'other', storeError(err, 'ADD'));
        return;
      }
      const next: Member[] = [];
      let won = 0;
      let lost = 0;
      todo.forEach((m, i) => {
        const err = round.failed.get(i);
        if (err !== undefined) return fail(m, err instanceof RangeExhaustedError ? 'exhausted' : 'other', err);
        const ips = round.taken.get(i);
        if (ips === undefined) return void next.push(m); // waits for a later round: repeat of a pod, or past the write budget
        const answer = landed.get(i);
        if (answer instanceof StoreUnavailableError) return fail(m, 'store_unavailable', storeError(answer, 'ADD'));
        if (answer === false) {
          m.losses++;
          lost++;
          return void next.push(m);
        }
        if (round.groups.has(i)) won++;
        m.resolve(ips.map((ip: PlannedIp) => ({ address: ip.address, prefix: ip.prefix, range: ip.pool.range })));
      });
      todo = next;
      if (lost === 0 || won > 0) {
        // progress: whoever is left starts a fresh deadline
        dry = 0;
        const renewed = this.now() + this.deadlineMs;
        for (const m of todo) m.deadline = renewed;
      }
      if (lost === 0) continue;
      this.conflicts++;
      this.lastLoss.set(key, this.now());
      if (won === 0) dry++;
      await pause(Math.max(1, dry));
    }
  }

  /** code 11 for a verb that kept losing its commit to other nodes until its deadline passed */
  private lostRaces(verb: string, store: WhereaboutsStore, ipam: WhereaboutsIpam, losses: number): TryAgainLaterError {
    const ranges = ipam.ranges.map((r) => r.range).join(', ');
    const net = ipam.networkName ? ` (network_name ${ipam.networkName})` : '';
    return new TryAgainLaterError(
      `${verb}: lost ${losses} commit${losses === 1 ? '' : 's'} in a row to other nodes allocating from ${ranges}${net} at ${store.endpoint}; the ${this.deadlineMs / 1000} s deadline passed`,
      'the runtime may retry',
    );
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

  /** commits of at most MAX_FREES_PER_COMMIT frees each, re-read between them, until none is left */
  private async release(ipam: WhereaboutsIpam, verb: string, pick: (a: AllocationRecord) => boolean): Promise<number> {
    let total = 0;
    return this.serialised(ipam, verb, async (store, pools, deadline) => {
      for (;;) {
        const snapshots = await store.read(pools, { deadline });
        const names = [...new Set(pools.map((p) => p.networkName))];
        const reservations = (await Promise.all(names.map((n) => store.readReservations(n, { deadline })))).flat();
        const { writes, released } = planRelease(snapshots, reservations, pick, MAX_FREES_PER_COMMIT);
        if (writes.length === 0) return total;
        if (!(await store.commit(writes, { deadline }))) return undefined;
        total += released.length;
        for (const a of released) this.opts.log.info(`${verb}: released`, { address: a.address, containerId: a.containerId, ifname: a.ifname });
        if (released.length < MAX_FREES_PER_COMMIT) return total;
      }
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
        await pause(tries);
        if (this.now() >= deadline) {
          throw this.lostRaces(verb, store, ipam, tries);
        }
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

interface Member extends PendingAdd {
  /** commits of this member that lost a race, in a row */
  losses: number;
  /** when its commits stop being retried: set on its first planned round */
  deadline?: number;
}

function partition<T>(xs: T[], pick: (x: T) => boolean): [T[], T[]] {
  return [xs.filter(pick), xs.filter((x) => !pick(x))];
}

/**
 * The members' writes as one all-or-nothing commit (`separately` false: one round trip), or
 * each member's as its own commit, all at once (a member whose address another node took
 * loses alone). Answers per member whether its writes landed, or the store's failure for it.
 */
async function commitGroups(
  store: WhereaboutsStore,
  groups: Map<number, StoreWrite[]>,
  separately: boolean,
  opts: { deadline: number },
): Promise<Map<number, boolean | StoreUnavailableError>> {
  const members = [...groups.keys()];
  if (members.length === 0) return new Map();
  if (members.length === 1 || !separately) {
    const ok = await store.commit(members.flatMap((i) => groups.get(i)!), opts);
    return new Map(members.map((i) => [i, ok]));
  }
  const landed = await Promise.allSettled(members.map((i) => store.commit(groups.get(i)!, opts)));
  return new Map<number, boolean | StoreUnavailableError>(
    members.map((i, k) => {
      const r = landed[k]!;
      if (r.status === 'fulfilled') return [i, r.value];
      if (r.reason instanceof StoreUnavailableError) return [i, r.reason];
      throw r.reason;
    }),
  );
}
