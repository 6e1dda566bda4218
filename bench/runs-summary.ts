/**
 * The headline over several recorded full runs (bench/results-*.json of one commit): for each
 * figure the median over the runs with the spread (min–max), ours beside the reference's from
 * the same runs, and the median of the per-run ratios (each ratio compares two measurements of
 * one run, taken minutes apart under the same load).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { daemonShareNoProbe, versionFloor, type BenchResults, type SideResults } from './report';
import { fmtMb, fmtMs, fmtNum, p50 } from './stats';

/** The git commit a run measured ("git 1a2b3c4" in versions.ours), or undefined. */
export function commitOf(r: BenchResults): string | undefined {
  return /git ([0-9a-f]+)/.exec(r.versions.ours)?.[1];
}

/** Every full run recorded in `dir` (results-<date>.json) that measured `commit`, oldest first. */
export function recordedRuns(dir: string, commit: string | undefined): BenchResults[] {
  if (!commit) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => /^results-\d.*\.json$/.test(n))
    .sort()
    .map((n) => JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as BenchResults)
    .filter((r) => r.sizes.mode === 'full' && commitOf(r) === commit);
}

type Pick = (r: BenchResults, s: SideResults | undefined) => number | undefined;

interface Figure {
  label: string;
  fmt: (n: number | undefined) => string;
  ours: Pick;
  /** absent: the reference has no such figure */
  ref?: Pick;
}

const last = <T>(a: T[] | undefined): T | undefined => a?.at(-1);

export const HEADLINE: Figure[] = [
  { label: '(a) ADD through bridge, sequential: p50', fmt: fmtMs, ours: (_, s) => p50(s?.seqAddMs ?? []), ref: (_, s) => p50(s?.seqAddMs ?? []) },
  { label: '(b) IPAM plugin alone, link up: ADD p50 (default ARP probe)', fmt: fmtMs, ours: (_, s) => p50(s?.ipamAddMs ?? []), ref: (_, s) => p50(s?.ipamAddMs ?? []) },
  {
    label: '(b) IPAM plugin alone, `"arpProbe": false` (the reference never probes): ADD p50',
    fmt: fmtMs,
    ours: (_, s) => p50(s?.ipamAddNoProbeMs ?? []),
    ref: (_, s) => p50(s?.ipamAddMs ?? []),
  },
  {
    label: '(b) daemon’s share (ADD − VERSION), probe off for ours',
    fmt: fmtMs,
    ours: (r) => daemonShareNoProbe(r),
    ref: (r, s) => p50(s?.ipamAddMs ?? []) - versionFloor(r, 'ref'),
  },
  { label: '(c) burst of 200 through bridge: wall', fmt: fmtMs, ours: (_, s) => last(s?.bursts)?.wallMs, ref: (_, s) => last(s?.bursts)?.wallMs },
  { label: '(c) burst of 200: failures', fmt: (n) => fmtNum(n), ours: (_, s) => last(s?.bursts)?.failures, ref: (_, s) => last(s?.bursts)?.failures },
  { label: '(d) daemon RSS, idle', fmt: fmtMb, ours: (_, s) => s?.rssIdleKb, ref: (_, s) => s?.rssIdleKb },
  { label: '(d) daemon anonymous memory, idle', fmt: fmtMb, ours: (_, s) => s?.rssIdleAnonKb, ref: (_, s) => s?.rssIdleAnonKb },
  { label: '(d) daemon PSS, idle', fmt: fmtMb, ours: (_, s) => s?.pssIdleKb, ref: (_, s) => s?.pssIdleKb },
  { label: '(d) daemon RSS at the last fill (1000 leases, or what was held: see the runs)', fmt: fmtMb, ours: (_, s) => last(s?.rssAt)?.rssKb, ref: (_, s) => last(s?.rssAt)?.rssKb },
  { label: '(d) daemon anonymous memory at the last fill', fmt: fmtMb, ours: (_, s) => last(s?.rssAt)?.rssAnonKb, ref: (_, s) => last(s?.rssAt)?.rssAnonKb },
  { label: '(d) daemon PSS at the last fill', fmt: fmtMb, ours: (_, s) => last(s?.rssAt)?.pssKb, ref: (_, s) => last(s?.rssAt)?.pssKb },
  { label: '(e) daemon CPU s/min holding the last fill’s leases', fmt: (n) => fmtNum(n, 2), ours: (_, s) => s?.cpu?.cpuSecondsPerMin, ref: (_, s) => s?.cpu?.cpuSecondsPerMin },
  { label: '(f) `dhcp` VERSION p50', fmt: fmtMs, ours: (r) => r.startup.oursVersionMs, ref: (r) => r.startup.refVersionMs },
  { label: '(f) `dhcp` VERSION − `node -e 0` (same rounds)', fmt: fmtMs, ours: (r) => r.startup.oursVersionMs - r.startup.nodeMs },
];

function spread(xs: number[], fmt: (n: number | undefined) => string): string {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return '—';
  if (v.length === 1) return fmt(v[0]);
  return `${fmt(median(v))} (${fmt(Math.min(...v))} – ${fmt(Math.max(...v))})`;
}

/** The median of the values (the mean of the middle two for an even count). */
export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const fmtRatio = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '—' : `${n < 0.1 ? n.toFixed(3) : n.toFixed(2)}×`);

export function renderRunsSummary(runs: BenchResults[]): string {
  if (runs.length === 0) return '';
  const rows = HEADLINE.map((f) => {
    const o = runs.map((r) => f.ours(r, r.ours) ?? NaN);
    const x = f.ref ? runs.map((r) => f.ref?.(r, r.ref) ?? NaN) : [];
    const q = f.ref ? runs.map((_, i) => (o[i] as number) / (x[i] as number)) : [];
    return `| ${f.label} | ${spread(o, f.fmt)} | ${f.ref ? spread(x, f.fmt) : '—'} | ${f.ref ? spread(q, fmtRatio) : '—'} |`;
  });
  const list = runs.map((r) => {
    const held = [r.ours, r.ref].map((s) => s?.rssAt?.at(-1)?.leases ?? '—').join(' / ');
    const dirty = /uncommitted/.test(r.versions.ours) ? ', with uncommitted changes in the tree' : '';
    return `${r.date.slice(0, 16).replace('T', ' ')} UTC (load ${r.load ? r.load.start.map((l) => l.toFixed(1)).join('/') : '?'} at the start, ${(r.totalSeconds / 60).toFixed(1)} min, leases held at the last fill ours / reference ${held}${dirty})`;
  });
  return [
    `## Across ${runs.length} full runs of commit ${commitOf(runs[0] as BenchResults)}: median (min – max)`,
    '',
    `Runs: ${list.join('; ')}. Each ratio is ours over the reference within one run; the ratio column is the median of those per-run ratios.`,
    '',
    '| figure | ours | reference | ratio (ours/ref) |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
