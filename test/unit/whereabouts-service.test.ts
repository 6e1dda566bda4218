import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CniError } from '../../shared/errors';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { FileStore } from '../../daemon/whereabouts/file-store';
import { WhereaboutsService, type Attachment } from '../../daemon/whereabouts/ipam-service';
import { silentLogger } from '../../daemon/log';

const ipam = (extra: Record<string, unknown>) => parseWhereaboutsIpam({ type: 'whereabouts', ...extra });
const pod = (i: number, over: Partial<Attachment> = {}): Attachment => ({ containerId: `c${i}`, podRef: `ns/p${i}`, ifname: 'net1', network: 'netA', ...over });

async function code(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CniError, String(err));
    return { code: err.code, message: err.message };
  }
  throw new Error('expected a CNI error');
}

describe('whereabouts IPAM service (file store)', () => {
  let dir: string;
  let store: FileStore;
  let svc: WhereaboutsService;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-svc-'));
    store = new FileStore(dir);
    store.open();
    svc = new WhereaboutsService({ storeFor: () => store, node: 'node-a', log: silentLogger });
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('dual stack: one address per range in one ADD, the legacy range first', async () => {
    const cfg = ipam({ range: '198.18.1.0/24', ipRanges: [{ range: '2001:db8:1::/64' }] });
    const ips = await svc.add(cfg, pod(1));
    assert.deepEqual(ips.map((i) => `${i.address}/${i.prefix}`), ['198.18.1.1/24', '2001:db8:1::1/64']);
  });

  it('ADD is idempotent on pod + ifname; a re-created sandbox keeps the address and DEL of the new container frees it', async () => {
    const cfg = ipam({ range: '198.18.2.0/24' });
    const a = await svc.add(cfg, pod(1));
    assert.deepEqual(await svc.add(cfg, pod(1)), a);
    const recreated = pod(1, { containerId: 'c1-new' });
    assert.deepEqual(await svc.add(cfg, recreated), a);
    assert.equal(await svc.del(cfg, pod(1)), 0, 'the old container id holds nothing any more');
    assert.equal(await svc.del(cfg, recreated), 1);
    assert.equal(await svc.del(cfg, recreated), 0, 'DEL twice succeeds');
    assert.deepEqual(await store.readReservations('', { deadline: Date.now() + 1000 }), []);
  });

  it('overlapping ranges: the same address is never handed out twice within a network_name', async () => {
    const wide = ipam({ range: '198.18.3.0/24' });
    const narrow = ipam({ range: '198.18.3.0/28' });
    const a = await svc.add(wide, pod(1));
    const b = await svc.add(narrow, pod(2, { network: 'netB' }));
    assert.deepEqual([a[0]?.address, b[0]?.address], ['198.18.3.1', '198.18.3.2']);
  });

  it('enable_overlapping_ranges false: ranges that overlap do not see each other', async () => {
    const a = await svc.add(ipam({ range: '198.18.4.0/24', enable_overlapping_ranges: false }), pod(1));
    const b = await svc.add(ipam({ range: '198.18.4.0/28', enable_overlapping_ranges: false }), pod(2));
    assert.deepEqual([a[0]?.address, b[0]?.address], ['198.18.4.1', '198.18.4.1']);
  });

  it('network_name: a separate address space for the same CIDR; the same network_name shares it', async () => {
    const red = ipam({ range: '198.18.5.0/24', network_name: 'red' });
    const blue = ipam({ range: '198.18.5.0/24', network_name: 'blue' });
    const r1 = await svc.add(red, pod(1));
    const b1 = await svc.add(blue, pod(2));
    const r2 = await svc.add(red, pod(3, { network: 'netB' }));
    assert.deepEqual([r1[0]?.address, b1[0]?.address, r2[0]?.address], ['198.18.5.1', '198.18.5.1', '198.18.5.2']);
  });

  it('100 concurrent ADDs into exactly 100 addresses all succeed, distinct; the 101st is code 103 naming range and size', async () => {
    const cfg = ipam({ range: '198.18.6.0/24', range_start: '198.18.6.10', range_end: '198.18.6.109' });
    const ips = await Promise.all(Array.from({ length: 100 }, (_, i) => svc.add(cfg, pod(i))));
    const addrs = ips.map((r) => r[0]?.address);
    assert.equal(new Set(addrs).size, 100);
    const err = await code(svc.add(cfg, pod(100)));
    assert.equal(err.code, 103);
    assert.match(err.message, /198\.18\.6\.0\/24.*all 100 usable addresses/);
    await Promise.all(Array.from({ length: 100 }, (_, i) => svc.del(cfg, pod(i))));
    assert.deepEqual((await store.read([{ networkName: '', range: '198.18.6.0/24' }], { deadline: Date.now() + 1000 }))[0]?.allocations, []);
  });

  it('two allocators on one store (two nodes) race, retry, and never share an address', async () => {
    const other = new WhereaboutsService({ storeFor: () => store, node: 'node-b', log: silentLogger });
    const cfg = ipam({ range: '198.18.7.0/26' });
    const ips = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? svc : other).add(cfg, pod(i))));
    assert.equal(new Set(ips.map((r) => r[0]?.address)).size, 60);
    assert.ok(svc.conflicts + other.conflicts > 0, 'the race was real: some commits lost and were retried');
  });

  it('CHECK compares prevResult with the store', async () => {
    const cfg = ipam({ range: '198.18.8.0/24', ipRanges: [{ range: '2001:db8:8::/64' }] });
    await svc.add(cfg, pod(1));
    await svc.check(cfg, pod(1), ['198.18.8.1/24', '2001:db8:8::1/64']);
    assert.equal((await code(svc.check(cfg, pod(1), ['198.18.8.9/24', '2001:db8:8::1/64']))).code, 102);
    assert.equal((await code(svc.check(cfg, pod(2), ['198.18.8.1/24']))).code, 102);
  });

  it('GC releases the allocations of its network not in valid-attachments, and only those', async () => {
    const cfg = ipam({ range: '198.18.9.0/24' });
    await svc.add(cfg, pod(1));
    await svc.add(cfg, pod(2));
    await svc.add(cfg, pod(3, { network: 'netB' }));
    assert.equal(await svc.gc(cfg, 'netA', [{ containerId: 'c1', ifname: 'net1' }]), 1);
    const left = (await store.read([{ networkName: '', range: '198.18.9.0/24' }], { deadline: Date.now() + 1000 }))[0]?.allocations.map((a) => a.containerId);
    assert.deepEqual(left?.sort(), ['c1', 'c3']);
  });

  it('a store that cannot be reached: ADD is code 11 naming it, STATUS is code 50', async () => {
    await store.close();
    const cfg = ipam({ range: '198.18.10.0/24' });
    const add = await code(svc.add(cfg, pod(1)));
    assert.equal(add.code, 11);
    assert.ok(add.message.includes(`file:${dir}`), add.message);
    assert.equal((await code(svc.status(cfg))).code, 50);
    store.open();
  });
});
