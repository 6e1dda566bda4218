/**
 * The one timer of a pure lease machine, armed and fired on its behalf by the edge (both
 * families' drivers). setTimeout's limit is 2^31-1 ms, so longer waits are re-armed in steps;
 * a timer that fires a little early is re-armed for the rest.
 */
const MAX_TIMER_MS = 0x7fffffff;
/** a timer firing this close to its instant counts as due */
const EARLY_SLACK_MS = 5;

export class MachineTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number, private readonly fire: () => void) {}

  arm(at: number): void {
    this.disarm();
    const delay = Math.max(0, at - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (at - this.now() > EARLY_SLACK_MS) this.arm(at);
      else this.fire();
    }, Math.min(delay, MAX_TIMER_MS));
    this.timer.unref?.();
  }

  /** Runs `fn` once after `ms` instead of the machine's timer (the link-settle poll before the first send). */
  after(ms: number, fn: () => void): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      fn();
    }, ms);
  }

  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
