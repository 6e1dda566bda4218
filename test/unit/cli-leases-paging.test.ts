/**
 * `cni-dhcp leases` with 10,000 leases: the real CLI (a child process) against a real RpcServer
 * serving the daemon's own method table over a real LeaseManager that resumed 10,000 lease
 * files through the in-memory packet path. One answer is capped at 1 MiB, which 10,000 views
 * (~6 MB) exceed by far, so this passes only if the CLI pages.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LeaseManager } from '../../daemon/lease-manager';
import { LeaseStore, STORE_FORMAT, attachmentKey, type StoredAttachment } from '../../daemon/lease-store';
import { silentLogger } from '../../daemon/log';
import { createMetrics } from '../../daemon/metrics';
import { rpcMethods } from '../../daemon/rpc-methods';
import { RpcServer } from '../../daemon/rpc-server';
import { Method } from '../../shared/rpc-protocol';
import { MemoryDhcpServer, OWN_NETNS } from '../helpers/memory-packet-path';
import { rawCall } from '../helpers/rpc-raw';

const N = 10_000;
const CLI = path.resolve(__dirname, '..', '..', 'cli', 'main.ts');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--require', 'tsx/cjs', CLI, ...args], { maxBuffer: 256 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('cni-dhcp leases with 10,000 leases', function () {
  this.timeout(300_000);
  let dir: string;
  let sockPath: string;
  let mgr: LeaseManager;
  let rpc: RpcServer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'per-cli-'));
    const store = new LeaseStore(path.join(dir, 'state'));
    store.init();
    const now = Date.now();
    for (let i = 0; i < N; i++) {
      const e: StoredAttachment = {
        format: STORE_FORMAT,
        containerId: `c${String(i).padStart(5, '0')}`,
        netName: 'net1',
        ifname: 'eth1',
        netns: OWN_NETNS,
        podName: `pod-${i}`,
        podNamespace: 'default',
        mac: '02:00:00:00:00:01',
        clientId: Buffer.from(`\0c${i}/net1/eth1`).toString('hex'),
        provide: [],
        requestList: [1, 3, 6],
        lease: {
          address: `198.18.${i >> 8}.${i & 255}`,
          prefixLength: 15,
          serverId: '198.18.0.1',
          boundAt: now,
          leaseTime: 3600,
          t1: 1800,
          t2: 3150,
          params: { serverId: '198.18.0.1', routers: ['198.18.0.1'], dnsServers: ['198.18.0.53'], domainName: 'lab.example', rejected: [] },
        },
      };
      // written plainly (no fsync): 10,000 durable writes would only test the disk
      fs.writeFileSync(store.fileFor(attachmentKey(e.containerId, e.netName, e.ifname)), JSON.stringify(e));
    }
    mgr = new LeaseManager({
      store,
      log: silentLogger,
      metrics: createMetrics(() => ({}), false),
      hostPrefix: '',
      alwaysBroadcast: false,
      timeoutMs: 3000,
      resendMaxMs: 62_000,
      resendTimeoutMs: 208_000,
      openSocket: new MemoryDhcpServer().openSocket,
    });
    assert.deepEqual(mgr.restore(), { resumed: N, dropped: 0, quarantined: 0 });
    sockPath = path.join(dir, 'dhcp.sock');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(sockPath, r));
    rpc = new RpcServer(server, rpcMethods(mgr, { started: now, socketPath: sockPath, stateDir: store.dir }), silentLogger, createMetrics(() => ({}), false));
  });
  after(async () => {
    mgr?.shutdown();
    await rpc?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('one unpaged answer would not fit a frame: the daemon says so instead of sending it', async () => {
    const r = await rawCall(sockPath, Method.Leases, {});
    assert.equal(r.error?.code, 5);
    assert.match(r.error?.message ?? '', /frame limit.*offset and limit/);
  });

  it('--json lists all 10,000, each once', async () => {
    const r = await cli(['-s', sockPath, 'leases', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const leases = JSON.parse(r.stdout) as Array<{ containerId: string; state: string; address: string }>;
    assert.equal(leases.length, N);
    assert.deepEqual(
      leases.map((l) => l.containerId).sort(),
      Array.from({ length: N }, (_, i) => `c${String(i).padStart(5, '0')}`),
    );
    assert.ok(leases.every((l) => l.state === 'BOUND'));
  });

  it('the table has a row per lease, and filters page too', async () => {
    const table = await cli(['-s', sockPath, 'leases']);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout.trimEnd().split('\n').length, N + 1);
    const some = await cli(['-s', sockPath, 'leases', '--json', '--container', 'c0990']);
    assert.equal((JSON.parse(some.stdout) as unknown[]).length, 10, 'c09900..c09909');
    const bound = await cli(['-s', sockPath, 'leases', '--json', '--state', 'bound']);
    assert.equal((JSON.parse(bound.stdout) as unknown[]).length, N);
  });
});
