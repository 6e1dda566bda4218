/**
 * Follows the reconciler's ConfigMap as the kubelet mounts it: DIR/reconciler_cron_expression
 * is a symlink to ..data/reconciler_cron_expression, and an update writes a new timestamped
 * directory, points ..data_tmp at it and renames ..data_tmp over ..data (one atomic rename).
 * Watching DIR sees that rename; every event (and a slow re-read, in case an event is lost or
 * the directory appears later) re-reads the key through the links and hands a changed text
 * to `apply`. A file that is missing keeps the schedule in force.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../log';
import { CRON_KEY } from './schedule';

/** the re-read when no event came */
export const RECHECK_MS = 60_000;

export class CronConfigWatch {
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private last: string | undefined;

  constructor(
    readonly dir: string,
    private readonly apply: (text: string, source: string) => void,
    private readonly log: Logger,
  ) {}

  get file(): string {
    return path.join(this.dir, CRON_KEY);
  }

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), RECHECK_MS).unref();
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** reads the key now; applies it when its text changed */
  check(): void {
    this.ensureWatch();
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (this.last !== '') this.log.info('reconciler: no schedule file, keeping the schedule in force', { file: this.file, code: code ?? String(err) });
      this.last = '';
      return;
    }
    if (text === this.last) return;
    this.last = text;
    this.apply(text, this.file);
  }

  private ensureWatch(): void {
    if (this.watcher) return;
    try {
      this.watcher = fs.watch(this.dir, { persistent: false }, () => this.check());
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // the directory is not there (yet): the periodic re-read tries again
    }
  }
}
