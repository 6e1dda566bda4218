/**
 * Runs the reconciler on its cron schedule. The clock and timers are injected, so the unit
 * tests drive it without waiting. A new expression replaces the schedule only when it parses;
 * otherwise the previous one is kept and the refusal is logged. One run at a time: a run due
 * while one is in progress is skipped (the next due time is computed when it ends).
 */
import type { Logger } from '../../log';
import { DEFAULT_CRON, parseSchedule, type Schedule } from './schedule';

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** a timer never waits longer than this before the due time is checked again (setTimeout's limit is ~24.8 days) */
export const MAX_WAIT_MS = 3_600_000;

export class CronScheduler {
  private schedule: Schedule;
  private timer: unknown;
  private due: number | undefined;
  private running = false;
  private stopped = true;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly log: Logger,
    private readonly clock: Clock = realClock,
  ) {
    const parsed = parseSchedule(DEFAULT_CRON);
    if (!parsed.ok) throw new Error(parsed.error);
    this.schedule = parsed.schedule;
  }

  get expression(): string {
    return this.schedule.expression;
  }

  /** ms since the epoch of the next scheduled run */
  get nextRun(): number | undefined {
    return this.due;
  }

  /** true when `text` became the schedule (or already was) */
  setExpression(text: string, source: string): boolean {
    const parsed = parseSchedule(text);
    if (!parsed.ok) {
      this.log.error('reconciler: refusing the new schedule, keeping the previous one', { source, error: parsed.error, kept: this.schedule.expression });
      return false;
    }
    if (parsed.schedule.expression === this.schedule.expression) return true;
    this.schedule = parsed.schedule;
    this.log.info('reconciler: schedule set', { source, expression: parsed.schedule.expression });
    if (!this.stopped) this.arm();
    return true;
  }

  start(): void {
    this.stopped = false;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.due = this.schedule.next(this.clock.now());
    if (this.due === undefined) {
      this.log.warn('reconciler: the schedule has no next run', { expression: this.schedule.expression });
      return;
    }
    this.wait();
  }

  private wait(): void {
    const due = this.due as number;
    this.timer = this.clock.setTimer(() => this.wake(), Math.max(0, Math.min(due - this.clock.now(), MAX_WAIT_MS)));
  }

  private wake(): void {
    this.timer = undefined;
    if (this.stopped || this.due === undefined) return;
    if (this.clock.now() < this.due) return this.wait();
    if (this.running) return this.arm();
    this.running = true;
    this.run()
      .catch((err: unknown) => this.log.error('reconciler: run failed', { err: String(err) }))
      .finally(() => {
        this.running = false;
        if (!this.stopped) this.arm();
      });
  }
}
