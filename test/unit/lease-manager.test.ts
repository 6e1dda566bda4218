/**
 * The real LeaseManager, Attachment, LeaseMachine and LeaseStore, driven through the in-memory
 * packet path (the only thing replaced is the pod-netns socket). No root needed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LeaseManager } from '../../daemon/lease-manager';
import { LeaseStore, attachmentKey } from '../../daemon/lease-store';
import { silentLogger } from '../../daemon/log';
import { createMetrics } from '../../daemon/metrics';
import type { AttachmentSpec } from '../../daemon/attachment';
import { MessageType } from '../../daemon/dhcp4/types';
import { CniError } from '../../shared/errors';
import { MemoryDhcpServer, OWN_NETNS } from '../helpers/memory-packet-path';

interface Rig {
  dir: string;
  store: LeaseStore;
  server: MemoryDhcpServer;
  mgr: LeaseManager;
}

const rigs: Rig[] = [];

function rig(server = new MemoryDhcpServer(), dir = fs.mkdtempSync(path.join(os.tmpdir(), 'per-mgr-')), metrics = createMetrics(() => ({}), false)): Rig {
  const store = new LeaseStore(path.join(dir, 'state'));
  store.init();
  const mgr = new LeaseManager({
    store,
    log: silentLogger,
    metrics,
    hostPrefix: '',
    alwaysBroadcast: false,
    timeoutMs: 3000,
    resendMaxMs: 62_000,
    resendTimeoutMs: 208_000,
    openSocket: server.openSocket,
  });
  const r = { dir, store, server, mgr };
  rigs.push(r);
  return r;
}

function spec(containerId: string, ifname = 'eth1', netName = 'net1'): AttachmentSpec {
  return { containerId, netName, ifname, netns: OWN_NETNS, provide: [], requestList: [1, 3, 6] };
}

const files = (r: Rig): string[] => fs.readdirSync(r.store.dir).filter((f) => f.endsWith('.json'));

async function rejection(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

describe('LeaseManager (in-memory packet path)', () => {
  afterEach(() => {
    for (const r of rigs.splice(0)) {
      r.mgr.shutdown();
      fs.rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('ADD runs DORA, answers BOUND and leaves exactly one valid lease file', async () => {
    const r = rig();
    const v = await r.mgr.add(spec('c1'));
    assert.equal(v.state, 'BOUND');
    assert.equal(v.address, '198.18.0.10');
    assert.equal(r.server.count(MessageType.DISCOVER), 1);
    assert.equal(r.server.count(MessageType.REQUEST), 1);
    assert.deepEqual(files(r), [path.basename(r.store.fileFor(attachmentKey('c1', 'net1', 'eth1')))]);
    const back = r.store.load();
    assert.equal(back.quarantined.length, 0);
    assert.equal(back.entries[0]?.lease?.address, '198.18.0.10');
  });

  it('two ADDs of one attachment at once are serialized: one exchange, the same answer', async () => {
    const r = rig();
    const [a, b] = await Promise.all([r.mgr.add(spec('c1')), r.mgr.add(spec('c1'))]);
    assert.equal(a.address, b.address);
    assert.equal(r.server.count(MessageType.DISCOVER), 1);
    assert.equal(r.mgr.count, 1);
  });

  it('ADDs of different attachments proceed in parallel and get distinct addresses', async () => {
    const r = rig();
    const views = await Promise.all(Array.from({ length: 20 }, (_, i) => r.mgr.add(spec(`c${i}`))));
    assert.equal(new Set(views.map((v) => v.address)).size, 20);
    assert.equal(files(r).length, 20);
  });

  it('a DEL that races an ADD waits for it, then releases: no lease, no file, RELEASE sent', async () => {
    const r = rig();
    const add = r.mgr.add(spec('c1'));
    const del = r.mgr.del(spec('c1'));
    await add;
    await del;
    assert.equal(r.mgr.count, 0);
    assert.deepEqual(files(r), []);
    assert.equal(r.server.count(MessageType.RELEASE), 1);
    assert.equal(r.server.openSockets, 0);
  });

  it('a duplicate address (a server that keys by MAC, two pods with one MAC) fails with 101 and leaves no file', async () => {
    const server = new MemoryDhcpServer({ keyBy: 'mac' });
    const mac = Buffer.from([0x02, 0, 0, 0, 0, 0x99]);
    server.macFor = () => mac;
    const r = rig(server);
    const first = await r.mgr.add(spec('c1'));
    const err = await rejection(r.mgr.add(spec('c2')));
    assert.equal(err.code, 101);
    assert.match(err.message, new RegExp(`${first.address?.replace(/\./g, '\\.')}, which c1/eth1 already holds`));
    assert.deepEqual(files(r), [path.basename(r.store.fileFor(attachmentKey('c1', 'net1', 'eth1')))], 'only the holder has a file');
    assert.equal(r.server.count(MessageType.RELEASE), 0, 'no RELEASE: it would free the other pod\'s lease');
    // a restart resumes only the holder
    r.mgr.shutdown();
    const again = rig(server, r.dir);
    assert.equal(again.mgr.restore().resumed, 1);
    assert.deepEqual(again.mgr.list().map((v) => v.containerId), ['c1']);
  });

  it('an ADD whose lease cannot be written fails with code 5 naming the path and errno, and releases the lease', async () => {
    const r = rig();
    // a file where the state dir should be: every write fails with ENOTDIR, also as root
    fs.rmSync(r.store.dir, { recursive: true });
    fs.writeFileSync(r.store.dir, 'not a directory\n');
    const err = await rejection(r.mgr.add(spec('c1')));
    assert.equal(err.code, 5);
    assert.ok(err.message.includes(r.store.dir), err.message);
    assert.match(err.message, /ENOTDIR/);
    assert.equal(r.server.count(MessageType.RELEASE), 1, 'the server gets its lease back');
    assert.equal(r.server.leaseOf(Buffer.from('\x00c1/net1/eth1', 'latin1').toString('hex')), undefined);
    assert.equal(r.mgr.count, 0);
    assert.equal(r.server.openSockets, 0);
  });

  it('an ADD that gets no answer fails with 11 and leaves no file', async () => {
    const r = rig(new MemoryDhcpServer({ answer: 'silent' }));
    const err = await rejection(r.mgr.add(spec('c1')));
    assert.equal(err.code, 11);
    assert.deepEqual(files(r), []);
    assert.equal(r.mgr.count, 0);
  });

  it('an ADD that is NAKed fails with 100', async () => {
    const r = rig(new MemoryDhcpServer({ answer: 'nak' }));
    const err = await rejection(r.mgr.add(spec('c1')));
    assert.equal(err.code, 100);
    assert.deepEqual(files(r), []);
  });

  it('CHECK passes for the held address and fails with 102 for another, an unknown attachment or another netns', async () => {
    const r = rig();
    const v = await r.mgr.add(spec('c1'));
    const held = `${v.address}/${v.prefixLength}`;
    assert.equal((await r.mgr.check(spec('c1'), OWN_NETNS, [held])).address, v.address);
    assert.equal((await rejection(r.mgr.check(spec('c1'), OWN_NETNS, ['198.18.0.200/24']))).code, 102);
    assert.equal((await rejection(r.mgr.check(spec('nobody'), OWN_NETNS, [held]))).code, 102);
    assert.equal((await rejection(r.mgr.check(spec('c1'), '/proc/1/ns/net', [held]))).code, 102);
    assert.equal(r.server.seen.length, 2, 'CHECK never sends a packet');
  });

  it('GC racing ADDs releases exactly the attachments not in the valid list', async () => {
    const r = rig();
    await Promise.all(['a', 'b', 'c'].map((c) => r.mgr.add(spec(c))));
    const late = r.mgr.add(spec('d'));
    const released = await r.mgr.gc('net1', [{ containerId: 'a', ifname: 'eth1' }, { containerId: 'd', ifname: 'eth1' }]);
    await late;
    assert.equal(released, 2);
    assert.deepEqual(r.mgr.list().map((v) => v.containerId).sort(), ['a', 'd']);
    assert.equal(files(r).length, 2);
    assert.equal(r.server.count(MessageType.RELEASE), 2);
  });

  it('restore resumes every stored lease BOUND without a packet, and drops one whose namespace is gone', async () => {
    const r = rig();
    await r.mgr.add(spec('c1'));
    await r.mgr.add(spec('c2'));
    r.mgr.shutdown();
    const gone = r.store.load().entries.find((e) => e.containerId === 'c2');
    assert.ok(gone);
    r.store.save({ ...gone, netns: path.join(r.dir, 'no-such-netns') });
    const before = r.server.seen.length;
    const again = rig(r.server, r.dir);
    assert.deepEqual(again.mgr.restore(), { resumed: 1, dropped: 1, quarantined: 0 });
    assert.deepEqual(again.mgr.list().map((v) => [v.containerId, v.state]), [['c1', 'BOUND']]);
    assert.equal(r.server.seen.length, before, 'a lease within T1 needs no packet');
    assert.equal(files(again).length, 1, 'the vanished pod\'s file is gone');
  });

  it('restore quarantines unreadable files and reports them', async () => {
    const r = rig();
    await r.mgr.add(spec('c1'));
    r.mgr.shutdown();
    fs.writeFileSync(path.join(r.store.dir, 'aaaa.json'), '{"format": 1, "contai');
    fs.symlinkSync(path.join(r.dir, 'nowhere'), path.join(r.store.dir, 'bbbb.json'));
    const again = rig(r.server, r.dir);
    assert.deepEqual(again.mgr.restore(), { resumed: 1, dropped: 0, quarantined: 2 });
    assert.deepEqual(again.mgr.quarantined.map((q) => q.name).sort(), ['aaaa.json', 'bbbb.json']);
  });

  it('list pages: offset and limit over the matches, in order', async () => {
    const r = rig();
    for (let i = 0; i < 7; i++) await r.mgr.add(spec(`c${i}`));
    const ids = (o: number, l: number) => r.mgr.list({ offset: o, limit: l }).map((v) => v.containerId);
    assert.deepEqual(ids(0, 3), ['c0', 'c1', 'c2']);
    assert.deepEqual(ids(3, 3), ['c3', 'c4', 'c5']);
    assert.deepEqual(ids(6, 3), ['c6']);
    assert.deepEqual(ids(9, 3), []);
    assert.deepEqual(r.mgr.list({ containerId: 'c6', offset: 0, limit: 3 }).map((v) => v.containerId), ['c6']);
    assert.equal(r.mgr.list({ state: 'bound' }).length, 7);
  });

  it('a renewal is written to the lease file and observed in cni_dhcp_renew_duration_seconds', async function () {
    this.timeout(30_000);
    const metrics = createMetrics(() => ({}), false);
    // 4 s is the shortest lease the client honours: T1 comes ~2 s after the ACK
    const r = rig(new MemoryDhcpServer({ leaseTime: 4 }), undefined, metrics);
    const first = await r.mgr.add(spec('c1'));
    for (let i = 0; r.server.count(MessageType.REQUEST) < 2; i++) {
      if (i > 400) assert.fail('no renewal within 20 s');
      await new Promise((res) => setTimeout(res, 50));
    }
    await new Promise((res) => setImmediate(res));
    await r.store.drain();
    const stored = r.store.load().entries[0];
    assert.ok(stored?.lease && stored.lease.boundAt > (first.boundAt ?? 0), 'the file holds the renewed lease');
    const hist = (await metrics.renewSeconds.get()).values.find((v) => v.metricName === 'cni_dhcp_renew_duration_seconds_count');
    assert.equal(hist?.value, 1);
  });
});
