/**
 * The one interface every Whereabouts store implements (`file`, `etcd`, later `kubernetes`).
 *
 * A store knows nothing of allocation policy (lowest free, idempotency per pod, overlap
 * rules): that lives above it, in the pure allocator and the daemon's IPAM service. A store
 * offers two things only: a consistent read of pools and reservations, and one all-or-nothing
 * conditional write. Every write names a key and a condition, so two daemons racing for one
 * address cannot both win, and an allocation and its overlapping-range reservation are
 * written in the same transaction (Whereabouts writes them one after the other).
 */

/** One address pool: a range within a network_name's address space. */
export interface PoolRef {
  /** `network_name` from the ipam config; '' when unset */
  networkName: string;
  /** the range's CIDR as Whereabouts normalises it for pool names, e.g. "198.18.0.0/24", "2001:db8::/64" */
  range: string;
}

export interface AllocationRecord {
  /** decimal offset of the address from the range's network address (Whereabouts' key) */
  offset: string;
  /** the address itself, canonical text, no prefix */
  address: string;
  containerId: string;
  /** `K8S_POD_NAMESPACE/K8S_POD_NAME` */
  podRef: string;
  ifname: string;
  /** the node (daemon) that made the allocation; the reconciler frees only its own */
  node: string;
  /** ms since the epoch */
  createdAt: number;
  /**
   * the CNI network (config `name`) that made the allocation; optional, added after the
   * contract: several networks can share one pool, and GC of one network must release only
   * its own allocations. A store that does not keep it makes GC release nothing there.
   */
  network?: string;
}

/**
 * An overlapping-range reservation: one per address per network_name, whatever range it came
 * from, so two networks whose ranges overlap never hand out one address twice.
 */
export interface ReservationRecord {
  networkName: string;
  address: string;
  containerId: string;
  podRef: string;
  ifname: string;
  /** the pool whose allocation holds this reservation */
  pool: PoolRef;
}

export interface PoolSnapshot {
  pool: PoolRef;
  allocations: AllocationRecord[];
  /** opaque; changes whenever the pool changes (the reconciler compares it) */
  revision: string;
}

export type StoreWrite =
  /** succeeds only if no allocation holds this offset in this pool */
  | { op: 'create'; pool: PoolRef; allocation: AllocationRecord }
  /** succeeds only if the offset is held by this containerId + ifname (a compare, never a blind delete) */
  | { op: 'delete'; pool: PoolRef; allocation: AllocationRecord }
  /** succeeds only if no reservation holds this address in this networkName */
  | { op: 'reserve'; reservation: ReservationRecord }
  /** succeeds only if the reservation is held by this containerId + ifname */
  | { op: 'unreserve'; reservation: ReservationRecord };

export interface StoreDeadline {
  /** ms since the epoch by which the call resolves or rejects with StoreUnavailableError */
  deadline: number;
}

export interface WhereaboutsStore {
  /** what an error message names: the state dir, or the etcd endpoints */
  readonly endpoint: string;
  /**
   * true when commit() itself refuses a second allocation for one pod + ifname in one pool
   * (the etcd store's pod index), whoever read what: ADD batches may then commit member by
   * member. Otherwise a batch commits all or nothing, so a stale read loses to any commit.
   */
  readonly onePerAttachment?: boolean;
  read(pools: PoolRef[], opts: StoreDeadline): Promise<PoolSnapshot[]>;
  /** every reservation of one network_name (the caller filters by range) */
  readReservations(networkName: string, opts: StoreDeadline): Promise<ReservationRecord[]>;
  /** every pool the store holds (reconciler, CLI); order unspecified */
  listPools(opts: StoreDeadline): Promise<PoolRef[]>;
  /** all or nothing; resolves false when any condition failed (the caller re-reads and retries) */
  commit(writes: StoreWrite[], opts: StoreDeadline): Promise<boolean>;
  /** resolves when the store would accept a commit now (STATUS) */
  health(opts: StoreDeadline): Promise<void>;
  close(): Promise<void>;
}

/** The store cannot be reached or did not answer by the deadline: CNI code 11 at the edge. */
export class StoreUnavailableError extends Error {
  static override readonly name = 'StoreUnavailableError';
  constructor(
    readonly endpoint: string,
    message: string,
  ) {
    super(`${endpoint}: ${message}`);
    this.name = StoreUnavailableError.name;
  }
}
