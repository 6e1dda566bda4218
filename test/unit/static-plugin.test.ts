/** The verbs, in process, through the shared CNI frame with a fake environment and stdin. */
import assert from 'node:assert/strict';
import { runCni } from '../../shared/cni-skel';
import { staticHandlers, staticRunOptions } from '../../static/static-plugin';

const BASE = { CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };

async function call(verb: string, stdin: unknown, extraEnv: Record<string, string> = {}): Promise<{ code: number; out: unknown }> {
  let text = '';
  const code = await runCni(
    {
      env: { ...BASE, CNI_COMMAND: verb, ...extraEnv },
      stdin: async () => (typeof stdin === 'string' ? stdin : JSON.stringify(stdin)),
      stdout: (t) => {
        text += t;
      },
    },
    staticHandlers,
    staticRunOptions,
  );
  return { code, out: text ? JSON.parse(text) : '' };
}

const V4 = { address: '198.18.0.10/24', gateway: '198.18.0.1' };
const net = (cniVersion: string, extra: Record<string, unknown> = {}) => ({ cniVersion, name: 'n', ipam: { addresses: [V4] }, ...extra });

describe('static: verbs', function () {
  it('ADD answers in the config\'s version, always with dns', async function () {
    assert.deepEqual(await call('ADD', net('1.1.0')), { code: 0, out: { cniVersion: '1.1.0', ips: [V4], dns: {} } });
    assert.deepEqual(await call('ADD', net('0.4.0')), { code: 0, out: { cniVersion: '0.4.0', ips: [{ version: '4', ...V4 }], dns: {} } });
    assert.deepEqual(await call('ADD', net('0.1.0')), { code: 0, out: { cniVersion: '0.1.0', ip4: { ip: V4.address, gateway: V4.gateway }, dns: {} } });
  });

  it('DEL succeeds whatever the ipam section and CNI_ARGS hold', async function () {
    assert.deepEqual(await call('DEL', { cniVersion: '1.1.0', name: 'n', ipam: 5 }, { CNI_ARGS: ';;=' }), { code: 0, out: '' });
  });

  it('CHECK works at 1.1.0, with a prevResult of 1.0.0 or 1.1.0', async function () {
    for (const v of ['1.0.0', '1.1.0']) {
      assert.deepEqual(await call('CHECK', net('1.1.0', { prevResult: { cniVersion: v, ips: [V4] } })), { code: 0, out: '' });
    }
  });

  it('CHECK takes a prevResult without cniVersion to be in the config\'s version', async function () {
    assert.equal((await call('CHECK', net('0.4.0', { prevResult: { ips: [{ version: '4', ...V4 }] } }))).code, 0);
  });

  it('CHECK reports a bad prevResult address with code 7', async function () {
    const r = await call('CHECK', net('1.0.0', { prevResult: { cniVersion: '1.0.0', ips: [{ address: '198.18.0.10' }] } }));
    assert.deepEqual(r, { code: 1, out: { cniVersion: '1.0.0', code: 7, msg: 'could not parse prevResult: invalid CIDR address: 198.18.0.10' } });
  });

  it('STATUS and GC succeed from 1.1.0 on and are refused before it with code 1', async function () {
    for (const verb of ['STATUS', 'GC']) {
      assert.deepEqual(await call(verb, net('1.1.0')), { code: 0, out: '' });
      const old = await call(verb, net('1.0.0'));
      assert.equal(old.code, 1);
      assert.equal((old.out as { code: number }).code, 1);
    }
  });

  it('STATUS does not look at the addresses', async function () {
    assert.deepEqual(await call('STATUS', { cniVersion: '1.1.0', name: 'n', ipam: { addresses: [{ address: 'nope' }] } }), { code: 0, out: '' });
  });

  it('a stdin that is not JSON is code 6', async function () {
    const r = await call('ADD', '{nope');
    assert.equal(r.code, 1);
    assert.equal((r.out as { code: number }).code, 6);
  });

  it('VERSION lists every version we speak', async function () {
    const r = await call('VERSION', { cniVersion: '0.4.0' });
    assert.deepEqual(r, { code: 0, out: { cniVersion: '0.4.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] } });
  });
});
