/**
 * A minimal lowest-free allocator over a WhereaboutsStore, for the store's fault tests and the
 * stampede bench: read the pool, take the lowest offset no allocation holds, commit the
 * allocation and its reservation in one transaction, and on a lost race read again. It is
 * idempotent by identity, as ADD is: when a read shows an allocation with our container id
 * (a commit that timed out but landed), that is our answer. Every commit's answer is logged,
 * so a test can check the final state against what each commit said.
 */
import type { AllocationRecord, PoolRef, WhereaboutsStore } from '../../daemon/whereabouts/store';
import { StoreUnavailableError } from '../../daemon/whereabouts/store';
import { alloc, allocate } from './whereabouts-records';

export type CommitAnswer = true | false | 'unavailable';

export interface CommitEvent {
  record: AllocationRecord;
  answer: CommitAnswer;
  at: number;
}

export type Pick = 'lowest' | 'random-start';

export interface AllocateOptions {
  /** offsets [0, size) are the pool */
  size: number;
  /** overall time budget for this one allocation */
  deadlineMs: number;
  /** per-call store deadline */
  callMs?: number;
  pick?: Pick;
  history?: CommitEvent[];
  node?: string;
}

export type AllocateResult =
  | { ok: true; record: AllocationRecord; retries: number; unavailable: number }
  | { ok: false; reason: 'exhausted' | 'deadline'; retries: number; unavailable: number; error?: string };

function pickOffset(used: Set<number>, size: number, pick: Pick): number | undefined {
  const start = pick === 'lowest' ? 0 : Math.floor(Math.random() * size);
  for (let k = 0; k < size; k++) {
    const o = (start + k) % size;
    if (!used.has(o)) return o;
  }
  return undefined;
}

export async function allocateOne(store: WhereaboutsStore, pool: PoolRef, who: string, opts: AllocateOptions): Promise<AllocateResult> {
  const end = Date.now() + opts.deadlineMs;
  const callMs = opts.callMs ?? 5000;
  let retries = 0;
  let unavailable = 0;
  let lastError = '';
  while (Date.now() < end) {
    const deadline = { deadline: Math.min(end, Date.now() + callMs) };
    try {
      const [snap] = await store.read([pool], deadline);
      const mine = snap!.allocations.find((a) => a.containerId === `cid-${who}`);
      if (mine) return { ok: true, record: mine, retries, unavailable };
      const offset = pickOffset(new Set(snap!.allocations.map((a) => Number(a.offset))), opts.size, opts.pick ?? 'lowest');
      if (offset === undefined) return { ok: false, reason: 'exhausted', retries, unavailable };
      const record = alloc(offset, who, opts.node);
      let answer: CommitAnswer;
      try {
        answer = await store.commit(allocate(pool, record), { deadline: Math.min(end, Date.now() + callMs) });
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        answer = 'unavailable';
        lastError = err.message;
      }
      opts.history?.push({ record, answer, at: Date.now() });
      if (answer === true) return { ok: true, record, retries, unavailable };
      if (answer === false) retries++;
      else unavailable++;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      unavailable++;
      lastError = err.message;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { ok: false, reason: 'deadline', retries, unavailable, error: lastError };
}

/**
 * What is wrong with a final state, given every commit's answer: an address held twice, an
 * allocation without its reservation or the reverse (half-written), a commit that answered
 * true but is not there (lost), or one that answered false but is there (a lie).
 */
export function historyProblems(
  history: CommitEvent[],
  allocations: AllocationRecord[],
  reservations: Array<{ address: string; containerId: string }>,
): string[] {
  const problems: string[] = [];
  const byAddress = new Map<string, AllocationRecord>();
  for (const a of allocations) {
    const prev = byAddress.get(a.address);
    if (prev) problems.push(`duplicate: ${a.address} held by ${prev.containerId} and ${a.containerId}`);
    byAddress.set(a.address, a);
  }
  const resv = new Map(reservations.map((r) => [r.address, r]));
  for (const a of allocations) {
    if (resv.get(a.address)?.containerId !== a.containerId) problems.push(`half-written: ${a.address} allocated to ${a.containerId}, reserved by ${resv.get(a.address)?.containerId ?? 'nobody'}`);
  }
  for (const r of reservations) {
    if (byAddress.get(r.address)?.containerId !== r.containerId) problems.push(`half-written: ${r.address} reserved by ${r.containerId} without its allocation`);
  }
  for (const e of history) {
    const held = byAddress.get(e.record.address);
    const there = held !== undefined && held.containerId === e.record.containerId && held.createdAt === e.record.createdAt;
    if (e.answer === true && !there) problems.push(`lost: ${e.record.containerId} was told it holds ${e.record.address}`);
    if (e.answer === false && there) problems.push(`lie: ${e.record.containerId} was told it lost ${e.record.address}, but holds it`);
  }
  return problems;
}
