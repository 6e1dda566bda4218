/**
 * The embedded `file` store: every pool and reservation of this node in one JSON document,
 * `<dir>/state.json`, owned by one daemon (dir-lock.ts). A commit checks its conditions
 * against memory, writes the whole new document to a temp file, fsyncs it, renames it over
 * the old one and fsyncs the directory, and only then changes memory; so a kill -9 at any
 * instant leaves the old document or the new one, and an ADD is answered only once its
 * address is on disk. One document (not a file per pool) because a commit spans pools and
 * reservations and must land all at once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lockDir, type DirLock } from './dir-lock';
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

export const FILE_STORE_FORMAT = 1;
const STATE = 'state.json';

interface PoolState {
  pool: PoolRef;
  revision: number;
  allocations: Map<string, AllocationRecord>;
}

interface Document {
  format: number;
  pools: Array<{ pool: PoolRef; revision: number; allocations: AllocationRecord[] }>;
  reservations: ReservationRecord[];
}

const poolKey = (p: PoolRef) => `${p.networkName}\0${p.range}`;
const reservationKey = (networkName: string, address: string) => `${networkName}\0${address}`;
const sameHolder = (a: { containerId: string; ifname: string }, b: { containerId: string; ifname: string }) =>
  a.containerId === b.containerId && a.ifname === b.ifname;

export class FileStore implements WhereaboutsStore {
  readonly endpoint: string;
  private pools = new Map<string, PoolState>();
  private reservations = new Map<string, ReservationRecord>();
  private lock: DirLock | undefined;

  constructor(readonly dir: string) {
    this.endpoint = `file:${dir}`;
  }

  /** Takes the directory lock and loads the document; throws (the daemon does not start) when either fails. */
  open(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.lock = lockDir(this.dir);
    for (const name of fs.readdirSync(this.dir)) {
      if (name.startsWith(`${STATE}.`) && name.endsWith('.tmp')) fs.rmSync(path.join(this.dir, name), { force: true });
    }
    const file = path.join(this.dir, STATE);
    if (!fs.existsSync(file)) return;
    let doc: Document;
    try {
      doc = JSON.parse(fs.readFileSync(file, 'utf8')) as Document;
      if (doc.format !== FILE_STORE_FORMAT || !Array.isArray(doc.pools) || !Array.isArray(doc.reservations)) throw new Error(`unknown format ${String(doc.format)}`);
    } catch (err) {
      // never start on an empty view of a store we cannot read: that would hand out addresses twice
      this.lock.release();
      throw new Error(`${file} is unreadable (${(err as Error).message}); fix or move it away before starting`);
    }
    for (const p of doc.pools) {
      this.pools.set(poolKey(p.pool), { pool: p.pool, revision: p.revision, allocations: new Map(p.allocations.map((a) => [a.offset, a])) });
    }
    for (const r of doc.reservations) this.reservations.set(reservationKey(r.networkName, r.address), r);
  }

  async read(pools: PoolRef[], _opts: StoreDeadline): Promise<PoolSnapshot[]> {
    this.assertOpen();
    return pools.map((pool) => {
      const st = this.pools.get(poolKey(pool));
      return { pool, allocations: st ? [...st.allocations.values()] : [], revision: String(st?.revision ?? 0) };
    });
  }

  async readReservations(networkName: string, _opts: StoreDeadline): Promise<ReservationRecord[]> {
    this.assertOpen();
    return [...this.reservations.values()].filter((r) => r.networkName === networkName);
  }

  /** Every pool this store holds (for the operator's listing). */
  listPools(_opts: StoreDeadline): Promise<PoolRef[]> {
    return Promise.resolve([...this.pools.values()].map((p) => p.pool));
  }

  async commit(writes: StoreWrite[], _opts: StoreDeadline): Promise<boolean> {
    this.assertOpen();
    const pools = new Map(this.pools);
    const reservations = new Map(this.reservations);
    const touched = new Set<string>();
    const poolFor = (ref: PoolRef): PoolState => {
      const key = poolKey(ref);
      let st = pools.get(key) as PoolState | undefined;
      if (!touched.has(key)) {
        st = st ? { ...st, allocations: new Map(st.allocations) } : { pool: { networkName: ref.networkName, range: ref.range }, revision: 0, allocations: new Map() };
        st.revision++;
        pools.set(key, st);
        touched.add(key);
      }
      return st as PoolState;
    };
    for (const w of writes) {
      if (w.op === 'create' || w.op === 'delete') {
        const st = poolFor(w.pool);
        const held = st.allocations.get(w.allocation.offset);
        if (w.op === 'create') {
          if (held) return false;
          st.allocations.set(w.allocation.offset, w.allocation);
        } else {
          if (!held || !sameHolder(held, w.allocation)) return false;
          st.allocations.delete(w.allocation.offset);
        }
      } else {
        const key = reservationKey(w.reservation.networkName, w.reservation.address);
        const held = reservations.get(key);
        if (w.op === 'reserve') {
          if (held) return false;
          reservations.set(key, w.reservation);
        } else {
          if (!held || !sameHolder(held, w.reservation)) return false;
          reservations.delete(key);
        }
      }
    }
    this.persist(pools, reservations);
    this.pools = pools;
    this.reservations = reservations;
    return true;
  }

  async health(_opts: StoreDeadline): Promise<void> {
    this.assertOpen();
    try {
      fs.accessSync(this.dir, fs.constants.W_OK);
    } catch (err) {
      throw new StoreUnavailableError(this.endpoint, `state directory not writable: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.lock?.release();
    this.lock = undefined;
  }

  private assertOpen(): void {
    if (!this.lock) throw new StoreUnavailableError(this.endpoint, 'the store is not open');
  }

  private persist(pools: Map<string, PoolState>, reservations: Map<string, ReservationRecord>): void {
    const doc: Document = {
      format: FILE_STORE_FORMAT,
      pools: [...pools.values()]
        .filter((p) => p.allocations.size > 0 || p.revision > 0)
        .map((p) => ({ pool: p.pool, revision: p.revision, allocations: [...p.allocations.values()] })),
      reservations: [...reservations.values()],
    };
    const file = path.join(this.dir, STATE);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, JSON.stringify(doc) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
      const dfd = fs.openSync(this.dir, 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw new StoreUnavailableError(this.endpoint, `cannot write ${file}: ${(err as Error).message}`);
    }
  }
}
