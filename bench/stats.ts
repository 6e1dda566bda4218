/** Percentiles and number formatting for the bench report. */

/** Nearest-rank percentile (p in 0..100) of a list of numbers; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(rank, s.length) - 1] as number;
}

export const p50 = (v: number[]): number => percentile(v, 50);
export const p95 = (v: number[]): number => percentile(v, 95);

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function fmtMb(kb: number | undefined): string {
  if (kb === undefined || !Number.isFinite(kb)) return '—';
  return `${(kb / 1024).toFixed(1)} MB`;
}

export function fmtKb(kb: number | undefined): string {
  if (kb === undefined || !Number.isFinite(kb)) return '—';
  return `${kb.toFixed(1)} KB`;
}

export function fmtNum(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  return n.toFixed(digits);
}

/** ours/ref as "0.42×"; "—" when either side is missing or the reference is 0. */
export function ratio(ours: number | undefined, ref: number | undefined): string {
  if (ours === undefined || ref === undefined || !Number.isFinite(ours) || !Number.isFinite(ref) || ref === 0) return '—';
  const r = ours / ref;
  return `${r < 0.1 ? r.toFixed(3) : r.toFixed(2)}×`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs fn over items with at most `limit` in flight; results in item order. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
  return out;
}
