/**
 * `cni-dhcp whereabouts pools` and `allocations` on a /16 holding 12,000 allocations: more than
 * one 1 MiB answer holds. The pure page cutting and joining, for any pools and page size; then
 * the real CLI (a child process) against the real daemon in-process over its file store.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { CniError } from '../../shared/errors';
import { call } from '../../shared/rpc-client';
import { appendPoolPage, poolWindow, slotCount, sortPools } from '../../shared/whereabouts-pages';
import { WB_DAEMON, WB_PAGE_MAX, WbMethod, type WbAllocationView, type WbPoolView } from '../../shared/whereabouts-protocol';
import { silentLogger } from '../../daemon/log';
import { runWhereaboutsDaemon } from '../../daemon/whereabouts/main';
import { FileStore } from '../../daemon/whereabouts/file-store';
import type { StoreWrite } from '../../daemon/whereabouts/store';

const CLI = path.resolve(__dirname, '..', '..', 'cli', 'main.ts');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--require', 'tsx/cjs', CLI, ...args], { maxBuffer: 256 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

function row(range: string, address: string, i: number): WbAllocationView {
  return { store: 's', networkName: '', range, address, containerId: `c${i}`, podRef: `ns/p${i}`, ifname: 'net1', node: 'n', createdAt: 1 };
}

describe('whereabouts listings in pages', () => {
  it('cutting any pools into pages of any size and joining them gives the pools back, every empty pool included', () => {
    const pools = fc.array(fc.nat({ max: 30 }), { maxLength: 8 }).map((sizes) =>
      sortPools(sizes.map((n, p) => ({ store: 's', networkName: '', range: `198.18.${p}.0/24`, revision: '1', allocations: Array.from({ length: n }, (_, i) => row(`198.18.${p}.0/24`, `198.18.${p}.${i + 1}`, i)) }))),
    );
    fc.assert(
      fc.property(pools, fc.integer({ min: 1, max: 40 }), (all, size) => {
        const joined: WbPoolView[] = [];
        let pages = 0;
        for (let offset = 0; ; offset += size) {
          const page = poolWindow(all, { offset, limit: size });
          assert.ok(slotCount(page) <= size);
          appendPoolPage(joined, page);
          pages++;
          if (slotCount(page) < size) break;
        }
        assert.deepEqual(joined, all);
        assert.equal(pages, Math.floor(slotCount(all) / size) + 1);
      }),
    );
  });

  it('addresses sort by number, not text, so pages of one pool are stable', () => {
    const [p] = sortPools([{ store: 's', networkName: '', range: '198.18.0.0/16', revision: '1', allocations: ['198.18.0.10', '198.18.0.9', '198.18.1.2', '198.18.0.100'].map((a, i) => row('198.18.0.0/16', a, i)) }]);
    assert.deepEqual(p!.allocations.map((a) => a.address), ['198.18.0.9', '198.18.0.10', '198.18.0.100', '198.18.1.2']);
  });

  describe('the CLI against the daemon with 12,000 allocations in a /16', function () {
    this.timeout(240_000);
    const N = 12_000;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-pages-'));
    const sock = path.join(dir, 'wb.sock');
    const state = path.join(dir, 'state');
    let stop: () => Promise<void>;

    before(async () => {
      const pool = { networkName: '', range: '198.18.0.0/16' };
      const writes: StoreWrite[] = Array.from({ length: N }, (_, i) => ({
        op: 'create',
        pool,
        allocation: { offset: String(i + 1), address: `198.18.${(i + 1) >> 8}.${(i + 1) & 255}`, containerId: `c${i}`, podRef: `ns/pod-${i}`, ifname: 'net1', node: 'n', createdAt: Date.now(), network: 'n1' },
      }));
      writes.push({ op: 'create', pool: { networkName: 'other', range: '198.19.0.0/24' }, allocation: { offset: '1', address: '198.19.0.1', containerId: 'x', podRef: 'ns/x', ifname: 'net1', node: 'n', createdAt: Date.now() } });
      const file = new FileStore(state);
      file.open();
      assert.equal(await file.commit(writes, { deadline: Date.now() + 60_000 }), true);
      await file.close();
      ({ stop } = await runWhereaboutsDaemon({ socketPath: sock, stateDir: state, nodeName: 'n', reconcileNow: false, reconcileGraceMs: 300_000, logLevel: 'error', logFormat: 'text', help: false }, silentLogger));
    });
    after(async () => {
      await stop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('one answer with everything is refused as too big, a page past WB_PAGE_MAX is refused, and the CLI pages', async () => {
      await assert.rejects(call(sock, WbMethod.Pools, {}, { ...WB_DAEMON, timeoutMs: 30_000 }), (err: Error) => err instanceof CniError && /frame limit/.test(err.message));
      await assert.rejects(call(sock, WbMethod.Pools, { limit: WB_PAGE_MAX + 1 }, { ...WB_DAEMON, timeoutMs: 30_000 }), (err: Error) => err instanceof CniError && err.code === 4);

      const pools = await cli(['whereabouts', 'pools', '--socket', sock, '--json']);
      assert.equal(pools.code, 0, pools.stderr);
      const got = JSON.parse(pools.stdout) as WbPoolView[];
      assert.deepEqual(got.map((p) => [p.networkName, p.range, p.allocations.length]), [['', '198.18.0.0/16', N], ['other', '198.19.0.0/24', 1]]);
      const addresses = got[0]!.allocations.map((a) => a.address);
      assert.equal(new Set(addresses).size, N);
      assert.equal(addresses[0], '198.18.0.1');
      assert.equal(addresses[N - 1], `198.18.${N >> 8}.${N & 255}`);

      const allocs = await cli(['whereabouts', 'allocations', '--socket', sock, '--json']);
      assert.equal(allocs.code, 0, allocs.stderr);
      const rows = JSON.parse(allocs.stdout) as WbAllocationView[];
      assert.equal(rows.length, N + 1);
      assert.deepEqual(rows.map((r) => r.address), [...addresses, '198.19.0.1']);
    });
  });
});
