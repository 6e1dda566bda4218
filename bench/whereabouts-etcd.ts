/**
 * Whereabouts on etcd, measured on a real 3-member etcd 3.4 cluster on 127.0.0.1 (started here,
 * stopped at the end): `npx tsx bench/whereabouts-etcd.ts [--runs N] [--quick] [--no-write]`;
 * `--daemons-only` runs only the target through the shim and 4 daemons (and host-local beside
 * it), N times, and puts those rows into the last full run's results; `--big-only` prints the
 * /16 ADDs with the store's pool copy on and off.
 *
 * 1. The stampede: 8 concurrent allocators taking the lowest free address, in one process and
 *    across 4 processes, with and without per-pool serialisation inside a process, and the
 *    daemon's own service (serialised, random pause after a lost race): retries per
 *    allocation and allocations/s.
 * 2. Issue 11's target at the store level: 1000 pods into a range of exactly 1000 addresses,
 *    200 in flight, through 4 processes standing in for 4 nodes' daemons (each running the
 *    daemon's WhereaboutsService on the etcd store), then a 1001st that must fail; beside
 *    host-local (/usr/lib/cni/host-local, one node, file lock) as the floor, in the same run.
 * 3. One ADD in a /16 with 60,000 addresses taken against one in an empty /24.
 *
 * Writes bench/whereabouts-etcd.md (spliced into BENCHMARKS.md between its markers) and
 * bench/whereabouts-etcd-results.json.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../daemon/log';
import { MAX_COMMIT_WRITES } from '../daemon/whereabouts/add-batch';
import { openEtcdStore } from '../daemon/whereabouts/etcd-store';
import { WhereaboutsService } from '../daemon/whereabouts/ipam-service';
import type { StoreWrite } from '../daemon/whereabouts/store';
import { parseWhereaboutsIpam } from '../shared/whereabouts-config';
import { EtcdCluster } from '../test/helpers/etcd-cluster';
import { run } from '../test/helpers/sh';
import { startWbNode, stopWbNode, type WbNode } from '../test/helpers/whereabouts-etcd-nodes';
import { WB_SHIM } from '../test/helpers/whereabouts-lab';
import { historyProblems } from '../test/helpers/whereabouts-lowest-free';
import { renderEtcdBench, type DaemonRun, type EtcdBenchResults, type RunFigures } from './whereabouts-etcd-report';
import { p50, p95, pool as inParallel } from './stats';
import type { Allocator, WorkerJob, WorkerResult } from './whereabouts-etcd-worker';

const REPO = path.resolve(__dirname, '..');
const HOST_LOCAL = '/usr/lib/cni/host-local';
const log = (m: string) => process.stderr.write(`[wa-etcd bench] ${m}\n`);

async function workers(jobs: WorkerJob[]): Promise<WorkerResult[]> {
  const procs = jobs.map((job) => {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(REPO, 'bench/whereabouts-etcd-worker.ts'), JSON.stringify(job)], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      const t = setInterval(() => out.includes('ready\n') && (clearInterval(t), resolve()), 20);
      child.once('exit', (code) => (clearInterval(t), reject(new Error(`worker ${job.tag} exited ${code} before ready`))));
    });
    const done = new Promise<WorkerResult>((resolve, reject) =>
      child.once('exit', (code) => {
        const last = out.trim().split('\n').pop() ?? '';
        if (code === 0) resolve(JSON.parse(last) as WorkerResult);
        else reject(new Error(`worker ${job.tag} exited ${code}`));
      }),
    );
    return { child, ready, done };
  });
  await Promise.all(procs.map((p) => p.ready));
  for (const p of procs) p.child.stdin.end('go\n');
  return Promise.all(procs.map((p) => p.done));
}

let netSeq = 0;

/** one run of `procs` processes × `perProc` in flight, `count` allocations in all; checked for duplicates */
async function oneRun(
  cluster: EtcdCluster,
  allocator: Allocator,
  procs: number,
  perProc: number,
  count: number,
  range: { range: string; rangeStart?: string; rangeEnd?: string; size: number },
): Promise<RunFigures & { networkName: string }> {
  const networkName = `bench${process.pid}n${netSeq++}`;
  const t0 = Date.now();
  const results = await workers(
    Array.from({ length: procs }, (_, p) => ({
      endpoints: cluster.endpoints(),
      allocator,
      networkName,
      ...range,
      count: Math.ceil(count / procs),
      inFlight: perProc,
      tag: `${networkName}p${p}`,
    })),
  );
  const wallMs = Math.max(...results.map((r) => r.wallMs));
  const store = openEtcdStore({ endpoints: cluster.endpoints() });
  const [snap] = await store.read([{ networkName, range: range.range }], { deadline: Date.now() + 30_000 });
  const resv = await store.readReservations(networkName, { deadline: Date.now() + 30_000 });
  await store.close();
  const addresses = results.flatMap((r) => r.addresses);
  const problems = historyProblems([], snap!.allocations, resv);
  const duplicates = addresses.length - new Set(addresses).size + problems.filter((p) => p.startsWith('duplicate')).length;
  const ok = results.reduce((s, r) => s + r.ok, 0);
  const retries = results.reduce((s, r) => s + r.retries, 0);
  const latencies = results.flatMap((r) => r.latencies);
  for (const r of results) for (const e of r.errors) log(`  ${r.tag}: ${e}`);
  for (const p of problems) log(`  PROBLEM ${p}`);
  log(`  ${allocator} ${procs}×${perProc}: ${ok}/${count} in ${wallMs} ms (${Date.now() - t0} ms with start-up), ${retries} retries`);
  return {
    networkName,
    ok,
    failed: results.reduce((s, r) => s + r.failed, 0),
    duplicates,
    problems: problems.length,
    stored: snap!.allocations.length,
    retriesPerAlloc: ok ? retries / ok : NaN,
    allocsPerS: ok / (wallMs / 1000),
    wallMs,
    p50Ms: p50(latencies),
    p95Ms: p95(latencies),
  };
}

async function hostLocal(count: number, inFlight: number): Promise<RunFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdt-wae-hostlocal-'));
  const conf = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'wae-hl',
    type: 'bridge',
    // the gateway outside the range: host-local skips its gateway (.1 by default) and would have 999
    ipam: { type: 'host-local', dataDir: dir, ranges: [[{ subnet: '198.18.0.0/22', rangeStart: '198.18.0.1', rangeEnd: '198.18.3.232', gateway: '198.18.3.254' }]] },
  });
  const latencies: number[] = [];
  const addresses: string[] = [];
  let failed = 0;
  const t0 = Date.now();
  await inParallel(
    Array.from({ length: count }, (_, i) => i),
    inFlight,
    async (i) => {
      const s = Date.now();
      const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: `hl-${i}`, CNI_NETNS: '/var/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
      const r = await run(HOST_LOCAL, [], { env, input: conf });
      if (r.code !== 0) {
        failed++;
        log(`  host-local ADD ${i} failed: ${(r.stdout + r.stderr).trim().slice(0, 300)}`);
      } else {
        latencies.push(Date.now() - s);
        addresses.push(String((JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips[0]?.address));
      }
    },
  );
  const wallMs = Date.now() - t0;
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    ok: latencies.length,
    failed,
    duplicates: addresses.length - new Set(addresses).size,
    problems: 0,
    stored: latencies.length,
    retriesPerAlloc: 0,
    allocsPerS: latencies.length / (wallMs / 1000),
    wallMs,
    p50Ms: p50(latencies),
    p95Ms: p95(latencies),
  };
}

/**
 * Issue 11's target through the real shim and daemons: 4 whereabouts daemons (4 nodes) on the
 * etcd cluster, `count` ADDs of dist/cni/whereabouts (IPAM alone, as a runtime's bridge would
 * exec it) with `inFlight` at a time, spread over the daemons; then a 1001st, which must fail.
 */
async function throughDaemons(cluster: EtcdCluster, count: number, inFlight: number, rangeEnd: string): Promise<DaemonRun> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cdt-waeb-nodes-'));
  const nodes: WbNode[] = [];
  for (let n = 0; n < 4; n++) nodes.push(await startWbNode(root, `waeb-node-${n}`));
  const networkName = `bench${process.pid}d${netSeq++}`;
  const conf = (n: number) =>
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'waeb',
      type: 'bridge',
      ipam: {
        type: 'whereabouts',
        range: '198.18.0.0/22',
        range_start: '198.18.0.1',
        range_end: rangeEnd,
        network_name: networkName,
        datastore: 'etcd',
        etcd_host: cluster.endpoints().map((e) => e.replace(/^http:\/\//, '')).join(','),
        daemonSocketPath: nodes[n]!.socketPath,
        configuration_path: path.join(root, 'no-flat-file.conf'),
      },
    });
  const add = (i: number) => {
    const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: 'ADD', CNI_CONTAINERID: `waeb-${i}`, CNI_NETNS: '/var/run/netns/none', CNI_IFNAME: 'net1', CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-${i}`, CNI_PATH: path.dirname(WB_SHIM) };
    return run(WB_SHIM, [], { env, input: conf(i % 4), timeoutMs: 300_000 });
  };
  const latencies: number[] = [];
  const addresses: string[] = [];
  let failed = 0;
  const t0 = Date.now();
  try {
    await inParallel(
      Array.from({ length: count }, (_, i) => i),
      inFlight,
      async (i) => {
        const s = Date.now();
        const r = await add(i);
        if (r.code !== 0) {
          failed++;
          log(`  ADD ${i} failed: ${r.stdout.trim().slice(0, 300)}`);
          return;
        }
        latencies.push(Date.now() - s);
        addresses.push(String((JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips[0]?.address));
      },
    );
    const wallMs = Date.now() - t0;
    // ADDs whose shim gave up are still finishing in their daemons: let them drain first, or
    // the 1001st could find the pool not yet full
    const drain = openEtcdStore({ endpoints: cluster.endpoints() });
    // (until the pool is full, or its count has not moved for 10 s: failed ADDs leave holes)
    const drainUntil = Date.now() + 300_000;
    let held = -1;
    let movedAt = Date.now();
    while (Date.now() < drainUntil && Date.now() - movedAt < 10_000) {
      const [s] = await drain.read([{ networkName, range: '198.18.0.0/22' }], { deadline: Date.now() + 30_000 });
      if (s!.allocations.length !== held) movedAt = Date.now();
      held = s!.allocations.length;
      if (held >= count) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await drain.close();
    const extraRun = await add(count);
    const extra = extraRun.code === 0 ? (held < count ? `succeeded: the failed ADDs left ${count - held} addresses free` : 'succeeded (wrong)') : (() => {
      const e = JSON.parse(extraRun.stdout) as { code: number; msg: string };
      return `code ${e.code}: ${e.msg}`;
    })();
    const store = openEtcdStore({ endpoints: cluster.endpoints() });
    const [snap] = await store.read([{ networkName, range: '198.18.0.0/22' }], { deadline: Date.now() + 30_000 });
    const resv = await store.readReservations(networkName, { deadline: Date.now() + 30_000 });
    await store.close();
    const problems = historyProblems([], snap!.allocations, resv);
    const loadAvg = os.loadavg()[0]!;
    log(`  through 4 daemons: ${latencies.length}/${count} in ${wallMs} ms, per-ADD p50 ${p50(latencies)} ms p95 ${p95(latencies)} ms; stored ${snap!.allocations.length}; ${problems.length} problems; load ${loadAvg.toFixed(1)}; 1001st: ${extra}`);
    return {
      loadAvg,
      ok: latencies.length,
      failed,
      duplicates: addresses.length - new Set(addresses).size + problems.filter((p) => p.startsWith('duplicate')).length,
      problems: problems.length,
      stored: snap!.allocations.length,
      retriesPerAlloc: NaN,
      allocsPerS: latencies.length / (wallMs / 1000),
      wallMs,
      p50Ms: p50(latencies),
      p95Ms: p95(latencies),
      extra,
    };
  } finally {
    for (const n of nodes) await stopWbNode(n);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * ms for each of `n` sequential ADDs through the service into `range`, after `taken` are
 * stored by another client; `cache` false reads the whole pool on every ADD (no cached copy).
 * The first ADD reads the pool in full either way.
 */
async function bigRange(cluster: EtcdCluster, range: string, taken: number, n: number, cache = true): Promise<number[]> {
  const networkName = `bench${process.pid}big${netSeq++}`;
  const store = openEtcdStore({ endpoints: cluster.endpoints(), cache });
  const base = range.split('/')[0]!.split('.').map(Number);
  const writes: StoreWrite[] = [];
  for (let o = 1; o <= taken; o++) {
    const address = `${base[0]}.${base[1]}.${(o >> 8) & 255}.${o & 255}`;
    const allocation = { offset: String(o), address, containerId: `fill-${o}`, podRef: `bench/fill-${o}`, ifname: 'eth0', node: 'fill', createdAt: 0, network: 'bench' };
    const pool = { networkName, range };
    writes.push({ op: 'create', pool, allocation }, { op: 'reserve', reservation: { networkName, address, containerId: allocation.containerId, podRef: allocation.podRef, ifname: 'eth0', pool } });
  }
  // etcd takes at most 128 operations per transaction (--max-txn-ops), the pod index included
  const batches: StoreWrite[][] = [];
  for (let i = 0; i < writes.length; i += MAX_COMMIT_WRITES) batches.push(writes.slice(i, i + MAX_COMMIT_WRITES));
  await inParallel(batches, 8, async (b) => {
    if (!(await store.commit(b, { deadline: Date.now() + 60_000 }))) throw new Error('fill commit lost');
  });
  const ipam = parseWhereaboutsIpam({ type: 'whereabouts', range, network_name: networkName, datastore: 'etcd', etcd_host: cluster.endpoints().join(',') });
  const service = new WhereaboutsService({ storeFor: () => store, node: 'big', log: silentLogger, verbDeadlineMs: 60_000 });
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = Date.now();
    await service.add(ipam, { containerId: `big-${i}`, podRef: `bench/big-${i}`, ifname: 'eth0', network: 'bench' });
    ms.push(Date.now() - t);
  }
  await store.close();
  return ms;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const daemonsOnly = argv.includes('--daemons-only');
  const runsArg = argv.indexOf('--runs');
  const runs = runsArg >= 0 ? Number(argv[runsArg + 1]) : quick ? 1 : 3;
  const started = Date.now();
  const cluster = await EtcdCluster.start({ prefix: 'waeb' });
  const results: EtcdBenchResults = { date: new Date().toISOString(), runs, stampede: [], target: [], daemons: [], hostLocal: [], big: { slash16Ms: [], slash24Ms: [] }, command: '' };
  try {
    if (argv.includes('--big-only')) {
      for (const cache of [true, false]) process.stdout.write(`cache ${cache}: ${JSON.stringify(await bigRange(cluster, '198.19.0.0/16', quick ? 6000 : 60_000, 10, cache))}\n`);
      return;
    }
    if (daemonsOnly) {
      for (let k = 0; k < runs; k++) {
        log(`target run ${k + 1} through the shim and 4 daemons`);
        results.daemons.push(await throughDaemons(cluster, quick ? 200 : 1000, 200, quick ? '198.18.0.200' : '198.18.3.232'));
        results.hostLocal.push(await hostLocal(quick ? 200 : 1000, 200));
        log(`  host-local: ${JSON.stringify(results.hostLocal[results.hostLocal.length - 1])}`);
      }
    }
    if (!daemonsOnly) {
      const stampedeCount = quick ? 80 : 240;
      const r1024 = { range: '198.18.0.0/22', size: 1024 };
      for (const [procs, perProc] of [
        [1, 8],
        [4, 2],
      ] as const) {
        for (const allocator of ['raw', 'raw-serial', 'service', 'service-lock'] as const) {
          const figs = [];
          for (let k = 0; k < runs; k++) figs.push(await oneRun(cluster, allocator, procs, perProc, stampedeCount, r1024));
          results.stampede.push({ allocator, procs, perProc, count: stampedeCount, runs: figs });
        }
      }
      const exact = { range: '198.18.0.0/22', rangeStart: '198.18.0.1', rangeEnd: '198.18.3.232', size: 1000 };
      const pods = quick ? 200 : 1000;
      for (let k = 0; k < runs; k++) {
        log(`target run ${k + 1}: ${pods} pods, 4 daemons × 50 in flight`);
        const r = await oneRun(cluster, 'service', 4, 50, pods, { ...exact, rangeEnd: quick ? '198.18.0.200' : exact.rangeEnd, size: pods });
        // the 1001st must fail, clearly, with the range's size in the message
        const store = openEtcdStore({ endpoints: cluster.endpoints() });
        const ipam = parseWhereaboutsIpam({ type: 'whereabouts', range: exact.range, range_start: exact.rangeStart, range_end: quick ? '198.18.0.200' : exact.rangeEnd, network_name: r.networkName, datastore: 'etcd', etcd_host: cluster.endpoints().join(',') });
        const svc = new WhereaboutsService({ storeFor: () => store, node: 'extra', log: silentLogger });
        const extra = await svc.add(ipam, { containerId: 'one-too-many', podRef: 'bench/one-too-many', ifname: 'eth0', network: 'bench' }).then(
          () => 'succeeded (wrong)',
          (e: Error & { code?: number }) => `code ${e.code}: ${e.message}`,
        );
        await store.close();
        results.target.push({ ...r, extra });
        log(`target run ${k + 1} through the shim and 4 daemons`);
        results.daemons.push(await throughDaemons(cluster, pods, 200, quick ? '198.18.0.200' : exact.rangeEnd));
        results.hostLocal.push(await hostLocal(pods, 200));
        log(`  host-local: ${JSON.stringify(results.hostLocal[results.hostLocal.length - 1])}`);
      }
      log('big range: /16 with 60,000 taken, and an empty /24');
      results.big.slash16Ms = await bigRange(cluster, '198.19.0.0/16', quick ? 6000 : 60_000, 10);
      results.big.slash16NoCacheMs = await bigRange(cluster, '198.19.0.0/16', quick ? 6000 : 60_000, 10, false);
      results.big.slash24Ms = await bigRange(cluster, '198.18.5.0/24', 0, 10);
    }
  } finally {
    await cluster.close();
  }
  const command = `npx tsx bench/whereabouts-etcd.ts${quick ? ' --quick' : ''}${daemonsOnly ? ' --daemons-only' : ''}${runsArg >= 0 ? ` --runs ${runs}` : ''} (as root; ${((Date.now() - started) / 60_000).toFixed(1)} min)`;
  const resultsFile = path.join(REPO, 'bench/whereabouts-etcd-results.json');
  let out = results;
  if (daemonsOnly) {
    // the target through the shim (and host-local beside it) replaces that of the last full run
    out = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as EtcdBenchResults;
    out.daemons = results.daemons;
    out.hostLocal = results.hostLocal;
    out.daemonsRun = { command, date: results.date, runs };
  } else out.command = command;
  const md = renderEtcdBench(out);
  if (argv.includes('--no-write') || quick) {
    process.stdout.write(md);
    return;
  }
  fs.writeFileSync(resultsFile, JSON.stringify(out, null, 2));
  fs.writeFileSync(path.join(REPO, 'bench/whereabouts-etcd.md'), md);
  const benchFile = path.join(REPO, 'BENCHMARKS.md');
  const text = fs.readFileSync(benchFile, 'utf8');
  const begin = text.indexOf('<!-- whereabouts-etcd:begin -->');
  const end = text.indexOf('<!-- whereabouts-etcd:end -->');
  const block = md.trim();
  fs.writeFileSync(benchFile, begin >= 0 && end > begin ? text.slice(0, begin) + block + text.slice(end + '<!-- whereabouts-etcd:end -->'.length) : `${text.trimEnd()}\n\n${block}\n`);
  log('wrote bench/whereabouts-etcd.md, bench/whereabouts-etcd-results.json and BENCHMARKS.md');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
