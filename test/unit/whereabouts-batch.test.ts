import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CniError } from '../../shared/errors';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { FileStore } from '../../daemon/whereabouts/file-store';
import { WhereaboutsService, type Attachment } from '../../daemon/whereabouts/ipam-service';
import { silentLogger } from '../../daemon/log';
import { twoNodesIntoExactRange } from '../helpers/whereabouts-batch-scenario';

const pod = (i: number, over: Partial<Attachment> = {}): Attachment => ({ containerId: `c${i}`, podRef: `ns/p${i}`, ifname: 'net1', network: 'netA', ...over });
const pool = { networkName: '', range: '198.18.8.0/22' };
const cfg = parseWhereaboutsIpam({ type: 'whereabouts', range: pool.range, range_start: '198.18.8.10', range_end: '198.18.9.53' });

describe('whereabouts ADD batching (two services, one file store)', () => {
  let dir: string;
  let file: FileStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waf-batch-'));
    file = new FileStore(dir);
    file.open();
  });
  afterEach(async () => {
    await file.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('300 concurrent ADDs from two nodes into exactly 300 addresses, with repeats and re-created sandboxes: all succeed, one address per pod, none twice; freed addresses go lowest first', async () => {
    await twoNodesIntoExactRange(file, file, 300, {});
  });

  it('an ADD whose plugin hung up while it waited is dropped: nothing is allocated for it', async () => {
    const svc = new WhereaboutsService({ storeFor: () => file, node: 'node-a', log: silentLogger });
    let hungUp = false;
    const first = svc.add(cfg, pod(1));
    const dropped = svc.add(cfg, pod(2), () => hungUp);
    const third = svc.add(cfg, pod(3));
    hungUp = true;
    assert.equal((await first)[0]!.address, '198.18.8.10');
    await assert.rejects(dropped, (err: unknown) => err instanceof CniError && err.code === 11);
    assert.equal((await third)[0]!.address, '198.18.8.11', 'the next pod gets the address the dropped one would have had');
    const snap = (await file.read([pool], { deadline: Date.now() + 5000 }))[0]!;
    assert.deepEqual(snap.allocations.map((x) => x.podRef).sort(), ['ns/p1', 'ns/p3']);
    assert.equal(svc.dropped, 1);
  });
});
