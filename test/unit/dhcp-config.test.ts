import { strict as assert } from 'node:assert';
import { parseDhcpConfig, resolveProvide, DEFAULT_REQUEST_LIST, DEFAULT_SOCKET_PATH } from '../../shared/dhcp-config';
import { CniError } from '../../shared/errors';

const base = { cniVersion: '1.0.0', name: 'net1', ipam: { type: 'dhcp' } };

function codeOf(fn: () => unknown): { code: number; msg: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
    return { code: err.code, msg: err.message };
  }
  assert.fail('expected an error');
}

describe('dhcp ipam config', () => {
  it('defaults: socket path, full request list, no provide, gateway kept', () => {
    const c = parseDhcpConfig(base);
    assert.equal(c.socketPath, DEFAULT_SOCKET_PATH);
    assert.deepEqual(c.requestList, DEFAULT_REQUEST_LIST);
    assert.deepEqual(c.provide, []);
    assert.equal(c.omitGateway, false);
    assert.equal(c.priority, undefined);
  });

  it('request adds options by name and number; skipDefault drops the defaults', () => {
    const c = parseDhcpConfig({ ...base, ipam: { type: 'dhcp', request: [{ option: 'host-name' }, { option: 42 }] } });
    assert.deepEqual(c.requestList, [...DEFAULT_REQUEST_LIST, 12, 42]);
    const s = parseDhcpConfig({ ...base, ipam: { type: 'dhcp', request: [{ option: 'routers', skipDefault: true }, { option: '121' }] } });
    assert.deepEqual(s.requestList, [3, 121]);
  });

  it('provide takes value or fromArg, and fromArg resolves from CNI_ARGS', () => {
    const c = parseDhcpConfig({
      ...base,
      ipam: { type: 'dhcp', provide: [{ option: 'host-name', fromArg: 'K8S_POD_NAME' }, { option: 'user-class', value: 'pods' }, { option: 60, fromArg: 'MISSING' }] },
    });
    const resolved = resolveProvide(c.provide, new Map([['K8S_POD_NAME', 'web-0']]));
    assert.deepEqual(resolved, [
      { code: 12, value: 'web-0' },
      { code: 77, value: 'pods' },
    ]);
  });

  it('daemonSocketPath, priority and omitGateway are read', () => {
    const c = parseDhcpConfig({ ...base, ipam: { type: 'dhcp', daemonSocketPath: '/x/d.sock', priority: 300, omitGateway: true } });
    assert.equal(c.socketPath, '/x/d.sock');
    assert.equal(c.priority, 300);
    assert.equal(c.omitGateway, true);
  });

  const bad: Array<[string, Record<string, unknown>, number, RegExp]> = [
    ['no cniVersion', { name: 'n', ipam: {} }, 1, /cniVersion/],
    ['unknown cniVersion', { ...base, cniVersion: '9.9.9' }, 1, /incompatible CNI version/],
    ['bad name', { ...base, name: 'has space' }, 7, /network name/],
    ['no ipam', { cniVersion: '1.0.0', name: 'n' }, 7, /ipam/],
    ['ipam not an object', { ...base, ipam: 'dhcp' }, 7, /ipam must be an object/],
    ['relative socket', { ...base, ipam: { daemonSocketPath: 'dhcp.sock' } }, 7, /daemonSocketPath/],
    ['unknown option name', { ...base, ipam: { request: [{ option: 'bogus' }] } }, 7, /unknown DHCP option "bogus"/],
    ['option out of range', { ...base, ipam: { request: [{ option: 256 }] } }, 7, /unknown DHCP option 256/],
    ['request not an array', { ...base, ipam: { request: {} } }, 7, /ipam.request must be an array/],
    ['skipDefault not bool', { ...base, ipam: { request: [{ option: 3, skipDefault: 'yes' }] } }, 7, /skipDefault/],
    ['provide both', { ...base, ipam: { provide: [{ option: 12, value: 'a', fromArg: 'B' }] } }, 7, /exactly one/],
    ['provide neither', { ...base, ipam: { provide: [{ option: 12 }] } }, 7, /exactly one/],
    ['provide reserved option', { ...base, ipam: { provide: [{ option: 53, value: 'x' }] } }, 7, /set by the client/],
    ['priority negative', { ...base, ipam: { priority: -1 } }, 7, /priority/],
    ['priority not integer', { ...base, ipam: { priority: 1.5 } }, 7, /priority/],
    ['omitGateway not bool', { ...base, ipam: { omitGateway: 'true' } }, 7, /omitGateway/],
    ['valid-attachments malformed', { ...base, 'cni.dev/valid-attachments': [{ containerID: 1 }] }, 7, /valid-attachments/],
  ];
  for (const [title, cfg, code, re] of bad) {
    it(`rejects ${title} with code ${code}`, () => {
      const e = codeOf(() => parseDhcpConfig(cfg));
      assert.equal(e.code, code);
      assert.match(e.msg, re);
    });
  }
});
