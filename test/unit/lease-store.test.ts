import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LeaseStore, QUARANTINE_DIR, STORE_FORMAT, attachmentKey, type StoredAttachment } from '../../daemon/lease-store';

function entry(containerId = 'c1'): StoredAttachment {
  return {
    format: STORE_FORMAT,
    containerId,
    netName: 'net1',
    ifname: 'eth1',
    netns: '/var/run/netns/p1',
    netnsId: '4:4026532000',
    mac: '02:00:00:00:00:01',
    clientId: '0063312f6e6574312f65746831',
    provide: [{ code: 12, value: 'pod-a' }],
    requestList: [1, 3, 6],
    lease: {
      address: '198.18.0.10',
      prefixLength: 24,
      serverId: '198.18.0.1',
      serverMac: '52:54:00:12:34:56',
      boundAt: 1_700_000_000_000,
      leaseTime: 3600,
      t1: 1800,
      t2: 3150,
      params: { messageType: 5, serverId: '198.18.0.1', routers: ['198.18.0.1'], dnsServers: ['198.18.0.53'], rejected: [] },
    },
  };
}

describe('LeaseStore', () => {
  let dir: string;
  let store: LeaseStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'per-store-'));
    store = new LeaseStore(path.join(dir, 'state'));
    store.init();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const names = () => fs.readdirSync(store.dir).sort();
  const fileOf = (e: StoredAttachment) => store.fileFor(attachmentKey(e.containerId, e.netName, e.ifname));

  it('save writes the file (mode 0600) through a temp file that does not stay behind; load reads it back', async () => {
    const e = entry();
    store.save(e);
    store.save({ ...e, lease: { ...e.lease!, boundAt: e.lease!.boundAt + 1000 } }, false);
    await store.drain();
    assert.deepEqual(names(), [path.basename(fileOf(e))]);
    assert.equal(fs.statSync(fileOf(e)).mode & 0o777, 0o600);
    const back = store.load();
    assert.deepEqual(back.quarantined, []);
    assert.equal(back.entries.length, 1);
    assert.equal(back.entries[0]?.lease?.boundAt, e.lease!.boundAt + 1000);
  });

  /** Records the order of flushes and renames while `fn` runs (the CommonJS fs object is what every `import * as fs` reads at call time). */
  async function traced(fn: () => Promise<void> | void): Promise<string[]> {
    const calls: string[] = [];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cjs = require('node:fs') as Record<string, (...a: unknown[]) => unknown>;
    const probe = await fs.promises.open(path.join(dir, 'probe'), 'w');
    const handle = Object.getPrototypeOf(probe) as Record<string, (...a: unknown[]) => unknown>;
    await probe.close();
    const undo: Array<() => void> = [];
    const wrap = (obj: Record<string, (...a: unknown[]) => unknown>, name: string, label: string) => {
      const real = obj[name] as (...a: unknown[]) => unknown;
      obj[name] = function (this: unknown, ...args: unknown[]) {
        // renames elsewhere (tsx's compile cache) are not ours
        if (label !== 'rename' || String(args[1]).startsWith(store.dir)) calls.push(label);
        return real.apply(this, args);
      };
      undo.push(() => (obj[name] = real));
    };
    wrap(cjs, 'fsyncSync', 'flush');
    wrap(cjs, 'fdatasyncSync', 'flush');
    wrap(handle, 'datasync', 'flush');
    wrap(handle, 'sync', 'flush');
    wrap(cjs, 'renameSync', 'rename');
    try {
      await fn();
    } finally {
      for (const u of undo) u();
    }
    return calls;
  }

  it('a new lease is flushed before the rename and the directory synced, all before save returns', async () => {
    const calls = await traced(() => store.save(entry(), true));
    assert.deepEqual(calls, ['flush', 'rename', 'flush']);
  });

  it('saveNew (an ADD) flushes the file before the rename and syncs the directory, all before it resolves', async () => {
    const e = entry();
    const calls = await traced(async () => {
      const p = store.saveNew(e);
      assert.ok(!fs.existsSync(fileOf(e)), 'nothing renamed while the write is in flight');
      await p;
    });
    assert.deepEqual(calls, ['flush', 'rename', 'flush']);
    assert.deepEqual(names(), [path.basename(fileOf(e))], 'no temp file left');
    assert.equal(fs.statSync(fileOf(e)).mode & 0o777, 0o600);
    assert.deepEqual(store.load().entries, [e]);
  });

  it('saveNew rejects with the errno and the path, and leaves neither a temp file nor a changed lease', async () => {
    const e = entry();
    await store.saveNew(e);
    for (let i = 0; i < 10; i++) fs.mkdirSync(`${fileOf(e)}.${process.pid}.${i}.tmp`, { recursive: true });
    const before = names();
    await assert.rejects(store.saveNew({ ...e, lease: { ...e.lease!, address: '198.18.0.99' } }), (err: Error) => {
      assert.match(err.message, /EISDIR/);
      assert.ok(err.message.includes(store.dir));
      return true;
    });
    assert.deepEqual(names(), before);
    fs.rmSync(store.dir, { recursive: true });
    fs.writeFileSync(store.dir, 'x');
    await assert.rejects(store.saveNew(e), /ENOTDIR/);
  });

  it('a renewal in flight never renames over a saveNew that started after it', async () => {
    const e = entry();
    const at = (t: number) => ({ ...e, lease: { ...e.lease!, boundAt: t } });
    store.save(at(1), false);
    await store.saveNew(at(2));
    await store.drain();
    assert.equal(store.load().entries[0]?.lease?.boundAt, 2);
  });

  it('a renewal is flushed before the rename makes it visible, off the event loop', async () => {
    const e = entry();
    store.save(e);
    const renewed = { ...e, lease: { ...e.lease!, boundAt: e.lease!.boundAt + 60_000 } };
    const calls = await traced(async () => {
      store.save(renewed, false);
      // read the file itself: load() would quarantine the write's temp file (it runs only at start-up)
      const now = JSON.parse(fs.readFileSync(fileOf(e), 'utf8')) as StoredAttachment;
      assert.equal(now.lease!.boundAt, e.lease!.boundAt, 'not renamed yet when save returns');
      await store.drain();
    });
    assert.deepEqual(calls, ['flush', 'rename'], calls.join(', '));
    assert.equal(store.load().entries[0]?.lease?.boundAt, renewed.lease.boundAt);
    assert.deepEqual(names(), [path.basename(fileOf(e))], 'no temp file left');
  });

  it('a renewal still in flight never renames over a newer renewal, a new lease or a remove', async () => {
    const e = entry();
    const at = (t: number) => ({ ...e, lease: { ...e.lease!, boundAt: t } });
    store.save(at(1));
    store.save(at(2), false);
    store.save(at(3), false);
    await store.drain();
    assert.equal(store.load().entries[0]?.lease?.boundAt, 3);
    store.save(at(4), false);
    store.save(at(5), true);
    await store.drain();
    assert.equal(store.load().entries[0]?.lease?.boundAt, 5, 'the new lease wins over the older renewal');
    store.save(at(6), false);
    store.remove(attachmentKey(e.containerId, e.netName, e.ifname));
    await store.drain();
    assert.deepEqual(names(), [], 'a DEL is not undone by a renewal that finished after it');
    store.save(at(7));
    store.save(at(8), false);
    const removing = store.removeDurably(attachmentKey(e.containerId, e.netName, e.ifname));
    await Promise.all([removing, store.drain()]);
    assert.deepEqual(names(), [], 'nor is a DEL off the event loop');
  });

  it('a renewal that cannot be written is reported and leaves the previous file', async () => {
    const errors: string[] = [];
    const s2 = new LeaseStore(store.dir, { onRenewalError: (err) => errors.push(err.message) });
    const e = entry();
    s2.save(e);
    fs.mkdirSync(path.join(dir, 'elsewhere'));
    // the temp names are taken by directories: every open fails with EISDIR
    const seqBase = path.basename(fileOf(e));
    for (let i = 0; i < 10; i++) fs.mkdirSync(path.join(store.dir, `${seqBase}.${process.pid}.${i}.tmp`), { recursive: true });
    s2.save({ ...e, lease: { ...e.lease!, address: '198.18.0.99' } }, false);
    await s2.drain();
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /EISDIR/);
    assert.equal(s2.load().entries[0]?.lease?.address, '198.18.0.10');
  });

  it('a failed save throws the errno and the path, and leaves neither a temp file nor a changed lease', () => {
    const e = entry();
    store.save(e);
    fs.rmSync(store.dir, { recursive: true, force: true });
    fs.writeFileSync(store.dir, 'x');
    assert.throws(() => store.save({ ...e, lease: { ...e.lease!, address: '198.18.0.99' } }), (err: Error) => {
      assert.match(err.message, /ENOTDIR/);
      assert.ok(err.message.includes(store.dir));
      return true;
    });
  });

  it('a state dir that is a file fails every save with ENOTDIR (the case root cannot chmod away)', () => {
    fs.rmSync(store.dir, { recursive: true });
    fs.writeFileSync(store.dir, 'x');
    assert.throws(() => store.save(entry()), /ENOTDIR/);
  });

  it('remove deletes the file and ignores one that is already gone', () => {
    const e = entry();
    store.save(e);
    store.remove(attachmentKey(e.containerId, e.netName, e.ifname));
    store.remove(attachmentKey(e.containerId, e.netName, e.ifname));
    assert.deepEqual(names(), []);
  });

  it('removeDurably deletes the file off the event loop and ignores one that is already gone', async () => {
    const e = entry();
    store.save(e);
    await store.removeDurably(attachmentKey(e.containerId, e.netName, e.ifname));
    assert.deepEqual(names(), []);
    await store.removeDurably(attachmentKey(e.containerId, e.netName, e.ifname));
    assert.deepEqual(names(), []);
  });

  it('removeDurably rejects with the errno when the file cannot be deleted', async () => {
    const e = entry();
    store.save(e);
    const file = store.fileFor(attachmentKey(e.containerId, e.netName, e.ifname));
    fs.rmSync(file);
    fs.mkdirSync(file);
    await assert.rejects(store.removeDurably(attachmentKey(e.containerId, e.netName, e.ifname)), /EISDIR|EPERM/);
  });

  describe('load quarantines what it cannot resume, and never throws', () => {
    const bad: Array<[string, (e: StoredAttachment) => unknown, RegExp]> = [
      ['valid JSON that is not an object', () => [1, 2, 3], /not an object/],
      ['another format', (e) => ({ ...e, format: 2 }), /format/],
      ['a missing containerId', (e) => ({ ...e, containerId: undefined }), /containerId/],
      ['a lease without an address', (e) => ({ ...e, lease: { ...e.lease!, address: undefined } }), /lease\.address/],
      ['an address that is not IPv4', (e) => ({ ...e, lease: { ...e.lease!, address: 'fe80::1' } }), /lease\.address/],
      ['a prefix length of 40', (e) => ({ ...e, lease: { ...e.lease!, prefixLength: 40 } }), /prefixLength/],
      ['t1 as a string', (e) => ({ ...e, lease: { ...e.lease!, t1: '1800' } }), /t1/],
      ['provide holding null', (e) => ({ ...e, provide: [null] }), /provide/],
      ['requestList holding a string', (e) => ({ ...e, requestList: ['x'] }), /requestList/],
      ['a clientId that is not hex', (e) => ({ ...e, clientId: 'zz' }), /clientId/],
      ['a mac that is not a MAC', (e) => ({ ...e, mac: 'eth0' }), /mac/],
      ['routers as a string', (e) => ({ ...e, lease: { ...e.lease!, params: { ...e.lease!.params, routers: '198.18.0.1' } } }), /routers/],
      ['routes without gw', (e) => ({ ...e, lease: { ...e.lease!, params: { ...e.lease!.params, classlessRoutes: [{ dst: '0.0.0.0/0' }] } } }), /classlessRoutes/],
      ['no params', (e) => ({ ...e, lease: { ...e.lease!, params: null } }), /params/],
    ];
    for (const [what, make, reason] of bad) {
      it(`wrong shape: ${what}`, () => {
        const e = entry();
        fs.writeFileSync(fileOf(e), JSON.stringify(make(e)));
        const r = store.load();
        assert.deepEqual(r.entries, []);
        assert.equal(r.quarantined.length, 1);
        assert.match(r.quarantined[0]?.reason ?? '', reason);
      });
    }

    it('truncated, garbage, empty, a dangling symlink, a symlink to a good file, a directory, a temp file, a misnamed file: all set aside, the good one kept', () => {
      const good = entry('good');
      store.save(good);
      const text = JSON.stringify(entry('c1'), null, 1);
      const put = (name: string, data: string | Buffer) => fs.writeFileSync(path.join(store.dir, name), data);
      put('a-truncated.json', text.slice(0, text.length / 2));
      put('b-garbage.json', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]));
      put('c-empty.json', '');
      fs.symlinkSync(path.join(dir, 'does-not-exist.json'), path.join(store.dir, 'd-dangling.json'));
      fs.symlinkSync(fileOf(good), path.join(store.dir, 'e-link.json'));
      fs.mkdirSync(path.join(store.dir, 'f-dir.json'));
      put('g.json.123.tmp', text);
      put('h-misnamed.json', text);
      const r = store.load();
      assert.deepEqual(r.entries.map((e) => e.containerId), ['good']);
      const why = Object.fromEntries(r.quarantined.map((q) => [q.name, q.reason]));
      assert.deepEqual(Object.keys(why).sort(), ['a-truncated.json', 'b-garbage.json', 'c-empty.json', 'd-dangling.json', 'e-link.json', 'f-dir.json', 'g.json.123.tmp', 'h-misnamed.json']);
      assert.match(why['a-truncated.json'] ?? '', /unreadable/);
      assert.match(why['d-dangling.json'] ?? '', /symbolic link/);
      assert.match(why['g.json.123.tmp'] ?? '', /temp file/);
      assert.match(why['h-misnamed.json'] ?? '', /does not match/);
      for (const q of r.quarantined) assert.ok(q.movedTo && fs.existsSync(path.dirname(q.movedTo)) && path.basename(path.dirname(q.movedTo)) === QUARANTINE_DIR);
      // the link itself was moved, not the file it named
      assert.ok(fs.existsSync(fileOf(good)));
      // and the next start is clean
      const again = store.load();
      assert.deepEqual(again.quarantined, []);
      assert.equal(again.entries.length, 1);
    });

    it('a file it cannot move aside is still reported, and the load goes on', () => {
      store.save(entry('good'));
      fs.writeFileSync(path.join(store.dir, 'bad.json'), '{');
      fs.writeFileSync(path.join(store.dir, QUARANTINE_DIR), 'a file where quarantine/ should be');
      const r = store.load();
      assert.equal(r.entries.length, 1);
      assert.equal(r.quarantined.length, 1);
      assert.equal(r.quarantined[0]?.movedTo, undefined);
      assert.match(r.quarantined[0]?.reason ?? '', /could not move it aside/);
    });

    it('a state dir that does not exist yet loads as empty', () => {
      assert.deepEqual(new LeaseStore(path.join(dir, 'nope')).load(), { entries: [], quarantined: [] });
    });
  });
});
