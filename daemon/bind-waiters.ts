/**
 * What both families' drivers do when their machine binds: the ADDs waiting for the first lease,
 * the acquire/renew timing metrics, the file write of a renewal, the log line. One per driver.
 */
import type { IpFamily } from '../shared/dhcp-config';
import type { FamilyDeps } from './attachment-spec';

type Waiter<L> = { resolve: (lease: L) => void; reject: (err: Error) => void };

export class BindWaiters<L> {
  private waiters: Array<Waiter<L>> = [];
  private exchangeStartedAt = 0;
  private renewStartedAt = 0;

  constructor(private readonly family: IpFamily, private readonly deps: FamilyDeps) {}

  /** An ADD waits for the first lease; the acquisition is timed from here. */
  wait(): Promise<L> {
    this.exchangeStartedAt = this.deps.now();
    return new Promise<L>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The machine entered RENEWING: the renewal is timed from here. */
  renewing(): void {
    this.renewStartedAt = this.deps.now();
  }

  /**
   * A lease an ADD waits for is persisted by the manager after its own checks (a refused
   * duplicate must leave no file; a failed write must fail the ADD); a renewal, or a lease no
   * ADD waits for, is written here.
   */
  bound(lease: L, renewed: boolean, fields: Record<string, unknown>): void {
    const d = this.deps;
    if (renewed || this.waiters.length === 0) d.persist(!renewed);
    const family = { family: this.family };
    if (renewed && this.renewStartedAt) {
      d.metrics.renewSeconds.observe(family, (d.now() - this.renewStartedAt) / 1000);
      this.renewStartedAt = 0;
    }
    if (!renewed && this.exchangeStartedAt) {
      d.metrics.acquireSeconds.observe(family, (d.now() - this.exchangeStartedAt) / 1000);
      this.exchangeStartedAt = 0;
    }
    d.log.info(renewed ? 'lease renewed' : 'lease bound', fields);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve(lease);
  }

  reject(err: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }
}
