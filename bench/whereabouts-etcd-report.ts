/** The Markdown section of BENCHMARKS.md for the Whereabouts etcd bench (bench/whereabouts-etcd.ts). */
import * as os from 'node:os';
import { fmtMs, fmtNum, p50, p95 } from './stats';

export interface RunFigures {
  ok: number;
  failed: number;
  duplicates: number;
  /** half-written or duplicate records in the final state */
  problems: number;
  stored: number;
  retriesPerAlloc: number;
  allocsPerS: number;
  wallMs: number;
  p50Ms: number;
  p95Ms: number;
}

/** one run of the target through the shim and 4 daemons */
export interface DaemonRun extends RunFigures {
  extra: string;
  /** 1-minute load average at the end of the run (older results have none) */
  loadAvg?: number;
}

export interface EtcdBenchResults {
  date: string;
  command: string;
  /** when the rows through the shim (and host-local) come from a later --daemons-only run */
  daemonsRun?: { command: string; date: string; runs: number };
  runs: number;
  stampede: Array<{ allocator: string; procs: number; perProc: number; count: number; runs: RunFigures[] }>;
  target: Array<RunFigures & { extra: string }>;
  /** the same through dist/cni/whereabouts and 4 real daemons */
  daemons: DaemonRun[];
  hostLocal: RunFigures[];
  /** slash16NoCacheMs: the same ADDs with the store's cached pool copy off (older results have none) */
  big: { slash16Ms: number[]; slash16NoCacheMs?: number[]; slash24Ms: number[] };
}

/** "median (min–max)" over runs */
function spread(values: number[], fmt: (v: number) => string): string {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return '—';
  if (s.length === 1) return fmt(s[0]!);
  return `${fmt(p50(s))} (${fmt(s[0]!)}–${fmt(s[s.length - 1]!)})`;
}

const ALLOCATOR: Record<string, string> = {
  raw: 'lowest free, no serialisation, retry at once',
  'raw-serial': 'lowest free, serialised per pool in each process',
  service: "the daemon's WhereaboutsService (serialised per pool, the ADDs queued behind a pool batched into one read + one commit; after a lost race each ADD commits on its own for 2 s, random pause 2–22 ms × rounds lost)",
  'service-lock': 'the same service, each ADD also holding a cluster-wide per-pool etcd lock (5 s lease)',
};

export function renderEtcdBench(r: EtcdBenchResults): string {
  const out: string[] = [];
  out.push('<!-- whereabouts-etcd:begin -->', '');
  out.push('## Whereabouts on etcd (3-member etcd 3.4 on 127.0.0.1)', '');
  out.push(`- **Command:** \`${r.command}\`; written by the command into bench/whereabouts-etcd.md and here.`);
  out.push(`- **Date:** ${r.date.slice(0, 16).replace('T', ' ')} UTC; ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, shared with other work, so read the spread.`);
  if (r.daemonsRun) {
    out.push(
      `- **The target through the shim and 4 daemons, and host-local beside it:** \`${r.daemonsRun.command}\`, ${r.daemonsRun.date.slice(0, 16).replace('T', ' ')} UTC, ${r.daemonsRun.runs} runs; everything else is from the command above.`,
    );
  }
  out.push(`- Each figure is the median of ${r.runs} runs, with (min–max). The stampede and the "store level" rows call the etcd store in-process (no CNI plugin); the "ours" row of the target execs dist/cni/whereabouts against 4 real daemons.`, '');

  out.push('### The stampede: 8 concurrent allocators taking the lowest free address', '');
  out.push('| allocator | processes × in flight | retries per allocation | allocations/s | per-allocation p95 | duplicates |');
  out.push('|---|---|---|---|---|---|');
  for (const s of r.stampede) {
    out.push(
      `| ${ALLOCATOR[s.allocator] ?? s.allocator} | ${s.procs} × ${s.perProc} | ${spread(s.runs.map((x) => x.retriesPerAlloc), (v) => fmtNum(v, 2))} | ${spread(s.runs.map((x) => x.allocsPerS), (v) => fmtNum(v, 0))} | ${spread(s.runs.map((x) => x.p95Ms), fmtMs)} | ${s.runs.reduce((a, x) => a + x.duplicates + x.problems, 0)} |`,
    );
  }
  out.push('', `${r.stampede[0]?.count ?? 0} allocations per run into a /22 (1024 addresses), a fresh pool each run.`, '');

  out.push("### Issue 11's target: 1000 pods into a range of exactly 1000 addresses, 200 in flight, 4 daemons", '');
  out.push('| | wall | per-ADD p50 | per-ADD p95 | failures | duplicates | the 1001st ADD |');
  out.push('|---|---|---|---|---|---|---|');
  const row = (label: string, t: Array<RunFigures & { extra: string }>) =>
    `| ${label} | ${spread(t.map((x) => x.wallMs), fmtMs)} | ${spread(t.map((x) => x.p50Ms), fmtMs)} | ${spread(t.map((x) => x.p95Ms), fmtMs)} | ${t.reduce((a, x) => a + x.failed, 0)} | ${t.reduce((a, x) => a + x.duplicates + x.problems, 0)} | ${t[0]?.extra.replace(/\|/g, '\\|') ?? '—'} |`;
  out.push(row('**ours: dist/cni/whereabouts exec\'d per ADD (IPAM alone), spread over 4 whereabouts daemons (4 nodes) on the 3-member etcd**', r.daemons));
  const t = r.target;
  out.push(
    `| store level: 4 processes × 50 in flight, each running WhereaboutsService on the etcd store (no exec, no socket) | ${spread(t.map((x) => x.wallMs), fmtMs)} | ${spread(t.map((x) => x.p50Ms), fmtMs)} | ${spread(t.map((x) => x.p95Ms), fmtMs)} | ${t.reduce((a, x) => a + x.failed, 0)} | ${t.reduce((a, x) => a + x.duplicates + x.problems, 0)} | ${t[0]?.extra.replace(/\|/g, '\\|') ?? '—'} |`,
  );
  const h = r.hostLocal;
  out.push(
    `| host-local (/usr/lib/cni/host-local), one node, 200 in flight (the floor: one file lock, no network) | ${spread(h.map((x) => x.wallMs), fmtMs)} | ${spread(h.map((x) => x.p50Ms), fmtMs)} | ${spread(h.map((x) => x.p95Ms), fmtMs)} | ${h.reduce((a, x) => a + x.failed, 0)} | ${h.reduce((a, x) => a + x.duplicates, 0)} | — |`,
  );
  out.push('', `Every run through the shim and 4 daemons (1-minute load average at its end; the machine is shared):`, '');
  out.push('| run | pods ok | failures | duplicates | wall | per-ADD p50 | per-ADD p95 | load |');
  out.push('|---|---|---|---|---|---|---|---|');
  r.daemons.forEach((d, i) =>
    out.push(`| ${i + 1} | ${d.ok} | ${d.failed} | ${d.duplicates + d.problems} | ${fmtMs(d.wallMs)} | ${fmtMs(d.p50Ms)} | ${fmtMs(d.p95Ms)} | ${d.loadAvg === undefined ? '—' : fmtNum(d.loadAvg, 1)} |`),
  );
  out.push('', 'Per-ADD time counts from the moment the ADD is issued, so it includes the wait in the per-pool queue of its daemon (where the ADDs that arrive while a pool is busy wait together for one read and one commit). host-local and our shim are each one exec per ADD (a Go binary; a Node process that forwards to its daemon); host-local keeps one file under a lock on one node, which is the floor, not a like-for-like cluster store.', '');

  out.push('### One ADD in a big range', '');
  out.push('| range | addresses already taken | ADD p50 | ADD p95 |');
  out.push('|---|---|---|---|');
  out.push(`| 198.19.0.0/16, the pool brought up to date from the daemon's copy (keys modified since + a count) | 60,000 | ${fmtMs(p50(r.big.slash16Ms))} | ${fmtMs(p95(r.big.slash16Ms))} |`);
  if (r.big.slash16NoCacheMs) out.push(`| 198.19.0.0/16, the pool and reservations read whole on every ADD (no copy; the code before) | 60,000 | ${fmtMs(p50(r.big.slash16NoCacheMs))} | ${fmtMs(p95(r.big.slash16NoCacheMs))} |`);
  out.push(`| 198.18.5.0/24 | 0 | ${fmtMs(p50(r.big.slash24Ms))} | ${fmtMs(p95(r.big.slash24Ms))} |`);
  out.push('', '10 sequential ADDs each through WhereaboutsService, the 60,000 written by another client first; the first of the 10 reads the pool and the network\'s reservations whole either way (60,000 of each), the others catch up from their copy unless it is off.', '');
  out.push(`${"What these numbers say, and what we chose from them: docs/whereabouts-etcd.md (\"The stampede\", \"Issue 11's target\")."}`, '');
  out.push('<!-- whereabouts-etcd:end -->', '');
  return out.join('\n');
}
