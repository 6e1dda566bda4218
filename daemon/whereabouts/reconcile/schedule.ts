/**
 * The reconciler's schedule: a standard 5-field cron expression (minute hour day-of-month
 * month day-of-week), as Whereabouts' `reconciler_cron_expression` takes it, or one of the
 * @hourly/@daily/@weekly/@monthly/@yearly shorthands. A 6th (seconds) field is refused, as
 * Whereabouts' documentation says, with a message that says so. Pure: the next run
 * is computed from a time given, in the process's time zone (UTC in a container).
 */
import { Cron } from 'croner';

/** Whereabouts' default: daily, at 04:30 */
export const DEFAULT_CRON = '30 4 * * *';
export const CRON_KEY = 'reconciler_cron_expression';

export interface Schedule {
  readonly expression: string;
  /** the first run strictly after `from` (ms since the epoch); undefined if there is none */
  next(from: number): number | undefined;
}

const SHORTHANDS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

export function parseSchedule(text: string): { ok: true; schedule: Schedule } | { ok: false; error: string } {
  const expression = text.trim();
  if (expression === '') return { ok: false, error: 'the expression is empty' };
  const fields = expression.split(/\s+/);
  if (expression.startsWith('@')) {
    if (fields.length !== 1 || !SHORTHANDS.has(expression.toLowerCase())) return { ok: false, error: `unknown shorthand ${JSON.stringify(expression)} (use @hourly, @daily, @weekly, @monthly or @yearly)` };
  } else if (fields.length === 6) {
    return { ok: false, error: `${JSON.stringify(expression)} has 6 fields: a seconds field is not supported; use 5 (minute hour day-of-month month day-of-week)` };
  } else if (fields.length !== 5) {
    return { ok: false, error: `${JSON.stringify(expression)} has ${fields.length} fields, not 5 (minute hour day-of-month month day-of-week)` };
  }
  let cron: Cron;
  try {
    // 5-part: croner refuses seconds too; day-of-month and day-of-week are OR-ed (its default),
    // as in Vixie cron and robfig/cron, which Whereabouts uses
    cron = new Cron(expression, { paused: true, mode: '5-part' });
  } catch (err) {
    return { ok: false, error: `${JSON.stringify(expression)}: ${(err as Error).message}` };
  }
  return {
    ok: true,
    schedule: {
      expression,
      next: (from) => cron.nextRun(new Date(from))?.getTime() ?? undefined,
    },
  };
}
