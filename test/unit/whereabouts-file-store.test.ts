import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStore } from '../../daemon/whereabouts/file-store';
import { DirLockedError } from '../../daemon/whereabouts/dir-lock';
import type { AllocationRecord, PoolRef } from '../../daemon/whereabouts/store';

const pool: PoolRef = { networkName: '', range: '198.18.0.0/24' };
const far = { deadline: Date.now() + 60_000 };

function rec(offset: number, containerId = `c${offset}`): AllocationRecord {
  return { offset: String(offset), address: `198.18.0.${offset}`, containerId, podRef: `ns/p${offset}`, ifname: 'net1', node: 'n', createdAt: 1, network: 'net' };
}

describe('whereabouts file store', () => {
  let dir: string;
  const open: FileStore[] = [];
  const store = () => {
    const s = new FileStore(dir);
    s.open();
    open.push(s);
    return s;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-fs-'));
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('create is conditional on the offset being free; delete on the holder', async () => {
    const s = store();
    assert.equal(await s.commit([{ op: 'create', pool, allocation: rec(1) }], far), true);
    assert.equal(await s.commit([{ op: 'create', pool, allocation: rec(1, 'other') }], far), false);
    assert.equal(await s.commit([{ op: 'delete', pool, allocation: rec(1, 'other') }], far), false);
    assert.equal(await s.commit([{ op: 'delete', pool, allocation: rec(1) }], far), true);
    assert.deepEqual((await s.read([pool], far))[0]?.allocations, []);
  });

  it('a commit is all or nothing: one failed condition leaves memory and disk as they were', async () => {
    const s = store();
    await s.commit([{ op: 'create', pool, allocation: rec(2) }], far);
    const before = fs.readFileSync(path.join(dir, 'state.json'), 'utf8');
    const res = { networkName: '', address: '198.18.0.3', containerId: 'c3', podRef: 'ns/p3', ifname: 'net1', pool };
    assert.equal(await s.commit([{ op: 'create', pool, allocation: rec(3) }, { op: 'reserve', reservation: res }, { op: 'create', pool, allocation: rec(2, 'x') }], far), false);
    assert.deepEqual((await s.read([pool], far))[0]?.allocations.map((a) => a.offset), ['2']);
    assert.deepEqual(await s.readReservations('', far), []);
    assert.equal(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'), before);
  });

  it('what was committed is there after a restart; the revision moves with every change', async () => {
    const s = store();
    await s.commit([{ op: 'create', pool, allocation: rec(4) }], far);
    const r1 = (await s.read([pool], far))[0]?.revision;
    await s.commit([{ op: 'create', pool, allocation: rec(5) }], far);
    const r2 = (await s.read([pool], far))[0]?.revision;
    assert.notEqual(r1, r2);
    await s.close();
    const again = store();
    assert.deepEqual((await again.read([pool], far))[0]?.allocations.map((a) => a.address), ['198.18.0.4', '198.18.0.5']);
  });

  it('a second daemon on the same directory is refused, naming the holder', () => {
    store();
    assert.throws(() => store(), (err: Error) => err instanceof DirLockedError && err.message.includes(`pid ${process.pid}`) && err.message.includes(dir));
  });

  it('an unreadable state file stops the start instead of starting empty', () => {
    fs.writeFileSync(path.join(dir, 'state.json'), '{"format":1,"pools":[');
    assert.throws(() => store(), /state\.json is unreadable/);
  });

  it('kill -9 at any instant loses no acknowledged commit and leaves a readable document', async function () {
    this.timeout(120_000);
    // a child commits one allocation after another and prints each offset once commit() resolved
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', `
      const { FileStore } = require(${JSON.stringify(path.resolve(__dirname, '../../daemon/whereabouts/file-store'))});
      const s = new FileStore(${JSON.stringify(dir)}); s.open();
      const pool = { networkName: '', range: '198.18.0.0/16' };
      (async () => { for (let i = 1; i < 60000; i++) {
        await s.commit([{ op: 'create', pool, allocation: { offset: String(i), address: 'x' + i, containerId: 'c' + i, podRef: '', ifname: 'e', node: 'n', createdAt: 0 } }], { deadline: Date.now() + 10000 });
        process.stdout.write(i + '\\n');
      } })();
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (out.split('\n').length > 200) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const acked = out.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
    const s = store();
    const held = new Set((await s.read([{ networkName: '', range: '198.18.0.0/16' }], far))[0]?.allocations.map((a) => Number(a.offset)));
    const lost = acked.filter((i) => !held.has(i));
    assert.deepEqual(lost, [], `acknowledged but lost: ${lost.slice(0, 10).join(', ')}`);
    assert.ok(held.size >= acked.length && held.size <= acked.length + 1, `held ${held.size}, acknowledged ${acked.length}`);
  });
});
