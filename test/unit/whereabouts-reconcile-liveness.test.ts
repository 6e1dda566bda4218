/** The node liveness source over its records: files stand in for namespace pins (stat gives dev:ino either way). */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as client from 'prom-client';
import { silentLogger } from '../../daemon/log';
import { attachmentKey } from '../../daemon/whereabouts/reconcile/live-set';
import { createReconcileMetrics } from '../../daemon/whereabouts/reconcile/metrics';
import { NodeLiveness } from '../../daemon/whereabouts/reconcile/node-liveness';
import { NodeRecords, RECORDS_FILE } from '../../daemon/whereabouts/reconcile/node-records';
import type { AllocationRecord } from '../../daemon/whereabouts/store';

const soon = { deadline: Date.now() + 10_000 };

describe('whereabouts reconciler: node liveness and its records', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-live-'));
    fs.mkdirSync(path.join(dir, 'netns'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pin = (name: string) => {
    const p = path.join(dir, 'netns', name);
    fs.writeFileSync(p, '');
    return p;
  };
  const alloc = (containerId: string, createdAt: number, network = 'n1'): AllocationRecord => ({ offset: '1', address: '198.18.0.1', containerId, podRef: 'ns/p', ifname: 'net1', node: 'n', createdAt, network });

  it('a namespace pin that exists is alive; gone, or naming another namespace, is gone; never seen or its directory hidden is unknown', async () => {
    const recs = new NodeRecords(dir, silentLogger);
    const add = (containerId: string, netns: string) => recs.added({ containerId, ifname: 'net1', netns, network: 'n1' }, 1);
    add('alive', pin('alive'));
    add('gone', pin('gone'));
    fs.rmSync(path.join(dir, 'netns', 'gone'));
    const reused = pin('reused');
    add('reused', reused);
    fs.writeFileSync(`${reused}.new`, '');
    fs.renameSync(`${reused}.new`, reused); // the same path, another inode
    add('unseen', path.join(dir, 'netns', 'never-existed'));
    add('hidden', path.join(dir, 'not-mounted-here', 'x'));
    add('noNetns', '');
    const live = await new NodeLiveness(recs).snapshot([], soon);
    assert.match(live.alive.get(attachmentKey('alive', '*')) ?? '', /^netns /);
    assert.match(live.gone.get(attachmentKey('gone', '*')) ?? '', /^netns-gone/);
    assert.match(live.gone.get(attachmentKey('reused', '*')) ?? '', /another namespace/);
    for (const id of ['unseen', 'hidden', 'noNetns']) {
      assert.ok(!live.alive.has(attachmentKey(id, '*')) && !live.gone.has(attachmentKey(id, '*')), id);
    }
    assert.equal(live.complete, false);
  });

  it('the latest GC list: listed is alive; unlisted is gone only when the list is newer than the allocation', async () => {
    const recs = new NodeRecords(dir, silentLogger);
    recs.gcArrived('n1', [{ containerId: 'old-listed', ifname: 'net1' }], 1000);
    recs.gcArrived('n1', [{ containerId: 'listed', ifname: 'net1' }], 2000);
    const live = await new NodeLiveness(recs).snapshot([alloc('listed', 500), alloc('old-listed', 500), alloc('after', 2500), alloc('other-net', 500, 'n2')], soon);
    assert.match(live.alive.get(attachmentKey('listed', 'net1')) ?? '', /gc-list/);
    assert.match(live.gone.get(attachmentKey('old-listed', 'net1')) ?? '', /not-in-gc-list/);
    for (const id of ['after', 'other-net']) assert.ok(!live.alive.has(attachmentKey(id, 'net1')) && !live.gone.has(attachmentKey(id, 'net1')), id);
  });

  it('records survive a restart (flush, load), DEL forgets an interface, prune forgets containers that hold nothing', () => {
    const recs = new NodeRecords(dir, silentLogger);
    recs.added({ containerId: 'c1', ifname: 'net1', netns: pin('c1'), network: 'n1' }, 10);
    recs.added({ containerId: 'c1', ifname: 'net2', netns: path.join(dir, 'netns', 'c1'), network: 'n1' }, 10);
    recs.added({ containerId: 'c2', ifname: 'net1', netns: pin('c2'), network: 'shared' }, 10, { type: 'whereabouts', range: '198.18.0.0/24', datastore: 'etcd', etcd_host: '127.0.0.1:1' });
    recs.gcArrived('n1', [{ containerId: 'c1', ifname: 'net1' }], 20);
    recs.flush();
    assert.equal(fs.statSync(path.join(dir, RECORDS_FILE)).mode & 0o777, 0o600);
    const back = new NodeRecords(dir, silentLogger);
    back.load();
    assert.deepEqual(back.netnsRecords().map((r) => [r.containerId, r.ifnames]), [['c1', ['net1', 'net2']], ['c2', ['net1']]]);
    assert.equal(back.gcList('n1')?.valid.length, 1);
    assert.equal(back.sharedIpamConfigs().length, 1);
    back.deleted('c1', 'net1');
    assert.deepEqual(back.netnsRecords().find((r) => r.containerId === 'c1')?.ifnames, ['net2']);
    back.prune(new Set(['c2']), 100);
    assert.deepEqual(back.netnsRecords().map((r) => r.containerId), ['c2']);
    back.flush();
    fs.writeFileSync(path.join(dir, RECORDS_FILE), '{broken');
    const broken = new NodeRecords(dir, silentLogger);
    broken.load(); // unreadable records are hints lost: nothing is known, so nothing will be freed
    assert.deepEqual(broken.netnsRecords(), []);
  });

  it('metrics count each run by trigger and each decision by reason', async () => {
    const registry = new client.Registry();
    const m = createReconcileMetrics(registry);
    m.record({ trigger: 'schedule', startedAt: 0, finishedAt: 5000, stores: 1, examined: 4, kept: 3, freed: 1, reasons: { 'keep:young': 2, 'keep:alive-container': 1, 'free:gone': 1 }, freedAllocations: [], errors: [] });
    const text = await registry.metrics();
    assert.match(text, /cni_whereabouts_reconcile_runs_total\{trigger="schedule",outcome="ok"\} 1/);
    assert.match(text, /cni_whereabouts_reconcile_allocations_total\{decision="keep",reason="young"\} 2/);
    assert.match(text, /cni_whereabouts_reconcile_allocations_total\{decision="free",reason="gone"\} 1/);
    assert.match(text, /cni_whereabouts_reconcile_last_run_freed 1/);
    assert.match(text, /cni_whereabouts_reconcile_last_run_timestamp_seconds 5/);
  });
});
