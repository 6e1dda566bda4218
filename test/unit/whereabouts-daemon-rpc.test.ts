/**
 * The whereabouts daemon in-process on a temp socket (no root): what the shim sends is checked
 * again on arrival, bad params and bad ipam sections get their codes and change nothing, and
 * the shim's result puts the gateway only on the address whose network holds it.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CniError } from '../../shared/errors';
import { call } from '../../shared/rpc-client';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { WB_DAEMON, WbMethod, type WbAllocationView } from '../../shared/whereabouts-protocol';
import { silentLogger } from '../../daemon/log';
import { runWhereaboutsDaemon } from '../../daemon/whereabouts/main';
import { toResult } from '../../plugin/whereabouts-plugin';

describe('whereabouts daemon RPC', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-rpc-'));
  const sock = path.join(dir, 'wb.sock');
  let stop: () => Promise<void>;
  const rpc = <T>(method: string, params: object) => call<T>(sock, method, params, { ...WB_DAEMON, timeoutMs: 10_000 });
  const codeOf = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof CniError);
      return err.code;
    }
    return 0;
  };
  const good = { network: 'n1', ipam: { type: 'whereabouts', range: '198.18.50.0/29' }, containerId: 'c1', ifname: 'net1', podRef: 'ns/p1' };

  before(async () => {
    ({ stop } = await runWhereaboutsDaemon({ socketPath: sock, stateDir: path.join(dir, 'state'), nodeName: 'n', reconcileNow: false, reconcileGraceMs: 300_000, logLevel: 'error', logFormat: 'text', help: false }, silentLogger));
  });
  after(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('params that are not what the shim sends are refused (code 4) and change nothing', async () => {
    for (const bad of [{}, { ...good, ifname: 'a/b' }, { ...good, containerId: '../x' }, { ...good, ipam: 'x' }, { ...good, podRef: 7 }]) {
      assert.equal(await codeOf(rpc(WbMethod.Add, bad)), 4, JSON.stringify(bad));
    }
    assert.deepEqual(await rpc<WbAllocationView[]>(WbMethod.Allocations, {}), []);
  });

  it('an ipam section that does not parse is code 7; datastore etcd without an etcd store in the build is code 7', async () => {
    assert.equal(await codeOf(rpc(WbMethod.Add, { ...good, ipam: { type: 'whereabouts', range: 'x' } })), 7);
    assert.equal(await codeOf(rpc(WbMethod.Add, { ...good, ipam: { ...good.ipam, datastore: 'etcd', etcd_host: '127.0.0.1:2379' } })), 7);
  });

  it('after all that, it still allocates, and an exhausted /29 is 103', async () => {
    const ips = await Promise.all(Array.from({ length: 6 }, (_, i) => rpc<Array<{ address: string }>>(WbMethod.Add, { ...good, containerId: `c${i}`, podRef: `ns/p${i}` })));
    assert.deepEqual(ips.map((r) => r[0]?.address).sort(), ['198.18.50.1', '198.18.50.2', '198.18.50.3', '198.18.50.4', '198.18.50.5', '198.18.50.6']);
    assert.equal(await codeOf(rpc(WbMethod.Add, { ...good, containerId: 'c9', podRef: 'ns/p9' })), 103);
  });

  it('the result carries the gateway only on the address of its own network', () => {
    const cfg = parseWhereaboutsIpam({ type: 'whereabouts', range: '198.18.51.0/24', gateway: '198.18.51.1', ipRanges: [{ range: '2001:db8:51::/64' }] });
    const r = toResult([{ address: '198.18.51.2', prefix: 24, range: '198.18.51.0/24' }, { address: '2001:db8:51::1', prefix: 64, range: '2001:db8:51::/64' }], cfg);
    assert.deepEqual(r.ips, [{ address: '198.18.51.2/24', gateway: '198.18.51.1' }, { address: '2001:db8:51::1/64' }]);
  });
});
