/**
 * The Whereabouts store on etcd (v3 gRPC API, the etcd3 client), for clusters that share one
 * address space across nodes. Key layout and record codec: etcd-keys.ts.
 *
 * - `commit()` is one etcd transaction: create/reserve compare create_revision == 0 (absent),
 *   delete/unreserve compare the mod_revision at which this containerId + ifname was seen to
 *   hold the key. All or nothing, so an allocation and its reservation land together. A new
 *   allocation also creates its pod index key if absent (etcd-keys.ts), so two nodes that
 *   both saw a pod without an address cannot both give it one, even when they pick
 *   different addresses.
 * - A commit whose response was lost can be retried by the client library and then fail its
 *   own compare. The failure branch therefore reads the keys back: when every created key
 *   holds exactly our bytes and every deleted key is gone, the transaction was ours and
 *   commit() answers true. An answer is the truth, never "false but written".
 * - `read()` sees every pool of one call at one revision (returned as PoolSnapshot.revision).
 *   A pool read before is brought up to date from this store's copy of it with one range of
 *   the keys modified since and a count (etcd-cache.ts), so a big pool is not sent and
 *   decoded whole on every ADD; a pool not read before is read in pages, pinned to the
 *   revision of the first page. The reservations of a network_name are read the same way.
 * - Every call carries a gRPC deadline (the caller's, capped at MAX_CALL_MS) and is also
 *   raced against a timer; recoverable failures are retried until the deadline, and any
 *   failure is a StoreUnavailableError naming the endpoints.
 */
import * as fs from 'node:fs';
import { noop } from 'cockatiel';
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import type { IKeyValue, IRequestOp, ICompare } from 'etcd3/lib/rpc';
import type { Datastore } from '../../shared/whereabouts-config';
import { MAX_COMMIT_WRITES } from './add-batch';
import { catchUp } from './etcd-cache';
import * as keys from './etcd-keys';
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

/**
 * The `etcd_*` keys as the config parses them (shared/whereabouts-config.ts); endpoints are
 * `http://host:port`, `https://host:port`, `host:port` (https when a TLS file is set) or
 * `unix:///path`.
 */
export type EtcdStoreConfig = Omit<Extract<Datastore, { kind: 'etcd' }>, 'kind'> & {
  /** keys per range page (default 5000); tests make it small to cross page boundaries */
  pageSize?: number;
  /** false: read every pool in full on every read, no cached copy (the bench's "before") */
  cache?: boolean;
};

interface CachedPrefix<T> {
  revision: string;
  entries: Map<string, T>;
}

/** no single gRPC call waits longer than this, whatever the caller's deadline */
export const MAX_CALL_MS = 10_000;
/** keys per range page: a /16 pool is read in a handful of round trips, none of them huge */
const PAGE = 5000;

function readPem(file: string | undefined, what: string, endpoint: string): Buffer | undefined {
  if (file === undefined || file === '') return undefined;
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new StoreUnavailableError(endpoint, `cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

function writeKey(w: StoreWrite): string {
  return w.op === 'create' || w.op === 'delete' ? keys.allocationKey(w.pool, w.allocation.offset) : keys.reservationKey(w.reservation);
}

function writeValue(w: StoreWrite): string {
  return w.op === 'create' || w.op === 'delete' ? keys.encodeAllocation(w.allocation) : keys.encodeReservation(w.reservation);
}

/**
 * One key of a transaction: `absent` compares create_revision == 0; `holder` compares the
 * mod_revision at which `remove`'s containerId + ifname was seen to hold it; `none` compares
 * nothing (the pod index of an allocation being deleted: the allocation's own compare decides).
 * With `put` the key is written, otherwise deleted.
 */
interface KeyOp {
  key: string;
  guard: 'absent' | 'holder' | 'none';
  remove?: StoreWrite;
  put?: string;
}

/**
 * One operation per key: a delete or unreserve followed by a create or reserve of the same key
 * (a re-created sandbox keeps its address under a new container id) is one replace, compared
 * on the holder's mod_revision; etcd refuses a transaction that names a key twice. Every new
 * allocation also creates its pod index key (absent, or the commit fails: that pod + ifname
 * already holds an address in the pool, whichever node wrote it), and every allocation
 * deleted other than by a replace deletes its pod index key.
 */
function keyOps(writes: StoreWrite[]): KeyOp[] {
  const ops: KeyOp[] = [];
  for (const w of writes) {
    const key = writeKey(w);
    const putting = w.op === 'create' || w.op === 'reserve';
    const prior = putting ? ops.find((o) => o.key === key && o.remove && o.put === undefined) : undefined;
    if (prior) prior.put = writeValue(w);
    else ops.push(putting ? { key, guard: 'absent', put: writeValue(w) } : { key, guard: 'holder', remove: w });
  }
  const index: KeyOp[] = [];
  for (const o of ops) {
    const w = o.put !== undefined ? writes.find((x) => writeKey(x) === o.key && (x.op === 'create' || x.op === 'reserve')) : o.remove;
    if (w === undefined || (w.op !== 'create' && w.op !== 'delete')) continue;
    if (o.remove && o.put !== undefined) continue; // a replace: same pod, same address, the index stays
    const key = keys.podKey(w.pool, w.allocation);
    const same = index.find((x) => x.key === key);
    if (w.op === 'create') {
      const put = keys.encodePodIndex(w.allocation);
      if (same) Object.assign(same, { guard: 'none', put });
      else index.push({ key, guard: 'absent', put });
    } else if (!same) index.push({ key, guard: 'none' });
  }
  return [...ops, ...index];
}

/** the holder a delete/unreserve must find: containerId + ifname */
function holds(w: StoreWrite, kv: IKeyValue, key: string): boolean {
  const held = w.op === 'delete' ? keys.decodeAllocation(kv.value.toString('utf8'), key) : keys.decodeReservation(kv.value.toString('utf8'), key);
  const want = w.op === 'delete' ? w.allocation : w.op === 'unreserve' ? w.reservation : undefined;
  return want !== undefined && held.containerId === want.containerId && held.ifname === want.ifname;
}

/**
 * Member down, no leader, connection reset; and a member that has not yet applied an auth
 * change its token was issued after (etcd's ErrAuthOldRevision, which etcd's Go client also
 * retries): it catches up within a moment.
 */
function retryable(err: Error): boolean {
  return isRecoverableError(err) || /revision of auth store is old/.test(err.message);
}

export class EtcdStore implements WhereaboutsStore {
  readonly endpoint: string;
  readonly onePerAttachment = true;
  private readonly client: Etcd3;
  private readonly page: number;
  private readonly caching: boolean;
  /** what each pool and reservation prefix held when last read here, and at which revision */
  private readonly pools = new Map<string, CachedPrefix<AllocationRecord>>();
  private readonly reservations = new Map<string, CachedPrefix<ReservationRecord>>();

  constructor(cfg: EtcdStoreConfig) {
    if (cfg.endpoints.length === 0) throw new StoreUnavailableError('etcd', 'no etcd endpoints configured (etcd_host)');
    const tls = Boolean(cfg.caCertFile || cfg.certFile || cfg.keyFile);
    const hosts = cfg.endpoints.map((e) => (/^[a-z]+:\/\//.test(e) ? e : `${tls ? 'https' : 'http'}://${e}`));
    this.endpoint = `etcd ${hosts.join(',')}`;
    if (Boolean(cfg.certFile) !== Boolean(cfg.keyFile)) {
      throw new StoreUnavailableError(this.endpoint, 'etcd_cert_file and etcd_key_file go together');
    }
    if ((cfg.username === undefined) !== (cfg.password === undefined)) {
      throw new StoreUnavailableError(this.endpoint, 'etcd_username and etcd_password go together');
    }
    const opts: IOptions = {
      hosts,
      dialTimeout: MAX_CALL_MS,
      // one attempt per call and no circuit breaker (it fails every call for 5 s after an
      // outage ends): bounded() retries within the caller's deadline instead
      faultHandling: { host: () => noop, global: noop },
      // a /16 read back in pages still makes big responses; the 4 MB default is too small
      grpcOptions: { 'grpc.max_receive_message_length': 256 << 20 },
    };
    if (tls) {
      const ca = readPem(cfg.caCertFile, 'etcd_ca_cert_file', this.endpoint);
      const key = readPem(cfg.keyFile, 'etcd_key_file', this.endpoint);
      const cert = readPem(cfg.certFile, 'etcd_cert_file', this.endpoint);
      // createSsl without a root certificate falls back to the system's roots
      opts.credentials = { rootCertificate: ca ?? (undefined as unknown as Buffer), privateKey: key, certChain: cert };
    }
    if (cfg.username !== undefined && cfg.password !== undefined) {
      opts.auth = { username: cfg.username, password: cfg.password, callOptions: () => ({ deadline: Date.now() + MAX_CALL_MS }) };
    }
    this.client = new Etcd3(opts);
    this.page = cfg.pageSize ?? PAGE;
    this.caching = cfg.cache ?? true;
  }

  /**
   * Runs one store operation within the caller's deadline. A recoverable failure (member down,
   * no leader during an election, connection reset) is retried on the next endpoint with a
   * short backoff until the deadline, so a leader election inside the deadline is only a
   * stall; anything else (auth refused, a bad record) fails at once. Every failure becomes a
   * StoreUnavailableError that names the endpoints and the last error.
   */
  private async bounded<T>(what: string, opts: StoreDeadline, fn: (deadline: Date) => Promise<T>): Promise<T> {
    const start = Date.now();
    const budget = opts.deadline - start;
    if (budget <= 0) throw new StoreUnavailableError(this.endpoint, `${what}: the deadline had passed before the call`);
    let timer: NodeJS.Timeout | undefined;
    let last = 'no answer';
    let expired = false;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        expired = true;
        reject(new StoreUnavailableError(this.endpoint, `${what}: no answer within ${budget} ms (last: ${last})`));
      }, budget + 50);
    });
    const attempts = async (): Promise<T> => {
      for (let n = 0; ; n++) {
        const deadline = new Date(Math.min(opts.deadline, Date.now() + MAX_CALL_MS));
        try {
          return await fn(deadline);
        } catch (err) {
          if (err instanceof StoreUnavailableError) throw err;
          last = (err as Error).message;
          const pause = Math.min(500, 25 << Math.min(n, 5)) * (0.5 + Math.random() / 2);
          if (!retryable(err as Error) || expired || Date.now() + pause >= opts.deadline) {
            throw new StoreUnavailableError(this.endpoint, `${what}: ${last}`);
          }
          await new Promise((r) => setTimeout(r, pause));
        }
      }
    };
    try {
      return await Promise.race([attempts(), late]);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(this.endpoint, `${what}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** every key under `prefix`, at `revision` when given, in pages; returns the revision read */
  private async rangeAll(prefix: string, revision: string | undefined, deadline: Date, keysOnly = false): Promise<{ kvs: IKeyValue[]; revision: string }> {
    const end = keys.prefixEnd(prefix);
    const kvs: IKeyValue[] = [];
    let from = Buffer.from(prefix, 'utf8');
    let rev = revision;
    for (;;) {
      const res = await this.client.kv.range({ key: from, range_end: end, limit: this.page, revision: rev ?? 0, keys_only: keysOnly }, { deadline });
      rev ??= res.header.revision;
      kvs.push(...res.kvs);
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || !last) return { kvs, revision: rev };
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  /**
   * Every record under each prefix, all at one revision. A prefix read before is brought up
   * to date from its cached copy (etcd-cache.ts): one transaction asks, for all of them, for
   * the keys modified since and for the number of keys; only when a key was deleted since is
   * the prefix listed again (keys only). A prefix not read before is read in full.
   */
  private async readPrefixes<T>(cache: Map<string, CachedPrefix<T>>, prefixes: string[], decode: (text: string, key: string) => T, deadline: Date): Promise<{ maps: Array<Map<string, T>>; revision: string }> {
    const decoded = (kvs: IKeyValue[]) => kvs.map((kv): [string, T] => {
      const key = kv.key.toString('utf8');
      return [key, decode(kv.value.toString('utf8'), key)];
    });
    const maps: Array<Map<string, T> | undefined> = prefixes.map(() => undefined);
    const hits = prefixes.map((p, i) => i).filter((i) => this.caching && cache.has(prefixes[i]!)).slice(0, MAX_COMMIT_WRITES); // two operations each
    let revision: string | undefined;
    if (hits.length > 0) {
      const success: IRequestOp[] = hits.flatMap((i) => {
        const key = Buffer.from(prefixes[i]!, 'utf8');
        const range_end = keys.prefixEnd(prefixes[i]!);
        const since = (BigInt(cache.get(prefixes[i]!)!.revision) + 1n).toString();
        return [{ request_range: { key, range_end, min_mod_revision: since } }, { request_range: { key, range_end, count_only: true } }];
      });
      const res = await this.client.kv.txn({ compare: [], success, failure: [] }, { deadline });
      revision = res.header.revision;
      for (const [j, i] of hits.entries()) {
        const cached = cache.get(prefixes[i]!)!.entries;
        const modified = decoded(res.responses[2 * j]!.response_range.kvs);
        const count = Number(res.responses[2 * j + 1]!.response_range.count);
        let next = catchUp(cached, modified, count);
        if (next === undefined && count < cached.size + modified.length) {
          const present = await this.rangeAll(prefixes[i]!, revision, deadline, true);
          next = catchUp(cached, modified, count, new Set(present.kvs.map((kv) => kv.key.toString('utf8'))));
        }
        maps[i] = next;
      }
    }
    for (const [i, prefix] of prefixes.entries()) {
      if (maps[i] !== undefined) continue;
      const r = await this.rangeAll(prefix, revision, deadline);
      revision = r.revision;
      maps[i] = new Map(decoded(r.kvs));
    }
    const at = revision!;
    if (this.caching) for (const [i, prefix] of prefixes.entries()) cache.set(prefix, { revision: at, entries: maps[i]! });
    return { maps: maps as Array<Map<string, T>>, revision: at };
  }

  read(pools: PoolRef[], opts: StoreDeadline): Promise<PoolSnapshot[]> {
    return this.bounded('read', opts, async (deadline) => {
      const r = await this.readPrefixes(this.pools, pools.map(keys.poolPrefix), keys.decodeAllocation, deadline);
      return pools.map((pool, i) => ({ pool, allocations: [...r.maps[i]!.values()], revision: r.revision }));
    });
  }

  readReservations(networkName: string, opts: StoreDeadline): Promise<ReservationRecord[]> {
    return this.bounded('read reservations', opts, async (deadline) => {
      const r = await this.readPrefixes(this.reservations, [keys.reservationPrefix(networkName)], keys.decodeReservation, deadline);
      return [...r.maps[0]!.values()];
    });
  }

  /** one keys-only read per pool: each answer names a pool, and the next read starts past its keys */
  listPools(opts: StoreDeadline): Promise<PoolRef[]> {
    return this.bounded('list pools', opts, async (deadline) => {
      const pools: PoolRef[] = [];
      const end = keys.prefixEnd(keys.ROOT);
      let from: Buffer = Buffer.from(keys.ROOT, 'utf8');
      for (;;) {
        const res = await this.client.kv.range({ key: from, range_end: end, limit: 1, keys_only: true }, { deadline });
        const kv = res.kvs[0];
        if (!kv) return pools;
        const key = kv.key.toString('utf8');
        const k = keys.keyKind(key);
        if (k.kind === 'pool') pools.push(k.pool);
        // skip past the whole prefix this key belongs to, so the cost is one read per prefix, not per key
        from =
          k.kind === 'pool'
            ? keys.prefixEnd(keys.poolPrefix(k.pool))
            : k.kind === 'reservation'
              ? keys.prefixEnd(keys.reservationPrefix(k.networkName))
              : k.kind === 'pods'
                ? keys.prefixEnd(keys.podIndexPrefix(k.networkName))
                : Buffer.concat([kv.key, Buffer.from([0])]);
      }
    });
  }

  commit(writes: StoreWrite[], opts: StoreDeadline): Promise<boolean> {
    if (writes.length === 0) return Promise.resolve(true);
    const ops = keyOps(writes);
    const ks = ops.map((o) => o.key);
    if (new Set(ks).size !== ks.length) throw new Error(`one commit names a key twice: ${ks.join(', ')}`);
    return this.bounded('commit', opts, async (deadline) => {
      const compare: ICompare[] = [];
      const success: IRequestOp[] = [];
      const removing = ops.map((o, i) => (o.guard === 'holder' ? i : -1)).filter((i) => i >= 0);
      // a delete must find its holder: read those keys first, then compare their mod_revision
      const seen = new Map<number, IKeyValue>();
      if (removing.length > 0) {
        const res = await this.client.kv.txn(
          { compare: [], success: removing.map((i) => ({ request_range: { key: Buffer.from(ks[i]!) } })), failure: [] },
          { deadline },
        );
        for (const [j, r] of res.responses.entries()) {
          const kv = r.response_range?.kvs[0];
          const i = removing[j]!;
          if (!kv || !holds(ops[i]!.remove!, kv, ks[i]!)) return false;
          seen.set(i, kv);
        }
      }
      for (const [i, o] of ops.entries()) {
        const key = Buffer.from(ks[i]!, 'utf8');
        if (o.guard === 'holder') compare.push({ key, target: 'Mod', result: 'Equal', mod_revision: seen.get(i)!.mod_revision });
        else if (o.guard === 'absent') compare.push({ key, target: 'Create', result: 'Equal', create_revision: 0 });
        if (o.put !== undefined) success.push({ request_put: { key, value: Buffer.from(o.put, 'utf8') } });
        else success.push({ request_delete_range: { key } });
      }
      const failure: IRequestOp[] = ks.map((k) => ({ request_range: { key: Buffer.from(k, 'utf8') } }));
      const res = await this.client.kv.txn({ compare, success, failure }, { deadline });
      if (res.succeeded) return true;
      // lost answer, retried by the client: was the transaction that made our compares fail ours?
      return ops.every((o, i) => {
        const kv = res.responses[i]?.response_range?.kvs[0];
        if (o.put !== undefined) return kv !== undefined && kv.value.toString('utf8') === o.put;
        return kv === undefined;
      });
    });
  }

  health(opts: StoreDeadline): Promise<void> {
    // a linearizable read needs the leader and a quorum, as a commit would
    return this.bounded('health', opts, async (deadline) => {
      await this.client.kv.range({ key: Buffer.from(`${keys.ROOT}health`), count_only: true }, { deadline });
    });
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }
}

/** what the daemon calls for `datastore: etcd`; one store per distinct endpoint set */
export function openEtcdStore(cfg: EtcdStoreConfig): WhereaboutsStore {
  return new EtcdStore(cfg);
}
