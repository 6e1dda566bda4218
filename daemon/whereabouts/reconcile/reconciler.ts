/**
 * The reconciler as the daemon runs it: on its cron schedule (from the ConfigMap directory
 * when one is given), on `--reconcile-now` and on the RPC the CLI sends. One run at a time;
 * a trigger while one runs waits for it and then runs. Each run is logged and counted, and
 * the last one's summary is kept for the CLI.
 */
import type { WbReconcilerStatus } from '../../../shared/whereabouts-protocol';
import type { Logger } from '../../log';
import { CronConfigWatch } from './config-watch';
import type { ReconcileMetrics } from './metrics';
import { reconcileOnce, type ReconcileTarget, type RunOptions, type RunSummary } from './run';
import { CronScheduler } from './scheduler';

export interface ReconcilerOptions extends Omit<RunOptions, 'log'> {
  targets: () => ReconcileTarget[];
  /** the mounted ConfigMap; undefined: the default schedule */
  configDir?: string;
  metrics?: ReconcileMetrics;
  /** after each run: the records forget containers that hold nothing */
  afterRun?: (s: RunSummary, holding: ReadonlySet<string>) => void;
}

export type ReconcilerStatus = WbReconcilerStatus;

export class Reconciler {
  private readonly scheduler: CronScheduler;
  private readonly watch: CronConfigWatch | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private running = false;
  last: RunSummary | undefined;

  constructor(
    private readonly opts: ReconcilerOptions,
    private readonly log: Logger,
  ) {
    this.scheduler = new CronScheduler(() => this.run('schedule').then(() => undefined), log);
    this.watch = opts.configDir === undefined ? undefined : new CronConfigWatch(opts.configDir, (text, src) => this.scheduler.setExpression(text, src), log);
  }

  start(): void {
    this.watch?.start();
    this.scheduler.start();
    this.log.info('reconciler: scheduled', { expression: this.scheduler.expression, next: this.nextIso(), graceMs: this.opts.graceMs, config: this.watch?.file ?? 'none (default schedule)' });
  }

  stop(): void {
    this.watch?.stop();
    this.scheduler.stop();
  }

  run(trigger: string): Promise<RunSummary> {
    const next = this.chain.then(() => this.runNow(trigger));
    this.chain = next.catch(() => undefined);
    return next;
  }

  status(): ReconcilerStatus {
    const st: ReconcilerStatus = { expression: this.scheduler.expression, graceMs: this.opts.graceMs, running: this.running };
    if (this.watch) st.configFile = this.watch.file;
    if (this.scheduler.nextRun !== undefined) st.nextRun = this.scheduler.nextRun;
    if (this.last) st.last = this.last;
    return st;
  }

  private nextIso(): string {
    const n = this.scheduler.nextRun;
    return n === undefined ? 'none' : new Date(n).toISOString();
  }

  private async runNow(trigger: string): Promise<RunSummary> {
    this.running = true;
    const holding = new Set<string>();
    try {
      const targets = this.opts.targets().map((t) => ({
        ...t,
        source: {
          name: t.source.name,
          snapshot: (allocs: Parameters<typeof t.source.snapshot>[0], o: Parameters<typeof t.source.snapshot>[1]) => {
            for (const a of allocs) holding.add(a.containerId);
            return t.source.snapshot(allocs, o);
          },
        },
      }));
      const s = await reconcileOnce(targets, { ...this.opts, log: this.log }, trigger);
      this.last = s;
      this.opts.metrics?.record(s);
      if (s.errors.length === 0) this.opts.afterRun?.(s, holding);
      this.log.info('reconciler: run done', {
        trigger,
        stores: s.stores,
        examined: s.examined,
        kept: s.kept,
        freed: s.freed,
        reasons: Object.entries(s.reasons).map(([k, n]) => `${k}=${n}`).join(' ') || 'none',
        errors: s.errors.length,
        ms: s.finishedAt - s.startedAt,
        next: this.nextIso(),
      });
      return s;
    } finally {
      this.running = false;
    }
  }
}
