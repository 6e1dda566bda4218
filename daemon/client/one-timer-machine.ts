/**
 * The plumbing every pure client machine here shares: the state, the transaction id, the one
 * timer the edge arms on its behalf, and the action list one event produces: the DHCPv4
 * machine (lease-machine.ts) and the DHCPv6 one (../client6/lease6-machine.ts).
 */

export type CoreAction<S extends string> =
  | { type: 'arm'; at: number }
  | { type: 'disarm' }
  | { type: 'transition'; from: S; to: S; reason: string; xid: number }
  | { type: 'ignored'; reason: string };

export abstract class OneTimerMachine<S extends string, A extends { type: string }> {
  protected current: S;
  protected currentXid = 0;
  protected timerAt: number | undefined;
  protected out: A[] = [];

  constructor(initial: S) {
    this.current = initial;
  }

  get state(): S { return this.current; }
  get xid(): number { return this.currentXid; }
  get nextTimerAt(): number | undefined { return this.timerAt; }

  /** A is the machine's action union, which includes CoreAction<S>. */
  private core(a: CoreAction<S>): void {
    this.out.push(a as unknown as A);
  }

  protected transition(to: S, reason: string): void {
    if (to === this.current) return;
    this.core({ type: 'transition', from: this.current, to, reason, xid: this.currentXid });
    this.current = to;
  }

  protected arm(at: number): void {
    this.timerAt = at;
    this.core({ type: 'arm', at });
  }

  protected disarm(): void {
    this.timerAt = undefined;
    this.core({ type: 'disarm' });
  }

  /**
   * The edge says the timer fired: true when it is due (and now spent); false, with the reason
   * recorded, when none is armed or it fired early (then it is armed again for its time).
   */
  protected takeTimer(now: number): boolean {
    const at = this.timerAt;
    if (at === undefined) {
      this.ignore(`timer in ${this.current} with none armed`);
      return false;
    }
    if (now < at) {
      this.ignore('timer fired early');
      this.arm(at);
      return false;
    }
    this.timerAt = undefined;
    return true;
  }

  protected ignore(reason: string): void {
    this.core({ type: 'ignored', reason });
  }
}
