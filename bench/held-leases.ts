/**
 * What the benches that hold many leases share (bench/run.ts's (d) and (e), and
 * bench/dual-stack-memory.ts): filling a lab up to N held leases with retries and pinned
 * neighbours, counting what our daemon holds through the operator CLI, the CPU a daemon spends
 * over a window, and the machine and load the figures were taken on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { run } from '../test/helpers/sh';
import { CLK_TCK, leaseOf, sampleProc, type Attachment, type BenchLab, type CallResult, type ProcSample } from './lab-extra';
import { pool, sleep } from './stats';

export const CNI_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

export function failures(rs: CallResult[]): number {
  return rs.filter((r) => r.code !== 0).length;
}

/** The 1-, 5- and 15-minute load averages. */
export function loadAvg3(): number[] {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

export interface Machine {
  nproc: number;
  cpu: string;
  kernel: string;
  memGb: number;
}

export function machine(): Machine {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const mem = /MemTotal:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1];
  return { nproc: os.cpus().length, cpu, kernel: os.release(), memGb: mem ? Math.round(Number(mem) / 1048576) : 0 };
}

/**
 * How often the kernel could not add a neighbour entry because its table was full (the
 * "table_fulls" column of /proc/net/stat/arp_cache and ndisc_cache, summed over CPUs): machine-wide
 * counters, shared by every namespace. A fill that pins its entries keeps both at 0.
 */
export function neighbourTableFulls(): { arp: number; ndisc: number } {
  const read = (file: string): number => {
    try {
      const [head, ...rows] = fs.readFileSync(file, 'utf8').trim().split('\n');
      const col = (head ?? '').trim().split(/\s+/).indexOf('table_fulls');
      return col < 0 ? 0 : rows.reduce((sum, row) => sum + parseInt(row.trim().split(/\s+/)[col] ?? '0', 16), 0);
    } catch {
      return 0;
    }
  };
  return { arp: read('/proc/net/stat/arp_cache'), ndisc: read('/proc/net/stat/ndisc_cache') };
}

/** The pod address and MAC of every successful bridge ADD, for BenchLab.pinNeighbours. */
export function pinList(atts: Attachment[], rs: CallResult[]): Array<{ pod: string; ifname: string; ip: string; mac: string }> {
  const out: Array<{ pod: string; ifname: string; ip: string; mac: string }> = [];
  for (const [i, a] of atts.entries()) {
    const r = rs[i];
    const l = r && r.code === 0 ? leaseOf(r) : undefined;
    if (l) out.push({ pod: a.pod, ifname: a.ifname, ...l });
  }
  return out;
}

/** Leases our daemon reports as BOUND, through the operator CLI. */
export async function boundViaCli(lab: BenchLab, socketPath: string): Promise<number> {
  const r = await run(lab.cli, ['-s', socketPath, 'leases', '--json', '--state', 'BOUND'], { env: CNI_ENV, timeoutMs: 20_000 });
  if (r.code !== 0) return -1;
  return (JSON.parse(r.stdout) as unknown[]).length;
}

export interface FillPools {
  /** attachments holding a lease (appended to) */
  held: Attachment[];
  /** pods with no interface yet (taken from, and given back on a failed ADD) */
  free: string[];
}

/** Successful ADDs between two pinnings of their neighbour entries during a fill. */
const PIN_EVERY = 50;

/**
 * ADDs (`add`, `concurrency` at a time) into free pods until `target` leases are held, giving a
 * failed pod back and trying again, at most 2 × target attempts. `pin` (by default the pinned ARP
 * entries of BenchLab.pinNeighbours) runs on every PIN_EVERY successful ADDs as they complete,
 * outside their timing, and on the rest at the end of the round. Pinning only at the end of a
 * round (a round is every free pod) left up to 2 entries per held lease unpinned for the whole
 * fill: ~500 leases in, the kernel's neighbour table, 1024 entries shared by every namespace, was
 * full ("table_fulls" in /proc/net/stat/{arp,ndisc}_cache), the server's answers were dropped and
 * ADDs ran into the 10 s limit. Container ids are `<idPrefix><round>-<pod number>`; returns the
 * failures and the next round number.
 */
export async function fillLeases(
  lab: BenchLab,
  pods: FillPools,
  target: number,
  o: {
    concurrency: number;
    idPrefix: string;
    round: number;
    add: (a: Attachment) => Promise<CallResult>;
    onBatch?: (rs: CallResult[]) => void;
    pin?: (batch: Attachment[], rs: CallResult[]) => Promise<void>;
  },
): Promise<{ failed: number; round: number }> {
  let attempts = 0;
  let failed = 0;
  let round = o.round;
  while (pods.held.length < target && pods.free.length > 0 && attempts < target * 2) {
    const batch: Attachment[] = pods.free
      .splice(0, target - pods.held.length)
      .map((pod) => ({ pod, containerId: `${o.idPrefix}${round}-${pod.split('-').at(-1)}`, ifname: 'eth1' }));
    round++;
    attempts += batch.length;
    const unpinned: Array<[Attachment, CallResult]> = [];
    const pin = async (done: Array<[Attachment, CallResult]>): Promise<void> => {
      const atts = done.map(([a]) => a);
      const results = done.map(([, r]) => r);
      await (o.pin ? o.pin(atts, results) : lab.pinNeighbours(pinList(atts, results)));
    };
    const rs = await pool(batch, o.concurrency, async (a) => {
      const r = await o.add(a);
      if (r.code === 0 && unpinned.push([a, r]) >= PIN_EVERY) await pin(unpinned.splice(0));
      return r;
    });
    await pin(unpinned.splice(0));
    o.onBatch?.(rs);
    failed += failures(rs);
    for (const [i, a] of batch.entries()) {
      if (rs[i]?.code === 0) pods.held.push(a);
      else {
        await lab.dropPodLink(a.pod, a.ifname);
        pods.free.push(a.pod);
      }
    }
  }
  return { failed, round };
}

export interface CpuWindow {
  windowS: number;
  cpuSecondsPerMin: number;
  /** server log lines matching what `count` counts, per minute (renewals answered) */
  acksPerMin: number;
  end: ProcSample;
}

/** The CPU `pid` spends over `windowS` seconds, and how many server answers `count` saw meanwhile. */
export async function cpuOver(pid: number, windowS: number, count: () => number): Promise<CpuWindow> {
  const s0 = sampleProc(pid);
  const a0 = count();
  const t0 = Date.now();
  await sleep(windowS * 1000);
  const end = sampleProc(pid);
  const a1 = count();
  const minutes = (Date.now() - t0) / 60_000;
  return { windowS: (Date.now() - t0) / 1000, cpuSecondsPerMin: (end.cpuTicks - s0.cpuTicks) / CLK_TCK / minutes, acksPerMin: (a1 - a0) / minutes, end };
}
