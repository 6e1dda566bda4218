/**
 * One allocating process of the Whereabouts etcd bench (a stand-in for one node's daemon).
 * argv[2] is a WorkerJob as JSON. It opens its own etcd client, says "ready", waits for "go"
 * on stdin, allocates `count` addresses with `inFlight` at a time, and prints a WorkerResult.
 *
 * Allocators:
 * - raw: lowest free over the read snapshot, no serialisation, retry at once on a lost race
 *   (the stampede);
 * - raw-serial: the same, one allocation at a time per pool in this process (KeyedQueue);
 * - service: the daemon's own WhereaboutsService (per-pool queue, the real allocator, a short
 *   random pause after a lost race), over the etcd store;
 * - service-lock: the service, with every ADD also holding a cluster-wide per-pool lock (an
 *   etcd key under a 5 s lease, etcd3's Lock, retried every few ms while another node holds it).
 */
import { Etcd3, EtcdLockFailedError } from 'etcd3';
import { KeyedQueue } from '../daemon/keyed-queue';
import { silentLogger } from '../daemon/log';
import { openEtcdStore } from '../daemon/whereabouts/etcd-store';
import { WhereaboutsService } from '../daemon/whereabouts/ipam-service';
import { parseWhereaboutsIpam } from '../shared/whereabouts-config';
import { allocateOne } from '../test/helpers/whereabouts-lowest-free';
import { pool as inParallel } from './stats';

export type Allocator = 'raw' | 'raw-serial' | 'service' | 'service-lock';

export interface WorkerJob {
  endpoints: string[];
  allocator: Allocator;
  networkName: string;
  /** a CIDR; with raw allocators offsets [0, size) of it */
  range: string;
  rangeStart?: string;
  rangeEnd?: string;
  size: number;
  count: number;
  inFlight: number;
  /** unique per process: the pods' names */
  tag: string;
}

export interface WorkerResult {
  tag: string;
  ok: number;
  failed: number;
  /** lost races (commits answered false) */
  retries: number;
  wallMs: number;
  latencies: number[];
  addresses: string[];
  errors: string[];
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '') as WorkerJob;
  const store = openEtcdStore({ endpoints: job.endpoints });
  const ipam = parseWhereaboutsIpam({
    type: 'whereabouts',
    range: job.range,
    ...(job.rangeStart ? { range_start: job.rangeStart } : {}),
    ...(job.rangeEnd ? { range_end: job.rangeEnd } : {}),
    network_name: job.networkName,
    datastore: 'etcd',
    etcd_host: job.endpoints.join(','),
  });
  const service = new WhereaboutsService({ storeFor: () => store, node: job.tag, log: silentLogger, verbDeadlineMs: 120_000 });
  const queue = new KeyedQueue();
  const poolRef = { networkName: job.networkName, range: ipam.ranges[0]!.range };
  const lockClient = job.allocator === 'service-lock' ? new Etcd3({ hosts: job.endpoints }) : undefined;
  const withClusterLock = async <T>(fn: () => Promise<T>): Promise<T> => {
    for (;;) {
      const lock = lockClient!.lock(`/whereabouts-bench-lock/${job.networkName}/${poolRef.range}`).ttl(5);
      try {
        await lock.acquire();
      } catch (err) {
        if (!(err instanceof EtcdLockFailedError)) throw err;
        await new Promise((r) => setTimeout(r, 1 + Math.random() * 4));
        continue;
      }
      try {
        return await fn();
      } finally {
        await lock.release();
      }
    }
  };
  await store.health({ deadline: Date.now() + 30_000 });
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

  const result: WorkerResult = { tag: job.tag, ok: 0, failed: 0, retries: 0, wallMs: 0, latencies: [], addresses: [], errors: [] };
  const t0 = Date.now();
  const one = async (i: number): Promise<void> => {
    const who = `${job.tag}-${i}`;
    const start = Date.now();
    try {
      let address: string;
      const add = () => service.add(ipam, { containerId: `cid-${who}`, podRef: `bench/${who}`, ifname: 'eth0', network: 'bench' });
      if (job.allocator === 'service') {
        const [ip] = await add();
        address = ip!.address;
      } else if (job.allocator === 'service-lock') {
        // the service's own per-pool queue runs inside the lock, so take the lock per pool too
        const [ip] = await queue.run(job.range, () => withClusterLock(add));
        address = ip!.address;
      } else {
        const go = () => allocateOne(store, poolRef, who, { size: job.size, deadlineMs: 120_000, node: job.tag });
        const r = job.allocator === 'raw' ? await go() : await queue.run(job.range, go);
        result.retries += r.retries;
        if (!r.ok) throw new Error(`${r.reason}${r.error ? `: ${r.error}` : ''}`);
        address = r.record.address;
      }
      result.ok++;
      result.addresses.push(address);
      result.latencies.push(Date.now() - start);
    } catch (err) {
      result.failed++;
      if (result.errors.length < 5) result.errors.push((err as Error).message);
    }
  };
  await inParallel(
    Array.from({ length: job.count }, (_, i) => i),
    job.inFlight,
    one,
  );
  result.wallMs = Date.now() - t0;
  if (job.allocator.startsWith('service')) result.retries = service.conflicts;
  await store.close();
  lockClient?.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  process.stderr.write(`worker: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
