/**
 * What the flush before each renewal's rename costs: the real LeaseStore saving renewals of
 * `--leases` distinct leases, round-robin, `--saves` times per run, in bursts of `--burst`,
 * in each RenewalWrites mode: no flush (before), flushed on the event loop, and flushed on the
 * thread pool (now). No root, no network.
 *
 *   npx tsx bench/store-sync.ts [--runs 5] [--leases 1000] [--saves 3000] [--burst 50] [--dir DIR]
 *
 * DIR defaults to a fresh directory under the OS temp dir; point it at the filesystem of the
 * real state dir (/var/lib/cni/dhcp) to measure that disk.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LeaseStore, STORE_FORMAT, type RenewalWrites, type StoredAttachment } from '../daemon/lease-store';
import { fmtMs, percentile } from './stats';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const RUNS = arg('runs', 5);
const LEASES = arg('leases', 1000);
const SAVES = arg('saves', 3000);
const BURST = arg('burst', 50);
const dirArg = process.argv.indexOf('--dir');
const base = dirArg > 0 ? (process.argv[dirArg + 1] as string) : os.tmpdir();

function entry(i: number, boundAt: number): StoredAttachment {
  return {
    format: STORE_FORMAT,
    containerId: `bench-${i.toString(16).padStart(12, '0')}`,
    netName: 'bench-net',
    ifname: 'eth1',
    netns: `/var/run/netns/bench-${i}`,
    netnsId: `4:${4026532000 + i}`,
    mac: '02:00:00:00:00:01',
    clientId: Buffer.from(`\0bench-${i}/bench-net/eth1`).toString('hex'),
    provide: [],
    requestList: [1, 3, 6, 15, 26, 28, 33, 51, 54, 58, 59, 119, 121],
    lease: {
      address: `198.18.${(i >> 8) & 255}.${i & 255}`,
      prefixLength: 16,
      serverId: '198.18.0.1',
      serverMac: '52:54:00:12:34:56',
      boundAt,
      leaseTime: 120,
      t1: 60,
      t2: 105,
      params: { messageType: 5, serverId: '198.18.0.1', subnetMask: '255.255.0.0', prefixLength: 16, routers: ['198.18.0.1'], dnsServers: ['198.18.0.53'], domainName: 'lab.example', leaseTime: 120, rejected: [] },
    },
  };
}

interface RunResult {
  /** saves per second until the last one is on disk */
  perSecond: number;
  /** event-loop time of one save() call */
  loopP50: number;
  loopP99: number;
  /** from the save() call until its rename (sync modes: the call itself) */
  durableP50: number;
  durableP99: number;
}

/**
 * `--saves` renewals issued in bursts of `--burst` (leases whose T1 falls in the same tick),
 * the next burst when the previous one is on disk. Renames are timed by watching the store's
 * own promise: a save is durable when drain() resolves after it.
 */
async function runOnce(mode: RenewalWrites): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(base, 'cni-dhcp-store-bench-'));
  try {
    const store = new LeaseStore(dir, { renewalWrites: mode, onRenewalError: (err) => { throw err; } });
    store.init();
    for (let i = 0; i < LEASES; i++) store.save(entry(i, Date.now()), true);
    const loop: number[] = [];
    const durable: number[] = [];
    const t0 = performance.now();
    for (let n = 0; n < SAVES; n += BURST) {
      const issued: number[] = [];
      for (let k = n; k < Math.min(SAVES, n + BURST); k++) {
        const s = performance.now();
        store.save(entry(k % LEASES, Date.now()), false);
        const e = performance.now();
        loop.push(e - s);
        issued.push(s);
      }
      await store.drain();
      const done = performance.now();
      // sync modes are durable when the call returns; async ones when the burst drained
      if (mode === 'async-flush') for (const s of issued) durable.push(done - s);
      else durable.push(...loop.slice(-issued.length));
    }
    const wall = performance.now() - t0;
    return {
      perSecond: (SAVES / wall) * 1000,
      loopP50: percentile(loop, 50),
      loopP99: percentile(loop, 99),
      durableP50: percentile(durable, 50),
      durableP99: percentile(durable, 99),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function spread(v: number[], fmt: (n: number) => string): string {
  const s = [...v].sort((a, b) => a - b);
  return `${fmt(percentile(s, 50))} (${fmt(s[0] as number)}–${fmt(s[s.length - 1] as number)})`;
}

const MODES: Array<[RenewalWrites, string]> = [
  ['no-flush', 'temp file, rename, no flush (before; a crash can leave an empty file)'],
  ['sync-flush', 'fdatasync on the event loop, rename'],
  ['async-flush', 'fdatasync on the thread pool, group-committed, rename (now)'],
];

async function main(): Promise<void> {
  const results = new Map<RenewalWrites, RunResult[]>(MODES.map(([m]) => [m, []]));
  for (let r = 0; r < RUNS; r++) {
    // interleaved, so drift in the machine's load hits every mode alike
    for (const [m] of MODES) results.get(m)!.push(await runOnce(m));
  }
  const ms = (n: number) => (n < 1 ? `${(n * 1000).toFixed(0)} µs` : fmtMs(n));
  const num = (n: number) => n.toFixed(0);
  console.log(`renewal saves: ${RUNS} runs × ${SAVES} saves in bursts of ${BURST}, over ${LEASES} leases, in ${base} (${fsType()}); median of the runs (min–max)`);
  console.log('');
  console.log('| renewal write | saves/s | event loop per save p50 / p99 | save → on disk p50 / p99 |');
  console.log('|---|---|---|---|');
  for (const [m, label] of MODES) {
    const rs = results.get(m)!;
    const pair = (a: (r: RunResult) => number, b: (r: RunResult) => number) => `${spread(rs.map(a), ms)} / ${spread(rs.map(b), ms)}`;
    console.log(`| ${label} | ${spread(rs.map((r) => r.perSecond), num)} | ${pair((r) => r.loopP50, (r) => r.loopP99)} | ${pair((r) => r.durableP50, (r) => r.durableP99)} |`);
  }
}

function fsType(): string {
  try {
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
    const best = mounts.filter((f) => f[1] && base.startsWith(f[1])).sort((a, b) => (b[1]?.length ?? 0) - (a[1]?.length ?? 0))[0];
    return best?.[2] ?? '?';
  } catch {
    return '?';
  }
}

void main();
