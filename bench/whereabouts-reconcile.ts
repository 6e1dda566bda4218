/**
 * What one reconciler run costs: `npx tsx bench/whereabouts-reconcile.ts [--runs N] [--sizes 1000,5000]`
 * (root for etcd: it starts a 3-member etcd 3.4 on 127.0.0.1 and stops it at the end).
 *
 * For each store (file, etcd) and size N: N allocations of this node in one /16 pool, each
 * with a namespace record whose pin is a plain file (stat costs the same as on an nsfs pin;
 * making thousands of real namespaces would measure `ip netns add`), half of them dead (pin
 * removed). One run = listPools + read + liveness + decide + N/2 frees (each a re-read of the
 * pool and a compare-delete commit). Prints min / median / max wall time per run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../daemon/log';
import { openEtcdStore } from '../daemon/whereabouts/etcd-store';
import { FileStore } from '../daemon/whereabouts/file-store';
import { NodeLiveness } from '../daemon/whereabouts/reconcile/node-liveness';
import { NodeRecords } from '../daemon/whereabouts/reconcile/node-records';
import { reconcileOnce } from '../daemon/whereabouts/reconcile/run';
import type { StoreWrite, WhereaboutsStore } from '../daemon/whereabouts/store';
import { EtcdCluster } from '../test/helpers/etcd-cluster';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] as string) : def;
};
const RUNS = Number(arg('--runs', '3'));
const SIZES = arg('--sizes', '1000,5000').split(',').map(Number);

async function fill(store: WhereaboutsStore, dir: string, n: number, run: number): Promise<NodeRecords> {
  const pool = { networkName: `bench-${run}-${n}`, range: '198.18.0.0/16' };
  const records = new NodeRecords(dir, silentLogger);
  const pins = path.join(dir, `pins-${run}-${n}`);
  fs.mkdirSync(pins);
  const writes: StoreWrite[] = [];
  for (let i = 1; i <= n; i++) {
    const containerId = `c${run}x${i}`;
    const pin = path.join(pins, containerId);
    fs.writeFileSync(pin, '');
    writes.push({ op: 'create', pool, allocation: { offset: String(i), address: `198.18.${i >> 8}.${i & 255}`, containerId, podRef: `ns/p${i}`, ifname: 'net1', node: 'bench', createdAt: Date.now() - 3_600_000, network: 'n' } });
    records.added({ containerId, ifname: 'net1', netns: pin, network: 'n' }, Date.now());
  }
  for (let i = 0; i < writes.length; i += 100) {
    if (!(await store.commit(writes.slice(i, i + 100), { deadline: Date.now() + 60_000 }))) throw new Error('fill failed');
  }
  for (let i = 2; i <= n; i += 2) fs.rmSync(path.join(pins, `c${run}x${i}`));
  return records;
}

async function measure(kind: string, open: (dir: string) => Promise<WhereaboutsStore>, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-bench-'));
    const store = await open(dir);
    try {
      const records = await fill(store, dir, n, r);
      const t0 = process.hrtime.bigint();
      const s = await reconcileOnce([{ store, source: new NodeLiveness(records) }], { node: 'bench', graceMs: 300_000, now: Date.now, log: silentLogger, deadlineMs: 600_000 }, 'bench');
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (s.freed !== Math.floor(n / 2) || s.errors.length > 0) throw new Error(`${kind} ${n}: freed ${s.freed}, errors ${s.errors.join('; ')}`);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return times;
}

async function main(): Promise<void> {
  const rows: string[] = ['| store | allocations (half dead) | run wall, min / median / max (ms) |', '|---|---|---|'];
  const fmt = (t: number[]) => {
    const s = [...t].sort((a, b) => a - b);
    return `${s[0]!.toFixed(0)} / ${s[Math.floor(s.length / 2)]!.toFixed(0)} / ${s[s.length - 1]!.toFixed(0)}`;
  };
  for (const n of SIZES) {
    const t = await measure('file', async (dir) => {
      const f = new FileStore(path.join(dir, 'store'));
      f.open();
      return f;
    }, n);
    rows.push(`| file | ${n} | ${fmt(t)} |`);
  }
  const cluster = await EtcdCluster.start();
  try {
    for (const n of SIZES) {
      const t = await measure('etcd', async () => openEtcdStore({ endpoints: cluster.endpoints() }), n);
      rows.push(`| etcd (3 members, 127.0.0.1) | ${n} | ${fmt(t)} |`);
    }
  } finally {
    await cluster.close();
  }
  process.stdout.write(`${rows.join('\n')}\n\n${RUNS} runs each; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exitCode = 1;
});
