/** The reconciler's schedule: 5-field cron only, the previous schedule kept on a bad one, runs driven by an injected clock; the ConfigMap reload by the kubelet's own swap of ..data. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from '../../daemon/log';
import { CronConfigWatch } from '../../daemon/whereabouts/reconcile/config-watch';
import { CRON_KEY, DEFAULT_CRON, parseSchedule } from '../../daemon/whereabouts/reconcile/schedule';
import { CronScheduler, MAX_WAIT_MS, type Clock } from '../../daemon/whereabouts/reconcile/scheduler';
import { kubeletWrite as write } from '../helpers/configmap-mount';
import { waitFor } from '../helpers/sh';

const T0 = Date.parse('2026-03-01T00:07:30Z');

function recordingLog(): Logger & { lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, ...(fields ? { fields } : {}) });
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } as Logger & { lines: typeof lines };
}

/** a clock whose timers fire only when the test advances it */
class FakeClock implements Clock {
  t = T0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  now = () => this.t;
  setTimer = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimer = (h: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  /** moves time forward, firing each timer at its time, and lets the runs they start settle */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
    this.t = end;
  }
  pending(): number {
    return this.timers.length;
  }
}

describe('whereabouts reconciler: schedule', () => {
  it('takes 5 fields and the shorthands, refuses 6 fields and anything malformed with a reason', () => {
    for (const ok of ['*/15 * * * *', '0 0 * * *', DEFAULT_CRON, '  5 4 * * sun  ', '@daily', '@hourly', '0 12 1-7 * 1']) assert.ok(parseSchedule(ok).ok, ok);
    const six = parseSchedule('0 */15 * * * *');
    assert.ok(!six.ok && /6 fields: a seconds field is not supported/.test(six.error));
    for (const bad of ['', '* * * *', '61 * * * *', '* * * * * * *', 'every day', '@often', '@daily 5', '*/0 * * * *']) {
      const r = parseSchedule(bad);
      assert.ok(!r.ok, `${bad} should be refused`);
      assert.match(r.error, /./);
    }
  });

  it('day-of-month and day-of-week together mean either, as in Vixie cron and robfig/cron', () => {
    const r = parseSchedule('0 0 13 * 5'); // the 13th, or any Friday
    assert.ok(r.ok);
    // 2026-03-01 is a Sunday: Friday the 6th comes before the 13th
    assert.equal(new Date(r.schedule.next(T0)!).toISOString(), '2026-03-06T00:00:00.000Z');
  });

  it('computes the next run strictly after the time given', () => {
    const r = parseSchedule('*/15 * * * *');
    assert.ok(r.ok);
    assert.equal(new Date(r.schedule.next(T0)!).toISOString(), '2026-03-01T00:15:00.000Z');
    assert.equal(new Date(r.schedule.next(Date.parse('2026-03-01T00:15:00Z'))!).toISOString(), '2026-03-01T00:30:00.000Z');
  });

  it('runs at each due time on the injected clock, one run at a time', async () => {
    const clock = new FakeClock();
    const runs: number[] = [];
    let release: (() => void) | undefined;
    const s = new CronScheduler(
      () => {
        runs.push(clock.now());
        return new Promise<void>((r) => (release = r));
      },
      recordingLog(),
      clock,
    );
    assert.ok(s.setExpression('*/15 * * * *', 'test'));
    s.start();
    await clock.advance(7 * 60_000);
    assert.deepEqual(runs, []);
    await clock.advance(60_000);
    assert.deepEqual(runs.map((t) => new Date(t).toISOString()), ['2026-03-01T00:15:00.000Z']);
    // still running at the next due time: no second run meanwhile
    await clock.advance(20 * 60_000);
    assert.equal(runs.length, 1);
    release?.();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    await clock.advance(15 * 60_000);
    assert.deepEqual(runs.slice(1).map((t) => new Date(t).toISOString()), ['2026-03-01T00:45:00.000Z']);
    release?.();
    s.stop();
    assert.equal(clock.pending(), 0);
  });

  it('waits at most MAX_WAIT_MS per timer, so a far due time still arrives', async () => {
    const clock = new FakeClock();
    let runs = 0;
    const s = new CronScheduler(async () => void runs++, recordingLog(), clock);
    s.setExpression('0 0 1 1 *', 'test');
    s.start();
    await clock.advance(MAX_WAIT_MS);
    assert.equal(runs, 0);
    await clock.advance(Date.parse('2027-01-01T00:00:00Z') - clock.now());
    assert.equal(runs, 1);
    s.stop();
  });

  it('a 6-field or malformed expression is refused with a clear log line and the previous schedule kept', async () => {
    const clock = new FakeClock();
    const log = recordingLog();
    const runs: number[] = [];
    const s = new CronScheduler(async () => void runs.push(clock.now()), log, clock);
    s.setExpression('*/10 * * * *', 'test');
    s.start();
    assert.equal(s.setExpression('0 */5 * * * *', 'configmap'), false);
    assert.equal(s.setExpression('banana', 'configmap'), false);
    assert.equal(s.expression, '*/10 * * * *');
    const refusals = log.lines.filter((l) => l.level === 'error');
    assert.equal(refusals.length, 2);
    assert.match(refusals[0]!.msg, /refusing the new schedule, keeping the previous one/);
    assert.match(String(refusals[0]!.fields?.error), /seconds field is not supported/);
    assert.equal(refusals[0]!.fields?.kept, '*/10 * * * *');
    await clock.advance(3 * 60_000);
    assert.deepEqual(runs.map((t) => new Date(t).toISOString()), ['2026-03-01T00:10:00.000Z']);
    s.stop();
  });

  it('a new schedule takes effect at once: the pending timer is re-armed', async () => {
    const clock = new FakeClock();
    const runs: number[] = [];
    const s = new CronScheduler(async () => void runs.push(clock.now()), recordingLog(), clock);
    s.start();
    assert.equal(s.expression, DEFAULT_CRON);
    assert.equal(new Date(s.nextRun!).toISOString(), '2026-03-01T04:30:00.000Z');
    s.setExpression('*/5 * * * *', 'test');
    assert.equal(new Date(s.nextRun!).toISOString(), '2026-03-01T00:10:00.000Z');
    await clock.advance(3 * 60_000);
    assert.equal(runs.length, 1);
    s.stop();
  });
});

describe('whereabouts reconciler: the ConfigMap mount, reloaded as the kubelet swaps ..data', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-cm-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const kubeletWrite = (value: string, _n: number) => write(dir, { [CRON_KEY]: value });

  it('applies the first value, each swap, and keeps the previous schedule when a swap brings 6 fields', async () => {
    kubeletWrite('*/15 * * * *', 1);
    const log = recordingLog();
    const s = new CronScheduler(async () => undefined, log, new FakeClock());
    const w = new CronConfigWatch(dir, (text, src) => s.setExpression(text, src), log);
    w.start();
    try {
      assert.equal(s.expression, '*/15 * * * *');
      kubeletWrite('0 * * * *', 2);
      await waitFor('the swap to be applied', () => s.expression === '0 * * * *' || undefined, 20_000);
      kubeletWrite('0 */5 * * * *', 3);
      await waitFor('the 6-field value to be refused', () => log.lines.some((l) => l.level === 'error' && /seconds field/.test(String(l.fields?.error))) || undefined, 20_000);
      assert.equal(s.expression, '0 * * * *');
      kubeletWrite('@hourly', 4);
      await waitFor('the next good value', () => s.expression === '@hourly' || undefined, 20_000);
    } finally {
      w.stop();
    }
  });

  it('a missing directory or key keeps the default, and a mount that appears later is picked up', async () => {
    fs.rmSync(dir, { recursive: true });
    const log = recordingLog();
    const s = new CronScheduler(async () => undefined, log, new FakeClock());
    const w = new CronConfigWatch(dir, (text, src) => s.setExpression(text, src), log);
    w.start();
    try {
      assert.equal(s.expression, DEFAULT_CRON);
      fs.mkdirSync(dir);
      kubeletWrite('*/30 * * * *', 1);
      w.check(); // the periodic re-read, without waiting a minute for it
      assert.equal(s.expression, '*/30 * * * *');
    } finally {
      w.stop();
    }
  });
});
